package attempt_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/pipeline/credential"
	"github.com/encoderlab/encoderlab/pipeline/driver"
	"github.com/encoderlab/encoderlab/pipeline/seam"
	"github.com/encoderlab/encoderlab/pipeline/store"
)

// A credential deleted while an encode of it waits in the queue is not
// written: the encode ends credential_deleted without reaching the
// encoder. One deleted while its encoder is asked to write it is stopped
// on the encoder and ends the same.
func TestDeletedCredentialIsNotEncoded(t *testing.T) {
	r := newRig(t)
	svc := r.start()
	view := svc.View()
	ctx := context.Background()
	d := r.drivers[frontDesk1]

	writing := r.credential("visionline-hotel", seam.AccessCard)
	queued := r.credential("visionline-hotel", seam.AccessCard)
	a1 := r.encode(writing, frontDesk1)
	call := d.next(t) // a1's card is being written
	a2 := r.encode(queued, frontDesk1)

	for _, c := range []*seam.Credential{queued, writing} {
		if err := view.DeleteCredential(ctx, r.ws.ID, c.ACSCredentialID, nil); err != nil {
			t.Fatalf("DeleteCredential(%s) = %v", c.ACSCredentialID, err)
		}
	}
	// The encoder asked to write is stopped, long before the deadline.
	select {
	case <-call.ctx.Done():
	case <-time.After(waitBound):
		t.Fatalf("the encode of the deleted credential was not stopped within %v", waitBound)
	}

	for _, id := range []string{a1.ActionAttemptID, a2.ActionAttemptID} {
		got := r.wait(id)
		if got.Status != seam.StatusError || got.Error == nil || got.Error.Type != seam.ErrCredentialDeleted || got.Result != nil {
			t.Errorf("attempt %s ended %s %+v, result %v; want error credential_deleted with no result", id, got.Status, got.Error, got.Result)
		}
	}
	d.idle(t) // the queued one never reached the encoder
	for _, c := range []*seam.Credential{queued, writing} {
		if _, err := view.GetCredential(ctx, r.ws.ID, c.ACSCredentialID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetCredential(%s) after its delete = %v, want ErrNotFound", c.ACSCredentialID, err)
		}
		if _, err := r.store.GetCredential(ctx, r.ws.ID, c.ACSCredentialID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the store has credential %s after its delete: %v", c.ACSCredentialID, err)
		}
	}
	if err := view.DeleteCredential(ctx, r.ws.ID, writing.ACSCredentialID, nil); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a second delete = %v, want ErrNotFound", err)
	}
	// A new encode of a deleted credential is refused as unknown.
	if _, err := svc.Encode(ctx, r.ws.ID, writing.ACSCredentialID, r.encoderID(frontDesk1)); err == nil {
		t.Error("Encode of a deleted credential was accepted")
	}
}

// An encode that succeeded before its credential was deleted keeps its
// outcome; the credential stays deleted.
func TestDeleteAfterSuccess(t *testing.T) {
	r := newRig(t)
	svc := r.start()
	ctx := context.Background()
	c := r.credential("visionline-hotel", seam.AccessCard)
	a := r.encode(c, frontDesk1)
	r.drivers[frontDesk1].next(t).reply <- succeed("04A1B2C3D4E5F6")
	if got := r.wait(a.ActionAttemptID); got.Status != seam.StatusSuccess {
		t.Fatalf("encode ended %s %+v", got.Status, got.Error)
	}
	if err := svc.View().DeleteCredential(ctx, r.ws.ID, c.ACSCredentialID, nil); err != nil {
		t.Fatal(err)
	}
	if got := r.get(a.ActionAttemptID); got.Status != seam.StatusSuccess || got.Result == nil {
		t.Errorf("after the delete the attempt reads %s, result %v; want its success kept", got.Status, got.Result)
	}
	if _, err := svc.View().GetCredential(ctx, r.ws.ID, c.ACSCredentialID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetCredential after the delete = %v, want ErrNotFound", err)
	}
}

// An update waits for no encode: it is refused while one of the
// credential is pending, so that the encode's outcome cannot put the old
// credential back. Once the card is written, a new ends_at warns
// needs_to_be_reissued until the card is encoded again.
func TestUpdateCredentialBesideAnEncode(t *testing.T) {
	r := newRig(t)
	svc := r.start()
	ctx := context.Background()
	c := r.credential("visionline-hotel", seam.AccessCard)
	end := time.Now().Add(72 * time.Hour).UTC().Format(time.RFC3339)
	p := credential.UpdateParams{EndsAt: &end}

	a := r.encode(c, frontDesk1)
	call := r.drivers[frontDesk1].next(t)
	var se *seam.Error
	if _, err := svc.UpdateCredential(ctx, r.ws.ID, c.ACSCredentialID, p); !errors.As(err, &se) || se.Type != "invalid_input" {
		t.Fatalf("update while the encode is pending = %v, want invalid_input", err)
	}
	call.reply <- succeed("04A1B2C3D4E5F6")
	if got := r.wait(a.ActionAttemptID); got.Status != seam.StatusSuccess {
		t.Fatalf("encode ended %s %+v", got.Status, got.Error)
	}

	updated, err := svc.UpdateCredential(ctx, r.ws.ID, c.ACSCredentialID, p)
	if err != nil {
		t.Fatalf("update after the encode = %v", err)
	}
	if !hasWarning(updated, seam.WarnNeedsToBeReissued) || updated.IsIssued == nil || !*updated.IsIssued {
		t.Errorf("updated issued card credential = %+v; want it issued with needs_to_be_reissued", updated)
	}
	if stored := r.storedCredential(c.ACSCredentialID); !hasWarning(stored, seam.WarnNeedsToBeReissued) || stored.EndsAt == c.EndsAt {
		t.Errorf("stored credential after the update: ends_at %s, warnings %+v", stored.EndsAt, stored.Warnings)
	}
	a2 := r.encode(c, frontDesk1)
	r.drivers[frontDesk1].next(t).reply <- succeed("04A1B2C3D4E5F6")
	if got := r.wait(a2.ActionAttemptID); got.Status != seam.StatusSuccess || hasWarning(got.Result, seam.WarnNeedsToBeReissued) {
		t.Errorf("re-encode ended %s with result %+v; want success without needs_to_be_reissued", got.Status, got.Result)
	}
}

func hasWarning(c *seam.Credential, code string) bool {
	if c == nil {
		return false
	}
	for _, w := range c.Warnings {
		if w.WarningCode == code {
			return true
		}
	}
	return false
}

// A success records acs_credential.issued with the outcome, a second one
// acs_credential.reissued; a failure records none.
func TestEncodeEvents(t *testing.T) {
	r := newRig(t)
	r.start()
	ctx := context.Background()
	c := r.credential("visionline-hotel", seam.AccessCard)
	for i, reply := range []play{succeed("04A1B2C3D4E5F6"), failWith(&driver.Error{Kind: driver.NoCard}), succeed("04A1B2C3D4E5F7")} {
		a := r.encode(c, frontDesk1)
		r.drivers[frontDesk1].next(t).reply <- reply
		if got := r.wait(a.ActionAttemptID); (got.Status == seam.StatusSuccess) != (i != 1) {
			t.Fatalf("encode %d ended %s %+v", i, got.Status, got.Error)
		}
	}
	events, err := r.store.ListEvents(ctx, r.ws.ID, store.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range events {
		types = append(types, e.EventType)
		if e.ACSCredentialID != c.ACSCredentialID || e.ACSSystemID != c.ACSSystemID || e.WorkspaceID != r.ws.ID || e.EventID == "" {
			t.Errorf("event %+v does not name credential %s of system %s", e, c.ACSCredentialID, c.ACSSystemID)
		}
	}
	if want := []string{seam.EventCredentialIssued, seam.EventCredentialReissued}; !slices.Equal(types, want) {
		t.Errorf("events = %q, want %q", types, want)
	}
}

// Two encodes of one credential on two encoders read it unissued at
// once; the success decided second is a reissue.
func TestConcurrentSuccessesIssueOnce(t *testing.T) {
	r := newRig(t)
	r.start()
	c := r.credential("visionline-hotel", seam.AccessCard)
	a1, a2 := r.encode(c, frontDesk1), r.encode(c, "nfc-desk-1")
	call1, call2 := r.drivers[frontDesk1].next(t), r.drivers["nfc-desk-1"].next(t)
	call1.reply <- succeed("04A1B2C3D4E5F6")
	r.wait(a1.ActionAttemptID)
	call2.reply <- succeed("04A1B2C3D4E5F7")
	r.wait(a2.ActionAttemptID)
	events, err := r.store.ListEvents(context.Background(), r.ws.ID, store.EventFilter{ACSCredentialID: c.ACSCredentialID})
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range events {
		types = append(types, e.EventType)
	}
	if want := []string{seam.EventCredentialIssued, seam.EventCredentialReissued}; !slices.Equal(types, want) {
		t.Errorf("events = %q, want %q", types, want)
	}
}
