package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/pipeline/seam"
	"github.com/encoderlab/encoderlab/pipeline/store"
)

// checkTimeout bounds each check's calls to the store. It is generous: it
// exists so that a store that deadlocks fails the check that found it,
// not the whole test binary.
const checkTimeout = 2 * time.Minute

// check is one promise of store.Store, tested on a fresh store.
type check struct {
	name string
	run  func(c *env)
}

var checks = []check{
	{"PutGetCredential", testPutGetCredential},
	{"PutCredentialReplaces", testPutCredentialReplaces},
	{"CredentialCopies", testCredentialCopies},
	{"ListCredentials", testListCredentials},
	{"CredentialWorkspaces", testCredentialWorkspaces},
	{"PutCredentialOtherWorkspace", testPutCredentialOtherWorkspace},
	{"DeleteCredential", testDeleteCredential},
	{"FinishKeepsDeletedCredentialDeleted", testFinishKeepsDeletedCredentialDeleted},
	{"Events", testEvents},
	{"WebhookDeliveries", testWebhookDeliveries},
	{"ScanAttempts", testScanAttempts},
	{"CreateGetAttempt", testCreateGetAttempt},
	{"CreateAttemptExists", testCreateAttemptExists},
	{"AttemptWorkspaces", testAttemptWorkspaces},
	{"FinishSuccess", testFinishSuccess},
	{"FinishError", testFinishError},
	{"FinishOnce", testFinishOnce},
	{"FinishMissing", testFinishMissing},
	{"FinishConcurrent", testFinishConcurrent},
	{"FinishAtomic", testFinishAtomic},
	{"AttemptCopies", testAttemptCopies},
	{"PendingAttempts", testPendingAttempts},
	{"TimesRoundTrip", testTimesRoundTrip},
	{"ConcurrentUse", testConcurrentUse},
	{"NilInputs", testNilInputs},
	{"InvalidAttempts", testInvalidAttempts},
	{"InvalidCredentials", testInvalidCredentials},
	{"ErrorsNameOperation", testErrorsNameOperation},
	{"LeaseFree", testLeaseFree},
	{"LeaseRenew", testLeaseRenew},
	{"LeaseHeld", testLeaseHeld},
	{"LeaseExpires", testLeaseExpires},
	{"LeaseRelease", testLeaseRelease},
	{"LeaseReleaseByOther", testLeaseReleaseByOther},
	{"LeaseNames", testLeaseNames},
	{"LeaseConcurrent", testLeaseConcurrent},
	{"LeaseInvalid", testLeaseInvalid},
}

// Run checks every promise of store.Store on stores made by open, one
// named subtest per promise, each on a fresh store. open must return an
// empty store or fail t; Run closes the store when the subtest ends and
// reports an error from Close.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()
	for _, ch := range checks {
		t.Run(ch.name, func(t *testing.T) {
			ch.run(newEnv(t, open(t)))
		})
	}
}

// env is what a check works with: the store, a context bounded by
// checkTimeout, and assertion methods that fail t with got and want.
type env struct {
	t   *testing.T
	ctx context.Context
	s   store.Store

	closeOnce sync.Once
	closeErr  error
}

// newEnv wraps s for t, and closes s when t ends.
func newEnv(t *testing.T, s store.Store) *env {
	t.Helper()
	if s == nil {
		t.Fatal("open returned a nil store")
	}
	ctx, cancel := context.WithTimeout(t.Context(), checkTimeout)
	c := &env{t: t, ctx: ctx, s: s}
	t.Cleanup(func() {
		cancel()
		if err := c.close(); err != nil {
			t.Errorf("Close() = %v, want nil", err)
		}
	})
	return c
}

// close closes the store once; the contract does not promise that a
// second Close is harmless.
func (c *env) close() error {
	c.closeOnce.Do(func() { c.closeErr = c.s.Close() })
	return c.closeErr
}

func (c *env) putCredential(cred *seam.Credential) {
	c.t.Helper()
	if err := c.s.PutCredential(c.ctx, cred); err != nil {
		c.t.Fatalf("PutCredential(%q) = %v, want nil", cred.ACSCredentialID, err)
	}
}

func (c *env) createAttempt(a *store.Attempt) {
	c.t.Helper()
	if err := c.s.CreateAttempt(c.ctx, a); err != nil {
		c.t.Fatalf("CreateAttempt(%q) = %v, want nil", a.ID, err)
	}
}

func (c *env) finishAttempt(a *store.Attempt, cred *seam.Credential) {
	c.t.Helper()
	if err := c.s.FinishAttempt(c.ctx, a, cred); err != nil {
		c.t.Fatalf("FinishAttempt(%q, %s) = %v, want nil", a.ID, a.Status, err)
	}
}

// wantCredential checks that GetCredential returns want; after names what
// led up to the read, for the message.
func (c *env) wantCredential(after string, want *seam.Credential) {
	c.t.Helper()
	got, err := c.s.GetCredential(c.ctx, want.WorkspaceID, want.ACSCredentialID)
	if err != nil {
		c.t.Errorf("GetCredential(%q, %q) after %s = %v, want the credential", want.WorkspaceID, want.ACSCredentialID, after, err)
		return
	}
	if !sameCredential(got, want) {
		c.t.Errorf("GetCredential(%q, %q) after %s = %s, want %s", want.WorkspaceID, want.ACSCredentialID, after, show(got), show(want))
	}
}

// wantAttempt checks that GetAttempt returns want.
func (c *env) wantAttempt(after string, want *store.Attempt) {
	c.t.Helper()
	got, err := c.s.GetAttempt(c.ctx, want.WorkspaceID, want.ID)
	if err != nil {
		c.t.Errorf("GetAttempt(%q, %q) after %s = %v, want the attempt", want.WorkspaceID, want.ID, after, err)
		return
	}
	if d := attemptDiff(got, want); len(d) > 0 {
		c.t.Errorf("GetAttempt(%q, %q) after %s differs:\n\t%s", want.WorkspaceID, want.ID, after, strings.Join(d, "\n\t"))
	}
}

// wantNoCredential checks that GetCredential returns ErrNotFound.
func (c *env) wantNoCredential(after, workspace, id string) {
	c.t.Helper()
	got, err := c.s.GetCredential(c.ctx, workspace, id)
	if !errors.Is(err, store.ErrNotFound) {
		c.t.Errorf("GetCredential(%q, %q) after %s = %s, %v; want ErrNotFound", workspace, id, after, show(got), err)
	}
}

// wantList checks that ListCredentials returns want, in order.
func (c *env) wantList(workspace string, f store.CredentialFilter, want ...*seam.Credential) {
	c.t.Helper()
	got, err := c.s.ListCredentials(c.ctx, workspace, f)
	if err != nil {
		c.t.Errorf("ListCredentials(%q, %+v) = %v, want %s", workspace, f, err, showIDs(want))
		return
	}
	if showIDs(got) != showIDs(want) {
		c.t.Errorf("ListCredentials(%q, %+v) = %s, want %s", workspace, f, showIDs(got), showIDs(want))
		return
	}
	for i := range got {
		if !sameCredential(got[i], want[i]) {
			c.t.Errorf("ListCredentials(%q, %+v)[%d] = %s, want %s", workspace, f, i, show(got[i]), show(want[i]))
		}
	}
}

// wantPending checks that PendingAttempts returns want, in order.
func (c *env) wantPending(after string, want ...*store.Attempt) {
	c.t.Helper()
	got, err := c.s.PendingAttempts(c.ctx)
	if err != nil {
		c.t.Errorf("PendingAttempts() after %s = %v, want %s", after, err, attemptIDs(want))
		return
	}
	if attemptIDs(got) != attemptIDs(want) {
		c.t.Errorf("PendingAttempts() after %s = %s, want %s", after, attemptIDs(got), attemptIDs(want))
		return
	}
	for i := range got {
		if d := attemptDiff(got[i], want[i]); len(d) > 0 {
			c.t.Errorf("PendingAttempts()[%d] after %s differs:\n\t%s", i, after, strings.Join(d, "\n\t"))
		}
	}
}

func testPutGetCredential(c *env) {
	cred := newCredential("ws-a", "cred-1", "sys-1", "user-1", at(0))
	c.wantNoCredential("nothing was put", "ws-a", "cred-1")
	c.putCredential(cred)
	c.wantCredential("Put", cred)
	c.wantNoCredential("Put of another id", "ws-a", "cred-2")
}

func testPutCredentialReplaces(c *env) {
	cred := newCredential("ws-a", "cred-1", "sys-1", "user-1", at(0))
	c.putCredential(cred)
	next := issued(cred, at(5))
	next.ACSUserID = "user-2"
	next.DisplayName = "Renamed"
	c.putCredential(next)
	c.wantCredential("a second Put of the same id", next)
	c.wantList("ws-a", store.CredentialFilter{}, next)
	c.wantList("ws-a", store.CredentialFilter{ACSUserID: "user-1"})
	c.wantList("ws-a", store.CredentialFilter{ACSUserID: "user-2"}, next)
}

func testCredentialCopies(c *env) {
	cred := newCredential("ws-a", "cred-1", "sys-1", "user-1", at(0))
	want := cloneCredential(cred)
	c.putCredential(cred)

	// Change everything the caller still holds, down to shared slices.
	*cred.CardNumber = "changed"
	*cred.IsIssued = true
	cred.DisplayName = "changed"
	cred.VisionlineMetadata.GuestACSEntranceIDs[0] = "changed"
	cred.Warnings[0].Message = "changed"
	c.wantCredential("the caller changed the credential it put", want)

	got, err := c.s.GetCredential(c.ctx, "ws-a", "cred-1")
	if err != nil {
		c.t.Fatalf("GetCredential(%q, %q) = %v, want the credential", "ws-a", "cred-1", err)
	}
	*got.CardNumber = "changed"
	got.VisionlineMetadata.GuestACSEntranceIDs[0] = "changed"
	got.Warnings[0].Message = "changed"
	c.wantCredential("the caller changed a credential it got", want)

	list, err := c.s.ListCredentials(c.ctx, "ws-a", store.CredentialFilter{})
	if err != nil || len(list) != 1 {
		c.t.Fatalf("ListCredentials(%q) = %s, %v; want [cred-1]", "ws-a", showIDs(list), err)
	}
	list[0].VisionlineMetadata.CommonACSEntranceIDs[0] = "changed"
	c.wantCredential("the caller changed a credential it listed", want)
}

func testListCredentials(c *env) {
	// Put in an order that is neither creation nor id order.
	c3 := newCredential("ws-a", "cred-a", "sys-2", "user-1", at(30))
	c1 := newCredential("ws-a", "cred-c", "sys-1", "user-1", at(10))
	c4 := newCredential("ws-a", "cred-b", "sys-1", "user-2", at(40))
	c2 := newCredential("ws-a", "cred-d", "sys-1", "", at(20))
	for _, cred := range []*seam.Credential{c3, c1, c4, c2} {
		c.putCredential(cred)
	}
	c.wantList("ws-a", store.CredentialFilter{}, c1, c2, c3, c4)
	c.wantList("ws-a", store.CredentialFilter{ACSSystemID: "sys-1"}, c1, c2, c4)
	c.wantList("ws-a", store.CredentialFilter{ACSSystemID: "sys-2"}, c3)
	c.wantList("ws-a", store.CredentialFilter{ACSUserID: "user-1"}, c1, c3)
	c.wantList("ws-a", store.CredentialFilter{ACSSystemID: "sys-1", ACSUserID: "user-1"}, c1)
	c.wantList("ws-a", store.CredentialFilter{ACSSystemID: "sys-2", ACSUserID: "user-2"})
	c.wantList("ws-a", store.CredentialFilter{ACSSystemID: "sys-none"})
	c.wantList("ws-empty", store.CredentialFilter{})
}

func testCredentialWorkspaces(c *env) {
	a := newCredential("ws-a", "cred-a", "sys-1", "user-1", at(0))
	b := newCredential("ws-b", "cred-b", "sys-1", "user-1", at(1))
	c.putCredential(a)
	c.putCredential(b)
	c.wantNoCredential("Put in workspace ws-a", "ws-b", "cred-a")
	c.wantNoCredential("Put in workspace ws-b", "ws-a", "cred-b")
	c.wantList("ws-a", store.CredentialFilter{}, a)
	c.wantList("ws-b", store.CredentialFilter{ACSSystemID: "sys-1"}, b)
}

func testDeleteCredential(c *env) {
	a := newCredential("ws-a", "cred-1", "sys-1", "user-1", at(0))
	b := newCredential("ws-a", "cred-2", "sys-1", "user-1", at(1))
	c.putCredential(a)
	c.putCredential(b)
	att := newAttempt("ws-a", "att-1", "enc-1", "cred-1", at(2))
	c.createAttempt(att)
	if err := c.s.DeleteCredential(c.ctx, "ws-b", "cred-1", nil); !errors.Is(err, store.ErrNotFound) {
		c.t.Errorf("DeleteCredential from another workspace = %v, want ErrNotFound", err)
	}
	c.wantCredential("a Delete from another workspace", a)
	if err := c.s.DeleteCredential(c.ctx, "ws-a", "cred-1", nil); err != nil {
		c.t.Fatalf("DeleteCredential = %v", err)
	}
	c.wantNoCredential("Delete", "ws-a", "cred-1")
	c.wantList("ws-a", store.CredentialFilter{}, b)
	c.wantAttempt("Delete of its credential", att)
	if err := c.s.DeleteCredential(c.ctx, "ws-a", "cred-1", nil); !errors.Is(err, store.ErrNotFound) {
		c.t.Errorf("a second DeleteCredential = %v, want ErrNotFound", err)
	}
	if err := c.s.DeleteCredential(c.ctx, "ws-a", "never-was", nil); !errors.Is(err, store.ErrNotFound) {
		c.t.Errorf("DeleteCredential of an id never put = %v, want ErrNotFound", err)
	}
}

// testFinishKeepsDeletedCredentialDeleted: an encode that succeeds after
// its credential was deleted records its outcome, and does not bring the
// credential back.
func testFinishKeepsDeletedCredentialDeleted(c *env) {
	cred := newCredential("ws-a", "cred-1", "sys-1", "user-1", at(0))
	c.putCredential(cred)
	a := newAttempt("ws-a", "att-1", "enc-1", "cred-1", at(1))
	c.createAttempt(a)
	if err := c.s.DeleteCredential(c.ctx, "ws-a", "cred-1", nil); err != nil {
		c.t.Fatalf("DeleteCredential = %v", err)
	}
	result := issued(cred, at(3))
	done := succeeded(a, at(3), result)
	c.finishAttempt(done, result)
	c.wantAttempt("Finish after its credential was deleted", done)
	c.wantNoCredential("Finish after its credential was deleted", "ws-a", "cred-1")
	c.wantList("ws-a", store.CredentialFilter{})
}

func testCreateGetAttempt(c *env) {
	a := newAttempt("ws-a", "att-1", "enc-1", "cred-1", at(0))
	if got, err := c.s.GetAttempt(c.ctx, "ws-a", "att-1"); !errors.Is(err, store.ErrNotFound) {
		c.t.Errorf("GetAttempt(%q, %q) before Create = %v, %v; want ErrNotFound", "ws-a", "att-1", got, err)
	}
	c.createAttempt(a)
	c.wantAttempt("Create", a)

	// The store keeps its own copy.
	want := cloneAttempt(a)
	a.EncoderID = "changed"
	a.CreatedAt = at(99)
	c.wantAttempt("the caller changed the attempt it created", want)
	got, err := c.s.GetAttempt(c.ctx, "ws-a", "att-1")
	if err != nil {
		c.t.Fatalf("GetAttempt(%q, %q) = %v", "ws-a", "att-1", err)
	}
	got.Status = seam.StatusError
	got.EncoderID = "changed"
	c.wantAttempt("the caller changed an attempt it got", want)
}

func testCreateAttemptExists(c *env) {
	a := newAttempt("ws-a", "att-1", "enc-1", "cred-1", at(0))
	c.createAttempt(a)
	again := newAttempt("ws-a", "att-1", "enc-2", "cred-2", at(5))
	if err := c.s.CreateAttempt(c.ctx, again); !errors.Is(err, store.ErrExists) {
		c.t.Errorf("CreateAttempt(%q) a second time = %v, want ErrExists", a.ID, err)
	}
	other := newAttempt("ws-b", "att-1", "enc-3", "cred-3", at(6))
	if err := c.s.CreateAttempt(c.ctx, other); !errors.Is(err, store.ErrExists) {
		c.t.Errorf("CreateAttempt(%q) in another workspace = %v, want ErrExists", a.ID, err)
	}
	c.wantAttempt("refused duplicate Creates", a)
	c.wantPending("refused duplicate Creates", a)
}

func testAttemptWorkspaces(c *env) {
	a := newAttempt("ws-a", "att-1", "enc-1", "cred-1", at(0))
	c.createAttempt(a)
	if got, err := c.s.GetAttempt(c.ctx, "ws-b", "att-1"); !errors.Is(err, store.ErrNotFound) {
		c.t.Errorf("GetAttempt(%q, %q) of an attempt in ws-a = %v, %v; want ErrNotFound", "ws-b", "att-1", got, err)
	}
	if got, err := c.s.GetAttempt(c.ctx, "ws-a", "att-2"); !errors.Is(err, store.ErrNotFound) {
		c.t.Errorf("GetAttempt(%q, %q) of an unknown id = %v, %v; want ErrNotFound", "ws-a", "att-2", got, err)
	}
	wrong := succeeded(a, at(1), newCredential("ws-b", "cred-1", "sys-1", "", at(0)))
	wrong.WorkspaceID = "ws-b"
	if err := c.s.FinishAttempt(c.ctx, wrong, wrong.Result); !errors.Is(err, store.ErrNotFound) {
		c.t.Errorf("FinishAttempt(%q) from workspace ws-b = %v, want ErrNotFound", a.ID, err)
	}
	c.wantAttempt("a Finish from another workspace", a)
	c.wantNoCredential("a refused Finish carrying it", "ws-b", "cred-1")
}

func testFinishSuccess(c *env) {
	cred := newCredential("ws-a", "cred-1", "sys-1", "user-1", at(0))
	c.putCredential(cred)
	a := newAttempt("ws-a", "att-1", "enc-1", "cred-1", at(1))
	b := newAttempt("ws-a", "att-2", "enc-1", "cred-1", at(2))
	c.createAttempt(a)
	c.createAttempt(b)

	result := issued(cred, at(3))
	done := succeeded(a, at(3), result)
	c.finishAttempt(done, result)
	c.wantAttempt("Finish with success", done)
	c.wantCredential("Finish with success", result)
	c.wantPending("Finish with success of att-1", b)
}

func testFinishError(c *env) {
	cred := newCredential("ws-a", "cred-1", "sys-1", "user-1", at(0))
	c.putCredential(cred)
	a := newAttempt("ws-a", "att-1", "enc-1", "cred-1", at(1))
	c.createAttempt(a)
	done := failed(a, at(4), seam.ErrNoCredentialOnEncoder, "no card on the encoder")
	c.finishAttempt(done, nil)
	c.wantAttempt("Finish with error", done)
	c.wantCredential("Finish with error and no credential", cred)
	c.wantPending("Finish with error")
}

func testFinishOnce(c *env) {
	cred := newCredential("ws-a", "cred-1", "sys-1", "user-1", at(0))
	c.putCredential(cred)
	a := newAttempt("ws-a", "att-1", "enc-1", "cred-1", at(1))
	c.createAttempt(a)
	first := failed(a, at(2), seam.ErrActionAttemptExpired, "expired")
	c.finishAttempt(first, nil)

	late := issued(cred, at(3))
	second := succeeded(a, at(3), late)
	if err := c.s.FinishAttempt(c.ctx, second, late); !errors.Is(err, store.ErrNotPending) {
		c.t.Errorf("FinishAttempt(%q) a second time = %v, want ErrNotPending", a.ID, err)
	}
	c.wantAttempt("a refused second Finish", first)
	c.wantCredential("a refused second Finish carrying a new version", cred)

	third := failed(a, at(4), seam.ErrUncategorized, "again")
	if err := c.s.FinishAttempt(c.ctx, third, nil); !errors.Is(err, store.ErrNotPending) {
		c.t.Errorf("FinishAttempt(%q) a third time = %v, want ErrNotPending", a.ID, err)
	}
	c.wantAttempt("a refused third Finish", first)
}

func testFinishMissing(c *env) {
	a := newAttempt("ws-a", "att-missing", "enc-1", "cred-1", at(0))
	cred := newCredential("ws-a", "cred-1", "sys-1", "", at(0))
	if err := c.s.FinishAttempt(c.ctx, succeeded(a, at(1), cred), cred); !errors.Is(err, store.ErrNotFound) {
		c.t.Errorf("FinishAttempt(%q) of an unknown attempt = %v, want ErrNotFound", a.ID, err)
	}
	c.wantNoCredential("a refused Finish of an unknown attempt", "ws-a", "cred-1")
	c.wantPending("a refused Finish of an unknown attempt")
}

// testFinishConcurrent races finishers, as a worker and a deadline timer
// do: exactly one must win, and the stored attempt must be the winner's.
func testFinishConcurrent(c *env) {
	const finishers = 16
	cred := newCredential("ws-a", "cred-1", "sys-1", "user-1", at(0))
	c.putCredential(cred)
	a := newAttempt("ws-a", "att-1", "enc-1", "cred-1", at(1))
	c.createAttempt(a)

	versions := make([]*store.Attempt, finishers)
	creds := make([]*seam.Credential, finishers)
	for i := range versions {
		if i%2 == 0 {
			creds[i] = issued(cred, at(10+i))
			creds[i].DisplayName = fmt.Sprintf("winner %d", i)
			versions[i] = succeeded(a, at(10+i), creds[i])
		} else {
			versions[i] = failed(a, at(10+i), seam.ErrActionAttemptExpired, fmt.Sprintf("finisher %d", i))
		}
	}
	errs := make([]error, finishers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range versions {
		wg.Go(func() {
			<-start
			errs[i] = c.s.FinishAttempt(c.ctx, versions[i], creds[i])
		})
	}
	close(start)
	wg.Wait()

	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			c.t.Errorf("FinishAttempt by finishers %d and %d both returned nil; want exactly one to win", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, store.ErrNotPending):
			c.t.Errorf("FinishAttempt by finisher %d = %v, want nil or ErrNotPending", i, err)
		}
	}
	if winner < 0 {
		c.t.Fatalf("no concurrent FinishAttempt returned nil; want exactly one to win")
	}
	c.wantAttempt(fmt.Sprintf("concurrent Finishes won by finisher %d", winner), versions[winner])
	wantCred := cred
	if creds[winner] != nil {
		wantCred = creds[winner]
	}
	c.wantCredential(fmt.Sprintf("concurrent Finishes won by finisher %d", winner), wantCred)
}

// testFinishAtomic reads while attempts succeed: whenever an attempt reads
// as succeeded, its credential must read as updated, and whenever the
// updated credential is visible, the attempt must read as succeeded.
func testFinishAtomic(c *env) {
	const n = 20
	attempts := make([]*store.Attempt, n)
	results := make([]*seam.Credential, n)
	for i := range attempts {
		id := fmt.Sprintf("cred-%02d", i)
		cred := newCredential("ws-a", id, "sys-1", "", at(0))
		c.putCredential(cred)
		attempts[i] = newAttempt("ws-a", fmt.Sprintf("att-%02d", i), "enc-1", id, at(i))
		c.createAttempt(attempts[i])
		results[i] = issued(cred, at(100+i))
	}

	done := make(chan struct{})
	readErr := make(chan error, 1)
	go func() {
		readErr <- func() error {
			for pass := 0; ; pass++ {
				finished := false
				select {
				case <-done:
					finished = true
				default:
				}
				for i, a := range attempts {
					if err := c.readPair(a, results[i]); err != nil {
						return fmt.Errorf("read pass %d: %w", pass, err)
					}
				}
				if finished {
					return nil
				}
			}
		}()
	}()
	for i, a := range attempts {
		c.finishAttempt(succeeded(a, at(100+i), results[i]), results[i])
	}
	close(done)
	if err := <-readErr; err != nil {
		c.t.Error(err)
	}
}

// readPair reads attempt then credential, and credential then attempt,
// and reports a state in which only one half of a Finish is visible.
func (c *env) readPair(a *store.Attempt, result *seam.Credential) error {
	got, err := c.s.GetAttempt(c.ctx, a.WorkspaceID, a.ID)
	if err != nil {
		return fmt.Errorf("GetAttempt(%q) = %v", a.ID, err)
	}
	cred, err := c.s.GetCredential(c.ctx, result.WorkspaceID, result.ACSCredentialID)
	if err != nil {
		return fmt.Errorf("GetCredential(%q) = %v", result.ACSCredentialID, err)
	}
	if got.Status == seam.StatusSuccess && !sameCredential(cred, result) {
		return fmt.Errorf("GetAttempt(%q) read success, then GetCredential(%q) = %s, want the result %s stored with it",
			a.ID, result.ACSCredentialID, show(cred), show(result))
	}
	if sameCredential(cred, result) {
		again, err := c.s.GetAttempt(c.ctx, a.WorkspaceID, a.ID)
		if err != nil {
			return fmt.Errorf("GetAttempt(%q) = %v", a.ID, err)
		}
		if again.Status != seam.StatusSuccess {
			return fmt.Errorf("GetCredential(%q) read the result, then GetAttempt(%q).Status = %q, want %q",
				result.ACSCredentialID, a.ID, again.Status, seam.StatusSuccess)
		}
	}
	return nil
}

func testAttemptCopies(c *env) {
	cred := newCredential("ws-a", "cred-1", "sys-1", "user-1", at(0))
	a := newAttempt("ws-a", "att-1", "enc-1", "cred-1", at(1))
	c.createAttempt(a)
	result := issued(cred, at(2))
	done := succeeded(a, at(2), result)
	want := cloneAttempt(done)
	c.finishAttempt(done, result)

	*done.Result.CardNumber = "changed"
	done.Result.VisionlineMetadata.GuestACSEntranceIDs[0] = "changed"
	done.ErrorMessage = "changed"
	c.wantAttempt("the caller changed the attempt it finished", want)

	got, err := c.s.GetAttempt(c.ctx, "ws-a", "att-1")
	if err != nil {
		c.t.Fatalf("GetAttempt(%q, %q) = %v", "ws-a", "att-1", err)
	}
	if got.Result == nil {
		c.t.Fatalf("GetAttempt(%q, %q).Result = nil after a success, want %s", "ws-a", "att-1", show(want.Result))
	}
	*got.Result.CardNumber = "changed"
	got.Result.VisionlineMetadata.GuestACSEntranceIDs[0] = "changed"
	c.wantAttempt("the caller changed the result it got", want)
}

func testPendingAttempts(c *env) {
	c.wantPending("nothing was created")
	// Two workspaces, created out of order; att-b and att-a share a
	// CreatedAt and must come in ID order; att-e is a microsecond before
	// att-d, which ordering must not lose to the tie-break by ID.
	e := newAttempt("ws-b", "att-e", "enc-2", "cred-2", at(40))
	d := newAttempt("ws-a", "att-d", "enc-1", "cred-1", at(40).Add(time.Microsecond))
	b := newAttempt("ws-b", "att-b", "enc-2", "cred-2", at(20))
	f := newAttempt("ws-a", "att-f", "enc-1", "cred-1", at(50))
	a := newAttempt("ws-a", "att-a", "enc-1", "cred-1", at(20))
	cc := newAttempt("ws-a", "att-c", "enc-3", "cred-3", at(10))
	for _, x := range []*store.Attempt{e, d, b, f, a, cc} {
		c.createAttempt(x)
	}
	c.wantPending("six Creates", cc, a, b, e, d, f)

	c.finishAttempt(failed(a, at(60), seam.ErrUncategorized, "boom"), nil)
	c.finishAttempt(succeeded(e, at(61), newCredential("ws-b", "cred-2", "sys-1", "", at(0))), nil)
	c.wantPending("two Finishes", cc, b, d, f)
}

// testTimesRoundTrip stores times with nanoseconds in a zone other than
// UTC: they must come back in UTC, within a millisecond.
func testTimesRoundTrip(c *env) {
	zone := time.FixedZone("UTC-7", -7*60*60)
	created := time.Date(2025, time.March, 1, 5, 6, 7, 123456789, zone)
	a := newAttempt("ws-a", "att-1", "enc-1", "cred-1", created)
	a.Deadline = created.Add(90*time.Second + 987654321)
	c.createAttempt(a)
	finished := created.Add(3*time.Second + 555555555)
	done := failed(a, finished, seam.ErrUncategorized, "boom")
	c.finishAttempt(done, nil)

	got, err := c.s.GetAttempt(c.ctx, "ws-a", "att-1")
	if err != nil {
		c.t.Fatalf("GetAttempt(%q, %q) = %v", "ws-a", "att-1", err)
	}
	for _, tm := range []struct {
		name      string
		got, want time.Time
	}{
		{"CreatedAt", got.CreatedAt, a.CreatedAt},
		{"Deadline", got.Deadline, a.Deadline},
		{"FinishedAt", got.FinishedAt, finished},
	} {
		if loc := tm.got.Location(); loc != time.UTC {
			c.t.Errorf("GetAttempt(%q).%s location = %v, want UTC", "att-1", tm.name, loc)
		}
		if diff := tm.got.Sub(tm.want).Abs(); diff >= time.Millisecond {
			c.t.Errorf("GetAttempt(%q).%s = %s, want %s (within 1ms)", "att-1", tm.name,
				tm.got.Format(time.RFC3339Nano), tm.want.Format(time.RFC3339Nano))
		}
	}

	p := newAttempt("ws-a", "att-2", "enc-1", "cred-1", created)
	c.createAttempt(p)
	pending, err := c.s.PendingAttempts(c.ctx)
	if err != nil || len(pending) != 1 {
		c.t.Fatalf("PendingAttempts() = %s, %v; want [att-2]", attemptIDs(pending), err)
	}
	if !pending[0].FinishedAt.IsZero() {
		c.t.Errorf("PendingAttempts()[0].FinishedAt = %s, want the zero time while pending", pending[0].FinishedAt)
	}
	if loc := pending[0].CreatedAt.Location(); loc != time.UTC {
		c.t.Errorf("PendingAttempts()[0].CreatedAt location = %v, want UTC", loc)
	}
}

// testConcurrentUse runs many goroutines creating, reading and finishing
// attempts at once; every call must succeed.
func testConcurrentUse(c *env) {
	const workers = 50
	errs := make(chan error, workers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			<-start
			errs <- c.worker(i)
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			c.t.Error(err)
		}
	}
	c.wantPending(fmt.Sprintf("%d workers finished their attempts", workers))
	list, err := c.s.ListCredentials(c.ctx, "ws-a", store.CredentialFilter{})
	if err != nil || len(list) != workers {
		c.t.Errorf("ListCredentials(%q) after %d workers = %d credentials, %v; want %d", "ws-a", workers, len(list), err, workers)
	}
}

// worker is one goroutine of testConcurrentUse.
func (c *env) worker(i int) error {
	cred := newCredential("ws-a", fmt.Sprintf("cred-%02d", i), "sys-1", "", at(i))
	a := newAttempt("ws-a", fmt.Sprintf("att-%02d", i), "enc-1", cred.ACSCredentialID, at(i))
	if err := c.s.PutCredential(c.ctx, cred); err != nil {
		return fmt.Errorf("PutCredential(%q) = %v", cred.ACSCredentialID, err)
	}
	if err := c.s.CreateAttempt(c.ctx, a); err != nil {
		return fmt.Errorf("CreateAttempt(%q) = %v", a.ID, err)
	}
	if _, err := c.s.GetAttempt(c.ctx, "ws-a", a.ID); err != nil {
		return fmt.Errorf("GetAttempt(%q) = %v", a.ID, err)
	}
	if _, err := c.s.PendingAttempts(c.ctx); err != nil {
		return fmt.Errorf("PendingAttempts() = %v", err)
	}
	result := issued(cred, at(100+i))
	if err := c.s.FinishAttempt(c.ctx, succeeded(a, at(100+i), result), result); err != nil {
		return fmt.Errorf("FinishAttempt(%q) = %v", a.ID, err)
	}
	if _, err := c.s.ListCredentials(c.ctx, "ws-a", store.CredentialFilter{}); err != nil {
		return fmt.Errorf("ListCredentials() = %v", err)
	}
	return nil
}

// testNilInputs passes nil records: each call must return an error, not
// panic and not report success.
func testNilInputs(c *env) {
	calls := []struct {
		name string
		call func() error
	}{
		{"PutCredential(nil)", func() error { return c.s.PutCredential(c.ctx, nil) }},
		{"CreateAttempt(nil)", func() error { return c.s.CreateAttempt(c.ctx, nil) }},
		{"FinishAttempt(nil, nil)", func() error { return c.s.FinishAttempt(c.ctx, nil, nil) }},
	}
	for _, call := range calls {
		if err := noPanic(call.call); err == nil {
			c.t.Errorf("%s = nil, want an error", call.name)
		} else if pe, ok := errors.AsType[*panicError](err); ok {
			c.t.Errorf("%s panicked: %v", call.name, pe.v)
		}
	}
	c.wantPending("nil inputs")
}

type panicError struct{ v any }

func (e *panicError) Error() string { return fmt.Sprintf("panic: %v", e.v) }

// noPanic runs f, turning a panic into a *panicError.
func noPanic(f func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &panicError{v}
		}
	}()
	return f()
}
