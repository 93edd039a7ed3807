package storetest

import (
	"errors"
	"strings"
	"time"

	"github.com/encoderlab/encoderlab/pipeline/seam"
	"github.com/encoderlab/encoderlab/pipeline/store"
)

// testPutCredentialOtherWorkspace puts an id another workspace holds: the
// store refuses it with ErrExists, directly or carried by a successful
// Finish, and refusing the credential refuses the whole Finish.
func testPutCredentialOtherWorkspace(c *env) {
	mine := newCredential("ws-a", "cred-1", "sys-1", "user-1", at(0))
	mine.DisplayName = "mine"
	c.putCredential(mine)
	theirs := newCredential("ws-b", "cred-1", "sys-2", "user-2", at(1))
	theirs.DisplayName = "theirs"
	if err := c.s.PutCredential(c.ctx, theirs); !errors.Is(err, store.ErrExists) {
		c.t.Errorf("PutCredential(%q) from ws-b, held by ws-a = %v, want ErrExists", "cred-1", err)
	}
	c.wantCredential("a refused Put from another workspace", mine)
	c.wantNoCredential("a refused Put from another workspace", "ws-b", "cred-1")

	a := newAttempt("ws-a", "att-1", "enc-1", "cred-1", at(2))
	c.createAttempt(a)
	done := succeeded(a, at(3), theirs)
	if err := c.s.FinishAttempt(c.ctx, done, theirs); !errors.Is(err, store.ErrExists) {
		c.t.Errorf("FinishAttempt(%q) carrying ws-a's %q from ws-b = %v, want ErrExists", a.ID, "cred-1", err)
	}
	c.wantAttempt("a Finish refused for its credential", a)
	c.wantCredential("a Finish refused for its credential", mine)
	c.wantPending("a Finish refused for its credential", a)
}

// testInvalidAttempts passes attempts a store cannot keep, to
// CreateAttempt and to FinishAttempt: each call must return an error and
// leave the store as it was.
func testInvalidAttempts(c *env) {
	noID := newAttempt("ws-a", "", "enc-1", "cred-1", at(0))
	noWorkspace := newAttempt("", "att-w", "enc-1", "cred-1", at(0))
	finished := newAttempt("ws-a", "att-x", "enc-1", "cred-1", at(0))
	finished.Status = seam.StatusSuccess
	farFuture := newAttempt("ws-a", "att-y", "enc-1", "cred-1", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC))
	for _, bad := range []struct {
		what string
		a    *store.Attempt
	}{
		{"an empty id", noID},
		{"an empty workspace id", noWorkspace},
		{"status success", finished},
		{"CreatedAt in the year 10000", farFuture},
	} {
		if err := c.s.CreateAttempt(c.ctx, bad.a); err == nil {
			c.t.Errorf("CreateAttempt(%q) with %s = nil, want an error", bad.a.ID, bad.what)
		}
	}
	c.wantPending("refused Creates")

	a := newAttempt("ws-a", "att-1", "enc-1", "cred-1", at(1))
	c.createAttempt(a)
	for _, status := range []string{"", seam.StatusPending, "done"} {
		b := cloneAttempt(a)
		b.Status, b.FinishedAt = status, at(2)
		if err := c.s.FinishAttempt(c.ctx, b, nil); err == nil {
			c.t.Errorf("FinishAttempt(%q) with status %q = nil, want an error", a.ID, status)
		}
	}
	late := failed(a, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), seam.ErrUncategorized, "late")
	if err := c.s.FinishAttempt(c.ctx, late, nil); err == nil {
		c.t.Errorf("FinishAttempt(%q) with FinishedAt in the year 10000 = nil, want an error", a.ID)
	}
	c.wantAttempt("refused Finishes", a)
	c.wantPending("refused Finishes", a)
}

// testInvalidCredentials passes credentials a store cannot keep.
func testInvalidCredentials(c *env) {
	noID := newCredential("ws-a", "", "sys-1", "user-1", at(0))
	noWorkspace := newCredential("", "cred-w", "sys-1", "user-1", at(0))
	for _, bad := range []struct {
		what string
		c    *seam.Credential
	}{
		{"an empty id", noID},
		{"an empty workspace id", noWorkspace},
	} {
		if err := c.s.PutCredential(c.ctx, bad.c); err == nil {
			c.t.Errorf("PutCredential(%q) with %s = nil, want an error", bad.c.ACSCredentialID, bad.what)
		}
	}
	c.wantList("ws-a", store.CredentialFilter{})
	c.wantList("", store.CredentialFilter{})
}

// testLeaseInvalid passes lease arguments a store refuses: each call must
// fail with an error other than ErrLeaseHeld and take nothing.
func testLeaseInvalid(c *env) {
	for _, bad := range []struct {
		name, holder string
		ttl          time.Duration
	}{
		{"", "server-a", leaseLong},
		{"enc-1", "", leaseLong},
		{"enc-1", "server-a", 0},
		{"enc-1", "server-a", -time.Second},
	} {
		expires, err := c.s.AcquireLease(c.ctx, bad.name, bad.holder, bad.ttl)
		if err == nil || errors.Is(err, store.ErrLeaseHeld) {
			c.t.Errorf("AcquireLease(%q, %q, %s) = %s, %v; want an error other than ErrLeaseHeld",
				bad.name, bad.holder, bad.ttl, expires.Format(time.RFC3339Nano), err)
		}
	}
	c.acquire("enc-1", "server-b", leaseLong)
	if err := c.s.ReleaseLease(c.ctx, "", ""); err != nil {
		c.t.Errorf("ReleaseLease(%q, %q) = %v, want nil: nobody holds that", "", "", err)
	}
}

// testErrorsNameOperation checks that an error says which call failed on
// which record, while still matching the sentinel it wraps.
func testErrorsNameOperation(c *env) {
	a := newAttempt("ws-a", "att-1", "enc-1", "cred-1", at(0))
	c.createAttempt(a)
	c.finishAttempt(failed(a, at(1), seam.ErrUncategorized, "boom"), nil)
	c.acquire("enc-1", "server-a", leaseLong)

	_, getErr := c.s.GetCredential(c.ctx, "ws-a", "nope")
	_, leaseErr := c.s.AcquireLease(c.ctx, "enc-1", "server-b", leaseLong)
	for _, e := range []struct {
		call     string
		err      error
		sentinel error
		want     string
	}{
		{`FinishAttempt("att-1") a second time`, c.s.FinishAttempt(c.ctx, failed(a, at(2), seam.ErrUncategorized, "again"), nil),
			store.ErrNotPending, `finish attempt "att-1": `},
		{`CreateAttempt("att-1") a second time`, c.s.CreateAttempt(c.ctx, a), store.ErrExists, `create attempt "att-1": `},
		{`GetCredential("ws-a", "nope")`, getErr, store.ErrNotFound, `get credential "nope": `},
		{`AcquireLease("enc-1", "server-b") held by server-a`, leaseErr, store.ErrLeaseHeld, `acquire lease "enc-1" for "server-b": `},
	} {
		if !errors.Is(e.err, e.sentinel) || !strings.Contains(e.err.Error(), e.want) {
			c.t.Errorf("%s = %v, want %v in an error containing %q", e.call, e.err, e.sentinel, e.want)
		}
	}
}
