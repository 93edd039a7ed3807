package pn532

import "fmt"

// Frame identifiers (docs/protocols/pn532.md, "Frames").
const (
	tfiHost byte = 0xD4 // host to chip
	tfiChip byte = 0xD5 // chip to host
)

// Fixed frames.
var (
	ackFrame   = []byte{0x00, 0x00, 0xFF, 0x00, 0xFF, 0x00}
	nackFrame  = []byte{0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00}
	errorFrame = []byte{0x00, 0x00, 0xFF, 0x01, 0xFF, 0x7F, 0x81, 0x00}
)

// maxData is the most TFI+data bytes an extended frame may carry: the
// PN532 takes 264 data bytes, 265 with the TFI (UM0701-02 6.2.1.2).
const maxData = 265

// appendFrame appends the information frame carrying tfi and data: a
// normal frame up to 255 bytes, an extended one above, as the chip does
// (UM0701-02 6.2.1.2: "Normal Information Frame for frame <= 255 bytes").
func appendFrame(dst []byte, tfi byte, data []byte) []byte {
	n := 1 + len(data)
	dst = append(dst, 0x00, 0x00, 0xFF)
	if n <= 0xFF { // LEN FF, LCS 01 is a normal frame; FF FF marks an extended one
		dst = append(dst, byte(n), byte(-n))
	} else {
		hi, lo := byte(n>>8), byte(n)
		dst = append(dst, 0xFF, 0xFF, hi, lo, -(hi + lo))
	}
	sum := tfi
	dst = append(dst, tfi)
	for _, c := range data {
		sum += c
	}
	dst = append(dst, data...)
	return append(dst, -sum, 0x00)
}

// frameKind is what the parser recognised.
type frameKind int

const (
	fkACK   frameKind = iota + 1 // the host aborts the command in progress
	fkNACK                       // the host asks for the last response again
	fkInfo                       // an information frame with good checksums
	fkError                      // an error frame (application-level error)
	fkBad                        // a frame with a bad DCS, or too long
)

// frame is one frame received.
type frame struct {
	kind frameKind
	tfi  byte
	data []byte // after the TFI
	// reason describes an fkBad frame.
	reason string
}

type parseState int

const (
	psIdle   parseState = iota // looking for the start code 00 FF
	psZero                     // saw 00
	psLen                      // after 00 FF: LEN
	psLCS                      // LCS of a normal frame, or FF of ACK, or 00 of NACK
	psExtHi                    // extended: LENM
	psExtLo                    // extended: LENL
	psExtLCS                   // extended: LCS
	psBody                     // TFI and data
	psDCS                      // DCS
)

// parser turns a byte stream into frames, one byte at a time. Anything
// that is not a frame (the wake-up preamble 55 55 00 …, postambles, noise)
// is skipped while it looks for the start code 00 FF. A frame whose LCS
// is wrong is dropped silently, as the chip does: without a valid length
// it cannot tell where the frame ends.
type parser struct {
	state  parseState
	length int // TFI+data bytes expected
	lenHi  byte
	buf    []byte
}

// reset drops a partial frame.
func (p *parser) reset() { p.state, p.buf = psIdle, p.buf[:0] }

// inFrame reports whether a frame has started and not ended.
func (p *parser) inFrame() bool { return p.state != psIdle && p.state != psZero }

// feed consumes c and returns the frame it completes, if any.
func (p *parser) feed(c byte) (frame, bool) {
	switch p.state {
	case psIdle:
		if c == 0x00 {
			p.state = psZero
		}
	case psZero:
		switch c {
		case 0xFF:
			p.state = psLen
		case 0x00:
		default:
			p.state = psIdle
		}
	case psLen:
		p.length = int(c)
		p.state = psLCS
	case psLCS:
		switch {
		case p.length == 0x00 && c == 0xFF:
			p.state = psIdle
			return frame{kind: fkACK}, true
		case p.length == 0xFF && c == 0x00:
			p.state = psIdle
			return frame{kind: fkNACK}, true
		case p.length == 0xFF && c == 0xFF:
			p.state = psExtHi
		case byte(p.length)+c == 0 && p.length > 0:
			p.state, p.buf = psBody, p.buf[:0]
		default:
			p.state = psIdle // bad LCS: resynchronise
			if c == 0x00 {
				p.state = psZero
			}
		}
	case psExtHi:
		p.lenHi, p.state = c, psExtLo
	case psExtLo:
		p.length = int(p.lenHi)<<8 | int(c)
		p.state = psExtLCS
	case psExtLCS:
		if p.lenHi+byte(p.length)+c != 0 || p.length == 0 {
			p.state = psIdle
			return frame{}, false
		}
		if p.length > maxData {
			p.state = psIdle
			return frame{kind: fkBad, reason: fmt.Sprintf("extended frame of %d bytes, more than %d", p.length, maxData)}, true
		}
		p.state, p.buf = psBody, p.buf[:0]
	case psBody:
		p.buf = append(p.buf, c)
		if len(p.buf) == p.length {
			p.state = psDCS
		}
	case psDCS:
		p.state = psIdle
		var sum byte
		for _, b := range p.buf {
			sum += b
		}
		if sum+c != 0 {
			return frame{kind: fkBad, reason: fmt.Sprintf("DCS 0x%02X, want 0x%02X", c, -sum)}, true
		}
		if len(p.buf) == 1 && p.buf[0] == 0x7F {
			return frame{kind: fkError}, true
		}
		data := append([]byte(nil), p.buf[1:]...)
		return frame{kind: fkInfo, tfi: p.buf[0], data: data}, true
	}
	return frame{}, false
}
