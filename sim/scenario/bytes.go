package scenario

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/encoderlab/encoderlab/sim/trace"
)

// Byte-level operations, played by a ByteDevice (the replay model):
// the host must send what an expect step says, then the device sends what
// a send step says. A wait between them is the device's delay.
const (
	OpExpect Op = "expect" // Bytes: what the host must send next
	OpSend   Op = "send"   // Bytes: what the device sends now
)

// ReplayModel is the device model that plays byte-level steps.
const ReplayModel = "replay"

// Bytes is what an expect or send step matches or sends: exact bytes,
// or a frame of the encoder's protocol written as frame text.
type Bytes struct {
	// Hex is the exact bytes (when Frame is "").
	Hex []byte
	// Frame is the frame text as written, e.g. `CN 01 $cardid G * * *`
	// or `ACK` (pms), `D4 40 01 A0 04 $block4:16` or `NACK` (pn532).
	Frame string
	// Fields are Frame's fields: PMS fields, or the PN532 frame's TFI
	// and data bytes (see Field).
	Fields []Field
}

// Field is one field of a frame pattern. In a PMS frame it is a field's
// text; in a PN532 frame it is one or more bytes of the TFI and data,
// and Text holds one byte as two upper-case hex digits (or ACK, NACK
// alone).
type Field struct {
	// Text is the literal text (when Any is false and Capture is "").
	Text string
	// Any matches any text (`*`; expect only).
	Any bool
	// Capture is a name (`$cardid`): in an expect it takes the received
	// text, or must equal it if already taken; in a send it writes it.
	Capture string
	// Len is how many bytes a PN532 `*` or `$name` covers, as written
	// (`*:16`, `$block4:16`), or 0 when not written: `*` is one byte, a
	// first `$name` one byte, a later `$name` the bytes it took. It is
	// always 0 in PMS frames.
	Len int
}

func (b Bytes) String() string {
	if b.Frame != "" {
		return "frame " + b.Frame
	}
	return "hex " + hex.EncodeToString(b.Hex)
}

// ByteDevice is a device model that plays byte-level steps. Play calls
// Expect and Send for expect and send steps, in timeline order; file
// names the scenario in the errors they return.
type ByteDevice interface {
	Device
	// Expect blocks until the host has sent what st.Bytes describes, and
	// fails at the first byte that does not match, or when ctx ends.
	Expect(ctx context.Context, file string, st Step) error
	// Send writes st.Bytes to the host.
	Send(ctx context.Context, file string, st Step) error
	// Unread is what the host sent that no expect step consumed.
	Unread() []byte
}

// Errors of byte-level steps.
var (
	// ErrNotReplay is a byte-level step played on a model that does not
	// play them.
	ErrNotReplay = errors.New("byte-level steps need the replay device model")
	// ErrExtraBytes is the host sending bytes that no expect step
	// consumed.
	ErrExtraBytes = errors.New("the host sent bytes after the last expect step")
)

// UnconsumedError is byte-level steps left unplayed when the timeline
// was stopped, e.g. because the encode ended before the host sent what
// the next expect step wants.
type UnconsumedError struct {
	Steps []Step
	Err   error
}

func (e *UnconsumedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d step(s) not played:", len(e.Steps))
	for i, st := range e.Steps {
		if i == 5 {
			fmt.Fprintf(&b, " …")
			break
		}
		fmt.Fprintf(&b, " [%d line %d %s]", st.Index+1, st.Line, st)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

func (e *UnconsumedError) Unwrap() error { return e.Err }

// playBytes plays an expect or send step on dev.
func playBytes(ctx context.Context, s *Scenario, i int, dev Device) error {
	bd, ok := dev.(ByteDevice)
	if !ok {
		return ErrNotReplay
	}
	st := s.Steps[i]
	var err error
	if st.Op == OpExpect {
		err = bd.Expect(ctx, s.File, st)
	} else {
		err = bd.Send(ctx, s.File, st)
	}
	if err != nil && ctx.Err() != nil {
		return &UnconsumedError{Steps: s.Steps[i:], Err: err}
	}
	return err
}

// checkUnread fails when a byte device holds bytes no step consumed.
func checkUnread(dev Device) error {
	bd, ok := dev.(ByteDevice)
	if !ok {
		return nil
	}
	if b := bd.Unread(); len(b) > 0 {
		return fmt.Errorf("%w: %s", ErrExtraBytes, hex.EncodeToString(b))
	}
	return nil
}

var captureName = regexp.MustCompile(`^\$[a-z][a-z0-9_]*$`)

// bytesStep reads the value of an expect or send step: a hex string, or
// {frame: TEXT}.
func (l *loader) bytesStep(v *yaml.Node, what string, op Op) (*Bytes, bool) {
	if v.Kind == yaml.ScalarNode {
		s, ok := l.text(v, what)
		if !ok {
			return nil, false
		}
		b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
		if err != nil || len(b) == 0 {
			l.addf(v, "%s: %q is not hex bytes (write {frame: …} for a frame)", what, s)
			return nil, false
		}
		return &Bytes{Hex: b}, true
	}
	f := l.fields(v, what, "frame")
	if v.Kind != yaml.MappingNode {
		return nil, false
	}
	fn, ok := f["frame"]
	if !ok {
		l.addf(v, "%s: want hex bytes or {frame: …}", what)
		return nil, false
	}
	text, ok := l.str(fn, what+": frame")
	if !ok {
		return nil, false
	}
	if l.protocol == "pn532" {
		fields, err := parsePN532(text, op)
		if err != nil {
			l.addf(fn, "%s: %v", what, err)
			return nil, false
		}
		return &Bytes{Frame: text, Fields: fields}, true
	}
	toks, err := trace.ParseFields(text)
	if err != nil {
		l.addf(fn, "%s: %v", what, err)
		return nil, false
	}
	out := &Bytes{Frame: text}
	for _, t := range toks {
		fld := Field{Text: t.Text}
		switch {
		case t.Quoted:
		case t.Text == "*":
			if op == OpSend {
				l.addf(fn, "%s: '*' matches any field and cannot be sent; write the text (or a $name an expect captured)", what)
				return nil, false
			}
			fld = Field{Any: true}
		case strings.HasPrefix(t.Text, "$"):
			if !captureName.MatchString(t.Text) {
				l.addf(fn, "%s: capture %q must be $ and a lower-case name", what, t.Text)
				return nil, false
			}
			fld = Field{Capture: t.Text[1:]}
		case strings.HasPrefix(t.Text, "*"):
			l.addf(fn, "%s: field %q: quote it for a literal '*'", what, t.Text)
			return nil, false
		}
		out.Fields = append(out.Fields, fld)
	}
	return out, true
}

// checkBytes checks what only the whole file shows: byte-level steps need
// the replay model and a protocol for frames, the replay model plays
// nothing else but waits and hangups, and every $name a send writes was
// captured by an earlier expect.
func (l *loader) checkBytes(s *Scenario) {
	replay := s.Encoder.Model == ReplayModel
	if replay && s.Encoder.Protocol == "" {
		l.problems = append(l.problems, Problem{Line: s.Encoder.Line, Column: 1,
			Msg: "encoder.protocol is required with model replay (pms, pn532)"})
	}
	if !replay && s.Encoder.Protocol != "" {
		l.problems = append(l.problems, Problem{Line: s.Encoder.Line, Column: 1,
			Msg: "encoder.protocol is for model replay; the " + s.Encoder.Model + " model speaks its own"})
	}
	if replay && s.Encoder.Protocol == "pn532" {
		checkPN532Captures(s.Steps, func(st Step, format string, args ...any) {
			l.problems = append(l.problems, Problem{Line: st.Line, Column: st.Column,
				Msg: fmt.Sprintf("step %d (%s): ", st.Index+1, st.Op) + fmt.Sprintf(format, args...)})
		})
	}
	captured := map[string]bool{}
	for _, st := range s.Steps {
		add := func(format string, args ...any) {
			l.problems = append(l.problems, Problem{Line: st.Line, Column: st.Column,
				Msg: fmt.Sprintf("step %d (%s): ", st.Index+1, st.Op) + fmt.Sprintf(format, args...)})
		}
		byteOp := st.Op == OpExpect || st.Op == OpSend
		switch {
		case byteOp && !replay:
			add("byte-level steps need encoder.model replay")
			continue
		case !byteOp && replay && st.Op != OpWait && st.Op != OpHangup && st.Op != OpUnplug:
			add("the replay model plays expect, send, wait, hangup and unplug steps only")
			continue
		case !byteOp || st.Bytes == nil:
			continue
		}
		for _, f := range st.Bytes.Fields {
			if f.Capture == "" {
				continue
			}
			if st.Op == OpExpect {
				captured[f.Capture] = true
			} else if !captured[f.Capture] {
				add("$%s is not captured by an earlier expect", f.Capture)
			}
		}
	}
}
