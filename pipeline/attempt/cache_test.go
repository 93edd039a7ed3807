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

	// A read that began before the outcome was recorded and puts its
	// pending copy after the outcome's put must not hide the outcome:
	// every later read would answer pending for ever.
	t.Run("a late pending copy does not replace the outcome", func(t *testing.T) {
		c := newAttemptCache(true)
		c.put(pending)
		c.put(done)
		c.put(pending)
		if got, _ := c.get("ws-1", "a1"); got == nil || got.Status != seam.StatusError {
			t.Errorf("after outcome then a stale pending put, get = %+v; want the outcome", got)
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

// A store read that began before an outcome was committed and ends after
// its put must not bring the older credential back.
func TestCredentialCacheKeepsTheNewerCopy(t *testing.T) {
	c := newCredentialCache()
	no, yes := false, true
	older := &seam.Credential{ACSCredentialID: "c1", WorkspaceID: "ws-1", IsIssued: &no}
	newer := &seam.Credential{ACSCredentialID: "c1", WorkspaceID: "ws-1", IsIssued: &yes}
	c.putRead(older)
	if got, _ := c.get("ws-1", "c1"); got == nil || *got.IsIssued {
		t.Fatalf("after a read's put, get = %+v; want the read copy", got)
	}
	c.put(newer) // the encode's outcome, committed
	c.putRead(older)
	if got, _ := c.get("ws-1", "c1"); got == nil || !*got.IsIssued {
		t.Errorf("a stale read replaced the committed outcome: get = %+v, want is_issued", got)
	}
}
