package pms

import (
	"fmt"
	"strings"
)

// Link-layer bytes (docs/protocols/pms.md, "Bytes").
const (
	stx byte = 0x02
	etx byte = 0x03
	enq byte = 0x05
	ack byte = 0x06
	nak byte = 0x15
	fs  byte = 0xB3
)

// fsString is FS as a one-byte string (string(fs) would be the UTF-8 of U+00B3).
const fsString = "\xB3"

// maxFrame is the longest frame, STX to LRC inclusive.
const maxFrame = 255

// appendFrame appends the frame carrying fields to dst and returns the
// extended slice. Fields must be printable ASCII; callers validate them
// (see newCommand), so appendFrame never has to escape anything.
func appendFrame(dst []byte, fields ...string) []byte {
	dst = append(dst, stx)
	start := len(dst)
	for i, f := range fields {
		if i > 0 {
			dst = append(dst, fs)
		}
		dst = append(dst, f...)
	}
	dst = append(dst, etx)
	return append(dst, lrc(dst[start:]))
}

// lrc is the XOR of b: pass every byte after STX up to and including ETX.
func lrc(b []byte) byte {
	var x byte
	for _, c := range b {
		x ^= c
	}
	return x
}

func printable(c byte) bool { return c >= 0x20 && c <= 0x7E }

// FrameError is a frame the decoder received but cannot accept: the
// receiver answers it with NAK.
type FrameError struct {
	// Reason says what is wrong, e.g. "LRC 0x41, want 0x40".
	Reason string
	// Frame holds the bytes received, from STX on (at most maxFrame).
	Frame []byte
}

func (e *FrameError) Error() string {
	return fmt.Sprintf("bad frame (%s): % X", e.Reason, e.Frame)
}

// eventKind is what the decoder recognised on the line.
type eventKind int

const (
	evACK eventKind = iota + 1
	evNAK
	evENQ
	evFrame    // a well-formed frame with a correct LRC
	evBadFrame // a frame to be NAKed
)

// event is one unit of link traffic.
type event struct {
	kind eventKind
	// fields of an evFrame.
	fields []string
	// raw is the whole evFrame, STX to LRC; duplicates are compared on it.
	raw []byte
	// err describes an evBadFrame.
	err *FrameError
}

type decodeState int

const (
	idle    decodeState = iota // between frames
	body                       // after STX, before ETX
	check                      // after ETX: the next byte is the LRC
	skip                       // an over-long frame: wait for its ETX
	skipLRC                    // after the over-long frame's ETX
)

// decoder turns the byte stream of a line into events, one byte at a time,
// so it works on whatever chunks the port delivers. Outside frames it
// reports ACK, NAK and ENQ and drops noise; an STX always starts a new
// frame, discarding a partial one. It never fails: anything it cannot
// accept becomes an evBadFrame.
type decoder struct {
	state  decodeState
	buf    []byte // STX up to ETX of the current frame
	reason string // first fault found in the current frame
}

// InFrame reports whether a frame has started and not yet ended.
func (d *decoder) InFrame() bool { return d.state != idle }

// Reset drops a frame begun.
func (d *decoder) Reset() { d.state, d.buf, d.reason = idle, d.buf[:0], "" }

// Feed consumes c and returns the event it completes, if any.
func (d *decoder) Feed(c byte) (event, bool) {
	if c == stx && d.state != check && d.state != skipLRC {
		d.state, d.buf, d.reason = body, append(d.buf[:0], stx), ""
		return event{}, false
	}
	switch d.state {
	case idle:
		switch c {
		case ack:
			return event{kind: evACK}, true
		case nak:
			return event{kind: evNAK}, true
		case enq:
			return event{kind: evENQ}, true
		}
		return event{}, false // noise
	case body:
		if c == etx {
			d.buf = append(d.buf, c)
			d.state = check
			return event{}, false
		}
		// Leave room for ETX and LRC.
		if len(d.buf) >= maxFrame-2 {
			d.state = skip
			d.fault("longer than %d bytes", maxFrame)
			return event{}, false
		}
		if !printable(c) && c != fs {
			d.fault("byte 0x%02X at offset %d is not printable", c, len(d.buf))
		}
		d.buf = append(d.buf, c)
		return event{}, false
	case check:
		d.state = idle
		raw := append(append([]byte(nil), d.buf...), c)
		if want := lrc(d.buf[1:]); c != want {
			d.fault("LRC 0x%02X, want 0x%02X", c, want)
		}
		if d.reason != "" {
			return event{kind: evBadFrame, err: &FrameError{Reason: d.reason, Frame: raw}}, true
		}
		fields := strings.Split(string(d.buf[1:len(d.buf)-1]), fsString)
		return event{kind: evFrame, fields: fields, raw: raw}, true
	case skip:
		if c == etx {
			d.state = skipLRC
		}
		return event{}, false
	case skipLRC:
		d.state = idle
		return event{kind: evBadFrame, err: &FrameError{Reason: d.reason, Frame: append([]byte(nil), d.buf...)}}, true
	}
	return event{}, false
}

// abort ends a frame that stopped arriving before its ETX and LRC (the
// caller saw the line go quiet mid-frame) and returns the event to NAK.
func (d *decoder) abort() event {
	raw := append([]byte(nil), d.buf...)
	reason := "missing ETX"
	switch {
	case d.reason != "":
		reason = d.reason
	case d.state == check:
		reason = "missing LRC"
	}
	d.state, d.buf, d.reason = idle, d.buf[:0], ""
	return event{kind: evBadFrame, err: &FrameError{Reason: reason, Frame: raw}}
}

// fault records the first problem found in the current frame.
func (d *decoder) fault(format string, args ...any) {
	if d.reason == "" {
		d.reason = fmt.Sprintf(format, args...)
	}
}
