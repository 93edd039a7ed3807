package trace

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/encoderlab/encoderlab/sim/model"
)

// PN532FrameText compiles PN532 frame text (the PN532 model's
// model.Protocol.Frames): the TFI and data bytes of a normal information
// frame, in hex, separated by single spaces: `D4 4A 01 00`. The
// preamble, start code, LEN, LCS, DCS and postamble are implied: an
// expected frame must carry them right, a sent frame gets them
// computed. `ACK` and `NACK` alone are the link frames. In data
// positions:
//
//   - any one byte (expect only)
//     *:N          any N bytes (expect only)
//     $name        in an expect, takes one byte the first time and must
//     equal what it took after; in a send, writes what it took
//     $name:N      the same for N bytes
//
// (the block data a host wrote, echoed when it reads the block back).
// Extended frames have no frame text: write them as hex.
var PN532FrameText model.Frames = pn532FrameText{}

type pn532FrameText struct{}

var _ model.FrameChecker = pn532FrameText{}

// PN532Step is a compiled PN532 frame step.
type PN532Step struct {
	// Fields are the TFI and data, or ACK or NACK alone.
	Fields []FrameField
	send   bool
}

func (pn532FrameText) Parse(text string, send bool) (model.FrameStep, error) {
	if text == "ACK" || text == "NACK" {
		return &PN532Step{Fields: []FrameField{{Text: text}}, send: send}, nil
	}
	if text == "" {
		return nil, fmt.Errorf("frame %q has no bytes (want the TFI and data in hex, ACK or NACK)", text)
	}
	out := &PN532Step{send: send}
	total := 0
	for i, tok := range strings.Split(text, " ") {
		at := func(format string, args ...any) error {
			return fmt.Errorf("frame %q, byte field %d %q: %s", text, i+1, tok, fmt.Sprintf(format, args...))
		}
		var f FrameField
		switch {
		case tok == "":
			return nil, fmt.Errorf("frame %q: fields are separated by one space", text)
		case tok == "ACK" || tok == "NACK":
			return nil, at("%s is a whole frame: write it alone", tok)
		case tok[0] == '*' || tok[0] == '$':
			pat, n, err := splitLen(tok)
			if err != nil {
				return nil, at("%v", err)
			}
			f.Len = n
			switch {
			case pat == "*":
				if send {
					return nil, at("'*' matches any byte and cannot be sent; write the bytes (or a $name an expect captured)")
				}
				f.Any = true
			case captureName.MatchString(pat):
				f.Capture = pat[1:]
			case pat[0] == '$':
				return nil, at("capture must be $ and a lower-case name, optionally :N bytes")
			default:
				return nil, at("want '*' or '*:N'")
			}
		case len(tok) == 2 && isHex(tok[0]) && isHex(tok[1]):
			f.Text = strings.ToUpper(tok)
		default:
			return nil, at("want a byte in hex (two digits), '*', '*:N', '$name' or '$name:N'")
		}
		total += max(f.Len, 1)
		out.Fields = append(out.Fields, f)
	}
	if total > PN532MaxBody {
		return nil, fmt.Errorf("frame %q: %d bytes of TFI and data, a normal frame carries at most %d (write an extended frame as hex)", text, total, PN532MaxBody)
	}
	return out, nil
}

// splitLen splits `*:16` or `$name:16` into the pattern and its length
// (0 when not written).
func splitLen(tok string) (string, int, error) {
	pat, count, ok := strings.Cut(tok, ":")
	if !ok {
		return pat, 0, nil
	}
	n, err := strconv.Atoi(count)
	if err != nil || n < 1 || n > PN532MaxBody || strconv.Itoa(n) != count {
		return "", 0, fmt.Errorf("byte count %q: want a number from 1 to %d", count, PN532MaxBody)
	}
	return pat, n, nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// Check checks, over the whole timeline, that a $name's length agrees
// wherever it is written with one, and that every frame fits a normal
// frame once captures have their lengths: the first expect of a $name
// fixes how many bytes it takes.
func (pn532FrameText) Check(steps []model.FrameStep, report func(i int, msg string)) {
	took := map[string]int{} // capture → bytes it takes
	for i, st := range steps {
		s, ok := st.(*PN532Step)
		if !ok {
			continue
		}
		total := 0
		for _, f := range s.Fields {
			n := max(f.Len, 1)
			if f.Capture != "" {
				if prev, ok := took[f.Capture]; ok {
					if f.Len != 0 && f.Len != prev {
						report(i, fmt.Sprintf("$%s:%d, but $%s took %d byte(s) earlier", f.Capture, f.Len, f.Capture, prev))
					}
					n = prev
				} else if !s.send {
					took[f.Capture] = n
				}
			}
			total += n
		}
		if total > PN532MaxBody {
			report(i, fmt.Sprintf("%d bytes of TFI and data with captures filled in, a normal frame carries at most %d", total, PN532MaxBody))
		}
	}
}

// Captures lists the step's captures.
func (s *PN532Step) Captures() []string { return capturesOf(s.Fields) }

// control is the link frame the step names alone.
func (s *PN532Step) control() ([]byte, bool) {
	if len(s.Fields) != 1 {
		return nil, false
	}
	switch s.Fields[0].Text {
	case "ACK":
		return PN532ACK, true
	case "NACK":
		return PN532NACK, true
	}
	return nil, false
}

// literalByte is a field's byte, when it is a literal.
func literalByte(f FrameField) (byte, error) {
	v, err := hex.DecodeString(f.Text)
	if err != nil || len(v) != 1 {
		return 0, fmt.Errorf("pn532 frame: field %q is not one byte in hex", f.Text)
	}
	return v[0], nil
}

// Exact is the whole frame the step names, when it has no patterns.
func (s *PN532Step) Exact() []byte {
	if c, ok := s.control(); ok {
		return c
	}
	body := make([]byte, 0, len(s.Fields))
	for _, f := range s.Fields {
		if f.Any || f.Capture != "" {
			return nil
		}
		c, err := literalByte(f)
		if err != nil {
			return nil
		}
		body = append(body, c)
	}
	out, err := PN532Frame(body)
	if err != nil {
		return nil
	}
	return out
}

// Render is the frame a send step writes, captures filled in, with its
// checksums.
func (s *PN532Step) Render(captures map[string]string) ([]byte, error) {
	if c, ok := s.control(); ok {
		return c, nil
	}
	var body []byte
	for _, f := range s.Fields {
		switch {
		case f.Any:
			return nil, errors.New("'*' cannot be sent")
		case f.Capture != "":
			v, ok := captures[f.Capture]
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
	return PN532Frame(body)
}

// pn532Head is a normal frame's preamble and start code.
var pn532Head = []byte{0x00, 0x00, 0xFF}

// Match matches one whole frame at the start of buf. It reads the
// received frame to its end (by its own LEN) before judging it, so a
// mismatch shows the whole frame the host sent. Captures are taken only
// when the whole frame matches.
func (s *PN532Step) Match(buf []byte, captures map[string]string) (model.Verdict, int, string) {
	if c, ok := s.control(); ok {
		for i := 0; i < len(buf) && i < len(c); i++ {
			if buf[i] != c[i] {
				return model.Mismatched, i + 1, fmt.Sprintf("byte %d is %02X, want %02X (%s)", i, buf[i], c[i], s.Fields[0].Text)
			}
		}
		if len(buf) < len(c) {
			return model.NeedMore, 0, ""
		}
		return model.Matched, len(c), ""
	}
	for i := 0; i < len(buf) && i < len(pn532Head); i++ {
		if buf[i] != pn532Head[i] {
			return model.Mismatched, i + 1, fmt.Sprintf("byte %d is %02X, want %02X: a frame starts 00 00 FF", i, buf[i], pn532Head[i])
		}
	}
	if len(buf) < 5 {
		return model.NeedMore, 0, ""
	}
	ln, lcs := buf[3], buf[4]
	switch {
	case ln == 0x00 && lcs == 0xFF, ln == 0xFF && lcs == 0x00:
		if len(buf) < 6 {
			return model.NeedMore, 0, ""
		}
		name := "ACK"
		if ln == 0xFF {
			name = "NACK"
		}
		return model.Mismatched, 6, "got " + name + ", want an information frame"
	case ln == 0xFF && lcs == 0xFF:
		return model.Mismatched, 5, "got an extended frame, which frame text does not describe (write it as hex)"
	case ln+lcs != 0:
		return model.Mismatched, 5, fmt.Sprintf("LCS %02X does not check LEN %02X", lcs, ln)
	}
	n := 5 + int(ln) + 2 // body, DCS, postamble
	if len(buf) < n {
		return model.NeedMore, 0, ""
	}
	body, err := PN532Body(buf[:n])
	if err != nil {
		return model.Mismatched, n, err.Error()
	}
	taken := map[string]string{}
	// took is how many bytes a capture covers here: what it took before,
	// else what it is written with.
	took := func(f FrameField) (string, bool, int) {
		prev, ok := captures[f.Capture]
		if !ok {
			prev, ok = taken[f.Capture]
		}
		if ok {
			return prev, true, len(prev)
		}
		return "", false, max(f.Len, 1)
	}
	want := 0
	for _, f := range s.Fields {
		switch {
		case f.Any:
			want += max(f.Len, 1)
		case f.Capture != "":
			_, _, k := took(f)
			want += k
		default:
			want++
		}
	}
	if len(body) != want {
		return model.Mismatched, n, fmt.Sprintf("%d bytes of TFI and data (LEN %02X), want %d", len(body), ln, want)
	}
	at := 0
	for _, f := range s.Fields {
		switch {
		case f.Any:
			at += max(f.Len, 1)
		case f.Capture != "":
			prev, ok, k := took(f)
			got := body[at : at+k]
			if ok && !bytes.Equal(got, []byte(prev)) {
				return model.Mismatched, n, fmt.Sprintf("bytes %d–%d are % X, want $%s = % X", at, at+k-1, got, f.Capture, []byte(prev))
			}
			taken[f.Capture] = string(got)
			at += k
		default:
			c, err := literalByte(f)
			if err != nil {
				return model.Mismatched, n, err.Error()
			}
			if body[at] != c {
				return model.Mismatched, n, fmt.Sprintf("byte %d (%s) is %02X, want %02X", at, pn532Position(at), body[at], c)
			}
			at++
		}
	}
	for k, v := range taken {
		captures[k] = v
	}
	return model.Matched, n, ""
}

// pn532Position names byte i of a frame's TFI and data.
func pn532Position(i int) string {
	if i == 0 {
		return "TFI"
	}
	return fmt.Sprintf("PD%d", i-1)
}
