package tap

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/encoderlab/encoderlab/internal/linkdir"
	"github.com/encoderlab/encoderlab/sim/pty"
	"github.com/encoderlab/encoderlab/sim/trace"
)

// Device is the encoder's side of the line, such as a serial port in raw
// mode. A read past its deadline must fail with an error, never return
// (0, nil).
type Device interface {
	io.ReadWriter
	SetReadDeadline(t time.Time) error
}

// Config says where the tap publishes its line and what it records.
type Config struct {
	// Link is where the pty the pipeline opens is published ("": not
	// published; use TTY). Its directory must be the user's own
	// (linkdir.Check; it is created mode 0700), and the tap holds the
	// link's name while it runs (linkdir.Claim): a name another running
	// process holds is refused.
	Link string
	// Protocol names the protocol for frame decoding and redaction, one
	// of trace.Protocols(), or "" for raw bytes only.
	Protocol string
	// Redact lists what to blank out of the trace (trace.RedactFields).
	// The bytes forwarded are never changed.
	Redact []string
	// Trace receives the events. Required. Its header's Started must be
	// the started time given to Start.
	Trace *trace.Writer
	// Logger receives the tap's logs (nil: none).
	Logger *slog.Logger
}

// Tap is a running recorder. Its methods are safe for concurrent use.
type Tap struct {
	dev     Device
	pair    *pty.Pair
	hold    *linkdir.Hold // cfg.Link's name; nil without a link
	w       *trace.Writer
	log     *slog.Logger
	started time.Time

	mu   sync.Mutex // serialises trace writes and keeps their times in order
	last int64
	// redact blanks fields out of what is recorded (nil: nothing); it
	// follows both directions, so it is used under mu.
	redact *trace.Redactor
	werr   error // the first trace write error

	stopping chan struct{} // closed by Close
	stopOnce sync.Once
	hungUp   chan struct{} // closed when the device side ended by itself
	hangOnce sync.Once
	wg       sync.WaitGroup
}

// direction is one way through the tap, with its own stream state.
type direction struct {
	dir    trace.Direction
	decode trace.Decoder // nil: protocol unknown
}

// pollEvery bounds how long a device read blocks before the loop looks at
// whether the tap is stopping; Close also cuts it short with a deadline.
const pollEvery = 200 * time.Millisecond

// Start opens a pty, publishes it at cfg.Link and forwards between it
// and dev until Close, or until dev ends. started is the trace's time
// origin. The caller keeps ownership of dev and closes it after Close.
func Start(dev Device, started time.Time, cfg Config) (*Tap, error) {
	if cfg.Trace == nil {
		return nil, errors.New("tap: no trace writer")
	}
	if dev == nil {
		return nil, errors.New("tap: no device")
	}
	var dirs [2]*direction
	for i, d := range []trace.Direction{trace.HostToDevice, trace.DeviceToHost} {
		dirs[i] = &direction{dir: d}
		if cfg.Protocol == "" {
			continue
		}
		dec, err := trace.NewDecoder(cfg.Protocol)
		if err != nil {
			return nil, fmt.Errorf("tap: %w", err)
		}
		dirs[i].decode = dec
	}
	var red *trace.Redactor
	if len(cfg.Redact) > 0 {
		r, err := trace.NewRedactor(cfg.Protocol, cfg.Redact)
		if err != nil {
			return nil, fmt.Errorf("tap: %w", err)
		}
		red = r
	}
	var hold *linkdir.Hold
	if cfg.Link != "" {
		if err := linkdir.Prepare(filepath.Dir(cfg.Link)); err != nil {
			return nil, fmt.Errorf("tap: %w", err)
		}
		var err error
		if hold, err = linkdir.Claim(cfg.Link); err != nil {
			return nil, fmt.Errorf("tap: %w", err)
		}
	}
	pair, err := pty.Open()
	if err != nil {
		return nil, errors.Join(fmt.Errorf("tap: %w", err), hold.Release())
	}
	if cfg.Link != "" {
		if err := pair.Link(cfg.Link); err != nil {
			return nil, errors.Join(fmt.Errorf("tap: %w", err), pair.Close(), hold.Release())
		}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := &Tap{
		dev: dev, pair: pair, hold: hold, w: cfg.Trace, log: log, started: started,
		stopping: make(chan struct{}), hungUp: make(chan struct{}), redact: red,
	}
	t.wg.Add(2)
	go t.hostToDevice(dirs[0])
	go t.deviceToHost(dirs[1])
	return t, nil
}

// TTY is the pty slave the pipeline opens (the link points at it).
func (t *Tap) TTY() string { return t.pair.TTY() }

// HungUp is closed when the device side ended (EOF or an I/O error): the
// tap has stopped forwarding; call Close.
func (t *Tap) HungUp() <-chan struct{} { return t.hungUp }

// Close stops forwarding, closes the pty (the pipeline sees its line
// hang up), removes the link and waits for both directions. It returns
// the first error writing the trace, if any. Calls after the first
// return the same.
func (t *Tap) Close() error {
	t.stopOnce.Do(func() {
		close(t.stopping)
		// Wake a device read now rather than at its next poll.
		_ = t.dev.SetReadDeadline(time.Now())
	})
	err := t.pair.Close()
	t.wg.Wait()
	// Released once the link is gone; a second Close finds nil.
	t.mu.Lock()
	defer t.mu.Unlock()
	err = errors.Join(err, t.hold.Release())
	return errors.Join(t.werr, err)
}

func (t *Tap) isStopping() bool {
	select {
	case <-t.stopping:
		return true
	default:
		return false
	}
}

// hostToDevice forwards what the pipeline writes. The pty holds its
// slave open, so the pipeline closing and reopening its port is not an
// end of stream here: only Close ends this loop.
func (t *Tap) hostToDevice(d *direction) {
	defer t.wg.Done()
	buf := make([]byte, 4096)
	m := t.pair.Master()
	for {
		n, err := m.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			// Record before forwarding: once forwarded, the other side may
			// answer, and its answer must not be recorded first.
			t.record(d, chunk)
			if _, werr := t.dev.Write(chunk); werr != nil {
				if !t.isStopping() {
					t.note(trace.HostToDevice, "device write failed: "+werr.Error())
					t.deviceEnded(werr)
				}
				return
			}
		}
		if err != nil {
			if !t.isStopping() && !errors.Is(err, os.ErrClosed) {
				t.log.Warn("reading the pipeline's side", "err", err)
			}
			return
		}
	}
}

// deviceToHost forwards what the encoder sends, until it hangs up.
func (t *Tap) deviceToHost(d *direction) {
	defer t.wg.Done()
	buf := make([]byte, 4096)
	m := t.pair.Master()
	for {
		if t.isStopping() {
			return
		}
		_ = t.dev.SetReadDeadline(time.Now().Add(pollEvery))
		n, err := t.dev.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			t.record(d, chunk) // before forwarding, as in hostToDevice
			if _, werr := m.Write(chunk); werr != nil {
				if !t.isStopping() {
					t.log.Warn("writing to the pipeline's side", "err", werr)
				}
				return
			}
		}
		switch {
		case err == nil:
		case errors.Is(err, os.ErrDeadlineExceeded) || isTimeout(err):
			// Poll again (or stop, if Close cut the read short).
		default:
			if !t.isStopping() {
				t.note(trace.DeviceToHost, "hangup: "+err.Error())
				t.deviceEnded(err)
			}
			return
		}
	}
}

func isTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}

// deviceEnded marks the device gone and closes the pty, so the pipeline
// sees the hangup too.
func (t *Tap) deviceEnded(err error) {
	t.hangOnce.Do(func() {
		t.log.Info("device side ended; stopping", "err", err)
		close(t.hungUp)
		_ = t.pair.Close()
	})
}

// record writes one forwarded chunk to the trace, redacted and decoded.
func (t *Tap) record(d *direction, chunk []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := chunk
	if t.redact != nil {
		b = t.redact.Redact(d.dir, chunk)
	}
	e := trace.NewEvent(t.nowLocked(), d.dir, b)
	if d.decode != nil {
		e.Frames = d.decode.Feed(b)
	}
	t.writeLocked(e)
}

// note writes an event with no bytes that says what the tap observed.
func (t *Tap) note(dir trace.Direction, what string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := trace.NewEvent(t.nowLocked(), dir, nil)
	e.Note = what
	t.writeLocked(e)
}

// nowLocked is the time since the origin in µs, never before the last
// event's, so the trace stays in order across the two directions.
func (t *Tap) nowLocked() int64 {
	now := time.Since(t.started).Microseconds()
	if now < t.last {
		now = t.last
	}
	t.last = now
	return now
}

func (t *Tap) writeLocked(e trace.Event) {
	if t.werr != nil {
		return
	}
	if err := t.w.Write(e); err != nil {
		t.werr = err
		t.log.Error("writing the trace; recording stopped, forwarding goes on", "err", err)
	}
}
