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
// Within one server the claim is a lock in memory; when servers share a
// store it is also a lease in the store ("credential/<id>"), so an encode
// on another server waits for it as well.

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
	if !s.shared {
		return release, nil
	}
	name := "credential/" + credentialID
	// The lease outlives the attempt's deadline by one lease period, so
	// a server that dies holding it frees the credential soon after.
	ttl := max(deadline.Sub(s.now()), 0) + s.sharing.LeaseTTL
	for {
		lctx, cancel := context.WithTimeout(ctx, storeTimeout)
		_, err := s.store.AcquireLease(lctx, name, s.sharing.Instance, ttl)
		cancel()
		if err == nil {
			break
		}
		if !errors.Is(err, store.ErrLeaseHeld) && ctx.Err() == nil {
			release()
			return nil, fmt.Errorf("claiming credential %s in the store: %w", credentialID, err)
		}
		t := time.NewTimer(s.sharing.Poll)
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
		if err := s.store.ReleaseLease(rctx, name, s.sharing.Instance); err != nil {
			s.log.Warn("releasing the claim on a credential failed; it expires on its own",
				"acs_credential_id", credentialID, "err", err)
		}
		release()
	}, nil
}
