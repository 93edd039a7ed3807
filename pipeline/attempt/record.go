package attempt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/encoderlab/encoderlab/pipeline/credential"
	"github.com/encoderlab/encoderlab/pipeline/driver"
	"github.com/encoderlab/encoderlab/pipeline/seam"
	"github.com/encoderlab/encoderlab/pipeline/store"
)

// An attempt's outcome is decided in memory first and written to the
// store second. Readers see it once the store has it, or once the store
// refused it, or once the attempt's deadline has passed, whichever comes
// first (recorder.shown): so an attempt is terminal by its deadline
// whatever the store does (a store that is slow, full or unreachable
// delays only the write), and a reader who saw an outcome of a healthy
// store sees the same one after a crash. Shown earlier, an outcome a
// SIGKILL caught before its write would read terminal, then pending again
// after the restart, then perhaps end otherwise. An outcome the store
// refused stays in memory (served to readers, its credential change
// included) and is written again until the store takes it. While the store refuses writes, the service takes no new encode and
// writes no card: a card written now would carry an outcome that might
// never be recorded.

// Retry pacing of outcomes the store refused, and of the probe that tells
// when a store that refused a write takes writes again.
const (
	retryFirst = 20 * time.Millisecond
	retryMax   = time.Second
)

// decided is an outcome the store has not confirmed yet.
type decided struct {
	attempt *store.Attempt   // terminal
	cred    *seam.Credential // the credential as the success left it; nil otherwise
	// after runs once the outcome is in the store (or known never to be):
	// it releases what must be held until other servers can see it.
	after func()
	// refused is set once the store refused the outcome: from then on
	// only the retry loop writes it.
	refused bool
}

// recorder holds decided outcomes until the store has them, and knows
// whether the store takes writes.
type recorder struct {
	mu   sync.Mutex
	byID map[string]*decided // by attempt id
	// deleted holds the credentials deleted while the service runs (by
	// workspace and id): no success decided after the delete stands,
	// and no copy in memory is served again.
	deleted map[string]bool
	// issued holds the credentials a success decided here has issued
	// (by workspace and id) while encodes of them are still tracked: a
	// later success is a reissue even when its encode read the
	// credential before the first was decided. An encode that starts
	// once none is tracked reads the credential issued.
	issued  map[string]bool
	failing error         // the last write error while the store refuses writes
	healthy chan struct{} // closed while the store takes writes
	kick    chan struct{} // capacity 1: something to retry
}

func newRecorder() *recorder {
	r := &recorder{byID: map[string]*decided{}, deleted: map[string]bool{}, issued: map[string]bool{}, healthy: make(chan struct{}), kick: make(chan struct{}, 1)}
	close(r.healthy)
	return r
}

// decide keeps d in memory; false if the attempt already has an outcome
// waiting to be recorded (the deadline timer and the worker raced). A
// success whose credential was deleted before it was decided becomes
// the failure credential_deleted: the card holds a credential that no
// longer exists.
func (r *recorder) decide(d *decided) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byID[d.attempt.ID] != nil {
		return false
	}
	if c := d.cred; c != nil && r.deleted[credentialKey(c.WorkspaceID, c.ACSCredentialID)] {
		a := *d.attempt
		a.Status, a.Result, a.Events = seam.StatusError, nil, nil
		a.ErrorType = seam.ErrCredentialDeleted
		a.ErrorMessage = fmt.Sprintf("credential %s was deleted while the encoder wrote it: the card holds a credential that no longer exists", c.ACSCredentialID)
		d.attempt, d.cred = &a, nil
	}
	if c := d.cred; c != nil {
		k := credentialKey(c.WorkspaceID, c.ACSCredentialID)
		if r.issued[k] {
			d.attempt = asReissue(d.attempt)
		}
		r.issued[k] = true
	}
	r.byID[d.attempt.ID] = d
	return true
}

// issuedDone forgets that a success issued the credential: no encode of
// it is tracked any more.
func (r *recorder) issuedDone(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.issued, key)
}

// asReissue is a (a copy) with its acs_credential.issued events made
// acs_credential.reissued: the credential was issued by a success
// decided before this one.
func asReissue(a *store.Attempt) *store.Attempt {
	out := *a
	out.Events = make([]*seam.Event, len(a.Events))
	for i, e := range a.Events {
		cp := *e
		if cp.EventType == seam.EventCredentialIssued {
			cp.EventType = seam.EventCredentialReissued
			cp.EventDescription = issueDescription(cp.EventType, a.ID)
		}
		out.Events[i] = &cp
	}
	return &out
}

// forget notes that a credential is deleted; false if it was already.
func (r *recorder) forget(workspaceID, id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := credentialKey(workspaceID, id)
	if r.deleted[k] {
		return false
	}
	r.deleted[k] = true
	return true
}

// unforget takes back a forget whose delete failed.
func (r *recorder) unforget(workspaceID, id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.deleted, credentialKey(workspaceID, id))
}

// isDeleted reports whether the credential was deleted while the service ran.
func (r *recorder) isDeleted(workspaceID, id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.deleted[credentialKey(workspaceID, id)]
}

func credentialKey(workspaceID, id string) string { return workspaceID + "/" + id }

// done forgets the outcome of an attempt once the store has it, or once
// the store showed that another outcome won; it runs the outcome's after.
func (r *recorder) done(id string) {
	r.mu.Lock()
	d := r.byID[id]
	delete(r.byID, id)
	r.mu.Unlock()
	if d != nil && d.after != nil {
		d.after()
	}
}

// attempt returns a copy of a decided, unrecorded attempt.
func (r *recorder) attempt(workspaceID, id string) (*store.Attempt, bool) {
	return r.find(workspaceID, id, time.Time{})
}

// shown returns a copy of a decided, unrecorded attempt that readers may
// see at now: the store refused it, or its deadline has passed. Until
// then readers see what the store has, the attempt still pending.
func (r *recorder) shown(workspaceID, id string, now time.Time) (*store.Attempt, bool) {
	return r.find(workspaceID, id, now)
}

func (r *recorder) find(workspaceID, id string, shownAt time.Time) (*store.Attempt, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := r.byID[id]
	if d == nil || d.attempt.WorkspaceID != workspaceID || !d.shownAt(shownAt) {
		return nil, false
	}
	cp := *d.attempt
	return &cp, true
}

// shownAt reports whether readers may see d at now (zero: the service
// itself, which sees every decided outcome). Call with r.mu held.
func (d *decided) shownAt(now time.Time) bool {
	return now.IsZero() || d.refused || !now.Before(d.attempt.Deadline)
}

// credential returns the newest unrecorded success's credential, if any.
func (r *recorder) credential(workspaceID, id string) (*seam.Credential, bool) {
	return r.credentialAt(workspaceID, id, time.Time{})
}

// credentialAt is credential as readers see it at now: only the
// successes they may see (shown).
func (r *recorder) credentialAt(workspaceID, id string, now time.Time) (*seam.Credential, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.deleted[credentialKey(workspaceID, id)] {
		return nil, false
	}
	var best *decided
	for _, d := range r.byID {
		if d.cred == nil || d.cred.ACSCredentialID != id || d.cred.WorkspaceID != workspaceID || !d.shownAt(now) {
			continue
		}
		if best == nil || d.attempt.FinishedAt.After(best.attempt.FinishedAt) {
			best = d
		}
	}
	if best == nil {
		return nil, false
	}
	return copyCredential(best.cred)
}

// copyCredential returns a deep copy of c, so that a reader may change
// what it gets; false if c does not survive a JSON round trip, which its
// plain-data fields always do.
func copyCredential(c *seam.Credential) (*seam.Credential, bool) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, false
	}
	var out seam.Credential
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, false
	}
	return &out, true
}

// unrecorded returns the outcomes the store refused, to write again.
func (r *recorder) unrecorded() []*decided {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*decided, 0, len(r.byID))
	for _, d := range r.byID {
		if d.refused {
			out = append(out, d)
		}
	}
	return out
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.byID)
}

// refuse notes that the store refused to record d.
func (r *recorder) refuse(d *decided, err error) {
	r.mu.Lock()
	d.refused = true
	r.mu.Unlock()
	r.fail(err)
}

// fail notes that the store refused a write.
func (r *recorder) fail(err error) {
	r.mu.Lock()
	if r.failing == nil {
		r.healthy = make(chan struct{})
	}
	r.failing = err
	r.mu.Unlock()
	r.poke()
}

// ok notes that the store took a write.
func (r *recorder) ok() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failing != nil {
		r.failing = nil
		close(r.healthy)
	}
}

// refusing returns a channel closed once the store takes writes again,
// and its last write error while it refuses them (nil: it takes them).
func (r *recorder) refusing() (healthy <-chan struct{}, failing error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.healthy, r.failing
}

func (r *recorder) poke() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// unavailable is the API's answer to an encode while the store refuses
// writes.
func unavailable(err error) *seam.Error {
	return &seam.Error{Status: 503, Type: "service_unavailable", Message: fmt.Sprintf(
		"the server cannot record encode outcomes now (%v) and takes no new encodes until it can; retry later", err)}
}

// record writes a decided outcome. It reports whether the outcome stands:
// false when the store says another outcome was recorded first.
func (s *Service) record(d *decided) (stands bool, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	err = s.store.FinishAttempt(ctx, d.attempt, d.cred)
	switch {
	case err == nil:
		s.rec.ok()
		s.cache.put(d.attempt)
		if d.cred != nil && s.creds != nil {
			s.creds.put(d.cred)
		}
		s.rec.done(d.attempt.ID)
		s.noteRecorded()
		return true, nil
	case errors.Is(err, store.ErrNotPending), errors.Is(err, store.ErrNotFound):
		// The store holds another outcome (an instance sharing the
		// store expired it), or no longer the attempt at all: its word
		// stands.
		s.rec.ok()
		s.cache.drop(d.attempt.ID)
		s.rec.done(d.attempt.ID)
		s.noteRecorded()
		return false, err
	default:
		s.rec.refuse(d, err)
		return true, err
	}
}

// recordLoop writes again what the store refused, and probes a store
// that refused a write until it takes writes again, until the service
// closes.
func (s *Service) recordLoop() {
	wait := retryFirst
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.rec.kick:
		case <-timer.C:
		}
		_, failing := s.rec.refusing()
		pending := s.rec.unrecorded()
		if failing == nil && len(pending) == 0 {
			wait = retryFirst
			continue
		}
		progress := false
		for _, d := range pending {
			if _, err := s.record(d); err == nil || errors.Is(err, store.ErrNotPending) || errors.Is(err, store.ErrNotFound) {
				progress = true
			}
		}
		if len(pending) == 0 {
			progress = s.probe() == nil
		}
		if _, failing = s.rec.refusing(); failing == nil && s.rec.count() == 0 {
			s.log.Info("the store takes writes again; every decided outcome is recorded")
			wait = retryFirst
			continue
		}
		if progress {
			wait = retryFirst
		} else {
			wait = min(2*wait, retryMax)
		}
		timer.Reset(wait)
	}
}

// probe makes a small write to learn whether a store that refused one
// takes writes again: a lease of this service's own, released at once.
func (s *Service) probe() error {
	ctx, cancel := context.WithTimeout(s.ctx, storeTimeout)
	defer cancel()
	name := "probe/" + s.instance
	if _, err := s.store.AcquireLease(ctx, name, s.instance, time.Minute); err != nil {
		s.rec.fail(err)
		return err
	}
	s.rec.ok()
	if err := s.store.ReleaseLease(ctx, name, s.instance); err != nil {
		s.log.Debug("releasing the store probe's lease failed; it expires on its own", "err", err)
	}
	return nil
}

// flushUnrecorded makes a last try at writing what the store refused,
// when the service closes, and logs what stays unrecorded: those attempts
// are pending in the store, and the next start resolves them.
func (s *Service) flushUnrecorded() {
	for _, d := range s.rec.unrecorded() {
		if _, err := s.record(d); err != nil && !errors.Is(err, store.ErrNotPending) && !errors.Is(err, store.ErrNotFound) {
			s.log.Error("closing with an outcome the store did not take; the attempt stays pending in the store",
				"action_attempt_id", d.attempt.ID, "outcome", d.attempt.Status, "error_type", d.attempt.ErrorType, "err", err)
		}
	}
}

// View returns the service's store as readers must see it: credentials
// as the outcomes decided but not yet written left them. The API reads
// credentials through it, so a credential an encode issued reads issued
// while the store still refuses the write.
func (s *Service) View() store.Store {
	return view{Store: s.store, rec: s.rec, now: s.now, svc: s}
}

type view struct {
	store.Store
	rec *recorder
	now func() time.Time
	svc *Service // the deletes and updates of credentials go through it
}

// UpdateCredential is Service.UpdateCredential, for the API.
func (v view) UpdateCredential(ctx context.Context, workspaceID, credentialID string, p credential.UpdateParams) (*seam.Credential, error) {
	return v.svc.UpdateCredential(ctx, workspaceID, credentialID, p)
}

func (v view) GetCredential(ctx context.Context, workspaceID, credentialID string) (*seam.Credential, error) {
	if c, ok := v.rec.credentialAt(workspaceID, credentialID, v.now()); ok {
		return c, nil
	}
	return v.Store.GetCredential(ctx, workspaceID, credentialID)
}

// DeleteCredential deletes the credential for the API. From then on no
// encode of it writes a card, and one whose card is being written ends
// credential_deleted; attempts already decided keep their outcome.
func (v view) DeleteCredential(ctx context.Context, workspaceID, credentialID string, event *seam.Event) error {
	// Noted first, so that no success is decided between the delete and
	// the note; taken back if the store does not delete it.
	fresh := v.rec.forget(workspaceID, credentialID)
	err := v.Store.DeleteCredential(ctx, workspaceID, credentialID, event)
	if err != nil {
		if fresh {
			v.rec.unforget(workspaceID, credentialID)
		}
		return err
	}
	v.svc.stopEncodesOf(workspaceID, credentialID)
	return nil
}

func (v view) ListCredentials(ctx context.Context, workspaceID string, f store.CredentialFilter) ([]*seam.Credential, error) {
	cs, err := v.Store.ListCredentials(ctx, workspaceID, f)
	if err != nil {
		return nil, err
	}
	for i, c := range cs {
		if d, ok := v.rec.credentialAt(workspaceID, c.ACSCredentialID, v.now()); ok {
			cs[i] = d
		}
	}
	return cs, nil
}

// finish decides an attempt's terminal status: success with cred when f
// is nil, otherwise the failure. It reports whether this call decided the
// outcome; false means the attempt had already finished (its deadline
// timer won), which is logged. The outcome stands from the moment it is
// decided, whether the store takes it now or later (record.go).
func (s *Service) finish(a *store.Attempt, cred *seam.Credential, f failure, card *driver.Card) bool {
	return s.conclude(a, cred, f, card, nil)
}

// conclude is finish with after, which runs once the outcome is in the
// store (or known to have lost to another).
func (s *Service) conclude(a *store.Attempt, cred *seam.Credential, f failure, card *driver.Card, after func()) bool {
	done := *a
	done.FinishedAt = s.now()
	if cred != nil || a.Scan != nil { // a scan's success carries its result in a
		done.Status = seam.StatusSuccess
		done.Result = cred
	} else {
		done.Status = seam.StatusError
		done.ErrorType, done.ErrorMessage = f.Type, f.Message
	}
	log := s.attemptLog(a, card)
	d := &decided{attempt: &done, cred: cred, after: after}
	if !s.rec.decide(d) {
		if after != nil {
			after()
		}
		s.lostRace(log, f, card)
		return false
	}
	if cred != nil && d.cred == nil { // its credential was deleted (decide)
		done, cred = *d.attempt, nil
		f = failure{done.ErrorType, done.ErrorMessage}
	}
	s.noteDecided(a.ID)
	s.observed(&done)
	stands, err := s.record(d)
	switch {
	case !stands:
		s.lostRace(log, f, card)
		return false
	case err != nil:
		log.Warn("the store did not take the outcome; it stands, is served from memory and is written when the store takes writes",
			"outcome", done.Status, "error_type", f.Type, "err", err)
	case done.Status == seam.StatusSuccess:
		log.Info("action attempt succeeded")
	default:
		log.Info("action attempt failed", "error_type", f.Type, "message", f.Message)
	}
	return true
}

// observed tells Config.Observe of a, when it is set.
func (s *Service) observed(a *store.Attempt) {
	if s.observe != nil {
		s.observe(*a)
	}
}

// expiredFirst logs the worker's outcome f (or, with card, its success)
// of an attempt whose deadline timer took it first.
func (s *Service) expiredFirst(a *store.Attempt, f failure, card *driver.Card) {
	s.lostRace(s.attemptLog(a, card), f, card)
}

// attemptLog is the service's logger for attempt a (and the card it
// wrote, if any).
func (s *Service) attemptLog(a *store.Attempt, card *driver.Card) *slog.Logger {
	log := s.log.With("action_attempt_id", a.ID, "encoder_id", a.EncoderID)
	if card != nil {
		log = log.With("card_number", card.Number)
	}
	return log
}

// lostRace logs an outcome that came after the attempt had one: a
// written card (a success), or the failure f.
func (s *Service) lostRace(log *slog.Logger, f failure, card *driver.Card) {
	if card != nil {
		log.Warn("card written after the attempt had expired; the credential is left unchanged")
		return
	}
	log.Info("action attempt had already finished (expired first)", "outcome", seam.StatusError, "error_type", f.Type)
}
