package replay

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/encoderlab/encoderlab/sim/scenario"
	"github.com/encoderlab/encoderlab/sim/trace"
)

// pn532Control is the link frame a PN532 frame text names alone.
func pn532Control(b *scenario.Bytes) ([]byte, bool) {
	if len(b.Fields) != 1 {
		return nil, false
	}
	switch b.Fields[0].Text {
	case "ACK":
		return trace.PN532ACK, true
	case "NACK":
		return trace.PN532NACK, true
	}
	return nil, false
}

// literalByte is a PN532 field's byte, when it is a literal.
func literalByte(f scenario.Field) (byte, error) {
	v, err := hex.DecodeString(f.Text)
	if err != nil || len(v) != 1 {
		return 0, fmt.Errorf("pn532 frame: field %q is not one byte in hex", f.Text)
	}
	return v[0], nil
}

// exactPN532 is the whole frame b names, when it has no patterns.
func exactPN532(b *scenario.Bytes) []byte {
	if c, ok := pn532Control(b); ok {
		return c
	}
	body := make([]byte, 0, len(b.Fields))
	for _, f := range b.Fields {
		if f.Any || f.Capture != "" {
			return nil
		}
		c, err := literalByte(f)
		if err != nil {
			return nil
		}
		body = append(body, c)
	}
	out, err := trace.PN532Frame(body)
	if err != nil {
		return nil
	}
	return out
}

// renderPN532 builds the bytes of a PN532 send step. d.mu is held.
func (d *Device) renderPN532(b *scenario.Bytes) ([]byte, error) {
	if c, ok := pn532Control(b); ok {
		return c, nil
	}
	var body []byte
	for _, f := range b.Fields {
		switch {
		case f.Any:
			return nil, errors.New("'*' cannot be sent")
		case f.Capture != "":
			v, ok := d.captures[f.Capture]
			if !ok {
				return nil, fmt.Errorf("$%s was not captured", f.Capture)
			}
			if f.Len != 0 && f.Len != len(v) {
				return nil, fmt.Errorf("$%s:%d, but $%s took %d byte(s)", f.Capture, f.Len, f.Capture, len(v))
			}
			body = append(body, v...)
		default:
			c, err := literalByte(f)
			if err != nil {
				return nil, err
			}
			body = append(body, c)
		}
	}
	return trace.PN532Frame(body)
}

// pn532Head is a normal frame's preamble and start code.
var pn532Head = []byte{0x00, 0x00, 0xFF}

// matchPN532 matches one whole PN532 frame at the start of buf against
// b. It reads the received frame to its end (by its own LEN) before
// judging it, so a mismatch shows the whole frame the host sent.
// Captures are taken only when the whole frame matches. d.mu is held.
func (d *Device) matchPN532(b *scenario.Bytes, buf []byte) (verdict, int, string) {
	if c, ok := pn532Control(b); ok {
		for i := 0; i < len(buf) && i < len(c); i++ {
			if buf[i] != c[i] {
				return mismatched, i + 1, fmt.Sprintf("byte %d is %02X, want %02X (%s)", i, buf[i], c[i], b.Fields[0].Text)
			}
		}
		if len(buf) < len(c) {
			return needMore, 0, ""
		}
		return matched, len(c), ""
	}
	for i := 0; i < len(buf) && i < len(pn532Head); i++ {
		if buf[i] != pn532Head[i] {
			return mismatched, i + 1, fmt.Sprintf("byte %d is %02X, want %02X: a frame starts 00 00 FF", i, buf[i], pn532Head[i])
		}
	}
	if len(buf) < 5 {
		return needMore, 0, ""
	}
	ln, lcs := buf[3], buf[4]
	switch {
	case ln == 0x00 && lcs == 0xFF, ln == 0xFF && lcs == 0x00:
		if len(buf) < 6 {
			return needMore, 0, ""
		}
		name := "ACK"
		if ln == 0xFF {
			name = "NACK"
		}
		return mismatched, 6, "got " + name + ", want an information frame"
	case ln == 0xFF && lcs == 0xFF:
		return mismatched, 5, "got an extended frame, which frame text does not describe (write it as hex)"
	case ln+lcs != 0:
		return mismatched, 5, fmt.Sprintf("LCS %02X does not check LEN %02X", lcs, ln)
	}
	n := 5 + int(ln) + 2 // body, DCS, postamble
	if len(buf) < n {
		return needMore, 0, ""
	}
	body, err := trace.PN532Body(buf[:n])
	if err != nil {
		return mismatched, n, err.Error()
	}
	taken := map[string]string{}
	want := 0
	for _, f := range b.Fields {
		switch {
		case f.Any:
			want += max(f.Len, 1)
		case f.Capture != "":
			prev, ok := d.captures[f.Capture]
			if !ok {
				prev, ok = taken[f.Capture]
			}
			if ok {
				want += len(prev)
			} else {
				want += max(f.Len, 1)
			}
		default:
			want++
		}
	}
	if len(body) != want {
		return mismatched, n, fmt.Sprintf("%d bytes of TFI and data (LEN %02X), want %d", len(body), ln, want)
	}
	at := 0
	for _, f := range b.Fields {
		switch {
		case f.Any:
			at += max(f.Len, 1)
		case f.Capture != "":
			prev, ok := d.captures[f.Capture]
			if !ok {
				prev, ok = taken[f.Capture]
			}
			k := max(f.Len, 1)
			if ok {
				k = len(prev)
			}
			got := body[at : at+k]
			if ok && !bytes.Equal(got, []byte(prev)) {
				return mismatched, n, fmt.Sprintf("bytes %d–%d are % X, want $%s = % X", at, at+k-1, got, f.Capture, []byte(prev))
			}
			taken[f.Capture] = string(got)
			at += k
		default:
			c, err := literalByte(f)
			if err != nil {
				return mismatched, n, err.Error()
			}
			if body[at] != c {
				return mismatched, n, fmt.Sprintf("byte %d (%s) is %02X, want %02X", at, pn532Position(at), body[at], c)
			}
			at++
		}
	}
	for k, v := range taken {
		d.captures[k] = v
	}
	return matched, n, ""
}

// pn532Position names byte i of a frame's TFI and data.
func pn532Position(i int) string {
	if i == 0 {
		return "TFI"
	}
	return fmt.Sprintf("PD%d", i-1)
}
