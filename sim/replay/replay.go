package replay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/encoderlab/encoderlab/sim/card"
	"github.com/encoderlab/encoderlab/sim/model"
	"github.com/encoderlab/encoderlab/sim/scenario"
	"github.com/encoderlab/encoderlab/sim/trace"
)

// ErrByteLevel is a physical-event step (place, await, reply …) played on
// the replay model, which knows nothing but the bytes it replays.
var ErrByteLevel = errors.New("the replay model plays byte-level steps only")

// ErrStopped is a step played after a mismatch stopped the model.
var ErrStopped = errors.New("replay stopped at an earlier mismatch")

// MismatchError is the host sending something other than an expect step
// wants. Received is what the host sent from the step's first byte up to
// and including the first byte that cannot match.
//
// Its message is what was got and wanted, without the step's position:
// scenario.Play returns it inside a *scenario.StepError, whose message
// names the file, step, line and operation once, before it.
type MismatchError struct {
	File string
	// Step is the 1-based step number, Line its line in File.
	Step, Line int
	// Want is the step's bytes as written: "frame CN 01 * G * * *" or
	// "hex 0205…".
	Want string
	// Expected is the exact bytes wanted, when the step names them
	// (hex, or a frame without patterns); nil otherwise.
	Expected []byte
	Received []byte
	// Why says what did not match.
	Why string
	// Protocol is the encoder's protocol, whose decoder Error uses to
	// show Received and Expected decoded ("", or a protocol without a
	// decoder: hex alone).
	Protocol string
}

func (e *MismatchError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "got %s", spaced(e.Received))
	if d := decoded(e.Protocol, e.Received); d != "" {
		fmt.Fprintf(&b, " (%s)", d)
	}
	if e.Expected != nil {
		fmt.Fprintf(&b, ", want %s", spaced(e.Expected))
		if d := decoded(e.Protocol, e.Expected); d != "" {
			fmt.Fprintf(&b, " (%s)", d)
		}
	}
	fmt.Fprintf(&b, ": %s", e.Why)
	return b.String()
}

// spaced is b as upper-case hex bytes separated by spaces.
func spaced(b []byte) string {
	if len(b) == 0 {
		return "nothing"
	}
	parts := make([]string, len(b))
	for i, c := range b {
		parts[i] = fmt.Sprintf("%02X", c)
	}
	return strings.Join(parts, " ")
}

// decoded is b read as frames of protocol, when it reads as any.
func decoded(protocol string, b []byte) string {
	d, err := trace.NewDecoder(protocol)
	if err != nil {
		return ""
	}
	return strings.Join(d.Feed(b), ", ")
}

// Config configures a replay model.
type Config struct {
	// Protocol is the protocol the steps are in, which a mismatch's
	// message decodes bytes with. A scenario's frame steps come
	// compiled by it (scenario.Bytes.Step); the loader requires it with
	// model replay (encoder.protocol), so a model built from a scenario
	// always has one.
	Protocol string
	Logger   *slog.Logger
}

// Device is a replay model. Its methods are safe for concurrent use.
type Device struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	buf      []byte        // received and not yet consumed by an expect
	more     chan struct{} // closed (and replaced) when bytes arrive
	master   Line          // the line being served, nil between lines
	captures map[string]string
	stopped  error // the mismatch that stopped the model
}

var _ scenario.ByteDevice = (*Device)(nil)

// New returns a replay model.
func New(cfg Config) *Device {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Device{cfg: cfg, log: log, more: make(chan struct{}), captures: map[string]string{}}
}

// Line is the device side of the serial line the model serves.
type Line interface {
	io.ReadWriter
	// SetReadDeadline must make a blocked Read return, so Serve ends
	// when its context does.
	SetReadDeadline(t time.Time) error
}

// Serve takes what the host sends on master until ctx ends or the line
// fails. After a Hangup the encoder serves the new line, and what was
// received on the old one stays to be matched.
func (d *Device) Serve(ctx context.Context, master Line) error {
	d.mu.Lock()
	d.master = master
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		if d.master == master {
			d.master = nil
		}
		d.mu.Unlock()
	}()
	stop := context.AfterFunc(ctx, func() { _ = master.SetReadDeadline(time.Now()) })
	defer stop()
	buf := make([]byte, 1024)
	for {
		n, err := master.Read(buf)
		if n > 0 {
			d.mu.Lock()
			d.buf = append(d.buf, buf[:n]...)
			close(d.more)
			d.more = make(chan struct{})
			d.mu.Unlock()
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("replay: read: %w", err)
		}
	}
}

// Expect consumes what the host sent for st, waiting for it as needed.
func (d *Device) Expect(ctx context.Context, file string, st scenario.Step) error {
	if st.Bytes == nil {
		return errors.New("replay: the step has no bytes")
	}
	m, err := d.matcher(st.Bytes)
	if err != nil {
		return err
	}
	for {
		d.mu.Lock()
		if d.stopped != nil {
			d.mu.Unlock()
			return ErrStopped
		}
		v, n, why := m(d.buf)
		switch v {
		case model.Matched:
			d.buf = d.buf[n:]
			d.mu.Unlock()
			return nil
		case model.Mismatched:
			e := &MismatchError{File: file, Step: st.Index + 1, Line: st.Line, Want: st.Bytes.String(),
				Expected: exact(st.Bytes), Received: append([]byte(nil), d.buf[:n]...), Why: why,
				Protocol: d.cfg.Protocol}
			d.stopped = e
			d.mu.Unlock()
			d.log.Warn("replay mismatch; the device stops answering", "file", file, "step", e.Step, "line", e.Line, "err", e)
			return e
		}
		more := d.more
		d.mu.Unlock()
		select {
		case <-more:
		case <-ctx.Done():
			d.mu.Lock()
			got := spaced(d.buf)
			d.mu.Unlock()
			return fmt.Errorf("waiting for %s, received %s: %w", st.Bytes, got, ctx.Err())
		}
	}
}

// exact is the bytes a step wants when it names them all.
func exact(b *scenario.Bytes) []byte {
	if b.Frame == "" {
		return b.Hex
	}
	if b.Step == nil {
		return nil
	}
	return b.Step.Exact()
}

// matchFunc looks at the received bytes and says whether they hold what
// a step wants: matched with the count to consume, or mismatched with
// the count that shows it and why.
type matchFunc func(buf []byte) (model.Verdict, int, string)

// matcher returns the matchFunc for b. d.mu is held when it runs (it
// reads and takes captures).
func (d *Device) matcher(b *scenario.Bytes) (matchFunc, error) {
	if b.Frame == "" {
		return func(buf []byte) (model.Verdict, int, string) {
			for i := 0; i < len(buf) && i < len(b.Hex); i++ {
				if buf[i] != b.Hex[i] {
					return model.Mismatched, i + 1, fmt.Sprintf("byte %d is %02X, want %02X", i, buf[i], b.Hex[i])
				}
			}
			if len(buf) < len(b.Hex) {
				return model.NeedMore, 0, ""
			}
			return model.Matched, len(b.Hex), ""
		}, nil
	}
	if b.Step == nil {
		return nil, fmt.Errorf("replay: %w", d.uncompiled())
	}
	return func(buf []byte) (model.Verdict, int, string) { return b.Step.Match(buf, d.captures) }, nil
}

// uncompiled is the error of a frame step no protocol compiled: one
// built by hand, or loaded for a protocol without frame text.
func (d *Device) uncompiled() error {
	return fmt.Errorf("frame steps are for protocols %s, this encoder's is %q: write hex",
		strings.Join(scenario.ReplayProtocols(), " and "), d.cfg.Protocol)
}

// Send writes st's bytes to the host, with captures filled in.
func (d *Device) Send(ctx context.Context, _ string, st scenario.Step) error {
	if st.Bytes == nil {
		return errors.New("replay: the step has no bytes")
	}
	d.mu.Lock()
	if d.stopped != nil {
		d.mu.Unlock()
		return ErrStopped
	}
	out, err := d.render(st.Bytes)
	master := d.master
	d.mu.Unlock()
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	if master == nil {
		return errors.New("replay: no line to send on")
	}
	if _, err := master.Write(out); err != nil {
		return fmt.Errorf("replay: write: %w", err)
	}
	return ctx.Err()
}

// render builds the bytes of a send step. d.mu is held.
func (d *Device) render(b *scenario.Bytes) ([]byte, error) {
	if b.Frame == "" {
		return b.Hex, nil
	}
	if b.Step == nil {
		return nil, d.uncompiled()
	}
	return b.Step.Render(d.captures)
}

// Unread is what the host sent that no expect step consumed.
func (d *Device) Unread() []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]byte(nil), d.buf...)
}

// Err is the mismatch that stopped the model, or nil.
func (d *Device) Err() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stopped
}

// The physical-event side of scenario.Device does not apply: a replay
// has no cards and no model of its own to steer.

func (d *Device) Place(*card.Card) error                   { return ErrByteLevel }
func (d *Device) Remove(string) error                      { return ErrByteLevel }
func (d *Device) Await(context.Context, string, int) error { return ErrByteLevel }
func (d *Device) AwaitAnswer(context.Context, string, int) error {
	return ErrByteLevel
}
func (d *Device) Hold(string, int)                 {}
func (d *Device) Answer(string, int, string) error { return ErrByteLevel }
func (d *Device) Silence(bool)                     {}
func (d *Device) NAK(int)                          {}
func (d *Device) Garble(int)                       {}
func (d *Device) Busy(int)                         {}
func (d *Device) Count(string) int                 { return 0 }
