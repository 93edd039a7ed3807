package pms_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/sim/card"
	"github.com/encoderlab/encoderlab/sim/device/pms"
)

// The host in these tests speaks docs/protocols/pms.md from raw bytes, so
// it checks the device against the page rather than against other code.
const (
	STX = 0x02
	ETX = 0x03
	ENQ = 0x05
	ACK = 0x06
	NAK = 0x15
	FS  = 0xB3
)

// patience bounds every wait for something the test expects to happen;
// it is generous so a loaded machine does not fail the tests.
const patience = 10 * time.Second

// frame builds a frame from fields.
func frame(fields ...string) []byte {
	b := []byte{STX}
	b = append(b, strings.Join(fields, "\xb3")...)
	b = append(b, ETX)
	var x byte
	for _, c := range b[1:] {
		x ^= c
	}
	return append(b, x)
}

// recorder keeps the device's trace so tests can wait for a step.
type recorder struct {
	mu      sync.Mutex
	events  []pms.Event
	changed chan struct{}
}

func newRecorder() *recorder { return &recorder{changed: make(chan struct{})} }

func (r *recorder) record(e pms.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
	close(r.changed)
	r.changed = make(chan struct{})
}

// wait blocks until an event with that kind whose detail contains s has
// been recorded, and returns it.
func (r *recorder) wait(t *testing.T, kind pms.EventKind, s string) pms.Event {
	t.Helper()
	deadline := time.NewTimer(patience)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		for _, e := range r.events {
			if e.Kind == kind && strings.Contains(e.Detail, s) {
				r.mu.Unlock()
				return e
			}
		}
		ch := r.changed
		r.mu.Unlock()
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("no %s event mentioning %q within %v; trace:\n%s", kind, s, patience, r)
		}
	}
}

func (r *recorder) count(kind pms.EventKind, s string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if e.Kind == kind && strings.Contains(e.Detail, s) {
			n++
		}
	}
	return n
}

func (r *recorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for _, e := range r.events {
		fmt.Fprintln(&b, "  ", e)
	}
	return b.String()
}

// host is the far end of a net.Pipe, with the device served on the near
// end.
type host struct {
	t     *testing.T
	dev   *pms.Device
	trace *recorder
	conn  net.Conn
	in    chan byte
	// served receives Serve's result.
	served chan error
	cancel context.CancelFunc
}

// testConfig is fast enough for tests but leaves every wait the host is
// not meant to hit far beyond what a loaded machine needs.
func testConfig() pms.Config {
	cfg := pms.DefaultConfig()
	cfg.CardWait = patience
	cfg.WriteTime = 20 * time.Millisecond
	cfg.Ack = patience
	return cfg
}

func newHost(t *testing.T, cfg pms.Config) *host {
	t.Helper()
	rec := newRecorder()
	cfg.Trace = rec.record
	return serveHost(t, pms.New(cfg), rec)
}

// serveHost serves dev on a fresh pipe.
func serveHost(t *testing.T, dev *pms.Device, rec *recorder) *host {
	t.Helper()
	near, far := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	h := &host{t: t, dev: dev, trace: rec, conn: far, in: make(chan byte, 4096), served: make(chan error, 1), cancel: cancel}
	go func() { h.served <- dev.Serve(ctx, near) }()
	go func() {
		buf := make([]byte, 256)
		for {
			n, err := far.Read(buf)
			for _, b := range buf[:n] {
				h.in <- b
			}
			if err != nil {
				close(h.in)
				return
			}
		}
	}()
	t.Cleanup(func() {
		h.stop()
		near.Close()
		far.Close()
	})
	return h
}

// stop ends Serve and checks it returned nil.
func (h *host) stop() {
	h.t.Helper()
	h.cancel()
	select {
	case err, ok := <-h.served:
		if ok && err != nil {
			h.t.Errorf("Serve returned %v after its context ended, want nil", err)
		}
		if ok {
			close(h.served)
		}
	case <-time.After(patience):
		h.t.Errorf("Serve did not return within %v of its context ending", patience)
	}
}

func (h *host) write(b []byte) {
	h.t.Helper()
	if err := h.conn.SetWriteDeadline(time.Now().Add(patience)); err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.conn.Write(b); err != nil {
		h.t.Fatalf("host write % X: %v", b, err)
	}
}

func (h *host) send(fields ...string) { h.t.Helper(); h.write(frame(fields...)) }

func (h *host) readByte() byte {
	h.t.Helper()
	select {
	case b, ok := <-h.in:
		if !ok {
			h.t.Fatal("line closed while the host waited for a byte")
		}
		return b
	case <-time.After(patience):
		h.t.Fatalf("no byte from the device within %v; trace:\n%s", patience, h.trace)
	}
	return 0
}

func (h *host) expectByte(want byte) {
	h.t.Helper()
	if got := h.readByte(); got != want {
		h.t.Fatalf("device sent 0x%02X, want 0x%02X; trace:\n%s", got, want, h.trace)
	}
}

// readFrame reads one frame, STX to LRC, and reports whether its LRC is
// right.
func (h *host) readFrame() (fields []string, raw []byte, lrcOK bool) {
	h.t.Helper()
	if b := h.readByte(); b != STX {
		h.t.Fatalf("device sent 0x%02X, want STX; trace:\n%s", b, h.trace)
	}
	raw = []byte{STX}
	for {
		b := h.readByte()
		raw = append(raw, b)
		if b == ETX {
			break
		}
		if len(raw) > 255 {
			h.t.Fatalf("frame longer than 255 bytes: % X", raw)
		}
	}
	l := h.readByte()
	raw = append(raw, l)
	var x byte
	for _, c := range raw[1 : len(raw)-1] {
		x ^= c
	}
	body := string(raw[1 : len(raw)-2])
	return strings.Split(body, "\xb3"), raw, x == l
}

// answer reads an answer frame, checks its LRC and ACKs it.
func (h *host) answer() []string {
	h.t.Helper()
	f, raw, ok := h.readFrame()
	if !ok {
		h.t.Fatalf("answer % X has a wrong LRC", raw)
	}
	h.write([]byte{ACK})
	return f
}

// command sends a command frame, expects its ACK, and returns the answer.
func (h *host) command(fields ...string) []string {
	h.t.Helper()
	h.send(fields...)
	h.expectByte(ACK)
	return h.answer()
}

// ping sends ENQ and expects ACK as the very next byte: proof that the
// device sent nothing else before it.
func (h *host) ping() {
	h.t.Helper()
	h.write([]byte{ENQ})
	h.expectByte(ACK)
}

func wantFields(t *testing.T, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("answer %q, want %q", got, want)
	}
}

func newCard(t *testing.T, name string, tech card.Technology, uid string, c card.Contents) *card.Card {
	t.Helper()
	k, err := card.New(name, tech, uid, c)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func place(t *testing.T, d *pms.Device, c *card.Card) {
	t.Helper()
	if err := d.Place(c); err != nil {
		t.Fatal(err)
	}
}

// cn is the protocol page's example encode command.
var cn = []string{"CN", "01", "9F2C4D1A00000001", "G", "202611251400", "202611281100", "Room 101"}

func isEOF(err error) bool { return errors.Is(err, io.EOF) || errors.Is(err, io.ErrClosedPipe) }

var _ = bytes.Equal
