package attempt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/encoderlab/encoderlab/fixtures"
	"github.com/encoderlab/encoderlab/pipeline/driver"
	"github.com/encoderlab/encoderlab/pipeline/seam"
	"github.com/encoderlab/encoderlab/pipeline/serialport"
	"github.com/encoderlab/encoderlab/pipeline/store"
)

// DefaultDeadline is how long an attempt may stay pending when
// Config.Deadline is zero. It is longer than the PMS driver's ACK wait plus
// its answer wait, so an encoder that answers in time always answers before
// the attempt expires.
const DefaultDeadline = 30 * time.Second

// storeTimeout bounds each store call a worker or timer makes. Those calls
// must not inherit an attempt's deadline: recording that the deadline
// passed happens after it.
const storeTimeout = 10 * time.Second

// EncoderConfig is one encoder the service drives.
type EncoderConfig struct {
	// ID is the API id (acs_encoder_id); DisplayName names it in messages.
	ID, WorkspaceID, SystemID, ConnectedAccountID, DisplayName string
	// Driver speaks the encoder's protocol.
	Driver driver.Driver
	// Port is the path of the encoder's line: any tty.
	Port string
	// Baud is the line speed.
	Baud int
}

// Config configures a Service. Zero values of the optional fields are
// replaced by the defaults documented on each.
type Config struct {
	// Store holds credentials and attempts. Required.
	Store store.Store
	// Lab supplies each ACS system's reissue policy. Required.
	Lab *fixtures.Lab
	// Encoders are the encoders to drive; ids must be unique.
	Encoders []EncoderConfig
	// Deadline is how long an attempt may stay pending; default 30 s.
	Deadline time.Duration
	// Open opens an encoder's port; default serialport.Open.
	Open func(path string, baud int) (driver.Port, error)
	// Now is the clock for attempt and credential times; default
	// time.Now. Deadlines run on real timers, so Now must keep pace with
	// the wall clock.
	Now func() time.Time
	// Logger receives the life cycle of attempts; default slog.Default().
	Logger *slog.Logger
	// Sharing, when set, makes the service one of several servers on one
	// store, with each encoder driven by the holder of its lease (see
	// Sharing). Nil: this service is the store's only user.
	Sharing *Sharing
}

// Service runs encode attempts on the configured encoders.
type Service struct {
	store    store.Store
	lab      *fixtures.Lab
	deadline time.Duration
	open     func(path string, baud int) (driver.Port, error)
	now      func() time.Time
	log      *slog.Logger
	created  time.Time
	shared   bool
	sharing  Sharing
	cache    *attemptCache
	creds    *credentialCache // nil when the store is shared
	rec      *recorder        // outcomes decided, until the store has them
	claims   claims           // encodes of credentials whose system refuses reissue
	instance string           // names this service in the store's leases

	workers []*worker // in configuration order
	byID    map[string]*worker

	ctx    context.Context // ends at Close; parent of every encode
	cancel context.CancelFunc
	wg     sync.WaitGroup // workers and running deadline timers

	mu       sync.Mutex
	started  bool
	closed   bool
	draining bool
	drained  chan struct{}   // closed once draining with nothing in flight
	tracked  map[string]*job // attempts queued or running, by attempt id
	// accepting counts encodes past the draining check and not yet
	// queued: Drain waits for them too, so an encode is either refused
	// or waited for.
	accepting int
}

// New checks cfg and returns a Service whose workers have not started yet.
func New(cfg Config) (*Service, error) {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if cfg.Store == nil {
		bad("a store is required")
	}
	if cfg.Lab == nil {
		bad("a lab is required")
	}
	if cfg.Deadline < 0 {
		bad("deadline %v is negative", cfg.Deadline)
	}
	s := &Service{
		store:    cfg.Store,
		lab:      cfg.Lab,
		deadline: cfg.Deadline,
		open:     cfg.Open,
		now:      cfg.Now,
		log:      cfg.Logger,
		byID:     map[string]*worker{},
		tracked:  map[string]*job{},
		drained:  make(chan struct{}),
		rec:      newRecorder(),
	}
	if s.deadline == 0 {
		s.deadline = DefaultDeadline
	}
	if s.open == nil {
		s.open = openSerial
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if cfg.Sharing != nil {
		var err error
		if s.sharing, err = cfg.Sharing.withDefaults(); err != nil {
			bad("%v", err)
		}
		s.shared = true
		s.instance = s.sharing.Instance
	} else {
		s.instance = "encoderd-" + uuid.NewString()
	}
	for i, ec := range cfg.Encoders {
		name := ec.DisplayName
		if name == "" {
			name = fmt.Sprintf("#%d", i)
		}
		switch {
		case ec.ID == "":
			bad("encoder %s: id is required", name)
		case s.byID[ec.ID] != nil:
			bad("encoder %s: id %s is used twice", name, ec.ID)
		}
		if ec.WorkspaceID == "" {
			bad("encoder %s: workspace id is required", name)
		}
		if ec.Driver == nil {
			bad("encoder %s: driver is required", name)
		}
		if ec.Port == "" {
			bad("encoder %s: port is required", name)
		}
		if ec.Baud < 0 {
			bad("encoder %s: baud %d is negative", name, ec.Baud)
		}
		ec.DisplayName = name
		w := newWorker(s, ec)
		s.workers = append(s.workers, w)
		if ec.ID != "" && s.byID[ec.ID] == nil {
			s.byID[ec.ID] = w
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("attempt: invalid config: %s", strings.Join(problems, "; "))
	}
	s.cache = newAttemptCache(!s.shared)
	if !s.shared {
		s.creds = newCredentialCache()
	}
	s.created = s.now()
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// openSerial adapts serialport.Open to Config.Open.
func openSerial(path string, baud int) (driver.Port, error) {
	p, err := serialport.Open(path, serialport.Mode{Baud: baud})
	if err != nil {
		// Return a nil interface, not a nil *serialport.Port inside one.
		return nil, err
	}
	return p, nil
}

// Start resolves the pending attempts the store holds from an earlier run
// (expiring those whose deadline passed, resuming the others on their
// encoders in creation order) and then starts one worker per encoder.
func (s *Service) Start(ctx context.Context) error {
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return errors.New("attempt: service is closed")
	case s.started:
		s.mu.Unlock()
		return errors.New("attempt: service already started")
	}
	s.started = true
	s.mu.Unlock()

	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.recordLoop()
	}()
	if s.shared {
		// The coordinator queues what the store holds for the encoders
		// whose leases it takes, and expires what nobody ran in time.
		s.startWorkers()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.coordinate()
		}()
		return nil
	}
	pending, err := s.store.PendingAttempts(ctx)
	if err != nil {
		return fmt.Errorf("attempt: loading pending attempts: %w", err)
	}
	sort.SliceStable(pending, func(i, j int) bool {
		a, b := pending[i], pending[j]
		if !a.CreatedAt.Equal(b.CreatedAt) {
			return a.CreatedAt.Before(b.CreatedAt)
		}
		return a.ID < b.ID
	})
	now := s.now()
	for _, a := range pending {
		w := s.byID[a.EncoderID]
		switch {
		case !now.Before(a.Deadline):
			s.finish(a, nil, failure{seam.ErrActionAttemptExpired,
				fmt.Sprintf("the attempt's deadline (%s) passed before it could run", seam.At(a.Deadline))}, nil)
		case w == nil || w.cfg.WorkspaceID != a.WorkspaceID:
			s.finish(a, nil, failure{seam.ErrUncategorized,
				fmt.Sprintf("encoder %s is no longer configured", a.EncoderID)}, nil)
		default:
			s.enqueue(w, a)
			s.log.Info("resuming pending action attempt", "action_attempt_id", a.ID,
				"encoder", w.cfg.DisplayName, "deadline", seam.At(a.Deadline))
		}
	}
	s.startWorkers()
	return nil
}

func (s *Service) startWorkers() {
	for _, w := range s.workers {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			w.run(s.ctx)
		}()
	}
}

// Close stops the workers, cancels encodes in flight, closes the ports and
// waits for every goroutine the service started. Attempts it interrupts stay
// pending in the store; the next Start resumes them.
func (s *Service) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for id, j := range s.tracked {
		j.timer.Stop()
		s.forget(id)
	}
	s.mu.Unlock()

	s.cancel()
	var errs []error
	for _, w := range s.workers {
		// Closing the port here as well as in the worker unblocks a driver
		// that is slow to notice the cancellation.
		if err := w.closePort(); err != nil {
			errs = append(errs, err)
		}
	}
	s.wg.Wait()
	s.flushUnrecorded()
	if s.shared {
		s.releaseLeases()
	}
	return errors.Join(errs...)
}

// Encode checks the request, records a pending attempt and queues it on the
// encoder. Requests the API must refuse return a *seam.Error.
func (s *Service) Encode(ctx context.Context, workspaceID, credentialID, encoderID string) (*seam.ActionAttempt, error) {
	w := s.worker(workspaceID, encoderID)
	if w == nil {
		return nil, seam.NotFound("acs_encoder", encoderID)
	}
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
	if failing, _ := s.rec.refusing(); failing != nil {
		return nil, unavailable(failing)
	}

	s.mu.Lock()
	closed, draining := s.closed, s.draining
	if !closed && !draining {
		s.accepting++
	}
	s.mu.Unlock()
	if closed || draining {
		return nil, &seam.Error{Status: http.StatusServiceUnavailable, Type: "service_unavailable",
			Message: "the server is shutting down and takes no new encodes; retry on another instance or after it restarts"}
	}
	defer func() {
		s.mu.Lock()
		s.accepting--
		s.noteDrained()
		s.mu.Unlock()
	}()
	a := &store.Attempt{
		ID:           uuid.NewString(),
		WorkspaceID:  workspaceID,
		EncoderID:    encoderID,
		CredentialID: credentialID,
		Status:       seam.StatusPending,
		CreatedAt:    now,
		Deadline:     now.Add(s.deadline),
	}
	if err := s.store.CreateAttempt(ctx, a); err != nil {
		if ctx.Err() == nil && !errors.Is(err, store.ErrExists) {
			// Nothing was acknowledged; encodes wait until the store
			// takes writes again.
			s.rec.fail(err)
			return nil, unavailable(err)
		}
		return nil, fmt.Errorf("attempt: recording attempt: %w", err)
	}
	s.cache.put(a)
	// A shared store's attempt on an encoder another server drives waits
	// in the store until that server's next poll.
	if !s.shared || w.lease.held() {
		s.enqueue(w, a)
	}
	s.log.Info("action attempt queued", "action_attempt_id", a.ID, "encoder", w.cfg.DisplayName,
		"acs_credential_id", credentialID, "deadline", seam.At(a.Deadline))
	return toSeam(a)
}

// credential reads a credential, from memory when the service may keep
// it there (credentialCache).
func (s *Service) credential(ctx context.Context, workspaceID, id string) (*seam.Credential, error) {
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
		s.creds.put(c)
	}
	return c, err
}

// Attempt returns an attempt as the API shows it.
func (s *Service) Attempt(ctx context.Context, workspaceID, attemptID string) (*seam.ActionAttempt, error) {
	if a, ok := s.rec.attempt(workspaceID, attemptID); ok {
		return toSeam(a)
	}
	if a, ok := s.cache.get(workspaceID, attemptID); ok {
		return toSeam(a)
	}
	a, err := s.store.GetAttempt(ctx, workspaceID, attemptID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, seam.NotFound("action_attempt", attemptID)
	}
	if err != nil {
		return nil, fmt.Errorf("attempt: reading action attempt %s: %w", attemptID, err)
	}
	s.cache.put(a)
	return toSeam(a)
}

// SimulateNext arms the next encode on the encoder to end without talking
// to the device: successfully when errorType is "", otherwise with that
// error type (no_credential_on_encoder, uncategorized_error or
// action_attempt_expired). Arming again replaces the earlier outcome.
func (s *Service) SimulateNext(ctx context.Context, workspaceID, encoderID, errorType string) error {
	w := s.worker(workspaceID, encoderID)
	if w == nil {
		return seam.NotFound("acs_encoder", encoderID)
	}
	if _, ok := simulatableErrors[errorType]; errorType != "" && !ok {
		return seam.InvalidInput("error_code %q cannot be simulated: want %s, %s or %s", errorType,
			seam.ErrNoCredentialOnEncoder, seam.ErrUncategorized, seam.ErrActionAttemptExpired)
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

// enqueue tracks a pending attempt, arms its deadline timer and queues it
// on w. An attempt already tracked is not queued twice.
func (s *Service) enqueue(w *worker, a *store.Attempt) {
	if _, decided := s.rec.attempt(a.WorkspaceID, a.ID); decided {
		return // its outcome is decided; only the store does not know it yet
	}
	j := &job{attempt: a, encoder: w.cfg.DisplayName}
	s.mu.Lock()
	if s.closed || s.tracked[a.ID] != nil {
		s.mu.Unlock()
		return
	}
	s.tracked[a.ID] = j
	j.timer = time.AfterFunc(a.Deadline.Sub(s.now()), func() { s.expire(j) })
	s.mu.Unlock()
	w.push(j)
}

// untrack forgets an attempt whose outcome the worker is about to record
// (or found recorded) and stops its deadline timer.
func (s *Service) untrack(j *job) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tracked[j.attempt.ID] == j {
		s.forget(j.attempt.ID)
		j.timer.Stop()
	}
}

// forget drops an attempt from tracked. The caller holds mu.
func (s *Service) forget(id string) {
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
	if s.closed || s.tracked[j.attempt.ID] != j {
		s.mu.Unlock()
		return
	}
	s.forget(j.attempt.ID)
	s.wg.Add(1) // under mu, so Close cannot be waiting yet
	s.mu.Unlock()
	defer s.wg.Done()

	d := j.attempt.Deadline.Sub(j.attempt.CreatedAt).Round(time.Millisecond)
	msg := fmt.Sprintf("the attempt waited %v in the queue of encoder %s and expired before it started", d, j.encoder)
	if failing, _ := s.rec.refusing(); failing != nil && !j.writing.Load() {
		msg = fmt.Sprintf("the server could not record encode outcomes for %v (%v), so encoder %s did not write the card", d, failing, j.encoder)
	} else if j.started.Load() {
		msg = fmt.Sprintf("encoder %s did not finish encoding within %v", j.encoder, d)
	}
	s.finish(j.attempt, nil, failure{seam.ErrActionAttemptExpired, msg}, nil)
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
	if cred != nil {
		done.Status = seam.StatusSuccess
		done.Result = cred
	} else {
		done.Status = seam.StatusError
		done.ErrorType, done.ErrorMessage = f.Type, f.Message
	}
	log := s.log.With("action_attempt_id", a.ID, "encoder_id", a.EncoderID)
	if card != nil {
		log = log.With("card_number", card.Number)
	}
	d := &decided{attempt: &done, cred: cred, after: after}
	if !s.rec.decide(d) {
		if after != nil {
			after()
		}
		s.lostRace(log, &done, f, card)
		return false
	}
	stands, err := s.record(d)
	switch {
	case !stands:
		s.lostRace(log, &done, f, card)
		return false
	case err != nil:
		log.Warn("the store did not take the outcome; it stands, is served from memory and is written when the store takes writes",
			"outcome", done.Status, "error_type", f.Type, "err", err)
	case cred != nil:
		log.Info("action attempt succeeded")
	default:
		log.Info("action attempt failed", "error_type", f.Type, "message", f.Message)
	}
	return true
}

// lostRace logs an outcome that came after the attempt had one.
func (s *Service) lostRace(log *slog.Logger, done *store.Attempt, f failure, card *driver.Card) {
	if card != nil {
		log.Warn("card written after the attempt had expired; the credential is left unchanged")
		return
	}
	log.Info("action attempt had already finished (expired first)", "outcome", done.Status, "error_type", f.Type)
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
	switch a.Status {
	case seam.StatusPending:
	case seam.StatusSuccess:
		if a.Result == nil {
			return nil, fmt.Errorf("attempt: action attempt %s succeeded but has no result", a.ID)
		}
		out.Result = a.Result
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
