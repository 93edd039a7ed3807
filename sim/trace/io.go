package trace

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Trace is a whole trace in memory.
type Trace struct {
	Header Header
	Events []Event
}

// Writer writes a trace as JSON Lines.
type Writer struct {
	w   *bufio.Writer
	enc *json.Encoder
}

// NewWriter writes h to w and returns a Writer for the events.
func NewWriter(w io.Writer, h Header) (*Writer, error) {
	h.Trace = Version
	bw := bufio.NewWriter(w)
	tw := &Writer{w: bw, enc: json.NewEncoder(bw)}
	tw.enc.SetEscapeHTML(false) // keep "host>device" readable
	if err := tw.enc.Encode(h); err != nil {
		return nil, fmt.Errorf("trace: header: %w", err)
	}
	return tw, bw.Flush()
}

// Write appends one event and flushes it, so a trace cut short by a crash
// keeps every event written before.
func (w *Writer) Write(e Event) error {
	if err := w.enc.Encode(e); err != nil {
		return fmt.Errorf("trace: event at %dµs: %w", e.T, err)
	}
	return w.w.Flush()
}

// Bytes returns the event's bytes.
func (e Event) Bytes() ([]byte, error) { return hex.DecodeString(e.Hex) }

// NewEvent returns an event for b sent in direction d at t µs.
func NewEvent(t int64, d Direction, b []byte) Event {
	return Event{T: t, Dir: d, Hex: hex.EncodeToString(b)}
}

// FormatError is a trace line that cannot be read.
type FormatError struct {
	Line int
	Err  error
}

func (e *FormatError) Error() string { return fmt.Sprintf("trace: line %d: %v", e.Line, e.Err) }
func (e *FormatError) Unwrap() error { return e.Err }

// Read reads a whole trace, checking every line: the header's version,
// each event's direction, hex and time order.
func Read(r io.Reader) (*Trace, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	var t Trace
	line := 0
	header := false // the first line that is not blank is the header
	var last int64
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		dec := json.NewDecoder(strings.NewReader(text))
		dec.DisallowUnknownFields()
		if !header {
			header = true
			if err := dec.Decode(&t.Header); err != nil {
				return nil, &FormatError{line, fmt.Errorf("header: %w", err)}
			}
			if t.Header.Trace != Version {
				return nil, &FormatError{line, fmt.Errorf("trace version %d, this reader knows %d", t.Header.Trace, Version)}
			}
			continue
		}
		var e Event
		if err := dec.Decode(&e); err != nil {
			return nil, &FormatError{line, err}
		}
		if e.Dir != HostToDevice && e.Dir != DeviceToHost {
			return nil, &FormatError{line, fmt.Errorf("direction %q, want %q or %q", e.Dir, HostToDevice, DeviceToHost)}
		}
		if _, err := hex.DecodeString(e.Hex); err != nil {
			return nil, &FormatError{line, fmt.Errorf("hex: %w", err)}
		}
		if e.T < last {
			return nil, &FormatError{line, fmt.Errorf("time %dµs is before the previous event's %dµs", e.T, last)}
		}
		last = e.T
		t.Events = append(t.Events, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("trace: %w", err)
	}
	if !header {
		return nil, &FormatError{max(line, 1), errors.New("empty: no header")}
	}
	return &t, nil
}
