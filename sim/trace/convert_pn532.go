package trace

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/encoderlab/encoderlab/sim/model"
)

// pn532Converter turns a PN532 trace's units into replay steps: the
// PN532 model's converter (model.Protocol.NewConverter).
type pn532Converter struct {
	redacted map[string]bool // what the recorder blanked out, e.g. "pn532:keys"
	state    pn532State
}

// NewPN532Converter returns the PN532 model's converter; redacted are
// the fields the recording blanked, whose bytes become wildcards.
func NewPN532Converter(redacted map[string]bool) model.Converter {
	return &pn532Converter{redacted: redacted}
}

// PN532 command codes and MIFARE sizes the converter reads (the MIFARE
// commands are redact.go's)
// (docs/protocols/pn532.md, Commands and Cards).
const (
	pn532HostTFI        = 0xD4
	pn532ChipTFI        = 0xD5
	pn532InDataExchange = 0x40
	mifareBlockSize     = 16
	mifareKeySize       = 6
)

// credentialBlock reports whether b is a data block of the credential
// sector (docs/protocols/pn532.md, Card layout): what the host writes
// there changes with every credential.
func credentialBlock(b byte) bool { return b >= 4 && b <= 6 }

// pn532State follows the blocks written and read, so an answer that
// reads back what the host wrote becomes the capture of that write.
type pn532State struct {
	block    map[byte]string // block → the capture holding its last write
	value    map[string][]byte
	writes   map[byte]int // block → writes seen, for fresh capture names
	reading  int          // the block the last read asked for
	expected bool         // a read awaits its answer: reading is set
}

// Unit is the length of the complete unit at the start of b: the
// bytes before a frame (wake-up, noise), a frame from its preamble to its
// postamble, or, for a start code whose length check fails, the start
// code and the length bytes; 0 when the unit is not complete yet.
func (c *pn532Converter) Unit(b []byte) int {
	i := bytes.Index(b, []byte{0x00, 0xFF})
	if i < 0 {
		return 0 // no frame yet; what came is written when the other side speaks, or at the end
	}
	start := i
	if i > 0 && b[i-1] == 0x00 {
		start = i - 1 // the preamble
	}
	if start > 0 {
		return start
	}
	h := i + 2 // LEN
	if len(b) < h+2 {
		return 0
	}
	ln, lcs := b[h], b[h+1]
	var end int
	switch {
	case ln == 0x00 && lcs == 0xFF, ln == 0xFF && lcs == 0x00: // ACK, NACK
		end = h + 2
	case ln == 0xFF && lcs == 0xFF: // extended: LENM LENL LCS
		if len(b) < h+5 {
			return 0
		}
		m, l, xl := b[h+2], b[h+3], b[h+4]
		if m+l+xl != 0 {
			return h + 2
		}
		end = h + 5 + (int(m)<<8 | int(l)) + 1
	case ln+lcs != 0:
		return h + 2
	default:
		end = h + 2 + int(ln) + 1
	}
	// The postamble: wait for the byte after the frame to tell whether
	// it is one.
	if len(b) <= end {
		return 0
	}
	if b[end] == 0x00 {
		end++
	}
	return end
}

// Describe says what a unit written as hex is.
func (c *pn532Converter) Describe(u []byte) string {
	if !bytes.Contains(u, []byte{0x00, 0xFF}) {
		if len(u) >= 2 && u[0] == 0x55 && u[1] == 0x55 && len(bytes.Trim(u[2:], "\x00")) == 0 {
			return "wake-up"
		}
		return "not a frame"
	}
	return DescribePN532(u)
}

// Text is a whole PN532 unit as frame text, with patterns for what
// changes from run to run.
func (c *pn532Converter) Text(fromHost bool, unit []byte) (string, bool) {
	switch {
	case bytes.Equal(unit, PN532ACK):
		return "ACK", true
	case bytes.Equal(unit, PN532NACK):
		return "NACK", true
	}
	body, err := PN532Body(unit)
	if err != nil {
		return "", false
	}
	s := &c.state
	if s.block == nil {
		s.block, s.value, s.writes = map[byte]string{}, map[string][]byte{}, map[byte]int{}
	}
	tokens := make([]string, 0, len(body))
	literal := func(b []byte) {
		for _, x := range b {
			tokens = append(tokens, fmt.Sprintf("%02X", x))
		}
	}
	switch {
	case fromHost && len(body) >= 5 && body[0] == pn532HostTFI && body[1] == pn532InDataExchange:
		s.expected = false
		op, blk := body[3], body[4]
		data := body[5:]
		switch {
		case (op == mifareAuthA || op == mifareAuthB) && len(data) >= mifareKeySize && c.redacted["pn532:keys"]:
			// Blanked when recorded: any key (the run's own keys are not in the trace).
			literal(body[:5])
			tokens = append(tokens, fmt.Sprintf("*:%d", mifareKeySize))
			literal(data[mifareKeySize:])
		case op == mifareWrite && len(data) == mifareBlockSize && credentialBlock(blk):
			// A new credential's data: take it, to echo where it is read back.
			s.writes[blk]++
			name := fmt.Sprintf("block%d", blk)
			if n := s.writes[blk]; n > 1 {
				name = fmt.Sprintf("block%d_%d", blk, n)
			}
			s.block[blk], s.value[name] = name, append([]byte(nil), data...)
			literal(body[:5])
			tokens = append(tokens, fmt.Sprintf("$%s:%d", name, mifareBlockSize))
		case op == mifareWrite && len(data) == mifareBlockSize && c.redacted["pn532:all-data"]:
			literal(body[:5])
			tokens = append(tokens, fmt.Sprintf("*:%d", mifareBlockSize))
		case op == mifareWrite && len(data) == mifareBlockSize && MIFARETrailer(blk) && c.redacted["pn532:keys"]:
			// A sector trailer whose keys were blanked when recorded: any
			// keys, the access bits as written.
			literal(body[:5])
			tokens = append(tokens, fmt.Sprintf("*:%d", mifareKeySize))
			literal(data[mifareKeySize : mifareBlockSize-mifareKeySize])
			tokens = append(tokens, fmt.Sprintf("*:%d", mifareKeySize))
		case op == mifareRead && len(data) == 0:
			s.reading, s.expected = int(blk), true
			literal(body)
		default:
			literal(body)
		}
	case !fromHost && s.expected && len(body) == 3+mifareBlockSize &&
		body[0] == pn532ChipTFI && body[1] == pn532InDataExchange+1 && body[2] == 0x00:
		s.expected = false
		name, ok := s.block[byte(s.reading)]
		if ok && bytes.Equal(body[3:], s.value[name]) {
			literal(body[:3])
			tokens = append(tokens, "$"+name)
		} else {
			literal(body)
		}
	default:
		if fromHost {
			s.expected = false
		}
		literal(body)
	}
	return strings.Join(tokens, " "), true
}
