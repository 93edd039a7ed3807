package acr122

import (
	"encoding/binary"
	"fmt"

	"github.com/encoderlab/encoderlab/sim/model"
)

// newDecoder reads one direction of the line, vpcd's messages (a 2-byte
// big-endian length, then the payload), as the trace and `encodersim
// tap` show them: pcscd's controls, the reader's pseudo-APDUs by name
// (ACR122U API 4.1, 5.1–5.4) and the answers with their status words.
// Whether a message is a command or an answer is told from its bytes, as
// the decoder is not told its direction: a command is class FF with a
// known instruction and the length its P3 gives.
func newDecoder() model.Decoder { return &decoder{} }

type decoder struct{ buf []byte }

func (d *decoder) Feed(b []byte) []string {
	d.buf = append(d.buf, b...)
	var out []string
	for len(d.buf) >= 2 {
		n := int(binary.BigEndian.Uint16(d.buf))
		if len(d.buf) < 2+n {
			break
		}
		out = append(out, describe(d.buf[2:2+n]))
		d.buf = d.buf[2+n:]
	}
	return out
}

// describe names one message.
func describe(m []byte) string {
	switch len(m) {
	case 0:
		return "eject (empty answer: the card left)"
	case 1:
		switch m[0] {
		case ctrlOff:
			return "power off"
		case ctrlOn:
			return "power on"
		case ctrlReset:
			return "reset"
		case ctrlATR:
			return "ATR?"
		}
		return fmt.Sprintf("control %02X", m[0])
	}
	if s, ok := command(m); ok {
		return s
	}
	if m[0] == 0x3B {
		return fmt.Sprintf("ATR % X", m)
	}
	data, sw := m[:len(m)-2], m[len(m)-2:]
	if len(data) == 0 {
		return fmt.Sprintf("SW %02X %02X", sw[0], sw[1])
	}
	return fmt.Sprintf("% X, SW %02X %02X", data, sw[0], sw[1])
}

// command names m when it is one of the reader's pseudo-APDUs: class FF,
// a known instruction, and a length its P3 accounts for.
func command(m []byte) (string, bool) {
	if len(m) < 5 || m[0] != 0xFF {
		return "", false
	}
	ins, p1, p2, p3 := m[1], m[2], m[3], int(m[4])
	body := m[5:]
	key := func(t byte) string {
		switch t {
		case 0x60:
			return "key A"
		case 0x61:
			return "key B"
		}
		return fmt.Sprintf("key type %02X", t)
	}
	switch {
	case ins == 0xCA && len(body) == 0 && p1 == 0x00:
		return fmt.Sprintf("get UID (Le %02X)", p3), true
	case ins == 0xCA && len(body) == 0 && p1 == 0x01:
		return fmt.Sprintf("get ATS (Le %02X)", p3), true
	case ins == 0x82 && len(body) == p3 && p3 == 6:
		return fmt.Sprintf("load key % X into location %02X", body, p2), true
	case ins == 0x86 && len(body) == p3 && p3 == 5:
		return fmt.Sprintf("authenticate block %d with %s, location %02X", body[2], key(body[3]), body[4]), true
	case ins == 0x88 && len(body) == 1:
		return fmt.Sprintf("authenticate block %d with %s, location %02X (obsolete form)", p2, key(m[4]), body[0]), true
	case ins == 0xB0 && len(body) == 0:
		return fmt.Sprintf("read binary block %d (Le %d)", p2, p3), true
	case ins == 0xD6 && len(body) == p3 && p3 > 0:
		return fmt.Sprintf("update binary block %d: % X", p2, body), true
	}
	return "", false
}
