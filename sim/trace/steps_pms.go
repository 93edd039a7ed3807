package trace

import (
	"errors"
	"fmt"
	"strings"

	"github.com/encoderlab/encoderlab/sim/model"
)

// PMSFrameText compiles PMS frame text (the PMS model's
// model.Protocol.Frames): fields separated by single spaces, as
// FormatFields writes them, or ENQ, ACK or NAK alone for a control byte.
// `*` matches any field (expect only); `$name` takes the field's text
// the first time, must match it after, and in a send writes it back (a
// card id the host chose, echoed in the answer). A quoted field ("Room
// 101", "") is literal. The LRC of every expected frame must be right;
// the LRC of a sent frame is computed.
var PMSFrameText model.Frames = pmsFrameText{}

type pmsFrameText struct{}

// PMSStep is a compiled PMS frame step.
type PMSStep struct {
	// Fields are the frame's fields, or a control byte's name alone.
	Fields []FrameField
}

func (pmsFrameText) Parse(text string, send bool) (model.FrameStep, error) {
	toks, err := ParseFields(text)
	if err != nil {
		return nil, err
	}
	out := &PMSStep{}
	for _, t := range toks {
		fld := FrameField{Text: t.Text}
		switch {
		case t.Quoted:
		case t.Text == "*":
			if send {
				return nil, errors.New("'*' matches any field and cannot be sent; write the text (or a $name an expect captured)")
			}
			fld = FrameField{Any: true}
		case strings.HasPrefix(t.Text, "$"):
			if !captureName.MatchString(t.Text) {
				return nil, fmt.Errorf("capture %q must be $ and a lower-case name", t.Text)
			}
			fld = FrameField{Capture: t.Text[1:]}
		case strings.HasPrefix(t.Text, "*"):
			return nil, fmt.Errorf("field %q: quote it for a literal '*'", t.Text)
		}
		out.Fields = append(out.Fields, fld)
	}
	return out, nil
}

// Captures lists the step's captures.
func (s *PMSStep) Captures() []string { return capturesOf(s.Fields) }

// control is the control byte the step names alone.
func (s *PMSStep) control() (byte, bool) {
	if len(s.Fields) != 1 || s.Fields[0].Any || s.Fields[0].Capture != "" {
		return 0, false
	}
	c, ok := PMSControl[s.Fields[0].Text]
	return c, ok
}

// Exact is the frame or control byte the step names, without patterns.
func (s *PMSStep) Exact() []byte {
	if c, ok := s.control(); ok {
		return []byte{c}
	}
	fields := make([]string, len(s.Fields))
	for i, f := range s.Fields {
		if f.Any || f.Capture != "" {
			return nil
		}
		fields[i] = f.Text
	}
	out, err := PMSFrame(fields)
	if err != nil {
		return nil
	}
	return out
}

// Render is the frame a send step writes, captures filled in, with its
// LRC.
func (s *PMSStep) Render(captures map[string]string) ([]byte, error) {
	fields := make([]string, len(s.Fields))
	for i, f := range s.Fields {
		switch {
		case f.Capture != "":
			v, ok := captures[f.Capture]
			if !ok {
				return nil, fmt.Errorf("$%s was not captured", f.Capture)
			}
			fields[i] = v
		case f.Any:
			return nil, errors.New("'*' cannot be sent")
		default:
			fields[i] = f.Text
		}
	}
	if len(fields) == 1 {
		if c, ok := PMSControl[fields[0]]; ok {
			return []byte{c}, nil
		}
	}
	return PMSFrame(fields)
}

// Match matches one control byte, or one whole frame, at the start of
// buf. A frame's captures are taken only when all of it matches.
func (s *PMSStep) Match(buf []byte, captures map[string]string) (model.Verdict, int, string) {
	if c, ok := s.control(); ok {
		switch {
		case len(buf) == 0:
			return model.NeedMore, 0, ""
		case buf[0] != c:
			return model.Mismatched, 1, fmt.Sprintf("want %s", s.Fields[0].Text)
		}
		return model.Matched, 1, ""
	}
	if len(buf) == 0 {
		return model.NeedMore, 0, ""
	}
	if buf[0] != PMSSTX {
		return model.Mismatched, 1, "want a frame (STX)"
	}
	end := -1
	for i := 1; i < len(buf); i++ {
		if buf[i] == PMSETX {
			end = i + 1 // the LRC
			break
		}
	}
	if end < 0 || end >= len(buf) {
		if len(buf) >= PMSMaxFrame {
			return model.Mismatched, len(buf), "no ETX within the longest frame"
		}
		return model.NeedMore, 0, ""
	}
	n := end + 1
	got, err := PMSSplit(buf[:n])
	if err != nil {
		return model.Mismatched, n, err.Error()
	}
	if len(got) != len(s.Fields) {
		return model.Mismatched, n, fmt.Sprintf("%d fields, want %d", len(got), len(s.Fields))
	}
	taken := map[string]string{}
	for i, f := range s.Fields {
		switch {
		case f.Any:
		case f.Capture != "":
			prev, ok := captures[f.Capture]
			if !ok {
				prev, ok = taken[f.Capture]
			}
			if ok && prev != got[i] {
				return model.Mismatched, n, fmt.Sprintf("field %d is %q, want $%s = %q", i, got[i], f.Capture, prev)
			}
			taken[f.Capture] = got[i]
		case f.Text != got[i]:
			return model.Mismatched, n, fmt.Sprintf("field %d is %q, want %q", i, got[i], f.Text)
		}
	}
	for k, v := range taken {
		captures[k] = v
	}
	return model.Matched, n, ""
}
