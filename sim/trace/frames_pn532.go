package trace

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// pn532Decoder follows PN532 host-interface framing
// (docs/protocols/pn532.md): 00 FF start code, LEN LCS, TFI and data,
// DCS; ACK is 00 FF 00 FF, NACK 00 FF FF 00. Preamble, postamble and
// wake-up bytes between frames are skipped.
type pn532Decoder struct {
	buf []byte
}

func (d *pn532Decoder) Feed(b []byte) []string {
	d.buf = append(d.buf, b...)
	var out []string
	for {
		i := bytes.Index(d.buf, []byte{0x00, 0xFF})
		if i < 0 {
			// Keep a trailing 00: it may start the next start code.
			if n := len(d.buf); n > 0 && d.buf[n-1] == 0x00 {
				d.buf = d.buf[n-1:]
			} else {
				d.buf = d.buf[:0]
			}
			return out
		}
		d.buf = d.buf[i:]
		if len(d.buf) < 4 {
			return out
		}
		ln, lcs := d.buf[2], d.buf[3]
		switch {
		case ln == 0x00 && lcs == 0xFF:
			out = append(out, "ACK")
			d.buf = d.buf[4:]
			continue
		case ln == 0xFF && lcs == 0x00:
			out = append(out, "NACK")
			d.buf = d.buf[4:]
			continue
		case ln == 0xFF && lcs == 0xFF:
			// Extended frame: 00 FF FF FF LENM LENL LCS.
			if len(d.buf) < 7 {
				return out
			}
			n := int(d.buf[4])<<8 | int(d.buf[5])
			if byte(d.buf[4]+d.buf[5]+d.buf[6]) != 0 {
				out = append(out, "bad frame (length checksum)")
				d.buf = d.buf[2:]
				continue
			}
			if len(d.buf) < 7+n+1 {
				return out
			}
			out = append(out, describePN532(d.buf[7:7+n], d.buf[7+n]))
			d.buf = d.buf[7+n+1:]
			continue
		case ln+lcs != 0:
			out = append(out, "bad frame (length checksum)")
			d.buf = d.buf[2:]
			continue
		}
		n := int(ln)
		if len(d.buf) < 4+n+1 {
			return out
		}
		out = append(out, describePN532(d.buf[4:4+n], d.buf[4+n]))
		d.buf = d.buf[4+n+1:]
	}
}

// describePN532 is the frame text of a normal frame's TFI and data: the
// bytes in upper-case hex, separated by spaces.
func describePN532(data []byte, dcs byte) string {
	if len(data) == 0 {
		return "bad frame (no TFI)" // a length of 0 that is not an ACK
	}
	var sum byte
	for _, c := range data {
		sum += c
	}
	if sum+dcs != 0 {
		return fmt.Sprintf("bad frame (DCS %02X)", dcs)
	}
	parts := make([]string, len(data))
	for i, c := range data {
		parts[i] = fmt.Sprintf("%02X", c)
	}
	return strings.Join(parts, " ")
}

// PN532 link frames (docs/protocols/pn532.md, Frames), with their
// preamble and postamble.
var (
	PN532ACK  = []byte{0x00, 0x00, 0xFF, 0x00, 0xFF, 0x00}
	PN532NACK = []byte{0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00}
)

// PN532MaxBody is the most TFI and data bytes a normal information frame
// carries (UM0701-02 6.2.1.1): LEN FF with LCS 01. LEN FF with LCS FF
// announces an extended frame instead.
const PN532MaxBody = 255

// PN532Frame builds the normal information frame carrying body (TFI and
// data): preamble, start code, LEN, LCS, body, DCS, postamble.
func PN532Frame(body []byte) ([]byte, error) {
	if len(body) == 0 || len(body) > PN532MaxBody {
		return nil, fmt.Errorf("pn532 frame: %d bytes of TFI and data, a normal frame carries 1 to %d", len(body), PN532MaxBody)
	}
	out := make([]byte, 0, len(body)+7)
	n := byte(len(body))
	out = append(out, 0x00, 0x00, 0xFF, n, -n)
	var sum byte
	for _, c := range body {
		sum += c
	}
	out = append(out, body...)
	return append(out, -sum, 0x00), nil
}

// PN532Body checks a whole normal information frame, from its preamble
// to its postamble as PN532Frame writes it, and returns its TFI and data.
func PN532Body(frame []byte) ([]byte, error) {
	n := len(frame)
	if n < 8 || frame[0] != 0x00 || frame[1] != 0x00 || frame[2] != 0xFF {
		return nil, errors.New("pn532 frame: want 00 00 FF LEN LCS TFI … DCS 00")
	}
	ln, lcs := frame[3], frame[4]
	switch {
	case ln == 0xFF && lcs == 0xFF:
		return nil, errors.New("pn532 frame: an extended frame")
	case ln+lcs != 0:
		return nil, fmt.Errorf("pn532 frame: LCS %02X does not check LEN %02X", lcs, ln)
	case int(ln) == 0 || int(ln) > PN532MaxBody:
		return nil, fmt.Errorf("pn532 frame: LEN %02X", ln)
	case n != int(ln)+7:
		return nil, fmt.Errorf("pn532 frame: %d bytes, LEN %02X makes %d", n, ln, int(ln)+7)
	}
	body := frame[5 : 5+int(ln)]
	var sum byte
	for _, c := range body {
		sum += c
	}
	if dcs := frame[5+int(ln)]; sum+dcs != 0 {
		return nil, fmt.Errorf("pn532 frame: DCS %02X, want %02X", dcs, -sum)
	}
	if frame[n-1] != 0x00 {
		return nil, fmt.Errorf("pn532 frame: postamble %02X, want 00", frame[n-1])
	}
	return body, nil
}

// DescribePN532 is the frame text of a whole PN532 unit as PN532Frame,
// PN532ACK or PN532NACK write it (`ACK`, `NACK`, or the TFI and data in
// hex such as `D4 4A 01 00`), or a description of what is wrong with it.
func DescribePN532(b []byte) string {
	switch {
	case bytes.Equal(b, PN532ACK):
		return "ACK"
	case bytes.Equal(b, PN532NACK):
		return "NACK"
	}
	body, err := PN532Body(b)
	if err != nil {
		return fmt.Sprintf("bad frame (%v)", strings.TrimPrefix(err.Error(), "pn532 frame: "))
	}
	return describePN532(body, -sumOf(body))
}

func sumOf(b []byte) byte {
	var s byte
	for _, c := range b {
		s += c
	}
	return s
}
