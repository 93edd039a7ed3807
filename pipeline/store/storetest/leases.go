package storetest

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/encoderlab/encoderlab/pipeline/store"
)

// leaseLong is a ttl no check outlives: a lease taken with it is held for
// the whole check unless it is released.
const leaseLong = time.Hour

// leaseShort is the ttl of the leases a check waits out.
const leaseShort = 200 * time.Millisecond

// leasePoll is how often a check asks again for a lease it waits out, and
// leaseWait how long it asks before it gives up: a bound for a store that
// never lets an expired lease go, generous for a loaded machine.
const (
	leasePoll = 10 * time.Millisecond
	leaseWait = time.Minute
)

// acquire takes the lease and fails the check unless it succeeds.
func (c *env) acquire(name, holder string, ttl time.Duration) time.Time {
	c.t.Helper()
	expires, err := c.s.AcquireLease(c.ctx, name, holder, ttl)
	if err != nil {
		c.t.Fatalf("AcquireLease(%q, %q, %s) = %v, want nil", name, holder, ttl, err)
	}
	return expires
}

// wantHeld checks that holder is refused the lease with ErrLeaseHeld;
// after names what led up to the call, for the message.
func (c *env) wantHeld(after, name, holder string, ttl time.Duration) {
	c.t.Helper()
	expires, err := c.s.AcquireLease(c.ctx, name, holder, ttl)
	if !errors.Is(err, store.ErrLeaseHeld) {
		c.t.Errorf("AcquireLease(%q, %q, %s) after %s = %s, %v; want ErrLeaseHeld",
			name, holder, ttl, after, expires.Format(time.RFC3339Nano), err)
	}
}

func (c *env) release(name, holder string) {
	c.t.Helper()
	if err := c.s.ReleaseLease(c.ctx, name, holder); err != nil {
		c.t.Fatalf("ReleaseLease(%q, %q) = %v, want nil", name, holder, err)
	}
}

// wantTakenAfter checks that a lease granted with ttl and expiring at got
// was granted no earlier than the previous holder's expiry: on the
// store's own clock it was granted at got-ttl.
func (c *env) wantTakenAfter(what string, got time.Time, ttl time.Duration, prev time.Time) {
	c.t.Helper()
	if granted := got.Add(-ttl); granted.Before(prev) {
		c.t.Errorf("%s = expiry %s, so granted at %s, before the previous holder's lease ran out at %s",
			what, got.Format(time.RFC3339Nano), granted.Format(time.RFC3339Nano), prev.Format(time.RFC3339Nano))
	}
}

func testLeaseFree(c *env) {
	expires := c.acquire("enc-1", "server-a", leaseLong)
	if expires.IsZero() {
		c.t.Errorf("AcquireLease(%q, %q, %s) of a free lease = zero expiry, want the lease's expiry", "enc-1", "server-a", leaseLong)
	}
	c.wantHeld("server-a took it", "enc-1", "server-b", leaseLong)
}

func testLeaseRenew(c *env) {
	first := c.acquire("enc-1", "server-a", leaseLong)
	second := c.acquire("enc-1", "server-a", leaseLong)
	if !second.After(first) {
		c.t.Errorf("AcquireLease(%q, %q, %s) renewing = expiry %s, want after the first expiry %s",
			"enc-1", "server-a", leaseLong, second.Format(time.RFC3339Nano), first.Format(time.RFC3339Nano))
	}
	// A renewal may shorten the lease, too: the new ttl counts from now.
	shorter := c.acquire("enc-1", "server-a", time.Minute)
	if !shorter.Before(second) {
		c.t.Errorf("AcquireLease(%q, %q, %s) renewing a %s lease = expiry %s, want before %s",
			"enc-1", "server-a", time.Minute, leaseLong, shorter.Format(time.RFC3339Nano), second.Format(time.RFC3339Nano))
	}
	c.wantHeld("server-a renewed it", "enc-1", "server-b", leaseLong)
}

// testLeaseHeld: a refused holder changes nothing; the holder keeps the
// lease and can renew it, and the refused one stays refused.
func testLeaseHeld(c *env) {
	first := c.acquire("enc-1", "server-a", leaseLong)
	c.wantHeld("server-a took it", "enc-1", "server-b", leaseLong)
	c.wantHeld("server-a took it", "enc-1", "server-b", time.Nanosecond)
	c.wantHeld("server-b was refused", "enc-1", "server-c", leaseLong)
	renewed := c.acquire("enc-1", "server-a", leaseLong)
	if !renewed.After(first) {
		c.t.Errorf("AcquireLease(%q, %q, %s) after refusing others = expiry %s, want after %s",
			"enc-1", "server-a", leaseLong, renewed.Format(time.RFC3339Nano), first.Format(time.RFC3339Nano))
	}
	c.wantHeld("server-a renewed it", "enc-1", "server-b", leaseLong)
}

// testLeaseExpires waits out a short lease while another holder asks for
// it with a long ttl: every refusal must leave the short lease as it was,
// or the wait never ends, and the takeover must come after its expiry.
func testLeaseExpires(c *env) {
	for _, ttl := range []time.Duration{time.Nanosecond, leaseShort} {
		name := fmt.Sprintf("enc-%s", ttl)
		first := c.acquire(name, "server-a", ttl)
		got, refusals := c.waitForLease(name, "server-b", leaseLong)
		c.wantTakenAfter(fmt.Sprintf("AcquireLease(%q, %q, %s) after %d refusals", name, "server-b", leaseLong, refusals),
			got, leaseLong, first)
		c.wantHeld("server-b took over", name, "server-a", leaseLong)
		// The former holder's release no longer touches the lease.
		c.release(name, "server-a")
		c.wantHeld("the former holder released it", name, "server-c", leaseLong)
	}
}

// waitForLease asks for the lease every leasePoll until it is granted or
// leaseWait has passed, and returns the expiry and how many refusals came
// first. Anything but a grant or ErrLeaseHeld fails the check.
func (c *env) waitForLease(name, holder string, ttl time.Duration) (time.Time, int) {
	c.t.Helper()
	giveUp := time.NewTimer(leaseWait)
	defer giveUp.Stop()
	tick := time.NewTicker(leasePoll)
	defer tick.Stop()
	for refusals := 0; ; refusals++ {
		expires, err := c.s.AcquireLease(c.ctx, name, holder, ttl)
		switch {
		case err == nil:
			return expires, refusals
		case !errors.Is(err, store.ErrLeaseHeld):
			c.t.Fatalf("AcquireLease(%q, %q, %s) while waiting for an expiry = %v, want nil or ErrLeaseHeld", name, holder, ttl, err)
		}
		select {
		case <-tick.C:
		case <-giveUp.C:
			c.t.Fatalf("AcquireLease(%q, %q, %s) still ErrLeaseHeld after %s and %d tries; want the expired lease taken over",
				name, holder, ttl, leaseWait, refusals+1)
		}
	}
}

func testLeaseRelease(c *env) {
	c.acquire("enc-1", "server-a", leaseLong)
	c.release("enc-1", "server-a")
	c.acquire("enc-1", "server-b", leaseLong)
	c.wantHeld("server-a released it and server-b took it", "enc-1", "server-a", leaseLong)
	// Releasing what nobody holds is not an error.
	c.release("enc-never", "server-a")
	c.acquire("enc-never", "server-c", leaseLong)
}

func testLeaseReleaseByOther(c *env) {
	first := c.acquire("enc-1", "server-a", leaseLong)
	c.release("enc-1", "server-b")
	c.wantHeld("server-b released a lease it did not hold", "enc-1", "server-b", leaseLong)
	c.wantHeld("server-b released a lease it did not hold", "enc-1", "server-c", leaseLong)
	if renewed := c.acquire("enc-1", "server-a", leaseLong); !renewed.After(first) {
		c.t.Errorf("AcquireLease(%q, %q, %s) after another's release = expiry %s, want after %s",
			"enc-1", "server-a", leaseLong, renewed.Format(time.RFC3339Nano), first.Format(time.RFC3339Nano))
	}
}

func testLeaseNames(c *env) {
	c.acquire("enc-1", "server-a", leaseLong)
	c.acquire("enc-2", "server-b", leaseLong)
	c.acquire("enc-3", "server-a", leaseLong)
	c.wantHeld("server-b took enc-2", "enc-2", "server-a", leaseLong)
	c.wantHeld("server-a took enc-1", "enc-1", "server-b", leaseLong)

	c.release("enc-1", "server-a")
	c.wantHeld("server-a released enc-1 only", "enc-3", "server-b", leaseLong)
	c.wantHeld("server-a released enc-1", "enc-2", "server-a", leaseLong)
	c.acquire("enc-1", "server-b", leaseLong)
}

// testLeaseConcurrent races holders for one free lease: exactly one must
// get it, and the lease must then be the winner's.
func testLeaseConcurrent(c *env) {
	const holders = 16
	errs := make([]error, holders)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range holders {
		wg.Go(func() {
			<-start
			_, errs[i] = c.s.AcquireLease(c.ctx, "enc-1", fmt.Sprintf("server-%02d", i), leaseLong)
		})
	}
	close(start)
	wg.Wait()

	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			c.t.Errorf("AcquireLease by server-%02d and server-%02d both returned nil; want exactly one to win", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, store.ErrLeaseHeld):
			c.t.Errorf("AcquireLease by server-%02d = %v, want nil or ErrLeaseHeld", i, err)
		}
	}
	if winner < 0 {
		c.t.Fatalf("no concurrent AcquireLease returned nil; want exactly one to win")
	}
	won := fmt.Sprintf("server-%02d", winner)
	c.acquire("enc-1", won, leaseLong)
	for i := range holders {
		if i != winner {
			c.wantHeld(won+" won the race", "enc-1", fmt.Sprintf("server-%02d", i), leaseLong)
		}
	}
}
