package attempt

import (
	"context"
	"time"

	"github.com/encoderlab/encoderlab/pipeline/driver"
	"github.com/encoderlab/encoderlab/pipeline/seam"
	"github.com/encoderlab/encoderlab/pipeline/store"
)

// ledger is what a worker asks of the service that queues its jobs, and
// all it asks: what an attempt and its credential are now, the marks an
// encode takes before a card is written, and where an outcome goes. The
// calls run one way: the service queues jobs (worker.push), arms
// simulated outcomes and closes the port at shutdown, and never calls
// into an encode in progress; the worker reports through this.
type ledger interface {
	// decided reports an attempt whose outcome is decided already.
	decided(workspaceID, attemptID string) bool
	// current is the attempt as it stands now.
	current(ctx context.Context, workspaceID, attemptID string) (*store.Attempt, error)
	// credential is the credential as it stands now; store.ErrNotFound
	// once deleted.
	credential(ctx context.Context, workspaceID, credentialID string) (*seam.Credential, error)
	// credentials lists a system's credentials, oldest first.
	credentials(ctx context.Context, workspaceID, systemID string) ([]*seam.Credential, error)
	// isDeleted reports a credential deleted while its encode is queued.
	isDeleted(workspaceID, credentialID string) bool
	// refusing reports a store that refuses writes (failing), and a
	// channel closed once it takes them again.
	refusing() (healthy <-chan struct{}, failing error)

	// markWriting records that a's card is about to be written; the
	// func gives the mark up.
	markWriting(ctx context.Context, a *store.Attempt) (func(), error)
	// claimCredential holds a credential that refuses reissue for one
	// encode until deadline; the func releases it.
	claimCredential(ctx context.Context, workspaceID, credentialID string, deadline time.Time) (func(), error)

	// claim takes the right to decide j's outcome (false: the deadline
	// timer took it first); release and untrack end the service's
	// tracking of j.
	claim(j *job) bool
	release(j *job)
	untrack(j *job)
	// conclude records an outcome (a success holds cred and card, a
	// failure f), then runs after; finish records one without after;
	// expiredFirst records the outcome of an attempt whose deadline won.
	conclude(a *store.Attempt, cred *seam.Credential, f failure, card *driver.Card, after func()) bool
	finish(a *store.Attempt, cred *seam.Credential, f failure, card *driver.Card) bool
	expiredFirst(a *store.Attempt, f failure, card *driver.Card)
}

var _ ledger = (*Service)(nil)

func (s *Service) decided(workspaceID, attemptID string) bool {
	_, ok := s.rec.attempt(workspaceID, attemptID)
	return ok
}

func (s *Service) current(ctx context.Context, workspaceID, attemptID string) (*store.Attempt, error) {
	if a, ok := s.cache.get(workspaceID, attemptID); ok {
		return a, nil
	}
	return s.store.GetAttempt(ctx, workspaceID, attemptID)
}

func (s *Service) credentials(ctx context.Context, workspaceID, systemID string) ([]*seam.Credential, error) {
	return s.View().ListCredentials(ctx, workspaceID, store.CredentialFilter{ACSSystemID: systemID})
}

func (s *Service) isDeleted(workspaceID, credentialID string) bool {
	return s.rec.isDeleted(workspaceID, credentialID)
}

func (s *Service) refusing() (<-chan struct{}, error) { return s.rec.refusing() }
