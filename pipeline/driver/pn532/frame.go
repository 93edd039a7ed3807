package pn532

import "fmt"

// Frame identifiers (docs/protocols/pn532.md, "Frames").
const (
	tfiHost byte = 0xD4
	tfiChip byte = 0xD5
)

// Fixed byte sequences.
var (
	// wakeup is the HSU wake-up preamble: 0x55 bytes to wake the chip's
	// UART, then zeros for it to settle.
	wakeup   = []byte{0x55, 0x55, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	ackFrame = []byte{0x00, 0x00, 0xFF, 0x00, 0xFF, 0x00}
	nack     = []byte{0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00}
)

// maxBody is the most TFI+data bytes a frame may carry: 264 data bytes
// and the TFI (UM0701-02 6.2.1.2).
const maxBody = 265

// appendFrame appends the host information frame carrying data (command
// code and parameters) to dst: a normal frame, or an extended one when
// the body does not fit LEN (more than 255 bytes, UM0701-02 6.2.1.1).
func appendFrame(dst []byte, data []byte) []byte {
	n := 1 + len(data)
	dst = append(dst, 0x00, 0x00, 0xFF)
	if n <= 0xFF {
		dst = append(dst, byte(n), -byte(n))
	} else {
		hi, lo := byte(n>>8), byte(n)
		dst = append(dst, 0xFF, 0xFF, hi, lo, -(hi + lo))
	}
	sum := tfiHost
	dst = append(dst, tfiHost)
	for _, c := range data {
		sum += c
	}
	dst = append(dst, data...)
	return append(dst, -sum, 0x00)
}

// FrameError is a frame from the chip the host cannot accept: it answers
// it with NACK so the chip sends it again.
type FrameError struct {
	// Reason says what is wrong, e.g. "DCS 0x41, want 0x40".
	Reason string
}

func (e *FrameError) Error() string { return "bad frame: " + e.Reason }

type eventKind int

const (
	evACK    eventKind = iota + 1
	evNACK             // the chip asks for the command again
	evInfo             // an information frame with good checksums
	evError            // the chip's error frame: it rejected the command
	evBad              // a damaged information frame, to NACK
	evBadLen           // a frame whose length check (LCS) failed: what follows is not a frame's body
)

// event is one frame from the chip.
type event struct {
	kind eventKind
	tfi  byte
	data []byte // after the TFI
	err  *FrameError
}

type decodeState int

const (
	dsIdle   decodeState = iota // looking for 00 FF
	dsZero                      // saw 00
	dsLen                       // LEN
	dsLCS                       // LCS (or the second byte of ACK/NACK)
	dsExtHi                     // extended LENM
	dsExtLo                     // extended LENL
	dsExtLCS                    // extended LCS
	dsBody                      // TFI and data
	dsDCS                       // DCS
)

// decoder turns the chip's byte stream into events, one byte at a time.
// Bytes outside frames are skipped while it looks for the start code
// 00 FF. A frame with a wrong LCS is reported (evBadLen) and the decoder
// looks for the start code again: without a length, the frame's end is
// unknown.
type decoder struct {
	state  decodeState
	length int
	lenHi  byte
	buf    []byte
}

// InFrame reports whether a frame has started and not yet ended.
func (d *decoder) InFrame() bool { return d.state > dsZero }

// Reset drops a partial frame.
func (d *decoder) Reset() { d.state, d.buf = dsIdle, d.buf[:0] }

// Feed consumes c and returns the event it completes, if any.
func (d *decoder) Feed(c byte) (event, bool) {
	switch d.state {
	case dsIdle:
		if c == 0x00 {
			d.state = dsZero
		}
	case dsZero:
		switch c {
		case 0xFF:
			d.state = dsLen
		case 0x00:
		default:
			d.state = dsIdle
		}
	case dsLen:
		d.length, d.state = int(c), dsLCS
	case dsLCS:
		switch {
		case d.length == 0x00 && c == 0xFF:
			d.state = dsIdle
			return event{kind: evACK}, true
		case d.length == 0xFF && c == 0x00:
			d.state = dsIdle
			return event{kind: evNACK}, true
		case d.length == 0xFF && c == 0xFF:
			d.state = dsExtHi
		case d.length > 0 && byte(d.length)+c == 0:
			d.state, d.buf = dsBody, d.buf[:0]
		default:
			// A 00 may start the next frame's start code.
			d.state = dsIdle
			if c == 0x00 {
				d.state = dsZero
			}
			return event{kind: evBadLen, err: &FrameError{Reason: fmt.Sprintf("LCS 0x%02X for LEN 0x%02X, want 0x%02X", c, d.length, -byte(d.length))}}, true
		}
	case dsExtHi:
		d.lenHi, d.state = c, dsExtLo
	case dsExtLo:
		d.length, d.state = int(d.lenHi)<<8|int(c), dsExtLCS
	case dsExtLCS:
		d.state = dsIdle
		if d.lenHi+byte(d.length)+c != 0 || d.length == 0 {
			return event{kind: evBadLen, err: &FrameError{Reason: fmt.Sprintf("extended LCS 0x%02X for LEN 0x%04X", c, d.length)}}, true
		}
		if d.length > maxBody {
			return event{kind: evBad, err: &FrameError{Reason: fmt.Sprintf("extended frame of %d bytes, more than %d", d.length, maxBody)}}, true
		}
		d.state, d.buf = dsBody, d.buf[:0]
	case dsBody:
		d.buf = append(d.buf, c)
		if len(d.buf) == d.length {
			d.state = dsDCS
		}
	case dsDCS:
		d.state = dsIdle
		var sum byte
		for _, b := range d.buf {
			sum += b
		}
		if sum+c != 0 {
			return event{kind: evBad, err: &FrameError{Reason: fmt.Sprintf("DCS 0x%02X, want 0x%02X", c, -sum)}}, true
		}
		if len(d.buf) == 1 && d.buf[0] == 0x7F {
			return event{kind: evError}, true
		}
		return event{kind: evInfo, tfi: d.buf[0], data: append([]byte(nil), d.buf[1:]...)}, true
	}
	return event{}, false
}
