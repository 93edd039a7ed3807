package trace

import (
	"bytes"
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
