package attempt

import (
	"context"
	"fmt"
	"time"

	"github.com/encoderlab/encoderlab/pipeline/seam"
	"github.com/encoderlab/encoderlab/pipeline/store"
)

// enqueue tracks a pending attempt, arms its deadline timer and queues it
// on w. An attempt already tracked is not queued twice.
func (s *Service) enqueue(w *worker, a *store.Attempt) {
	if _, decided := s.rec.attempt(a.WorkspaceID, a.ID); decided {
		return // its outcome is decided; only the store does not know it yet
	}
	j := &job{attempt: a, encoder: w.cfg.DisplayName, decided: make(chan struct{})}
	s.mu.Lock()
	if s.closed || s.tracked[a.ID] != nil {
		s.mu.Unlock()
		return
	}
	s.tracked[a.ID] = j
	if a.CredentialID != "" {
		s.encoding[credentialKey(a.WorkspaceID, a.CredentialID)]++
	}
	j.timer = time.AfterFunc(a.Deadline.Sub(s.now()), func() { s.expire(j) })
	s.mu.Unlock()
	w.push(j)
}

// claim makes the caller the one that decides j's outcome and stops its
// deadline timer; false if the timer (or the worker) claimed it first, or
// the service no longer tracks it. The claimed attempt stays tracked, so
// a drain keeps waiting, until release, which the caller runs once the
// outcome is decided (and so counted by the recorder until it is in the
// store). One owner per outcome: otherwise a reader could see the expiry,
// decided in memory, and then the worker's outcome, which the store took
// first.
func (s *Service) claim(j *job) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tracked[j.attempt.ID] != j || j.claimed {
		return false
	}
	j.claimed = true
	j.timer.Stop()
	return true
}

// release stops tracking j once its outcome is decided.
func (s *Service) release(j *job) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tracked[j.attempt.ID] == j {
		s.forget(j.attempt.ID)
	}
	j.markDecided()
}

// noteDecided tells a reader waiting in settle that the attempt's outcome
// is in memory now.
func (s *Service) noteDecided(id string) {
	s.mu.Lock()
	j := s.tracked[id]
	s.mu.Unlock()
	if j != nil {
		j.markDecided()
	}
}

// settle makes a read of an attempt that is pending past its deadline see
// its terminal status. The deadline timer decides the expiry, but a timer
// runs some time after it is due (more on a loaded machine), and the API
// promises that an attempt is terminal by its deadline: so the reader
// decides the expiry itself, unless the worker or the timer is already
// deciding the outcome, and waits until it is in memory. It returns the
// attempt as read again, or a unchanged when this service does not run
// the attempt (another server sharing the store does) or ctx ends first.
func (s *Service) settle(ctx context.Context, a *store.Attempt) *store.Attempt {
	if a.Status != seam.StatusPending || s.now().Before(a.Deadline) {
		return a
	}
	s.mu.Lock()
	j := s.tracked[a.ID]
	s.mu.Unlock()
	if j == nil {
		return a
	}
	// In its own goroutine, like the timer's: the store write that
	// follows the decision is not the reader's to wait for.
	go s.expire(j)
	select {
	case <-j.decided:
	case <-ctx.Done():
		return a
	}
	if d, ok := s.rec.attempt(a.WorkspaceID, a.ID); ok {
		return d
	}
	if c, ok := s.cache.get(a.WorkspaceID, a.ID); ok && c.Status != seam.StatusPending {
		return c
	}
	if st, err := s.store.GetAttempt(ctx, a.WorkspaceID, a.ID); err == nil {
		return st
	}
	return a
}

// stopEncodesOf stops every encode of the credential this service runs:
// the credential was deleted. A queued one ends when its turn comes (it
// finds the credential gone); one whose encoder is asked to write is
// cancelled on the encoder now.
func (s *Service) stopEncodesOf(workspaceID, credentialID string) {
	s.mu.Lock()
	var stop []*job
	for _, j := range s.tracked {
		if j.attempt.WorkspaceID == workspaceID && j.attempt.CredentialID == credentialID {
			stop = append(stop, j)
		}
	}
	s.mu.Unlock()
	for _, j := range stop {
		j.cancelEncode(errCredentialDeleted)
	}
}

// untrack forgets an attempt whose outcome the worker does not decide
// (it found one recorded, or another server runs it) and stops its
// deadline timer, unless the timer claimed it first.
func (s *Service) untrack(j *job) {
	if s.claim(j) {
		s.release(j)
	}
}

// forget drops an attempt from tracked. The caller holds mu.
func (s *Service) forget(id string) {
	if j := s.tracked[id]; j != nil && j.attempt.CredentialID != "" {
		k := credentialKey(j.attempt.WorkspaceID, j.attempt.CredentialID)
		if s.encoding[k]--; s.encoding[k] <= 0 {
			delete(s.encoding, k)
			s.rec.issuedDone(k)
		}
	}
	delete(s.tracked, id)
	s.noteDrained()
}

// noteDrained closes drained once a drain has nothing left to wait for.
// The caller holds mu.
func (s *Service) noteDrained() {
	if !s.draining || s.inFlight() > 0 {
		return
	}
	select {
	case <-s.drained:
	default:
		close(s.drained)
	}
}

// inFlight counts what a drain waits for: encodes being accepted,
// attempts queued or running, and outcomes not yet in the store. The
// caller holds mu.
func (s *Service) inFlight() int { return s.accepting + len(s.tracked) + s.rec.count() }

// noteRecorded lets a drain see that an outcome reached the store.
func (s *Service) noteRecorded() {
	s.mu.Lock()
	s.noteDrained()
	s.mu.Unlock()
}

// Drain stops taking new encodes (Encode answers 503 service_unavailable)
// and waits until every encode already accepted has reached its terminal
// status, which each does by its deadline, and that status is in the
// store, or until ctx ends. The rest of the service keeps working
// meanwhile, so clients can still read the outcomes. It returns how many
// attempts were still in flight when ctx ended (they stay pending in the
// store, as after Close) with ctx's error, or 0 and nil.
func (s *Service) Drain(ctx context.Context) (int, error) {
	s.mu.Lock()
	s.draining = true
	s.noteDrained()
	s.mu.Unlock()
	select {
	case <-s.drained:
		return 0, nil
	case <-ctx.Done():
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.inFlight(), ctx.Err()
	}
}

// expire runs on an attempt's deadline timer and records that it expired,
// unless it has already finished.
func (s *Service) expire(j *job) {
	s.mu.Lock()
	if s.closed || s.tracked[j.attempt.ID] != j || j.claimed {
		s.mu.Unlock()
		return
	}
	j.claimed = true
	s.wg.Add(1) // under mu, so Close cannot be waiting yet
	s.mu.Unlock()
	defer s.wg.Done()
	defer s.release(j)

	d := j.attempt.Deadline.Sub(j.attempt.CreatedAt).Round(time.Millisecond)
	msg := fmt.Sprintf("the attempt waited %v in the queue of encoder %s and expired before it started", d, j.encoder)
	if _, failing := s.rec.refusing(); failing != nil && !j.writing.Load() {
		msg = fmt.Sprintf("the server could not record encode outcomes for %v (%v), so encoder %s did not write the card", d, failing, j.encoder)
	} else if j.started.Load() {
		msg = fmt.Sprintf("encoder %s did not finish encoding within %v", j.encoder, d)
	}
	s.finish(j.attempt, nil, failure{seam.ErrActionAttemptExpired, msg}, nil)
}
