package attempt

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/encoderlab/encoderlab/fixtures"
	"github.com/encoderlab/encoderlab/pipeline/credential"
	"github.com/encoderlab/encoderlab/pipeline/driver"
	"github.com/encoderlab/encoderlab/pipeline/seam"
	"github.com/encoderlab/encoderlab/pipeline/store"
)

// job is one attempt in a worker's queue.
type job struct {
	attempt *store.Attempt
	encoder string // display name, for messages
	timer   *time.Timer
	// started is set when the worker takes the job off the queue, so an
	// expiry can say whether the attempt was still waiting its turn;
	// writing once the driver has been handed the card.
	started, writing atomic.Bool
	// claimed is set (under the service's mu) by whoever decides the
	// attempt's outcome: the worker or the deadline timer, never both.
	claimed bool
	// decided is closed once the outcome is decided in memory, or the
	// service stops tracking the attempt: a reader that finds the attempt
	// pending past its deadline waits on it (Service.settle).
	decided     chan struct{}
	decidedOnce sync.Once
	// stop cancels the encode while the encoder is asked to write (nil
	// before and after), with the reason as its cause: the credential
	// was deleted (errCredentialDeleted). Guarded by stopMu.
	stopMu sync.Mutex
	stop   context.CancelCauseFunc
}

// errCredentialDeleted cancels an encode whose credential was deleted.
var errCredentialDeleted = errors.New("the credential was deleted")

// setStop installs (or, with nil, removes) the encode's cancel.
func (j *job) setStop(f context.CancelCauseFunc) {
	j.stopMu.Lock()
	defer j.stopMu.Unlock()
	j.stop = f
}

// cancelEncode stops the encode in flight, if there is one, for cause.
func (j *job) cancelEncode(cause error) {
	j.stopMu.Lock()
	defer j.stopMu.Unlock()
	if j.stop != nil {
		j.stop(cause)
	}
}

// markDecided closes j.decided, once.
func (j *job) markDecided() { j.decidedOnce.Do(func() { close(j.decided) }) }

// worker runs one encoder's attempts in FIFO order. It reaches the
// service only through its ledger.
type worker struct {
	led ledger
	cfg EncoderConfig
	// What the service was configured with, read-only: the clock, the
	// log, the lab's reissue policies, whether the store is shared, and
	// how a port opens.
	now    func() time.Time
	log    *slog.Logger
	lab    *fixtures.Lab
	shared bool
	open   func(EncoderConfig) (driver.Port, error)

	mu    sync.Mutex
	queue []*job
	wake  chan struct{} // signalled (capacity 1) when the queue grows
	armed *simulatedOutcome
	// armedScan is the outcome the next scan ends with (SimulateNextScan).
	armedScan *ScanSimulation
	port      driver.Port // open between encodes; nil until needed
	closed    bool        // set by closePort at shutdown: no port may open again

	lease lease // held while this server drives the encoder (shared store only)
}

func newWorker(s *Service, cfg EncoderConfig) *worker {
	return &worker{led: s, cfg: cfg, now: s.now, log: s.log, lab: s.lab, shared: s.shared, open: s.open,
		wake: make(chan struct{}, 1)}
}

func (w *worker) push(j *job) {
	w.mu.Lock()
	w.queue = append(w.queue, j)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// next waits for the next job; false when ctx ends.
func (w *worker) next(ctx context.Context) (*job, bool) {
	for {
		w.mu.Lock()
		if len(w.queue) > 0 {
			j := w.queue[0]
			w.queue[0] = nil
			w.queue = w.queue[1:]
			w.mu.Unlock()
			return j, true
		}
		w.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, false
		case <-w.wake:
		}
	}
}

func (w *worker) arm(o *simulatedOutcome) {
	w.mu.Lock()
	w.armed = o
	w.mu.Unlock()
}

func (w *worker) takeArmed() *simulatedOutcome {
	w.mu.Lock()
	defer w.mu.Unlock()
	o := w.armed
	w.armed = nil
	return o
}

func (w *worker) run(ctx context.Context) {
	defer w.closePort()
	for {
		j, ok := w.next(ctx)
		if !ok {
			return
		}
		if ctx.Err() != nil {
			return
		}
		if !w.shared {
			j.started.Store(true)
			w.process(ctx, j)
			continue
		}
		lctx := w.lease.context()
		if lctx == nil {
			// Another server drives the encoder now; the attempt waits
			// for it in the store.
			w.led.untrack(j)
			continue
		}
		j.started.Store(true)
		w.process(lctx, j)
		if lctx.Err() != nil {
			w.led.untrack(j) // the lease was lost mid-encode: the next holder runs it
		}
	}
}

// closePortForTakeover closes the port when another server takes the
// encoder over; this server may drive it again later.
func (w *worker) closePortForTakeover() {
	w.mu.Lock()
	p := w.port
	w.mu.Unlock()
	if p != nil {
		w.dropPort(p)
	}
}

// process drives one attempt to its end, unless the service closes first:
// then the attempt stays pending for the next Start.
func (w *worker) process(ctx context.Context, j *job) {
	if j.attempt.ActionType == seam.ActionTypeScanCredential {
		w.scan(ctx, j)
		return
	}
	s := w.led
	a := j.attempt
	// The worker decides the outcome from here on: it stops the deadline
	// timer before recording one, so the two do not both try.
	// unmark, once set, gives up the mark that the encoder was asked to
	// write (markWriting); the outcome releases it once recorded.
	var unmark func()
	fail := func(f failure) {
		if !s.claim(j) {
			s.expiredFirst(a, f, nil)
			return
		}
		after := unmark
		unmark = nil
		s.conclude(a, nil, f, nil, after)
		s.release(j)
	}

	if s.decided(a.WorkspaceID, a.ID) {
		s.untrack(j)
		return
	}
	cur, err := s.current(ctx, a.WorkspaceID, a.ID)
	if err != nil {
		if ctx.Err() == nil {
			w.log.Error("reading queued action attempt failed", "action_attempt_id", a.ID, "err", err)
			fail(failure{seam.ErrUncategorized, fmt.Sprintf("the attempt could not be read back: %v", err)})
		}
		return
	}
	if cur.Status != seam.StatusPending {
		s.untrack(j)
		return
	}

	if !w.now().Before(a.Deadline) {
		fail(failure{seam.ErrActionAttemptExpired, fmt.Sprintf(
			"the attempt's deadline passed while it waited in the queue of encoder %s", w.cfg.DisplayName)})
		return
	}

	c, err := s.credential(ctx, a.WorkspaceID, a.CredentialID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		fail(failure{seam.ErrCredentialDeleted, fmt.Sprintf("credential %s was deleted; it can no longer be encoded", a.CredentialID)})
		return
	case err != nil:
		if ctx.Err() == nil {
			fail(failure{seam.ErrUncategorized, fmt.Sprintf("credential %s could not be read: %v", a.CredentialID, err)})
		}
		return
	}

	refuses := w.refusesReissue(c)
	if isIssued(c) && refuses {
		fail(reissueRefused(c))
		return
	}
	if end, ok := endsAt(c); ok && !w.now().Before(end) {
		fail(failure{seam.ErrUncategorized, fmt.Sprintf(
			"credential %s ended at %s (its ends_at) while the attempt waited; the card was not written", c.ACSCredentialID, seam.At(end))})
		return
	}

	// A delete of the credential stops the encode (Service.credentialDeleted).
	stoppable, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	encodeCtx, cancel := context.WithDeadline(stoppable, a.Deadline)
	defer cancel()
	j.setStop(stop)
	defer j.setStop(nil)
	if s.isDeleted(a.WorkspaceID, a.CredentialID) {
		stop(errCredentialDeleted) // deleted since it was read
	}
	deleted := func() bool { return errors.Is(context.Cause(stoppable), errCredentialDeleted) }
	deletedFailure := failure{seam.ErrCredentialDeleted, fmt.Sprintf(
		"credential %s was deleted while the attempt ran; encoder %s stopped without writing it", a.CredentialID, w.cfg.DisplayName)}
	failNow := func(f failure) {
		if deleted() {
			f = deletedFailure
		}
		fail(f)
	}

	// A mark in the store that this attempt's card is being written,
	// taken before the encoder is asked. One already there was left by
	// a server that stopped or died after it had asked the encoder: the
	// card may hold the credential (or the encoder may still write it,
	// once a card is placed). The attempt is run again, but a credential
	// that refuses reissue is not written a second time, onto whatever
	// card lies on the reader now, and a retry that finds no card, or
	// one it may not write, does not say the encoder wrote nothing.
	asked, cutOff := false, false
	mark, err := s.markWriting(encodeCtx, a)
	switch {
	case errors.Is(err, errCutOff):
		cutOff = true
		if refuses {
			failNow(cutOffFailure(w.cfg.DisplayName, ""))
			return
		}
	case err != nil:
		if ctx.Err() == nil {
			failNow(failure{seam.ErrActionAttemptExpired, fmt.Sprintf(
				"the server could not record that encoder %s was to write the card until the attempt's deadline: %v", w.cfg.DisplayName, err)})
		}
		return
	}
	unmark = mark
	defer func() {
		// Not asked to write (the service closed first, or the attempt
		// ended before): nothing was cut off mid-write.
		if unmark != nil && !asked {
			unmark()
		}
	}()

	// release, once set, gives up the claim on the credential; a success
	// hands it to the outcome, which releases it once recorded.
	var release func()
	defer func() {
		if release != nil {
			release()
		}
	}()
	if refuses {
		if release, err = s.claimCredential(encodeCtx, a.WorkspaceID, a.CredentialID, a.Deadline); err != nil {
			if ctx.Err() == nil {
				failNow(failure{seam.ErrActionAttemptExpired, fmt.Sprintf(
					"credential %s was claimed by another encode until the attempt's deadline, or by this attempt itself on a server that stopped while its encoder wrote the card, which may then hold the credential: %v",
					a.CredentialID, err)})
			}
			return
		}
		// Another encode of it may have ended while this one waited.
		c, err = s.credential(ctx, a.WorkspaceID, a.CredentialID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			fail(deletedFailure)
			return
		case err != nil:
			if ctx.Err() == nil {
				failNow(failure{seam.ErrUncategorized, fmt.Sprintf("credential %s could not be read: %v", a.CredentialID, err)})
			}
			return
		}
		if isIssued(c) {
			failNow(reissueRefused(c))
			return
		}
	}

	if o := w.takeArmed(); o != nil {
		w.simulate(j, c, o, &release)
		return
	}

	// No card is written while the store cannot record the outcome.
	if healthy, failing := s.refusing(); failing != nil {
		w.log.Warn("the store refuses writes; the encode waits for it before writing the card",
			"action_attempt_id", a.ID, "encoder", w.cfg.DisplayName, "err", failing)
		select {
		case <-healthy:
		case <-encodeCtx.Done():
			if ctx.Err() == nil {
				failNow(failure{seam.ErrActionAttemptExpired, fmt.Sprintf(
					"the server could not record encode outcomes until the attempt's deadline (%v), so encoder %s did not write the card",
					failing, w.cfg.DisplayName)})
			}
			return
		}
	}

	w.dropIfHungUp()
	port, err := w.openPort()
	if err != nil {
		if ctx.Err() == nil {
			failNow(failure{seam.ErrEncoderNotOnline, fmt.Sprintf("encoder %s is not online: its port %s cannot be opened: %v",
				w.cfg.DisplayName, w.cfg.Port, err)})
		}
		return
	}

	j.writing.Store(true)
	job := credential.Job(c)
	w.log.Debug("encoder asked to write the card", "action_attempt_id", a.ID, "encoder", w.cfg.DisplayName,
		"card_id", job.CardID, "function", job.Function, "deadline", seam.At(a.Deadline))
	began := time.Now()
	asked = true
	card, err := w.cfg.Driver.Encode(encodeCtx, port, job)
	w.log.Debug("encoder answered", "action_attempt_id", a.ID, "encoder", w.cfg.DisplayName,
		"card_number", card.Number, "technology", card.Technology, "err", err, "took", time.Since(began))
	if closesPort(err) {
		w.dropPort(port)
	}
	if ctx.Err() != nil {
		// The service is closing: that is no outcome of the attempt, which
		// stays pending for the next Start.
		return
	}
	if err != nil {
		f := encodeFailure(w.cfg.DisplayName, err)
		if cutOff && slices.Contains(refusals, f.Type) {
			f = cutOffFailure(w.cfg.DisplayName, f.Message)
		}
		failNow(f)
		return
	}
	if !s.claim(j) {
		s.expiredFirst(a, failure{}, &card)
		return
	}
	claim, written := release, unmark
	release, unmark = nil, nil
	after := func() {
		if claim != nil {
			claim()
		}
		if written != nil {
			written()
		}
	}
	now := w.now()
	s.conclude(withIssueEvent(a, c, w.cfg.ConnectedAccountID, now), credential.Issue(c, card, now), failure{}, &card, after)
	s.release(j)
}

// withIssueEvent is a copy of a, about to succeed on credential c (as it
// was before the card was written), with the event its success makes:
// acs_credential.issued, or reissued when c was issued already. The
// event is written with the outcome (store.Attempt.Events).
func withIssueEvent(a *store.Attempt, c *seam.Credential, connectedAccountID string, now time.Time) *store.Attempt {
	typ := seam.EventCredentialIssued
	if isIssued(c) {
		typ = seam.EventCredentialReissued
	}
	at := seam.At(now)
	out := *a
	out.Events = []*seam.Event{{
		EventID: uuid.NewString(), EventType: typ, WorkspaceID: a.WorkspaceID,
		CreatedAt: at, OccurredAt: at, ACSSystemID: c.ACSSystemID, ACSCredentialID: c.ACSCredentialID,
		ConnectedAccountID: connectedAccountID,
		EventDescription:   issueDescription(typ, a.ID),
	}}
	return &out
}

// issueDescription is the event_description of an issue or reissue
// event that attempt attemptID made.
func issueDescription(typ, attemptID string) string {
	what := "encoded onto a card"
	if typ == seam.EventCredentialReissued {
		what += " again"
	}
	return fmt.Sprintf("The credential was %s (action attempt %s).", what, attemptID)
}

// refusals are the error types that say the encoder wrote nothing.
var refusals = []string{seam.ErrNoCredentialOnEncoder, seam.ErrIncompatibleCardFormat, seam.ErrCredentialCannotBeReissued}

// cutOffFailure is the end of an attempt whose encoder a server before
// this one had asked to write, and that cannot say the card is unwritten:
// retry, when set, is what the encoder answered this time.
func cutOffFailure(encoder, retry string) failure {
	msg := fmt.Sprintf("the server stopped after it had asked encoder %s to write this attempt's card, which may hold the credential now (or once a card is placed, if the encoder still waits for one); encode again onto that card to be sure", encoder)
	if retry != "" {
		msg += "; asked again, " + retry
	}
	return failure{seam.ErrUncategorized, msg}
}

func isIssued(c *seam.Credential) bool { return c.IsIssued != nil && *c.IsIssued }

func reissueRefused(c *seam.Credential) failure {
	return failure{seam.ErrCredentialCannotBeReissued, fmt.Sprintf(
		"credential %s is already issued and its acs system does not allow encoding it again", c.ACSCredentialID)}
}

// endsAt is the end of c's validity, if it has one.
func endsAt(c *seam.Credential) (time.Time, bool) {
	if c.EndsAt == "" {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, c.EndsAt)
	return t, err == nil
}

// refusesReissue reports whether c's ACS system refuses to encode a
// credential that is already on a card.
func (w *worker) refusesReissue(c *seam.Credential) bool {
	ws := w.lab.Workspace(c.WorkspaceID)
	if ws == nil {
		ws = w.lab.Workspace(w.cfg.WorkspaceID)
	}
	if ws == nil {
		return false
	}
	sys := ws.SystemByID(c.ACSSystemID)
	return sys != nil && sys.Reissue == fixtures.ReissueRefused
}

// simulate ends the attempt with an armed outcome, without the device.
func (w *worker) simulate(j *job, c *seam.Credential, o *simulatedOutcome, release *func()) {
	s := w.led
	if !s.claim(j) {
		s.expiredFirst(j.attempt, failure{}, nil)
		return
	}
	defer s.release(j)
	if o.errType != "" {
		s.finish(j.attempt, nil, failure{o.errType,
			fmt.Sprintf("encoder %s: %s", w.cfg.DisplayName, simulatableErrors[o.errType])}, nil)
		return
	}
	job := credential.Job(c)
	card := driver.Card{Number: syntheticCardNumber(), Technology: "simulated", CardID: job.CardID}
	after := *release
	*release = nil
	now := w.now()
	s.conclude(withIssueEvent(j.attempt, c, w.cfg.ConnectedAccountID, now), credential.Issue(c, card, now), failure{}, &card, after)
}

// syntheticCardNumber is a random 7-byte UID in upper-case hex, the shape
// of a real card number.
func syntheticCardNumber() string {
	var b [7]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	b[0] = 0x04            // NXP's manufacturer byte, as on real 7-byte UIDs
	return fmt.Sprintf("%X", b[:])
}

// openPort returns the open port, opening it on first use.
func (w *worker) openPort() (driver.Port, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil, errors.New("the service is closing")
	}
	if w.port != nil {
		return w.port, nil
	}
	p, err := w.open(w.cfg)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, errors.New("opening returned no port")
	}
	w.port = p
	w.log.Info("encoder port opened", "encoder", w.cfg.DisplayName, "port", w.cfg.Port, "baud", w.cfg.Baud)
	return p, nil
}

// probeWindow is how long dropIfHungUp waits for the line to speak. Go's
// poller fails a read at once, without asking the kernel, when the
// deadline has already passed, so the probe needs a deadline just ahead.
const probeWindow = time.Millisecond

// poller is a port that can tell at once whether its line hung up
// (serialport.Port).
type poller interface {
	Poll() (readable, hungUp bool, err error)
}

// dropIfHungUp closes the open port if its line hung up since the last
// encode, so the encode reopens the path. A port kept open between
// encodes outlives the device behind it: an encoder unplugged and plugged
// back, or a virtual encoder replaced by a new one under the same link,
// leaves the old descriptor reading end of file, and without this check
// the next encode would fail on it. A read that times out means the line
// is alive and quiet; a byte read is stale input the driver would
// discard before its next command anyway.
func (w *worker) dropIfHungUp() {
	w.mu.Lock()
	p := w.port
	w.mu.Unlock()
	if p == nil {
		return
	}
	if pp, ok := p.(poller); ok {
		// A port that can ask the kernel needs no probe window.
		_, hungUp, err := pp.Poll()
		if err != nil || hungUp {
			w.log.Info("encoder line hung up since the last encode", "encoder", w.cfg.DisplayName, "err", err)
			w.dropPort(p)
		}
		return
	}
	if err := p.SetReadDeadline(time.Now().Add(probeWindow)); err != nil {
		w.log.Info("encoder port cannot be probed", "encoder", w.cfg.DisplayName, "err", err)
		w.dropPort(p)
		return
	}
	var b [1]byte
	_, err := p.Read(b[:])
	if errors.Is(err, io.EOF) || (err != nil && !isTimeout(err)) {
		w.log.Info("encoder line hung up since the last encode", "encoder", w.cfg.DisplayName, "err", err)
		w.dropPort(p)
		return
	}
	if err := p.SetReadDeadline(time.Time{}); err != nil {
		w.dropPort(p)
	}
}

// isTimeout reports whether err is a read passing its deadline.
func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// dropPort closes p so the next encode reopens the path.
func (w *worker) dropPort(p driver.Port) {
	w.mu.Lock()
	if w.port == p {
		w.port = nil
	}
	w.mu.Unlock()
	if err := p.Close(); err != nil {
		w.log.Debug("closing encoder port after failure", "encoder", w.cfg.DisplayName, "err", err)
	}
	w.log.Info("encoder port closed; it reopens on the next encode", "encoder", w.cfg.DisplayName)
}

// closePort closes the port for good; safe to call more than once.
func (w *worker) closePort() error {
	w.mu.Lock()
	p := w.port
	w.port = nil
	w.closed = true
	w.mu.Unlock()
	if p == nil {
		return nil
	}
	// A driver that opens its own ports may have closed this one
	// (driver.Opener): closed already is closed.
	if err := p.Close(); err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("attempt: closing port of encoder %s: %w", w.cfg.DisplayName, err)
	}
	return nil
}
