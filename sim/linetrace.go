package sim

import (
	"io"
	"sync"
	"time"

	"github.com/encoderlab/encoderlab/sim/trace"
)

// line is what a device model serves on: the pty master, or the master
// seen through a lineTracer.
type line interface {
	io.ReadWriter
	SetReadDeadline(t time.Time) error
	SetWriteDeadline(t time.Time) error
}

// lineTracer turns every chunk a device model reads from or writes to its
// line into a trace event, timed from when the encoder started. It spans
// the encoder's lines, so a trace runs on across a Hangup.
type lineTracer struct {
	started time.Time
	emit    func(trace.Event)
	// decode holds a frame decoder per direction when the protocol is
	// known, so events carry the frames they complete.
	decode map[trace.Direction]trace.Decoder

	// mu orders the events: each is timed and emitted under it, so emit
	// sees times that never go backwards, as a trace requires.
	mu sync.Mutex
}

// newLineTracer traces into emit; protocol names the registered
// protocol whose frame decoder to use (trace.NewDecoder), and any other
// value leaves frames undecoded.
func newLineTracer(emit func(trace.Event), protocol string) *lineTracer {
	lt := &lineTracer{started: time.Now(), emit: emit}
	h2d, err1 := trace.NewDecoder(protocol)
	d2h, err2 := trace.NewDecoder(protocol)
	if err1 == nil && err2 == nil {
		lt.decode = map[trace.Direction]trace.Decoder{trace.HostToDevice: h2d, trace.DeviceToHost: d2h}
	}
	return lt
}

func (lt *lineTracer) record(d trace.Direction, b []byte, note string) {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	e := trace.NewEvent(time.Since(lt.started).Microseconds(), d, b)
	e.Note = note
	if dec := lt.decode[d]; dec != nil && len(b) > 0 {
		e.Frames = dec.Feed(b)
	}
	lt.emit(e)
}

// wrap returns l with its traffic traced.
func (lt *lineTracer) wrap(l line) line { return &tracedLine{line: l, lt: lt} }

// tracedLine is a line whose reads (what the host sent) and writes (what
// the device answered) are traced as they happen.
type tracedLine struct {
	line
	lt *lineTracer
}

func (t *tracedLine) Read(p []byte) (int, error) {
	n, err := t.line.Read(p)
	if n > 0 {
		t.lt.record(trace.HostToDevice, p[:n], "")
	}
	return n, err
}

// Write records before writing: once written, the host may answer, and
// its answer must not be recorded first. A write that fails part-way is
// recorded whole; the next event (a hangup) says what became of it.
func (t *tracedLine) Write(p []byte) (int, error) {
	if len(p) > 0 {
		t.lt.record(trace.DeviceToHost, p, "")
	}
	return t.line.Write(p)
}
