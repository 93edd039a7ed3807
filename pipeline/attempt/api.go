package attempt

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/encoderlab/encoderlab/pipeline/credential"
	"github.com/encoderlab/encoderlab/pipeline/seam"
	"github.com/encoderlab/encoderlab/pipeline/store"
	"github.com/google/uuid"
)

// Encode checks the request, records a pending attempt and queues it on the
// encoder. Requests the API must refuse return a *seam.Error.
func (s *Service) Encode(ctx context.Context, workspaceID, credentialID, encoderID string) (*seam.ActionAttempt, error) {
	w := s.worker(workspaceID, encoderID)
	if w == nil {
		return nil, seam.NotFound("acs_encoder", encoderID)
	}
	s.updating.RLock()
	defer s.updating.RUnlock()
	c, err := s.credential(ctx, workspaceID, credentialID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, seam.NotFound("acs_credential", credentialID)
	}
	if err != nil {
		return nil, fmt.Errorf("attempt: reading credential %s: %w", credentialID, err)
	}
	if c.AccessMethod != seam.AccessCard {
		return nil, seam.InvalidInput("credential %s has access_method %q; only %q credentials can be encoded onto a card",
			credentialID, c.AccessMethod, seam.AccessCard)
	}
	if c.ACSSystemID != w.cfg.SystemID {
		return nil, seam.InvalidInput("credential %s belongs to acs system %s, but encoder %s (%s) encodes for acs system %s",
			credentialID, c.ACSSystemID, encoderID, w.cfg.DisplayName, w.cfg.SystemID)
	}
	now := s.now()
	if end, ok := endsAt(c); ok && !now.Before(end) {
		return nil, seam.InvalidInput("credential %s ended at %s (its ends_at): a card valid only until then opens nothing; "+
			"create a credential whose ends_at is in the future", credentialID, seam.At(end))
	}
	a := &store.Attempt{
		ID:           uuid.NewString(),
		WorkspaceID:  workspaceID,
		EncoderID:    encoderID,
		CredentialID: credentialID,
		Status:       seam.StatusPending,
		CreatedAt:    now,
		Deadline:     now.Add(s.deadline),
	}
	if err := s.admit(ctx, w, a, "encodes"); err != nil {
		return nil, err
	}
	s.log.Info("action attempt queued", "action_attempt_id", a.ID, "encoder", w.cfg.DisplayName,
		"acs_credential_id", credentialID, "deadline", seam.At(a.Deadline))
	return toSeam(a)
}

// credential reads a credential, from memory when the service may keep
// it there (credentialCache).
func (s *Service) credential(ctx context.Context, workspaceID, id string) (*seam.Credential, error) {
	if s.rec.isDeleted(workspaceID, id) {
		// A copy in memory may outlive the delete (the cache, an
		// outcome decided before it and written after).
		return nil, store.ErrNotFound
	}
	if c, ok := s.rec.credential(workspaceID, id); ok {
		return c, nil
	}
	if s.creds != nil {
		if c, ok := s.creds.get(workspaceID, id); ok {
			return c, nil
		}
	}
	c, err := s.store.GetCredential(ctx, workspaceID, id)
	if err == nil && s.creds != nil {
		s.creds.putRead(c)
	}
	return c, err
}

// Attempt returns an attempt as the API shows it.
func (s *Service) Attempt(ctx context.Context, workspaceID, attemptID string) (*seam.ActionAttempt, error) {
	if a, ok := s.rec.shown(workspaceID, attemptID, s.now()); ok {
		return toSeam(a)
	}
	if a, ok := s.cache.get(workspaceID, attemptID); ok {
		return toSeam(s.settle(ctx, a))
	}
	a, err := s.store.GetAttempt(ctx, workspaceID, attemptID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, seam.NotFound("action_attempt", attemptID)
	}
	if err != nil {
		return nil, fmt.Errorf("attempt: reading action attempt %s: %w", attemptID, err)
	}
	s.cache.put(a)
	return toSeam(s.settle(ctx, a))
}

// SimulateNext arms the next encode on the encoder to end without talking
// to the device: successfully when errorType is "", otherwise with that
// error type (no_credential_on_encoder, encoding_interrupted,
// uncategorized_error or action_attempt_expired; which of them a
// workspace may ask for is the API's rule). Arming again replaces the
// earlier outcome.
func (s *Service) SimulateNext(ctx context.Context, workspaceID, encoderID, errorType string) error {
	w := s.worker(workspaceID, encoderID)
	if w == nil {
		return seam.NotFound("acs_encoder", encoderID)
	}
	if _, ok := simulatableErrors[errorType]; errorType != "" && !ok {
		return seam.InvalidInput("error_code %q cannot be simulated: want %s, %s, %s or %s", errorType,
			seam.ErrNoCredentialOnEncoder, seam.ErrEncodingInterrupted, seam.ErrUncategorized, seam.ErrActionAttemptExpired)
	}
	w.arm(&simulatedOutcome{errType: errorType})
	return nil
}

// Encoders returns the workspace's encoders in configuration order.
func (s *Service) Encoders(workspaceID string) []seam.Encoder {
	out := []seam.Encoder{}
	for _, w := range s.workers {
		if w.cfg.WorkspaceID == workspaceID {
			out = append(out, s.encoder(w))
		}
	}
	return out
}

// Encoder returns one encoder of the workspace.
func (s *Service) Encoder(workspaceID, encoderID string) (seam.Encoder, bool) {
	w := s.worker(workspaceID, encoderID)
	if w == nil {
		return seam.Encoder{}, false
	}
	return s.encoder(w), true
}

func (s *Service) encoder(w *worker) seam.Encoder {
	return seam.Encoder{
		ACSEncoderID:       w.cfg.ID,
		ACSSystemID:        w.cfg.SystemID,
		ConnectedAccountID: w.cfg.ConnectedAccountID,
		WorkspaceID:        w.cfg.WorkspaceID,
		DisplayName:        w.cfg.DisplayName,
		CreatedAt:          seam.At(s.created),
		Errors:             []seam.EncoderError{},
	}
}

// worker returns the worker of the encoder with that id in that workspace,
// or nil: an encoder of another workspace does not exist for the caller.
func (s *Service) worker(workspaceID, encoderID string) *worker {
	w := s.byID[encoderID]
	if w == nil || w.cfg.WorkspaceID != workspaceID {
		return nil
	}
	return w
}

// toSeam converts a stored attempt to its API form, keeping the status
// invariants: pending has neither result nor error, success only a
// result, error only an error.
func toSeam(a *store.Attempt) (*seam.ActionAttempt, error) {
	out := &seam.ActionAttempt{
		ActionAttemptID: a.ID,
		ActionType:      seam.ActionTypeEncodeCredential,
		Status:          a.Status,
	}
	if a.ActionType == seam.ActionTypeScanCredential {
		out.ActionType = a.ActionType
	}
	switch a.Status {
	case seam.StatusPending:
	case seam.StatusSuccess:
		if a.Result == nil && a.Scan == nil {
			return nil, fmt.Errorf("attempt: action attempt %s succeeded but has no result", a.ID)
		}
		out.Result, out.Scan = a.Result, a.Scan
	case seam.StatusError:
		typ, msg := a.ErrorType, a.ErrorMessage
		if typ == "" {
			typ = seam.ErrUncategorized
		}
		if msg == "" {
			msg = typ
		}
		out.Error = &seam.ActionAttemptErr{Type: typ, Message: msg}
	default:
		return nil, fmt.Errorf("attempt: action attempt %s has unknown status %q", a.ID, a.Status)
	}
	return out, nil
}

// UpdateCredential applies p to the credential (credential.Update) and
// stores it. It refuses, with invalid_input, while an encode of the
// credential is pending on this server: that encode writes the
// credential as it read it, and its outcome would put the old one back.
// No encode starts while the update runs.
func (s *Service) UpdateCredential(ctx context.Context, workspaceID, credentialID string, p credential.UpdateParams) (*seam.Credential, error) {
	s.updating.Lock()
	defer s.updating.Unlock()
	if id := s.pendingEncodeOf(workspaceID, credentialID); id != "" {
		return nil, seam.InvalidInput("credential %s is being encoded (action attempt %s); update it once that attempt has ended", credentialID, id)
	}
	c, err := s.credential(ctx, workspaceID, credentialID)
	if err != nil {
		return nil, err
	}
	next, err := credential.Update(c, p, s.now())
	if err != nil {
		return nil, err
	}
	if err := s.store.PutCredential(ctx, next); err != nil {
		return nil, fmt.Errorf("attempt: storing updated credential %s: %w", credentialID, err)
	}
	if s.creds != nil {
		s.creds.put(next)
	}
	return next, nil
}

// pendingEncodeOf is the id of an attempt of this server that encodes
// the credential and whose outcome is not in the store yet, or "". An
// attempt whose outcome is recorded may still be tracked for a moment
// (release follows the write), but its write of the credential is done,
// and a client that read the outcome may update at once.
func (s *Service) pendingEncodeOf(workspaceID, credentialID string) string {
	s.mu.Lock()
	var jobs []*job
	for _, j := range s.tracked {
		if j.attempt.WorkspaceID == workspaceID && j.attempt.CredentialID == credentialID {
			jobs = append(jobs, j)
		}
	}
	s.mu.Unlock()
	for _, j := range jobs {
		select {
		case <-j.decided:
			if _, unrecorded := s.rec.attempt(workspaceID, j.attempt.ID); !unrecorded {
				continue
			}
		default:
		}
		return j.attempt.ID
	}
	return ""
}

// Scan records a pending SCAN_CREDENTIAL attempt and queues it on the
// encoder: the encoder reads the card in its field, writing nothing, and
// the attempt ends with what the card holds and the workspace's
// credential that is on it.
func (s *Service) Scan(ctx context.Context, workspaceID, encoderID string) (*seam.ActionAttempt, error) {
	w := s.worker(workspaceID, encoderID)
	if w == nil {
		return nil, seam.NotFound("acs_encoder", encoderID)
	}
	if _, ok := w.cfg.Driver.(scanner); !ok {
		return nil, seam.InvalidInput("encoder %s (%s) cannot read cards: its driver has no scan", encoderID, w.cfg.DisplayName)
	}
	now := s.now()
	a := &store.Attempt{ID: uuid.NewString(), WorkspaceID: workspaceID, EncoderID: encoderID, ActionType: seam.ActionTypeScanCredential,
		Status: seam.StatusPending, CreatedAt: now, Deadline: now.Add(s.deadline)}
	if err := s.admit(ctx, w, a, "scans"); err != nil {
		return nil, err
	}
	return toSeam(a)
}

// admit records a, a new pending attempt on w, and queues it: refused
// with 503 while the store refuses writes or the service drains (what
// names the attempts refused in the message), and counted as accepted
// meanwhile so that a drain waits for it.
func (s *Service) admit(ctx context.Context, w *worker, a *store.Attempt, what string) error {
	if _, failing := s.rec.refusing(); failing != nil {
		return unavailable(failing)
	}
	s.mu.Lock()
	closed, draining := s.closed, s.draining
	if !closed && !draining {
		s.accepting++
	}
	s.mu.Unlock()
	if closed || draining {
		return &seam.Error{Status: http.StatusServiceUnavailable, Type: "service_unavailable",
			Message: "the server is shutting down and takes no new " + what + "; retry on another instance or after it restarts"}
	}
	defer func() {
		s.mu.Lock()
		s.accepting--
		s.noteDrained()
		s.mu.Unlock()
	}()
	if err := s.store.CreateAttempt(ctx, a); err != nil {
		if ctx.Err() == nil && !errors.Is(err, store.ErrExists) {
			// Nothing was acknowledged; new attempts wait until the
			// store takes writes again.
			s.rec.fail(err)
			return unavailable(err)
		}
		return fmt.Errorf("attempt: recording attempt: %w", err)
	}
	s.cache.put(a)
	s.observed(a)
	// A shared store's attempt on an encoder another server drives waits
	// in the store until that server's next poll.
	if !s.shared || w.lease.held() {
		s.enqueue(w, a)
	}
	return nil
}
