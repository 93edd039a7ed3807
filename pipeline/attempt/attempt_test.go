package attempt_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/encoderlab/encoderlab/fixtures"
	"github.com/encoderlab/encoderlab/pipeline/attempt"
	"github.com/encoderlab/encoderlab/pipeline/credential"
	"github.com/encoderlab/encoderlab/pipeline/driver"
	"github.com/encoderlab/encoderlab/pipeline/seam"
	"github.com/encoderlab/encoderlab/pipeline/store"
	"github.com/encoderlab/encoderlab/pipeline/store/sqlite"
)

// waitBound bounds every wait for an outcome. It is generous: a loaded
// two-core machine running the race detector must never hit it.
const waitBound = 20 * time.Second

// shortDeadline is the attempt deadline of tests that wait for expiry: long
// enough for a loaded machine to hand the attempt to the driver first,
// far below waitBound.
const shortDeadline = 2 * time.Second

// Encoders of the bundled lab's first workspace.
const (
	frontDesk1  = "front-desk-1" // visionline-hotel, reissue allowed
	frontDesk2  = "front-desk-2" // vostio-hotel, reissue allowed
	stationDesk = "station-desk" // salto-space-hotel, reissue refused
)

// encodeCall is one Encode the driver double received. The test answers it
// by sending a play, which runs in the driver's goroutine with the
// driver's context and port.
type encodeCall struct {
	ctx   context.Context
	port  driver.Port
	job   driver.Job
	reply chan play
}

type play func(ctx context.Context, p driver.Port) (driver.Card, error)

// succeed writes the card for the job.
func succeed(number string) play {
	return func(context.Context, driver.Port) (driver.Card, error) {
		return driver.Card{Number: number, Technology: "mifare-classic-1k"}, nil
	}
}

// failWith ends the encode with err.
func failWith(err error) play {
	return func(context.Context, driver.Port) (driver.Card, error) { return driver.Card{}, err }
}

// scriptedDriver is a driver.Driver whose every Encode is handed to the
// test, which decides its outcome. Encode honours ctx while it waits, as
// the driver contract requires.
type scriptedDriver struct {
	calls chan *encodeCall

	mu   sync.Mutex
	jobs []driver.Job // every job Encode was called with
}

// received reports whether Encode was ever called for the card id.
func (d *scriptedDriver) received(cardID string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, j := range d.jobs {
		if j.CardID == cardID {
			return true
		}
	}
	return false
}

func newScriptedDriver() *scriptedDriver { return &scriptedDriver{calls: make(chan *encodeCall)} }

func (d *scriptedDriver) Encode(ctx context.Context, p driver.Port, job driver.Job) (driver.Card, error) {
	d.mu.Lock()
	d.jobs = append(d.jobs, job)
	d.mu.Unlock()
	c := &encodeCall{ctx: ctx, port: p, job: job, reply: make(chan play, 1)}
	select {
	case d.calls <- c:
	case <-ctx.Done():
		return driver.Card{}, fmt.Errorf("encode not started: %w", ctx.Err())
	}
	select {
	case pl := <-c.reply:
		return pl(ctx, p)
	case <-ctx.Done():
		return driver.Card{}, fmt.Errorf("encode cancelled: %w", ctx.Err())
	}
}

// next returns the next Encode call, failing the test if none comes.
func (d *scriptedDriver) next(t *testing.T) *encodeCall {
	t.Helper()
	select {
	case c := <-d.calls:
		return c
	case <-time.After(waitBound):
		t.Fatalf("the driver was not called within %v", waitBound)
		return nil
	}
}

// idle fails the test if an Encode call is waiting.
func (d *scriptedDriver) idle(t *testing.T) {
	t.Helper()
	select {
	case c := <-d.calls:
		t.Fatalf("unexpected driver call for card id %s", c.job.CardID)
	default:
	}
}

// lines opens net.Pipe ports in place of serial ports and keeps the
// device ends.
type lines struct {
	mu      sync.Mutex
	opened  map[string][]net.Conn // port path → device ends, in opening order
	openErr error
}

func (l *lines) open(e attempt.EncoderConfig) (driver.Port, error) {
	path := e.Port
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.openErr != nil {
		return nil, l.openErr
	}
	host, device := net.Pipe()
	if l.opened == nil {
		l.opened = map[string][]net.Conn{}
	}
	l.opened[path] = append(l.opened[path], device)
	return &hostEnd{Conn: host}, nil
}

// hostEnd is the pipeline's end of a line; it records whether the
// pipeline closed it.
type hostEnd struct {
	net.Conn
	closed atomic.Bool
}

func (h *hostEnd) Close() error {
	h.closed.Store(true)
	return h.Conn.Close()
}

func (l *lines) count(path string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.opened[path])
}

func (l *lines) device(path string, i int) net.Conn {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.opened[path][i]
}

// rig is a service on a real SQLite store with one scripted driver per
// encoder of the bundled lab's first workspace.
type rig struct {
	t       *testing.T
	lab     *fixtures.Lab
	ws      *fixtures.Workspace
	store   *sqlite.Store
	drivers map[string]*scriptedDriver // by display name
	lines   *lines
	svc     *attempt.Service
	cfg     attempt.Config
}

type rigOption func(*attempt.Config)

func withDeadline(d time.Duration) rigOption { return func(c *attempt.Config) { c.Deadline = d } }

// newRig opens a store in a temporary directory and builds (without
// starting) a service on it.
func newRig(t *testing.T, opts ...rigOption) *rig {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "attempts.db"))
	if err != nil {
		t.Fatalf("opening store: %v", err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("closing store: %v", err)
		}
	})
	lab := fixtures.Bundled()
	r := &rig{t: t, lab: lab, ws: lab.Workspaces[0], store: st, drivers: map[string]*scriptedDriver{}, lines: &lines{}}
	r.cfg = attempt.Config{Store: st, Lab: lab, Open: r.lines.open, Logger: testLogger(t)}
	for _, e := range r.ws.Encoders {
		d := newScriptedDriver()
		r.drivers[e.DisplayName] = d
		r.cfg.Encoders = append(r.cfg.Encoders, attempt.EncoderConfig{
			ID: e.ID, WorkspaceID: r.ws.ID, SystemID: r.ws.System(e.System).ID,
			ConnectedAccountID: r.ws.ConnectedAccountID, DisplayName: e.DisplayName,
			Driver: d, Port: "/dev/virtual/" + e.DisplayName, Baud: e.Baud,
		})
	}
	for _, o := range opts {
		o(&r.cfg)
	}
	return r
}

// start builds and starts a service on the rig's store; Close runs at
// cleanup.
func (r *rig) start() *attempt.Service {
	r.t.Helper()
	svc, err := attempt.New(r.cfg)
	if err != nil {
		r.t.Fatalf("attempt.New: %v", err)
	}
	r.t.Cleanup(func() {
		if err := svc.Close(); err != nil {
			r.t.Errorf("closing service: %v", err)
		}
	})
	if err := svc.Start(context.Background()); err != nil {
		r.t.Fatalf("Start: %v", err)
	}
	r.svc = svc
	return svc
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func (r *rig) encoderID(name string) string { return fixtures.EncoderID(r.ws.ID, name) }

func (r *rig) port(name string) string { return "/dev/virtual/" + name }

// credential stores a new credential of the system's first user.
func (r *rig) credential(systemKey, accessMethod string) *seam.Credential {
	r.t.Helper()
	sys := r.ws.System(systemKey)
	p := credential.CreateParams{AccessMethod: accessMethod}
	if accessMethod == seam.AccessCode {
		code := "123456"
		p.Code = &code
	}
	c, err := credential.New(r.ws, sys, sys.Users[0], p, time.Now())
	if err != nil {
		r.t.Fatalf("credential.New: %v", err)
	}
	if err := r.store.PutCredential(context.Background(), c); err != nil {
		r.t.Fatalf("PutCredential: %v", err)
	}
	return c
}

// encode starts an encode that must be accepted, and checks the pending
// attempt it returns.
func (r *rig) encode(c *seam.Credential, encoder string) *seam.ActionAttempt {
	r.t.Helper()
	a, err := r.svc.Encode(context.Background(), r.ws.ID, c.ACSCredentialID, r.encoderID(encoder))
	if err != nil {
		r.t.Fatalf("Encode(%s on %s): %v", c.ACSCredentialID, encoder, err)
	}
	checkAttempt(r.t, a)
	if a.Status != seam.StatusPending {
		r.t.Fatalf("Encode returned status %q, want pending", a.Status)
	}
	if _, err := uuid.Parse(a.ActionAttemptID); err != nil {
		r.t.Fatalf("action_attempt_id %q is not a UUID: %v", a.ActionAttemptID, err)
	}
	return a
}

// get reads an attempt through the service and checks its invariants.
func (r *rig) get(id string) *seam.ActionAttempt {
	r.t.Helper()
	a, err := r.svc.Attempt(context.Background(), r.ws.ID, id)
	if err != nil {
		r.t.Fatalf("Attempt(%s): %v", id, err)
	}
	checkAttempt(r.t, a)
	return a
}

// wait polls the attempt until it leaves pending.
func (r *rig) wait(id string) *seam.ActionAttempt {
	r.t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	limit := time.After(waitBound)
	for {
		if a := r.get(id); a.Status != seam.StatusPending {
			return a
		}
		select {
		case <-tick.C:
		case <-limit:
			r.t.Fatalf("action attempt %s still pending after %v", id, waitBound)
		}
	}
}

// wantError waits for the attempt to end with the error type and returns
// its message.
func (r *rig) wantError(id, errType string) string {
	r.t.Helper()
	a := r.wait(id)
	if a.Status != seam.StatusError || a.Error.Type != errType {
		r.t.Fatalf("attempt %s ended %s %+v, want error %s", id, a.Status, a.Error, errType)
	}
	return a.Error.Message
}

// storedCredential returns the credential as the store holds it, once
// the store holds what the service serves: an outcome stands in memory
// from the moment it is decided and reaches the store just after.
func (r *rig) storedCredential(id string) *seam.Credential {
	r.t.Helper()
	ctx := context.Background()
	limit := time.Now().Add(waitBound)
	for {
		c, err := r.store.GetCredential(ctx, r.ws.ID, id)
		if err != nil {
			r.t.Fatalf("GetCredential: %v", err)
		}
		served, err := r.svc.View().GetCredential(ctx, r.ws.ID, id)
		if err != nil {
			r.t.Fatalf("GetCredential through the service: %v", err)
		}
		if reflect.DeepEqual(c, served) || time.Now().After(limit) {
			return c
		}
		time.Sleep(time.Millisecond)
	}
}

// checkAttempt asserts the status invariants of an action attempt.
func checkAttempt(t *testing.T, a *seam.ActionAttempt) {
	t.Helper()
	if a == nil {
		t.Fatal("nil action attempt")
	}
	scan := a.ActionType == seam.ActionTypeScanCredential
	if a.ActionType != seam.ActionTypeEncodeCredential && !scan {
		t.Errorf("attempt %s: action_type %q, want %q or %q", a.ActionAttemptID, a.ActionType, seam.ActionTypeEncodeCredential, seam.ActionTypeScanCredential)
	}
	switch a.Status {
	case seam.StatusPending:
		if a.Result != nil || a.Scan != nil || a.Error != nil {
			t.Errorf("pending attempt %s has result %v, error %v; want both null", a.ActionAttemptID, a.Result, a.Error)
		}
	case seam.StatusSuccess:
		if scan && (a.Scan == nil || a.Result != nil || a.Error != nil) {
			t.Errorf("successful scan %s has scan result %v, result %v, error %v; want a scan result only", a.ActionAttemptID, a.Scan, a.Result, a.Error)
		}
		if !scan && (a.Result == nil || a.Error != nil) {
			t.Errorf("successful attempt %s has result %v, error %v; want a result and no error", a.ActionAttemptID, a.Result, a.Error)
		}
	case seam.StatusError:
		if a.Result != nil || a.Scan != nil || a.Error == nil || a.Error.Type == "" || a.Error.Message == "" {
			t.Errorf("failed attempt %s has result %v, error %+v; want no result and an error with type and message",
				a.ActionAttemptID, a.Result, a.Error)
		}
	default:
		t.Errorf("attempt %s: unknown status %q", a.ActionAttemptID, a.Status)
	}
}

func wantSeamError(t *testing.T, err error, status int, typ string) {
	t.Helper()
	var se *seam.Error
	if !errors.As(err, &se) {
		t.Fatalf("error %v is not a *seam.Error (want %d %s)", err, status, typ)
	}
	if se.Status != status || se.Type != typ {
		t.Fatalf("got %d %s (%s), want %d %s", se.Status, se.Type, se.Message, status, typ)
	}
}

func TestEncodeSuccessIssuesCredential(t *testing.T) {
	r := newRig(t)
	r.start()
	c := r.credential("visionline-hotel", seam.AccessCard)

	a := r.encode(c, frontDesk1)
	call := r.drivers[frontDesk1].next(t)
	if want := credential.CardID(c.ACSCredentialID); call.job.CardID != want {
		t.Errorf("driver got card id %q, want %q", call.job.CardID, want)
	}
	if got := r.get(a.ActionAttemptID); got.Status != seam.StatusPending {
		t.Errorf("attempt is %s while the driver works, want pending", got.Status)
	}
	call.reply <- succeed("04A1B2C3D4E5F6")

	done := r.wait(a.ActionAttemptID)
	if done.Status != seam.StatusSuccess {
		t.Fatalf("attempt ended %s %+v, want success", done.Status, done.Error)
	}
	res := done.Result
	if res.ACSCredentialID != c.ACSCredentialID || res.CardNumber == nil || *res.CardNumber != "04A1B2C3D4E5F6" ||
		res.IsIssued == nil || !*res.IsIssued || res.IssuedAt == nil {
		t.Errorf("result = %+v; want the credential issued with card 04A1B2C3D4E5F6", res)
	}
	stored := r.storedCredential(c.ACSCredentialID)
	if stored.IsIssued == nil || !*stored.IsIssued || stored.CardNumber == nil || *stored.CardNumber != "04A1B2C3D4E5F6" {
		t.Errorf("stored credential not issued: is_issued %v card_number %v", stored.IsIssued, stored.CardNumber)
	}
	for _, w := range stored.Warnings {
		if w.WarningCode == seam.WarnWaitingToBeIssued {
			t.Errorf("stored credential still warns %s", w.WarningCode)
		}
	}
	if n := r.lines.count(r.port(frontDesk1)); n != 1 {
		t.Errorf("port opened %d times, want 1", n)
	}

	// The port stays open between encodes.
	a2 := r.encode(c, frontDesk1)
	call2 := r.drivers[frontDesk1].next(t)
	if call2.port != call.port {
		t.Error("second encode got another port; want the one kept open")
	}
	call2.reply <- succeed("04A1B2C3D4E5F7")
	if got := r.wait(a2.ActionAttemptID); got.Status != seam.StatusSuccess {
		t.Fatalf("reissue on an allowing system ended %s %+v, want success", got.Status, got.Error)
	}
}

func TestDriverErrorKindsMapToErrorTypes(t *testing.T) {
	cases := []struct {
		kind    driver.Kind
		errType string
	}{
		{driver.NoCard, seam.ErrNoCredentialOnEncoder},
		{driver.IncompatibleCard, seam.ErrIncompatibleCardFormat},
		{driver.CannotOverwrite, seam.ErrCredentialCannotBeReissued},
		// The finer types of the latest profile (@seamapi/types 1.977.0)
		// for the events pms.md's outcome table names.
		{driver.Interrupted, seam.ErrEncodingInterrupted},
		{driver.Busy, seam.ErrUncategorized},
		{driver.NotAnswering, seam.ErrEncoderCommunicationTimeout},
		{driver.Link, seam.ErrUncategorized},
		{driver.Hangup, seam.ErrEncoderNotOnline},
		{driver.Device, seam.ErrUncategorized},
		{driver.Kind(99), seam.ErrUncategorized},
	}
	r := newRig(t)
	r.start()
	for _, tc := range cases {
		t.Run(tc.kind.String(), func(t *testing.T) {
			c := r.credential("visionline-hotel", seam.AccessCard)
			a := r.encode(c, frontDesk1)
			detail := "answer XX after 1 try"
			r.drivers[frontDesk1].next(t).reply <- failWith(driver.Errorf(tc.kind, "%s", detail))
			msg := r.wantError(a.ActionAttemptID, tc.errType)
			if !strings.Contains(msg, frontDesk1) || !strings.Contains(msg, detail) {
				t.Errorf("message %q should name the encoder %s and say %q", msg, frontDesk1, detail)
			}
			if got := r.storedCredential(c.ACSCredentialID); got.IsIssued == nil || *got.IsIssued {
				t.Errorf("a failed encode changed the credential: is_issued %v", got.IsIssued)
			}
		})
	}

	t.Run("driver error wrapping its own deadline", func(t *testing.T) {
		// A driver that bounds its wait for an answer with a context of
		// its own reports the encoder not answering, not the attempt
		// expiring (driver.Driver: a *driver.Error is the encoder's).
		c := r.credential("visionline-hotel", seam.AccessCard)
		a := r.encode(c, frontDesk1)
		r.drivers[frontDesk1].next(t).reply <- failWith(&driver.Error{Kind: driver.NotAnswering, Detail: "no answer within 10s", Err: context.DeadlineExceeded})
		r.wantError(a.ActionAttemptID, seam.ErrEncoderCommunicationTimeout)
	})

	t.Run("unexplained error", func(t *testing.T) {
		c := r.credential("visionline-hotel", seam.AccessCard)
		a := r.encode(c, frontDesk1)
		r.drivers[frontDesk1].next(t).reply <- failWith(io.ErrUnexpectedEOF)
		if msg := r.wantError(a.ActionAttemptID, seam.ErrUncategorized); !strings.Contains(msg, io.ErrUnexpectedEOF.Error()) {
			t.Errorf("message %q does not say why", msg)
		}
	})
}

func TestNoCardMessage(t *testing.T) {
	r := newRig(t)
	r.start()
	c := r.credential("visionline-hotel", seam.AccessCard)
	a := r.encode(c, frontDesk1)
	r.drivers[frontDesk1].next(t).reply <- failWith(driver.Errorf(driver.NoCard, "no card arrived within 20s (answer TO)"))
	msg := r.wantError(a.ActionAttemptID, seam.ErrNoCredentialOnEncoder)
	if want := "encoder front-desk-1 found no card: no card arrived within 20s (answer TO)"; msg != want {
		t.Errorf("message %q, want %q", msg, want)
	}
}

func TestDeadlineWhileDriverBlocks(t *testing.T) {
	r := newRig(t, withDeadline(shortDeadline))
	r.start()
	c := r.credential("visionline-hotel", seam.AccessCard)
	a := r.encode(c, frontDesk1)
	call := r.drivers[frontDesk1].next(t) // never answered

	r.wantError(a.ActionAttemptID, seam.ErrActionAttemptExpired)
	select {
	case <-call.ctx.Done():
		if !errors.Is(call.ctx.Err(), context.DeadlineExceeded) {
			t.Errorf("driver context ended with %v, want deadline exceeded", call.ctx.Err())
		}
	case <-time.After(waitBound):
		t.Fatal("the driver's context did not end at the attempt's deadline")
	}
	if got := r.storedCredential(c.ACSCredentialID); got.IsIssued == nil || *got.IsIssued {
		t.Errorf("an expired encode changed the credential: is_issued %v", got.IsIssued)
	}
}

func TestDeadlineWhileQueued(t *testing.T) {
	r := newRig(t, withDeadline(shortDeadline))
	r.start()
	d := r.drivers[frontDesk1]
	first := r.credential("visionline-hotel", seam.AccessCard)
	queued := r.credential("visionline-hotel", seam.AccessCard)

	a1 := r.encode(first, frontDesk1)
	call := d.next(t)
	// The first encode ignores its context and holds the worker until the
	// test lets go: the queued attempt must expire on time all the same.
	release := make(chan struct{})
	var releaseOnce sync.Once
	let := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(let) // runs before the service's Close, even when the test fails
	call.reply <- func(context.Context, driver.Port) (driver.Card, error) {
		<-release
		return driver.Card{Number: "04000000000001"}, nil
	}
	a2 := r.encode(queued, frontDesk1)

	msg := r.wantError(a2.ActionAttemptID, seam.ErrActionAttemptExpired)
	if !strings.Contains(msg, "queue") {
		t.Errorf("message %q should say the attempt expired while queued", msg)
	}
	r.wantError(a1.ActionAttemptID, seam.ErrActionAttemptExpired)

	// The late success of the first encode must not issue the credential,
	// and the expired queued attempt must never reach the device. An
	// attempt queued after both (simulated, so it needs no answer) ends
	// only once the worker has dealt with them, in FIFO order.
	let()
	if err := r.svc.SimulateNext(context.Background(), r.ws.ID, r.encoderID(frontDesk1), ""); err != nil {
		t.Fatal(err)
	}
	r.wait(r.encode(r.credential("visionline-hotel", seam.AccessCard), frontDesk1).ActionAttemptID)
	if d.received(credential.CardID(queued.ACSCredentialID)) {
		t.Error("the attempt that expired in the queue reached the driver")
	}
	if got := r.storedCredential(first.ACSCredentialID); got.IsIssued == nil || *got.IsIssued {
		t.Errorf("a success after the deadline issued the credential: is_issued %v", got.IsIssued)
	}
}

func TestFIFOPerEncoder(t *testing.T) {
	r := newRig(t)
	r.start()
	d := r.drivers[frontDesk1]
	var creds []*seam.Credential
	var attempts []*seam.ActionAttempt
	for range 4 {
		c := r.credential("visionline-hotel", seam.AccessCard)
		creds = append(creds, c)
		attempts = append(attempts, r.encode(c, frontDesk1))
	}
	for i, c := range creds {
		call := d.next(t)
		if want := credential.CardID(c.ACSCredentialID); call.job.CardID != want {
			t.Fatalf("encode #%d: driver got card id %s, want %s (FIFO order)", i, call.job.CardID, want)
		}
		// One encode at a time: nothing else reaches the driver meanwhile.
		d.idle(t)
		call.reply <- succeed(fmt.Sprintf("04%012X", i))
		if got := r.wait(attempts[i].ActionAttemptID); got.Status != seam.StatusSuccess {
			t.Fatalf("encode #%d ended %s %+v", i, got.Status, got.Error)
		}
	}
}

func TestEncodersRunIndependently(t *testing.T) {
	r := newRig(t)
	r.start()
	blocked := r.encode(r.credential("visionline-hotel", seam.AccessCard), frontDesk1)
	held := r.drivers[frontDesk1].next(t) // front-desk-1 waits for a card

	a := r.encode(r.credential("vostio-hotel", seam.AccessCard), frontDesk2)
	r.drivers[frontDesk2].next(t).reply <- succeed("04B0B0B0B0B0B0")
	if got := r.wait(a.ActionAttemptID); got.Status != seam.StatusSuccess {
		t.Fatalf("front-desk-2 ended %s %+v while front-desk-1 was busy, want success", got.Status, got.Error)
	}
	if got := r.get(blocked.ActionAttemptID); got.Status != seam.StatusPending {
		t.Errorf("front-desk-1's attempt is %s, want still pending", got.Status)
	}
	held.reply <- succeed("04A0A0A0A0A0A0")
	if got := r.wait(blocked.ActionAttemptID); got.Status != seam.StatusSuccess {
		t.Errorf("front-desk-1 ended %s %+v, want success", got.Status, got.Error)
	}
}

func TestReissueRefusedWithoutTouchingTheDevice(t *testing.T) {
	r := newRig(t)
	r.start()
	c := r.credential("salto-space-hotel", seam.AccessCard)

	// A first encode is not a reissue.
	a := r.encode(c, stationDesk)
	r.drivers[stationDesk].next(t).reply <- succeed("04C0C0C0C0C0C0")
	if got := r.wait(a.ActionAttemptID); got.Status != seam.StatusSuccess {
		t.Fatalf("first encode ended %s %+v, want success", got.Status, got.Error)
	}

	again := r.encode(c, stationDesk)
	r.wantError(again.ActionAttemptID, seam.ErrCredentialCannotBeReissued)
	r.drivers[stationDesk].idle(t)
	if got := r.storedCredential(c.ACSCredentialID); *got.CardNumber != "04C0C0C0C0C0C0" {
		t.Errorf("card number changed to %s", *got.CardNumber)
	}
}

func TestSimulatedOutcomes(t *testing.T) {
	r := newRig(t)
	svc := r.start()
	ctx := context.Background()
	enc := r.encoderID(frontDesk1)

	if err := svc.SimulateNext(ctx, r.ws.ID, enc, ""); err != nil {
		t.Fatalf("SimulateNext success: %v", err)
	}
	c := r.credential("visionline-hotel", seam.AccessCard)
	a := r.wait(r.encode(c, frontDesk1).ActionAttemptID)
	if a.Status != seam.StatusSuccess || a.Result.CardNumber == nil || *a.Result.CardNumber == "" {
		t.Fatalf("simulated success ended %s %+v result %+v; want success with a card number", a.Status, a.Error, a.Result)
	}
	if got := r.storedCredential(c.ACSCredentialID); got.IsIssued == nil || !*got.IsIssued {
		t.Error("simulated success did not issue the credential")
	}

	for _, typ := range []string{seam.ErrNoCredentialOnEncoder, seam.ErrEncodingInterrupted, seam.ErrUncategorized, seam.ErrActionAttemptExpired} {
		if err := svc.SimulateNext(ctx, r.ws.ID, enc, typ); err != nil {
			t.Fatalf("SimulateNext %s: %v", typ, err)
		}
		r.wantError(r.encode(r.credential("visionline-hotel", seam.AccessCard), frontDesk1).ActionAttemptID, typ)
	}
	if n := r.lines.count(r.port(frontDesk1)); n != 0 {
		t.Errorf("simulated encodes opened the port %d times, want 0", n)
	}

	// The simulation is used once: the next encode goes to the device.
	a2 := r.encode(r.credential("visionline-hotel", seam.AccessCard), frontDesk1)
	r.drivers[frontDesk1].next(t).reply <- failWith(driver.Errorf(driver.NoCard, "answer TO"))
	r.wantError(a2.ActionAttemptID, seam.ErrNoCredentialOnEncoder)

	wantSeamError(t, svc.SimulateNext(ctx, r.ws.ID, enc, "incompatible_card_format"), 400, "invalid_input")
	wantSeamError(t, svc.SimulateNext(ctx, r.ws.ID, uuid.NewString(), ""), 404, "acs_encoder_not_found")
}

func TestEncodeRefusals(t *testing.T) {
	r := newRig(t)
	svc := r.start()
	ctx := context.Background()
	card := r.credential("visionline-hotel", seam.AccessCard)
	code := r.credential("visionline-hotel", seam.AccessCode)
	other := r.lab.Workspaces[1].ID

	cases := []struct {
		name                    string
		ws, credential, encoder string
		status                  int
		errType                 string
	}{
		{"unknown encoder", r.ws.ID, card.ACSCredentialID, uuid.NewString(), 404, "acs_encoder_not_found"},
		{"encoder of another workspace", other, card.ACSCredentialID, r.encoderID(frontDesk1), 404, "acs_encoder_not_found"},
		{"unknown credential", r.ws.ID, uuid.NewString(), r.encoderID(frontDesk1), 404, "acs_credential_not_found"},
		{"code credential", r.ws.ID, code.ACSCredentialID, r.encoderID(frontDesk1), 400, "invalid_input"},
		{"credential of another system", r.ws.ID, card.ACSCredentialID, r.encoderID(frontDesk2), 400, "invalid_input"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, err := svc.Encode(ctx, tc.ws, tc.credential, tc.encoder)
			if a != nil {
				t.Errorf("refused encode returned attempt %+v", a)
			}
			wantSeamError(t, err, tc.status, tc.errType)
		})
	}
	_, err := svc.Attempt(ctx, r.ws.ID, uuid.NewString())
	wantSeamError(t, err, 404, "action_attempt_not_found")

	// An attempt is invisible from another workspace.
	a := r.encode(card, frontDesk1)
	_, err = svc.Attempt(ctx, other, a.ActionAttemptID)
	wantSeamError(t, err, 404, "action_attempt_not_found")
	r.drivers[frontDesk1].next(t).reply <- succeed("04D0D0D0D0D0D0")
	r.wait(a.ActionAttemptID)
}

func TestPortOpenFailure(t *testing.T) {
	r := newRig(t)
	r.cfg.Open = nil // the real serial port opener
	missing := filepath.Join(t.TempDir(), "no-such-encoder")
	for i := range r.cfg.Encoders {
		r.cfg.Encoders[i].Port = missing
	}
	r.start()
	a := r.encode(r.credential("visionline-hotel", seam.AccessCard), frontDesk1)
	msg := r.wantError(a.ActionAttemptID, seam.ErrEncoderNotOnline)
	if !strings.Contains(msg, "cannot be opened") || !strings.Contains(msg, missing) {
		t.Errorf("message %q should say port %s cannot be opened and why", msg, missing)
	}
	r.drivers[frontDesk1].idle(t)
}

func TestHangupClosesAndReopensThePort(t *testing.T) {
	r := newRig(t)
	r.start()
	path := r.port(frontDesk1)
	a := r.encode(r.credential("visionline-hotel", seam.AccessCard), frontDesk1)
	call := r.drivers[frontDesk1].next(t)

	// The device goes away: the driver reads end of file.
	if err := r.lines.device(path, 0).Close(); err != nil {
		t.Fatal(err)
	}
	call.reply <- func(_ context.Context, p driver.Port) (driver.Card, error) {
		_, err := p.Read(make([]byte, 1))
		return driver.Card{}, &driver.Error{Kind: driver.Hangup, Detail: "reading the answer", Err: err}
	}
	r.wantError(a.ActionAttemptID, seam.ErrEncoderNotOnline)
	if !call.port.(*hostEnd).closed.Load() {
		t.Error("the port is still open after the line hung up")
	}

	a2 := r.encode(r.credential("visionline-hotel", seam.AccessCard), frontDesk1)
	call2 := r.drivers[frontDesk1].next(t)
	if n := r.lines.count(path); n != 2 {
		t.Fatalf("port opened %d times, want 2 (reopened after the hang-up)", n)
	}
	if call2.port == call.port {
		t.Fatal("the encode after a hang-up got the closed port")
	}
	// The new line works end to end.
	dev := r.lines.device(path, 1)
	go func() {
		b := make([]byte, 1)
		if _, err := dev.Read(b); err == nil {
			_, _ = dev.Write(b)
		}
	}()
	call2.reply <- func(_ context.Context, p driver.Port) (driver.Card, error) {
		if _, err := p.Write([]byte{0x05}); err != nil {
			return driver.Card{}, err
		}
		b := make([]byte, 1)
		if _, err := io.ReadFull(p, b); err != nil {
			return driver.Card{}, err
		}
		return driver.Card{Number: "04E0E0E0E0E0E0"}, nil
	}
	if got := r.wait(a2.ActionAttemptID); got.Status != seam.StatusSuccess {
		t.Fatalf("encode on the reopened port ended %s %+v", got.Status, got.Error)
	}
}

func TestRestartResolvesPendingAttempts(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	now := time.Now()
	put := func(encoderID string, created time.Time, deadline time.Duration) (*store.Attempt, *seam.Credential) {
		t.Helper()
		sys := "visionline-hotel"
		if encoderID == r.encoderID(frontDesk2) {
			sys = "vostio-hotel"
		}
		c := r.credential(sys, seam.AccessCard)
		a := &store.Attempt{
			ID: uuid.NewString(), WorkspaceID: r.ws.ID, EncoderID: encoderID, CredentialID: c.ACSCredentialID,
			Status: seam.StatusPending, CreatedAt: created, Deadline: created.Add(deadline),
		}
		if err := r.store.CreateAttempt(ctx, a); err != nil {
			t.Fatalf("CreateAttempt: %v", err)
		}
		return a, c
	}
	overdue, _ := put(r.encoderID(frontDesk1), now.Add(-time.Minute), 30*time.Second)
	gone, _ := put(uuid.NewString(), now.Add(-3*time.Second), time.Minute)
	// Stored out of order: the older one must run first.
	younger, youngerCred := put(r.encoderID(frontDesk1), now.Add(-time.Second), time.Minute)
	older, olderCred := put(r.encoderID(frontDesk1), now.Add(-2*time.Second), time.Minute)
	// Its original deadline is near: it must expire then, not a full
	// deadline after the restart.
	short, _ := put(r.encoderID(frontDesk2), now, shortDeadline)

	r.start()
	r.wantError(overdue.ID, seam.ErrActionAttemptExpired)
	if msg := r.wantError(gone.ID, seam.ErrUncategorized); !strings.Contains(msg, "no longer configured") {
		t.Errorf("message %q should say the encoder is no longer configured", msg)
	}
	d := r.drivers[frontDesk1]
	for _, want := range []struct {
		a *store.Attempt
		c *seam.Credential
	}{{older, olderCred}, {younger, youngerCred}} {
		call := d.next(t)
		if got := credential.CardID(want.c.ACSCredentialID); call.job.CardID != got {
			t.Fatalf("resumed attempts ran out of CreatedAt order: card id %s, want %s", call.job.CardID, got)
		}
		call.reply <- succeed("04F0F0F0F0F0F0")
		if got := r.wait(want.a.ID); got.Status != seam.StatusSuccess {
			t.Fatalf("resumed attempt ended %s %+v", got.Status, got.Error)
		}
	}
	// Its driver call is never answered; expiring well within waitBound
	// shows the original deadline held, not a fresh 30 s one.
	r.wantError(short.ID, seam.ErrActionAttemptExpired)
}

func TestCloseLeavesInterruptedAttemptPendingForTheNextStart(t *testing.T) {
	r := newRig(t)
	svc, err := attempt.New(r.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.svc = svc
	c := r.credential("visionline-hotel", seam.AccessCard)
	a := r.encode(c, frontDesk1)
	call := r.drivers[frontDesk1].next(t)
	if err := svc.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if !errors.Is(call.ctx.Err(), context.Canceled) {
		t.Errorf("in-flight encode context: %v, want canceled", call.ctx.Err())
	}
	if err := svc.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if got := r.get(a.ActionAttemptID); got.Status != seam.StatusPending {
		t.Fatalf("interrupted attempt is %s, want pending", got.Status)
	}

	r.start()
	r.drivers[frontDesk1].next(t).reply <- succeed("04010203040506")
	if got := r.wait(a.ActionAttemptID); got.Status != seam.StatusSuccess {
		t.Fatalf("resumed attempt ended %s %+v", got.Status, got.Error)
	}
}

func TestEncoders(t *testing.T) {
	r := newRig(t)
	svc := r.start()
	list := svc.Encoders(r.ws.ID)
	if len(list) != len(r.ws.Encoders) {
		t.Fatalf("Encoders lists %d, want %d", len(list), len(r.ws.Encoders))
	}
	for i, e := range list {
		fe := r.ws.Encoders[i]
		if e.ACSEncoderID != fe.ID || e.DisplayName != fe.DisplayName || e.WorkspaceID != r.ws.ID ||
			e.ACSSystemID != r.ws.System(fe.System).ID || e.ConnectedAccountID != r.ws.ConnectedAccountID || e.Errors == nil {
			t.Errorf("encoder %d = %+v, want %s of system %s", i, e, fe.DisplayName, fe.System)
		}
		got, ok := svc.Encoder(r.ws.ID, fe.ID)
		if !ok || got.ACSEncoderID != fe.ID {
			t.Errorf("Encoder(%s) = %+v, %v", fe.ID, got, ok)
		}
	}
	other := r.lab.Workspaces[1].ID
	if got := svc.Encoders(other); got == nil || len(got) != 0 {
		t.Errorf("another workspace lists %v, want an empty list", got)
	}
	if _, ok := svc.Encoder(other, list[0].ACSEncoderID); ok {
		t.Error("an encoder is visible from another workspace")
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	good := newRig(t).cfg
	cases := map[string]func(*attempt.Config){
		"no store":          func(c *attempt.Config) { c.Store = nil },
		"no lab":            func(c *attempt.Config) { c.Lab = nil },
		"negative deadline": func(c *attempt.Config) { c.Deadline = -time.Second },
		"duplicate id":      func(c *attempt.Config) { c.Encoders[1].ID = c.Encoders[0].ID },
		"no driver":         func(c *attempt.Config) { c.Encoders[0].Driver = nil },
		"no port":           func(c *attempt.Config) { c.Encoders[0].Port = "" },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := good
			cfg.Encoders = append([]attempt.EncoderConfig(nil), good.Encoders...)
			mutate(&cfg)
			if svc, err := attempt.New(cfg); err == nil {
				svc.Close()
				t.Fatal("New accepted the config")
			}
		})
	}
}

// TestPortReopenedWhenTheLineHungUpBetweenEncodes covers a device replaced
// while the port sat open and idle (an encoder plugged back in, a virtual
// encoder republished under the same link): the next encode must not run
// on the dead descriptor.
func TestPortReopenedWhenTheLineHungUpBetweenEncodes(t *testing.T) {
	r := newRig(t)
	r.start()
	path := r.port(frontDesk1)
	a := r.encode(r.credential("visionline-hotel", seam.AccessCard), frontDesk1)
	call := r.drivers[frontDesk1].next(t)
	call.reply <- succeed("04A1B2C3D4E5F6")
	if got := r.wait(a.ActionAttemptID); got.Status != seam.StatusSuccess {
		t.Fatalf("first encode ended %s %+v, want success", got.Status, got.Error)
	}

	// The device end goes away while no encode runs: the kept port now
	// reads end of file.
	if err := r.lines.device(path, 0).Close(); err != nil {
		t.Fatal(err)
	}

	a2 := r.encode(r.credential("visionline-hotel", seam.AccessCard), frontDesk1)
	call2 := r.drivers[frontDesk1].next(t)
	if n := r.lines.count(path); n != 2 {
		t.Fatalf("port opened %d times, want 2 (reopened after the idle hang-up)", n)
	}
	if call2.port == call.port {
		t.Fatal("the encode after an idle hang-up got the dead port")
	}
	if !call.port.(*hostEnd).closed.Load() {
		t.Error("the dead port was not closed")
	}
	// The new line works end to end.
	call2.reply <- func(_ context.Context, p driver.Port) (driver.Card, error) {
		dev := r.lines.device(path, 1)
		go func() { _, _ = dev.Write([]byte{0x06}) }()
		b := make([]byte, 1)
		if _, err := io.ReadFull(p, b); err != nil {
			return driver.Card{}, err
		}
		return driver.Card{Number: "04E0E0E0E0E0E0"}, nil
	}
	if got := r.wait(a2.ActionAttemptID); got.Status != seam.StatusSuccess {
		t.Fatalf("encode on the reopened port ended %s %+v", got.Status, got.Error)
	}
}

// A read at or after an attempt's deadline sees it terminal even when the
// deadline timer has not run yet (a timer runs late on a loaded machine):
// here the clock jumps past the deadline while the timer is an hour away.
func TestReadPastTheDeadlineIsTerminal(t *testing.T) {
	var offset atomic.Int64
	r := newRig(t, withDeadline(time.Hour), func(c *attempt.Config) {
		c.Now = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	})
	r.start()
	c := r.credential("visionline-hotel", seam.AccessCard)
	a := r.encode(c, frontDesk1)
	call := r.drivers[frontDesk1].next(t) // never answered
	if got := r.get(a.ActionAttemptID); got.Status != seam.StatusPending {
		t.Fatalf("before its deadline the attempt is %s, want pending", got.Status)
	}

	offset.Store(int64(time.Hour))
	got := r.get(a.ActionAttemptID)
	if got.Status != seam.StatusError || got.Error.Type != seam.ErrActionAttemptExpired {
		t.Fatalf("read at the deadline: %s %+v, want error %s", got.Status, got.Error, seam.ErrActionAttemptExpired)
	}
	if again := r.get(a.ActionAttemptID); !reflect.DeepEqual(again, got) {
		t.Errorf("a second read changed the outcome: %+v, then %+v", got, again)
	}
	// The driver still holds the line; its late success must not win.
	call.reply <- succeed("04000000000031")
	r.drivers[frontDesk1].idle(t)
	if final := r.get(a.ActionAttemptID); final.Status != seam.StatusError {
		t.Errorf("after the driver answered the attempt is %s, want it to stay error", final.Status)
	}
	if s := r.storedCredential(c.ACSCredentialID); s.IsIssued == nil || *s.IsIssued {
		t.Errorf("an expired encode changed the credential: is_issued %v", s.IsIssued)
	}
}

// At debug level the log shows what the encoder was asked and what it
// answered (encoderd --log-level debug).
func TestDebugLogShowsTheEncoderExchange(t *testing.T) {
	var buf syncBuf
	r := newRig(t, func(c *attempt.Config) {
		c.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	r.start()
	c := r.credential("visionline-hotel", seam.AccessCard)
	a := r.encode(c, frontDesk1)
	r.drivers[frontDesk1].next(t).reply <- succeed("04000000000032")
	if got := r.wait(a.ActionAttemptID); got.Status != seam.StatusSuccess {
		t.Fatalf("attempt ended %s, want success", got.Status)
	}
	logged := buf.String()
	for _, want := range []string{
		"level=DEBUG msg=\"encoder asked to write the card\" action_attempt_id=" + a.ActionAttemptID,
		"card_id=" + credential.CardID(c.ACSCredentialID),
		"level=DEBUG msg=\"encoder answered\" action_attempt_id=" + a.ActionAttemptID,
		"card_number=04000000000032",
	} {
		if !strings.Contains(logged, want) {
			t.Errorf("debug log lacks %q:\n%s", want, logged)
		}
	}
}

// syncBuf is a bytes.Buffer safe for the service's goroutines.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
