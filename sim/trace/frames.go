package trace

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/encoderlab/encoderlab/sim/model"
)

// Protocols lists the protocols whose frames NewDecoder can decode: those
// of the registered models (model.Protocols).
func Protocols() []string { return model.Protocols() }

// Decoder turns a byte stream, fed in chunks as it crossed the line, into
// the frames (or control bytes) each chunk completes, as text for people
// (model.Decoder).
type Decoder = model.Decoder

// NewDecoder returns a decoder for one direction of a protocol's line:
// the protocol's own, as its model registered it.
func NewDecoder(protocol string) (Decoder, error) {
	if p, ok := model.ProtocolOf(protocol); ok && p.NewDecoder != nil {
		return p.NewDecoder(), nil
	}
	return nil, fmt.Errorf("trace: no frame decoder for protocol %q (want one of %s)", protocol, strings.Join(Protocols(), ", "))
}

// NewPMSDecoder decodes one direction of a PMS line
// (docs/protocols/pms.md): the PMS model's decoder.
func NewPMSDecoder() Decoder { return &pmsDecoder{} }

// NewPN532Decoder decodes one direction of a PN532 line
// (docs/protocols/pn532.md): the PN532 model's decoder.
func NewPN532Decoder() Decoder { return &pn532Decoder{} }

// PMS link bytes (docs/protocols/pms.md, Bytes).
const (
	PMSSTX = 0x02
	PMSETX = 0x03
	PMSENQ = 0x05
	PMSACK = 0x06
	PMSNAK = 0x15
	PMSFS  = 0xB3
	// PMSMaxFrame is the longest frame, STX to LRC inclusive.
	PMSMaxFrame = 255
)

// PMSControl names the PMS control bytes a frame text may be.
var PMSControl = map[string]byte{"ENQ": PMSENQ, "ACK": PMSACK, "NAK": PMSNAK}

// PMSLRC is the XOR of body: the bytes after STX up to and including ETX.
func PMSLRC(body []byte) byte {
	var x byte
	for _, c := range body {
		x ^= c
	}
	return x
}

// PMSFrame builds the frame carrying fields, with its LRC. It refuses a
// field byte the protocol does not allow and a frame over PMSMaxFrame,
// since a replayed frame must be one a device could send.
func PMSFrame(fields []string) ([]byte, error) {
	out := []byte{PMSSTX}
	for i, f := range fields {
		if i > 0 {
			out = append(out, PMSFS)
		}
		for j := 0; j < len(f); j++ {
			if c := f[j]; c < 0x20 || c > 0x7E {
				return nil, fmt.Errorf("pms frame: field %d: byte %#02x is not printable ASCII", i, c)
			}
		}
		out = append(out, f...)
	}
	out = append(out, PMSETX)
	out = append(out, PMSLRC(out[1:]))
	if len(out) > PMSMaxFrame {
		return nil, fmt.Errorf("pms frame: %d bytes, the protocol allows %d", len(out), PMSMaxFrame)
	}
	return out, nil
}

// PMSSplit checks a whole frame (STX … ETX LRC) and returns its fields.
func PMSSplit(frame []byte) ([]string, error) {
	n := len(frame)
	if n < 3 || frame[0] != PMSSTX || frame[n-2] != PMSETX {
		return nil, errors.New("pms frame: want STX … ETX LRC")
	}
	if got, want := frame[n-1], PMSLRC(frame[1:n-1]); got != want {
		return nil, fmt.Errorf("pms frame: LRC %02X, want %02X", got, want)
	}
	body := frame[1 : n-2]
	for _, c := range body {
		if c != PMSFS && (c < 0x20 || c > 0x7E) {
			return nil, fmt.Errorf("pms frame: byte %#02x inside a field", c)
		}
	}
	return strings.Split(string(body), string([]byte{PMSFS})), nil
}

// pmsDecoder follows the PMS framing rules: control bytes outside a
// frame, STX … ETX LRC frames, an STX inside a frame restarting it.
type pmsDecoder struct {
	frame  []byte // the frame being read, from STX; nil outside a frame
	gotETX bool   // the next byte is the LRC
}

func (d *pmsDecoder) Feed(b []byte) []string {
	var out []string
	for _, c := range b {
		switch {
		case d.frame == nil:
			switch c {
			case PMSSTX:
				d.frame = []byte{c}
			case PMSENQ:
				out = append(out, "ENQ")
			case PMSACK:
				out = append(out, "ACK")
			case PMSNAK:
				out = append(out, "NAK")
			default:
				out = append(out, fmt.Sprintf("noise %02X", c))
			}
		case d.gotETX:
			d.frame = append(d.frame, c)
			out = append(out, DescribePMS(d.frame))
			d.frame, d.gotETX = nil, false
		case c == PMSSTX:
			out = append(out, "partial frame discarded")
			d.frame = []byte{c}
		default:
			d.frame = append(d.frame, c)
			d.gotETX = c == PMSETX
			if len(d.frame) >= PMSMaxFrame {
				out = append(out, "over-long frame")
				d.frame, d.gotETX = nil, false
			}
		}
	}
	return out
}

// DescribePMS is the frame text of a whole PMS frame or control byte, or
// a description of what is wrong with it.
func DescribePMS(b []byte) string {
	if len(b) == 1 {
		for name, c := range PMSControl {
			if b[0] == c {
				return name
			}
		}
	}
	fields, err := PMSSplit(b)
	if err != nil {
		return fmt.Sprintf("bad frame (%v)", strings.TrimPrefix(err.Error(), "pms frame: "))
	}
	return FormatFields(fields)
}

// FormatFields writes fields as frame text: separated by single spaces,
// each bare when it can be, else quoted as a Go string. A field is quoted
// when it is empty, holds a space, a quote or a backslash, or starts
// with '*' or '$' (which frame patterns reserve).
func FormatFields(fields []string) string {
	var b strings.Builder
	for i, f := range fields {
		if i > 0 {
			b.WriteByte(' ')
		}
		if f == "" || strings.ContainsAny(f, " \"\\") || f[0] == '*' || f[0] == '$' {
			b.WriteString(strconv.Quote(f))
		} else {
			b.WriteString(f)
		}
	}
	return b.String()
}

// Token is one field of a frame text.
type Token struct {
	Text string
	// Quoted is true when the field was written quoted: its text is
	// literal even if it starts with '*' or '$'.
	Quoted bool
}

// ParseFields splits a frame text written by FormatFields (or by hand)
// into its fields.
func ParseFields(s string) ([]Token, error) {
	var out []Token
	for i := 0; i < len(s); {
		if s[i] == ' ' {
			return nil, fmt.Errorf("frame %q: fields are separated by one space (at byte %d)", s, i)
		}
		if s[i] == '"' {
			q, err := strconv.QuotedPrefix(s[i:])
			if err != nil {
				return nil, fmt.Errorf("frame %q: unterminated quoted field at byte %d", s, i)
			}
			text, _ := strconv.Unquote(q)
			out = append(out, Token{Text: text, Quoted: true})
			i += len(q)
		} else {
			j := strings.IndexByte(s[i:], ' ')
			if j < 0 {
				j = len(s) - i
			}
			field := s[i : i+j]
			if strings.ContainsAny(field, "\"\\") {
				return nil, fmt.Errorf("frame %q: field %q must be quoted", s, field)
			}
			out = append(out, Token{Text: field})
			i += j
		}
		if i < len(s) {
			if s[i] != ' ' || i == len(s)-1 {
				return nil, fmt.Errorf("frame %q: want one space between fields at byte %d", s, i)
			}
			i++
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("frame %q has no fields", s)
	}
	return out, nil
}
