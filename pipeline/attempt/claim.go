package attempt

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/encoderlab/encoderlab/pipeline/store"
)

// A credential whose ACS system refuses reissue may be on one card only.
// Checking is_issued when an encode starts is not enough: two encodes of
// the same credential on two encoders both find it not issued and both
// write. So an encode of such a credential first claims it, and checks
// is_issued again once it holds the claim; the claim is released only
// once the outcome is in the store, where every later check sees it.
// The claim is a lock in memory and a lease in the store
// ("credential/<id>"): an encode on another server sharing the store
// waits for the lease, and so does an encode after a crash. A server
// killed while its encoder wrote the card leaves the attempt pending
// with its outcome lost, though the card may hold the credential; the
// attempt's writing mark (markWriting) ends it when it is resumed, and
// the claim's lease, which lasts until the attempt's deadline, keeps
// every other encode of the credential from writing a second card
// meanwhile.

// claims serialises, within one service, the encodes of each credential
// whose system refuses reissue.
type claims struct {
	mu   sync.Mutex
	held map[string]chan struct{} // credential key → closed on release
}

// acquire waits until it holds the claim on key, or ctx ends.
func (c *claims) acquire(ctx context.Context, key string) (release func(), err error) {
	for {
		c.mu.Lock()
		if c.held == nil {
			c.held = map[string]chan struct{}{}
		}
		ch, busy := c.held[key]
		if !busy {
			ch = make(chan struct{})
			c.held[key] = ch
			c.mu.Unlock()
			var once sync.Once
			return func() {
				once.Do(func() {
					c.mu.Lock()
					delete(c.held, key)
					c.mu.Unlock()
					close(ch)
				})
			}, nil
		}
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// claimCredential claims a credential for an encode that must end by
// deadline. It returns the release, to run once the outcome is in the
// store, or an error once ctx ends (the deadline passing included) before
// the claim could be had.
func (s *Service) claimCredential(ctx context.Context, workspaceID, credentialID string, deadline time.Time) (func(), error) {
	release, err := s.claims.acquire(ctx, workspaceID+"/"+credentialID)
	if err != nil {
		return nil, err
	}
	name := "credential/" + credentialID
	// The lease lasts until the attempt's deadline, and when servers
	// share the store one lease period more, so a server that dies
	// holding it frees the credential soon after the attempt is over.
	ttl := max(deadline.Sub(s.now()), time.Millisecond) + s.sharing.LeaseTTL
	poll := s.sharing.Poll
	if !s.shared {
		// Alone on its store the service meets a held lease only after a
		// crash, and waits for it until the deadline: it polls so that a
		// lease that ends before then is taken soon after.
		poll = max(s.deadline/100, time.Millisecond)
	}
	for {
		lctx, cancel := context.WithTimeout(ctx, storeTimeout)
		_, err := s.store.AcquireLease(lctx, name, s.instance, ttl)
		cancel()
		if err == nil {
			break
		}
		// A held lease is waited for; so is a store that cannot write
		// now (a full disk), as an encode waits for it before writing.
		if !errors.Is(err, store.ErrLeaseHeld) && !errors.Is(err, store.ErrUnavailable) && ctx.Err() == nil {
			release()
			return nil, fmt.Errorf("claiming credential %s in the store: %w", credentialID, err)
		}
		t := time.NewTimer(poll)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			release()
			return nil, ctx.Err()
		}
	}
	return func() {
		rctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
		defer cancel()
		if err := s.store.ReleaseLease(rctx, name, s.instance); err != nil {
			s.log.Warn("releasing the claim on a credential failed; it expires on its own",
				"acs_credential_id", credentialID, "err", err)
		}
		release()
	}, nil
}

// errCutOff: the attempt's mark that its card is being written is held
// by another server, one that stopped or died while it wrote.
var errCutOff = errors.New("the attempt's card was being written by a server that stopped")

// markWriting marks in the store that attempt a's encoder is about to be
// asked to write its card: a lease "writing/<attempt id>" until the
// attempt's deadline. It returns the release, to run once the outcome is
// in the store, or errCutOff when another holder has the mark (a server
// that stopped mid-write: its lease lasts until the same deadline), or
// another error once ctx ends while the store cannot write.
func (s *Service) markWriting(ctx context.Context, a *store.Attempt) (func(), error) {
	name := "writing/" + a.ID
	ttl := max(a.Deadline.Sub(s.now()), time.Millisecond) + s.sharing.LeaseTTL
	poll := max(s.deadline/100, time.Millisecond)
	for {
		lctx, cancel := context.WithTimeout(ctx, storeTimeout)
		_, err := s.store.AcquireLease(lctx, name, s.instance, ttl)
		cancel()
		switch {
		case err == nil:
			return func() {
				rctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
				defer cancel()
				if err := s.store.ReleaseLease(rctx, name, s.instance); err != nil {
					s.log.Warn("releasing an attempt's writing mark failed; it expires at the attempt's deadline",
						"action_attempt_id", a.ID, "err", err)
				}
			}, nil
		case errors.Is(err, store.ErrLeaseHeld):
			return nil, errCutOff
		case !errors.Is(err, store.ErrUnavailable) || ctx.Err() != nil:
			return nil, fmt.Errorf("marking attempt %s as writing: %w", a.ID, err)
		}
		// A store that cannot write now (a full disk) is waited for, as
		// an encode waits for it before writing a card.
		t := time.NewTimer(poll)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("marking attempt %s as writing: %w", a.ID, err)
		}
	}
}
