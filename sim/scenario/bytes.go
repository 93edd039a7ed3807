package scenario

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/encoderlab/encoderlab/sim/model"
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
// or a frame of the encoder's protocol written as frame text, which the
// protocol compiles (model.Protocol.Frames).
type Bytes struct {
	// Hex is the exact bytes (when Frame is "").
	Hex []byte
	// Frame is the frame text as written, e.g. `CN 01 $cardid G * * *`
	// or `ACK` (pms), `D4 40 01 A0 04 $block4:16` or `NACK` (pn532).
	Frame string
	// Step is Frame compiled by the encoder's protocol; nil when the
	// scenario names no protocol with frame text, which the loader
	// reports.
	Step model.FrameStep
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
	out := &Bytes{Frame: text}
	frames := frameText(l.protocol)
	if frames == nil {
		return out, true // no protocol to read it in: checkBytes says so
	}
	st, err := frames.Parse(text, op == OpSend)
	if err != nil {
		l.addf(fn, "%s: %v", what, err)
		return nil, false
	}
	out.Step = st
	return out, true
}

// frameText is how protocol writes frames, nil for a protocol without
// frame text (or none).
func frameText(protocol string) model.Frames {
	if p, ok := model.ProtocolOf(protocol); ok {
		return p.Frames
	}
	return nil
}

// ReplayProtocols lists the protocols a replay's encoder.protocol may
// name, sorted: the registered models' with frame text
// (model.Protocol.Frames).
func ReplayProtocols() []string {
	var out []string
	for _, name := range model.Protocols() {
		if frameText(name) != nil {
			out = append(out, name)
		}
	}
	return out
}

// checkBytes checks what only the whole file shows: byte-level steps need
// the replay model and a protocol for frames, the replay model plays
// nothing else but waits and hangups, and every $name a send writes was
// captured by an earlier expect.
func (l *loader) checkBytes(s *Scenario) {
	replay := s.Encoder.Model == ReplayModel
	if replay && s.Encoder.Protocol == "" {
		l.problems = append(l.problems, Problem{Line: s.Encoder.Line, Column: 1,
			Msg: "encoder.protocol is required with model replay (" + strings.Join(ReplayProtocols(), ", ") + ")"})
	}
	if !replay && s.Encoder.Protocol != "" {
		l.problems = append(l.problems, Problem{Line: s.Encoder.Line, Column: 1,
			Msg: "encoder.protocol is for model replay; the " + s.Encoder.Model + " model speaks its own"})
	}
	if c, ok := frameText(s.Encoder.Protocol).(model.FrameChecker); replay && ok {
		var steps []Step // the frame steps, as c sees them
		var compiled []model.FrameStep
		for _, st := range s.Steps {
			if (st.Op == OpExpect || st.Op == OpSend) && st.Bytes != nil && st.Bytes.Step != nil {
				steps = append(steps, st)
				compiled = append(compiled, st.Bytes.Step)
			}
		}
		c.Check(compiled, func(i int, msg string) {
			st := steps[i]
			l.problems = append(l.problems, Problem{Line: st.Line, Column: st.Column,
				Msg: fmt.Sprintf("step %d (%s): ", st.Index+1, st.Op) + msg})
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
		case !byteOp || st.Bytes == nil || st.Bytes.Step == nil:
			continue
		}
		for _, name := range st.Bytes.Step.Captures() {
			if st.Op == OpExpect {
				captured[name] = true
			} else if !captured[name] {
				add("$%s is not captured by an earlier expect", name)
			}
		}
	}
}
