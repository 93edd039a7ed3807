package attempt

import (
	"fmt"
	"testing"

	"github.com/encoderlab/encoderlab/pipeline/seam"
	"github.com/encoderlab/encoderlab/pipeline/store"
)

func TestAttemptCache(t *testing.T) {
	pending := &store.Attempt{ID: "a1", WorkspaceID: "ws-1", Status: seam.StatusPending}
	done := &store.Attempt{ID: "a1", WorkspaceID: "ws-1", Status: seam.StatusError, ErrorType: seam.ErrActionAttemptExpired}

	t.Run("only store", func(t *testing.T) {
		c := newAttemptCache(true)
		c.put(pending)
		pending.Status = "changed by the caller"
		got, ok := c.get("ws-1", "a1")
		pending.Status = seam.StatusPending
		if !ok || got.Status != seam.StatusPending {
			t.Fatalf("get after put = %+v, %v; want the pending attempt as put", got, ok)
		}
		if _, ok := c.get("ws-2", "a1"); ok {
			t.Error("an attempt of ws-1 is found for ws-2")
		}
		c.put(done)
		if got, _ := c.get("ws-1", "a1"); got.Status != seam.StatusError {
			t.Errorf("after the finish, get = %+v; want it finished", got)
		}
		c.drop("a1")
		if _, ok := c.get("ws-1", "a1"); ok {
			t.Error("found after drop")
		}
	})

	t.Run("shared store keeps only terminal attempts", func(t *testing.T) {
		c := newAttemptCache(false)
		c.put(pending)
		if _, ok := c.get("ws-1", "a1"); ok {
			t.Error("a pending attempt is kept although another server may finish it")
		}
		c.put(done)
		if _, ok := c.get("ws-1", "a1"); !ok {
			t.Error("a terminal attempt is not kept")
		}
	})

	t.Run("bounded", func(t *testing.T) {
		c := newAttemptCache(true)
		for i := range cacheSize + 10 {
			c.put(&store.Attempt{ID: fmt.Sprint(i), WorkspaceID: "ws-1", Status: seam.StatusPending})
		}
		if len(c.byID) != cacheSize {
			t.Errorf("%d attempts kept, want at most %d", len(c.byID), cacheSize)
		}
		if _, ok := c.get("ws-1", "0"); ok {
			t.Error("the oldest attempt was not the one evicted")
		}
		if _, ok := c.get("ws-1", fmt.Sprint(cacheSize+9)); !ok {
			t.Error("the newest attempt is missing")
		}
	})
}

func TestCredentialCache(t *testing.T) {
	c := newCredentialCache()
	issued := true
	cred := &seam.Credential{ACSCredentialID: "c1", WorkspaceID: "ws-1", IsIssued: &issued,
		VisionlineMetadata: &seam.VisionlineMetadata{CardID: "AB"}}
	c.put(cred)
	cred.VisionlineMetadata.CardID = "changed after put"
	got, ok := c.get("ws-1", "c1")
	if !ok || got.VisionlineMetadata.CardID != "AB" || got.IsIssued == nil || !*got.IsIssued {
		t.Fatalf("get = %+v, %v; want the credential as put", got, ok)
	}
	got.VisionlineMetadata.CardID = "changed by a reader"
	if again, _ := c.get("ws-1", "c1"); again.VisionlineMetadata.CardID != "AB" {
		t.Errorf("a reader's change reached the cache: %q", again.VisionlineMetadata.CardID)
	}
	if _, ok := c.get("ws-2", "c1"); ok {
		t.Error("a credential of ws-1 is found for ws-2")
	}
}
