package storetest

import (
	"errors"
	"testing"

	"github.com/encoderlab/encoderlab/pipeline/seam"
	"github.com/encoderlab/encoderlab/pipeline/store"
)

// RunDurable checks that what a store acknowledged survives Close and a
// new open on the same directory: credentials, finished attempts with
// their results, and pending attempts, which PendingAttempts must find
// again so that workers can resume them. open is called twice per subtest
// with the same dir (a fresh t.TempDir); it must return a store kept in
// dir, empty the first time. RunDurable closes each store it gets.
func RunDurable(t *testing.T, open func(t *testing.T, dir string) store.Store) {
	t.Helper()
	t.Run("SurvivesReopen", func(t *testing.T) { testSurvivesReopen(t, open) })
	t.Run("FinishAfterReopen", func(t *testing.T) { testFinishAfterReopen(t, open) })
}

// reopen closes first's store and opens dir again.
func reopen(t *testing.T, first *env, dir string, open func(t *testing.T, dir string) store.Store) *env {
	t.Helper()
	if err := first.close(); err != nil {
		t.Fatalf("Close() = %v, want nil", err)
	}
	return newEnv(t, open(t, dir))
}

func testSurvivesReopen(t *testing.T, open func(t *testing.T, dir string) store.Store) {
	dir := t.TempDir()
	c := newEnv(t, open(t, dir))

	cred := newCredential("ws-a", "cred-1", "sys-1", "user-1", at(0))
	other := newCredential("ws-b", "cred-2", "sys-2", "user-2", at(1))
	c.putCredential(cred)
	c.putCredential(other)
	ok := newAttempt("ws-a", "att-ok", "enc-1", "cred-1", at(2))
	bad := newAttempt("ws-a", "att-bad", "enc-1", "cred-1", at(3))
	p2 := newAttempt("ws-b", "att-p2", "enc-2", "cred-2", at(5))
	p1 := newAttempt("ws-a", "att-p1", "enc-1", "cred-1", at(4))
	for _, a := range []*store.Attempt{ok, bad, p2, p1} {
		c.createAttempt(a)
	}
	result := issued(cred, at(6))
	okDone := succeeded(ok, at(6), result)
	badDone := failed(bad, at(7), seam.ErrIncompatibleCardFormat, "wrong card type")
	c.finishAttempt(okDone, result)
	c.finishAttempt(badDone, nil)

	c = reopen(t, c, dir, open)
	const after = "Close and reopen"
	c.wantCredential(after, result)
	c.wantCredential(after, other)
	c.wantList("ws-a", store.CredentialFilter{}, result)
	c.wantAttempt(after, okDone)
	c.wantAttempt(after, badDone)
	c.wantAttempt(after, p1)
	c.wantPending(after, p1, p2)
}

func testFinishAfterReopen(t *testing.T, open func(t *testing.T, dir string) store.Store) {
	dir := t.TempDir()
	c := newEnv(t, open(t, dir))
	done := newAttempt("ws-a", "att-done", "enc-1", "cred-1", at(0))
	pending := newAttempt("ws-a", "att-pending", "enc-1", "cred-1", at(1))
	c.createAttempt(done)
	c.createAttempt(pending)
	doneDone := failed(done, at(2), seam.ErrActionAttemptExpired, "expired")
	c.finishAttempt(doneDone, nil)

	c = reopen(t, c, dir, open)
	again := failed(done, at(3), seam.ErrUncategorized, "again")
	if err := c.s.FinishAttempt(c.ctx, again, nil); !errors.Is(err, store.ErrNotPending) {
		t.Errorf("FinishAttempt(%q) after reopen, already finished = %v, want ErrNotPending", done.ID, err)
	}
	if err := c.s.CreateAttempt(c.ctx, newAttempt("ws-a", "att-done", "enc-9", "cred-9", at(9))); !errors.Is(err, store.ErrExists) {
		t.Errorf("CreateAttempt(%q) after reopen, id taken = %v, want ErrExists", done.ID, err)
	}
	pendingDone := failed(pending, at(4), seam.ErrActionAttemptExpired, "expired after restart")
	c.finishAttempt(pendingDone, nil)

	c = reopen(t, c, dir, open)
	c.wantAttempt("a second reopen", doneDone)
	c.wantAttempt("a second reopen", pendingDone)
	c.wantPending("a second reopen")
}
