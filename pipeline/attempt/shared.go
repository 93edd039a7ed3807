package attempt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/encoderlab/encoderlab/pipeline/seam"
	"github.com/encoderlab/encoderlab/pipeline/store"
)

// Defaults of Sharing.
const (
	DefaultLeaseTTL = 5 * time.Second
	DefaultPoll     = 250 * time.Millisecond
)

// Sharing makes a Service one of several servers on one store (each
// configured with the same encoders): any of them takes encode requests
// and answers reads, and each encoder is driven by exactly one of them at
// a time, the holder of the encoder's lease in the store.
//
// A holder renews its leases every third of LeaseTTL. A server that dies
// stops renewing; once its leases expire another server takes its
// encoders over and runs their pending attempts, which the store keeps,
// from the start. A server that cannot renew in time (cut off from the
// store) cancels the encodes it has in flight and stops driving those
// encoders, so two servers never knowingly drive one encoder.
type Sharing struct {
	// Instance names this server in the leases it holds; default
	// "<hostname>-<pid>-<random>". Every server needs its own.
	Instance string
	// LeaseTTL is how long a lease lasts without renewal, and so about
	// how long a dead server's encoders wait for a new one; default
	// DefaultLeaseTTL.
	LeaseTTL time.Duration
	// Poll is how often the server looks in the store for attempts other
	// servers created on its encoders, and for attempts nobody can run
	// that have passed their deadline; default DefaultPoll.
	Poll time.Duration
}

func (sh *Sharing) withDefaults() (Sharing, error) {
	out := *sh
	if out.Instance == "" {
		host, _ := os.Hostname()
		out.Instance = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), uuid.NewString()[:8])
	}
	if out.LeaseTTL == 0 {
		out.LeaseTTL = DefaultLeaseTTL
	}
	if out.Poll == 0 {
		out.Poll = DefaultPoll
	}
	if out.LeaseTTL < 0 || out.Poll < 0 {
		return out, fmt.Errorf("sharing: lease ttl %v and poll %v must not be negative", out.LeaseTTL, out.Poll)
	}
	return out, nil
}

// lease is a worker's hold on its encoder while the service shares its
// store. ctx lives while the lease is held; encodes run under it, so
// losing the lease cancels them.
type lease struct {
	mu     sync.Mutex
	ctx    context.Context // nil while not held
	cancel context.CancelFunc
}

// context returns the context of the held lease, or nil.
func (l *lease) context() context.Context {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ctx
}

// held reports whether the lease is held.
func (l *lease) held() bool { return l.context() != nil }

// take marks the lease held under parent; it reports whether it was not
// held before.
func (l *lease) take(parent context.Context) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ctx != nil {
		return false
	}
	l.ctx, l.cancel = context.WithCancel(parent)
	return true
}

// lose marks the lease not held and cancels what ran under it; it reports
// whether it was held before.
func (l *lease) lose() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ctx == nil {
		return false
	}
	l.cancel()
	l.ctx, l.cancel = nil, nil
	return true
}

// coordinate keeps the leases and picks up other servers' attempts until
// the service closes. It runs only when the service shares its store.
func (s *Service) coordinate() {
	renew := time.NewTicker(s.sharing.LeaseTTL / 3)
	defer renew.Stop()
	poll := time.NewTicker(s.sharing.Poll)
	defer poll.Stop()
	s.renewLeases()
	s.pollPending()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-renew.C:
			s.renewLeases()
		case <-poll.C:
			s.pollPending()
		}
	}
}

// renewLeases takes or renews every encoder's lease. A lease that cannot
// be renewed before it would have expired is given up.
func (s *Service) renewLeases() {
	for _, w := range s.workers {
		if s.isDraining() && !w.lease.held() {
			continue // a draining server takes no encoder over
		}
		ctx, cancel := context.WithTimeout(s.ctx, s.sharing.LeaseTTL/3)
		_, err := s.store.AcquireLease(ctx, leaseName(w), s.sharing.Instance, s.sharing.LeaseTTL)
		cancel()
		switch {
		case err == nil:
			if w.lease.take(s.ctx) {
				s.log.Info("driving encoder (lease taken)", "encoder", w.cfg.DisplayName, "instance", s.sharing.Instance)
			}
		case s.ctx.Err() != nil:
			return
		default:
			if w.lease.lose() {
				w.closePortForTakeover()
				lvl := "encoder taken over by another instance"
				if !errors.Is(err, store.ErrLeaseHeld) {
					lvl = "lease could not be renewed; no longer driving the encoder"
				}
				s.log.Warn(lvl, "encoder", w.cfg.DisplayName, "instance", s.sharing.Instance, "err", err)
			}
		}
	}
}

// pollPending queues the pending attempts of the encoders this server
// drives (those other servers accepted, or a dead server left) and
// expires pending attempts that nobody ran by their deadline.
func (s *Service) pollPending() {
	ctx, cancel := context.WithTimeout(s.ctx, storeTimeout)
	defer cancel()
	pending, err := s.store.PendingAttempts(ctx)
	if err != nil {
		if s.ctx.Err() == nil {
			s.log.Warn("looking for pending attempts failed", "err", err)
		}
		return
	}
	now := s.now()
	for _, a := range pending {
		w := s.byID[a.EncoderID]
		switch {
		case w != nil && w.cfg.WorkspaceID == a.WorkspaceID && w.lease.held():
			if !s.isDraining() {
				s.enqueue(w, a)
			}
		case now.After(a.Deadline.Add(s.sharing.Poll)) && !s.isTracked(a.ID):
			// Its encoder's holder, if any, had its chance: it expires
			// attempts on its own timers, at the deadline itself.
			s.finish(a, nil, failure{seam.ErrActionAttemptExpired,
				fmt.Sprintf("the attempt's deadline (%s) passed before any instance could run it", seam.At(a.Deadline))}, nil)
		}
	}
}

// releaseLeases gives up every held lease, so another server takes the
// encoders over at once instead of after the lease's expiry.
func (s *Service) releaseLeases() {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	for _, w := range s.workers {
		if !w.lease.lose() {
			continue
		}
		if err := s.store.ReleaseLease(ctx, leaseName(w), s.sharing.Instance); err != nil {
			s.log.Warn("releasing encoder lease failed; it expires on its own", "encoder", w.cfg.DisplayName, "err", err)
		}
	}
}

func leaseName(w *worker) string { return "encoder/" + w.cfg.ID }

func (s *Service) isDraining() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.draining
}

func (s *Service) isTracked(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tracked[id] != nil
}
