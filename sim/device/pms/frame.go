package pms

import "fmt"

// Link-control bytes and the field separator (docs/protocols/pms.md, Bytes).
const (
	stx = 0x02
	etx = 0x03
	enq = 0x05
	ack = 0x06
	nak = 0x15
	fs  = 0xB3
)

// maxFrame is the longest frame, STX to LRC inclusive.
const maxFrame = 255

// lrc is the XOR of body, which runs from the byte after STX up to and
// including ETX.
func lrc(body []byte) byte {
	var x byte
	for _, b := range body {
		x ^= b
	}
	return x
}

// encode builds the frame carrying fields. The device builds every frame
// it sends from its own data, so a byte a field must not carry is replaced
// by '?' rather than failing the answer, and an over-long frame is cut at
// its last field.
func encode(fields ...string) []byte {
	out := make([]byte, 0, 64)
	out = append(out, stx)
	for i, f := range fields {
		if i > 0 {
			out = append(out, fs)
		}
		for j := 0; j < len(f); j++ {
			c := f[j]
			if c < 0x20 || c > 0x7E {
				c = '?'
			}
			out = append(out, c)
		}
	}
	if len(out) > maxFrame-2 {
		out = out[:maxFrame-2]
	}
	out = append(out, etx)
	return append(out, lrc(out[1:]))
}

// eventKind is what the parser recognised in the received byte stream.
type eventKind int

const (
	evENQ eventKind = iota + 1
	evACK
	evNAK
	// evFrame is a well-formed frame with a correct LRC.
	evFrame
	// evBadFrame is a frame to be NAKed: wrong LRC, a field byte out of
	// range, too long, or cut short.
	evBadFrame
)

// event is one thing recognised in the byte stream.
type event struct {
	kind eventKind
	// raw is the frame's bytes, STX to LRC (evFrame and evBadFrame).
	raw []byte
	// fields are the frame's fields (evFrame).
	fields []string
	// reason says why a frame is bad (evBadFrame).
	reason string
}

type parseState int

const (
	// outside a frame: only STX, ENQ, ACK and NAK mean anything.
	stIdle parseState = iota
	// inside a frame's body, before ETX.
	stBody
	// ETX seen; the next byte is the LRC.
	stLRC
	// the frame grew too long and was rejected; skip to its end.
	stSkip
	// skipping an over-long frame and its ETX was seen; skip its LRC.
	stSkipLRC
)

// parser splits a received byte stream into link events. The zero value
// is ready to use.
type parser struct {
	state parseState
	buf   []byte // STX and the body so far
}

// inFrame reports whether a frame has started and not ended, which is
// what the inter-byte timeout guards.
func (p *parser) inFrame() bool { return p.state != stIdle }

// abort ends a frame that stopped arriving (no ETX) and reports it bad.
// It reports nothing for a frame already rejected as over-long.
func (p *parser) abort() (event, bool) {
	st := p.state
	raw := p.buf
	p.reset()
	if st == stBody || st == stLRC {
		return event{kind: evBadFrame, raw: raw, reason: "frame cut short (no ETX or LRC)"}, true
	}
	return event{}, false
}

func (p *parser) reset() {
	p.state = stIdle
	p.buf = nil
}

// feed takes one received byte and returns the event it completes, if any.
func (p *parser) feed(b byte) (event, bool) {
	switch p.state {
	case stIdle:
		switch b {
		case stx:
			p.start()
		case enq:
			return event{kind: evENQ}, true
		case ack:
			return event{kind: evACK}, true
		case nak:
			return event{kind: evNAK}, true
		}
		// Anything else outside a frame is line noise.
		return event{}, false
	case stBody:
		switch b {
		case stx:
			// A new frame starts; the partial one is dropped.
			p.start()
			return event{}, false
		case etx:
			p.buf = append(p.buf, b)
			p.state = stLRC
			return event{}, false
		}
		p.buf = append(p.buf, b)
		// The frame still needs ETX and LRC after this byte.
		if len(p.buf)+2 > maxFrame {
			raw := p.buf
			p.buf = nil
			p.state = stSkip
			return event{kind: evBadFrame, raw: raw, reason: fmt.Sprintf("frame longer than %d bytes", maxFrame)}, true
		}
		return event{}, false
	case stLRC:
		raw := append(p.buf, b)
		p.reset()
		return check(raw), true
	case stSkip:
		switch b {
		case stx:
			p.start()
		case etx:
			p.state = stSkipLRC
		}
		return event{}, false
	case stSkipLRC:
		p.reset()
		return event{}, false
	}
	p.reset()
	return event{}, false
}

func (p *parser) start() {
	p.state = stBody
	p.buf = append(make([]byte, 0, 64), stx)
}

// check validates a complete frame, STX to LRC.
func check(raw []byte) event {
	body := raw[1 : len(raw)-1] // after STX, up to and including ETX
	if got, want := raw[len(raw)-1], lrc(body); got != want {
		return event{kind: evBadFrame, raw: raw, reason: fmt.Sprintf("LRC 0x%02X, want 0x%02X", got, want)}
	}
	data := body[:len(body)-1]
	fields := []string{}
	startField := 0
	for i, c := range data {
		if c == fs {
			fields = append(fields, string(data[startField:i]))
			startField = i + 1
			continue
		}
		if c < 0x20 || c > 0x7E {
			return event{kind: evBadFrame, raw: raw, reason: fmt.Sprintf("byte 0x%02X at position %d is not printable", c, i+1)}
		}
	}
	fields = append(fields, string(data[startField:]))
	return event{kind: evFrame, raw: raw, fields: fields}
}
