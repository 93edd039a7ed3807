package timeline

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/encoderlab/encoderlab/sim/model"
	"github.com/encoderlab/encoderlab/sim/trace"
)

// Frame is one unit that crossed the line, as a reader wants it: a whole
// frame or control byte however many chunks it came in, decoded from the
// protocol's documentation (docs/protocols) by the protocol's
// model.Timeline, with what stands out about it. A trace of a protocol
// without one has one Frame per chunk.
type Frame struct {
	Dir trace.Direction
	// Start and End are when its first and last byte crossed, in µs
	// since the trace's first byte.
	Start, End int64
	Bytes      []byte
	// Events are the indices of the trace events its bytes came in.
	Events []int
	// Kind is what it is: KindFrame, KindControl (ACK, NACK, ENQ, NAK),
	// KindBad (a checksum or framing error), KindOther (a wake-up,
	// noise, a chunk of an unknown protocol) or KindNote (a recorder's
	// note such as a hangup, no bytes).
	Kind string
	// Name is the command or answer ("InDataExchange", "CN", "ACK"),
	// Detail the decoded parameters ("Tg 1 · MIFARE Read block 4").
	Name, Detail string
	// Status is the status byte or answer code, decoded
	// ("status 14: MIFARE authentication error"), when the frame has one.
	Status string
	// Error marks an error status, an error answer, the error frame or
	// a damaged frame.
	Error bool
	// Link is what a control frame does in the link layer
	// (model.LinkACK, LinkNAK, LinkEnquiry), "" for other frames.
	Link string
	// NoCard marks an answer that found no card (a poll of an empty
	// field).
	NoCard bool
	// Redacted marks a frame with fields the recorder blanked out
	// (Header.Redacted); Detail shows them as ‹redacted›.
	Redacted bool
	// Retransmission counts the copies of the frame before this one
	// (0: not a retransmission); Why says what made it necessary ("after
	// NACK", "no ACK").
	Retransmission int
	Why            string
	// Exchange is the index of the exchange the frame belongs to (a host
	// command and everything up to the next), -1 before the first.
	Exchange int
	// Failing marks the frames of the failing exchange (Failing).
	Failing bool
}

// Kinds of Frame: a model.Unit's, and the recorder's notes.
const (
	KindFrame   = model.UnitFrame
	KindControl = model.UnitControl
	KindBad     = model.UnitBad
	KindOther   = model.UnitOther
	KindNote    = "note"
)

// Text is the frame as one line of text: name, detail, status and marks.
func (f Frame) Text() string {
	parts := []string{f.Name}
	if f.Status != "" {
		parts = append(parts, f.Status)
	}
	if f.Detail != "" {
		parts = append(parts, f.Detail)
	}
	s := strings.Join(parts, " · ")
	if f.Retransmission > 0 {
		s += fmt.Sprintf(" [retransmission %d, %s]", f.Retransmission, f.Why)
	}
	return s
}

// Decode turns a trace into its frames, in the order their first bytes
// crossed, with retransmissions, exchanges and the failing exchange
// marked. outcome is the encode's outcome (Options.Outcome or the
// header's): the failing exchange is marked only when it is an error.
func Decode(t *trace.Trace, outcome string) []Frame {
	if t == nil || len(t.Events) == 0 {
		return nil
	}
	t0 := t.Events[0].T
	redacted := map[string]bool{}
	for _, r := range t.Header.Redacted {
		redacted[r] = true
	}
	var frames []Frame
	if tl := timelineOf(t.Header.Protocol); tl == nil {
		for _, d := range []trace.Direction{trace.HostToDevice, trace.DeviceToHost} {
			frames = append(frames, chunkFrames(t, d, t0)...)
		}
	} else {
		host, dev := streamOf(t, trace.HostToDevice, t0), streamOf(t, trace.DeviceToHost, t0)
		hostUnits := tl.Units(host.b, true, redacted)
		var devUnits []model.Unit
		if tl.Replies != nil {
			devUnits = tl.Replies(dev.b, commandBefore(host, hostUnits, dev), redacted)
		} else {
			devUnits = tl.Units(dev.b, false, redacted)
		}
		frames = append(host.frames(trace.HostToDevice, hostUnits), dev.frames(trace.DeviceToHost, devUnits)...)
	}
	for i, e := range t.Events {
		if e.Note != "" {
			frames = append(frames, Frame{Dir: e.Dir, Start: e.T - t0, End: e.T - t0, Events: []int{i}, Kind: KindNote, Name: e.Note})
		}
	}
	slices.SortStableFunc(frames, func(a, b Frame) int {
		switch {
		case a.Start != b.Start:
			return int(a.Start - b.Start)
		case a.Events[0] != b.Events[0]:
			return a.Events[0] - b.Events[0]
		}
		return 0
	})
	markRetransmissions(frames)
	markExchanges(frames, outcome)
	return frames
}

// timelineOf is how protocol's line is cut into units, nil when its
// model gives no timeline.
func timelineOf(protocol string) *model.Timeline {
	if p, ok := model.ProtocolOf(protocol); ok && p.Timeline != nil && p.Timeline.Units != nil {
		return p.Timeline
	}
	return nil
}

// commandBefore is Timeline.Replies' command: for the device's byte i,
// the bytes of the host's last frame unit whose bytes all crossed in
// events before that byte's (the trace's order is the line's).
func commandBefore(host stream, units []model.Unit, dev stream) func(i int) []byte {
	var frames []model.Unit
	for _, u := range units {
		if u.Kind == model.UnitFrame && u.Start >= 0 && u.Start < u.End && u.End <= len(host.b) {
			frames = append(frames, u)
		}
	}
	return func(i int) []byte {
		if i < 0 || i >= len(dev.ev) {
			return nil
		}
		// The frames are in the host's order: the first not wholly
		// before byte i, and the one before it is the command.
		k := sort.Search(len(frames), func(k int) bool { return host.ev[frames[k].End-1] >= dev.ev[i] })
		if k == 0 {
			return nil
		}
		u := frames[k-1]
		return host.b[u.Start:u.End:u.End]
	}
}

// stream is one direction's bytes with, for each, its time and event.
type stream struct {
	b  []byte
	t  []int64
	ev []int
}

func streamOf(t *trace.Trace, d trace.Direction, t0 int64) stream {
	var s stream
	for i, e := range t.Events {
		if e.Dir != d {
			continue
		}
		b, _ := e.Bytes()
		for _, c := range b {
			s.b = append(s.b, c)
			s.t = append(s.t, e.T-t0)
			s.ev = append(s.ev, i)
		}
	}
	return s
}

// frame is the Frame of s's bytes [i, j).
func (s stream) frame(d trace.Direction, i, j int, kind string) Frame {
	f := Frame{Dir: d, Start: s.t[i], End: s.t[j-1], Bytes: s.b[i:j:j], Kind: kind}
	for k := i; k < j; k++ {
		if len(f.Events) == 0 || f.Events[len(f.Events)-1] != s.ev[k] {
			f.Events = append(f.Events, s.ev[k])
		}
	}
	return f
}

// frames are the Frames of a protocol's units of s. A unit outside s's
// bytes, a mistake of the protocol's, is left out rather than drawn
// wrong.
func (s stream) frames(d trace.Direction, units []model.Unit) []Frame {
	out := make([]Frame, 0, len(units))
	for _, u := range units {
		if u.Start < 0 || u.End > len(s.b) || u.Start >= u.End {
			continue
		}
		f := s.frame(d, u.Start, u.End, u.Kind)
		f.Name, f.Detail, f.Status = u.Name, u.Detail, u.Status
		f.Error, f.Redacted, f.Link, f.NoCard = u.Error, u.Redacted, u.Link, u.NoCard
		out = append(out, f)
	}
	return out
}

// chunkFrames is one Frame per chunk, for a protocol without a timeline.
func chunkFrames(t *trace.Trace, d trace.Direction, t0 int64) []Frame {
	var out []Frame
	for i, e := range t.Events {
		b, _ := e.Bytes()
		if e.Dir != d || len(b) == 0 {
			continue
		}
		name := strings.Join(e.Frames, "  ")
		if name == "" {
			name = Describe(b, t.Header.Protocol)
		}
		out = append(out, Frame{Dir: d, Start: e.T - t0, End: e.T - t0, Bytes: b, Events: []int{i}, Kind: KindOther, Name: name})
	}
	return out
}

// markRetransmissions marks each information frame identical to the
// previous one its side sent when the other side sent no information
// frame in between: the link layer's re-send (docs/protocols, "Link
// layer"), after a NAK or NACK or for want of an ACK.
func markRetransmissions(frames []Frame) {
	last := map[trace.Direction]int{} // index of the side's last information frame, +1
	for i := range frames {
		f := &frames[i]
		if f.Kind != KindFrame && f.Kind != KindBad {
			continue
		}
		// The same bytes again, or a copy of a frame that went damaged
		// (or came damaged) the first time: the same length.
		p := last[f.Dir] - 1
		same := p >= 0 && (bytes.Equal(frames[p].Bytes, f.Bytes) ||
			(frames[p].Kind == KindBad || f.Kind == KindBad) && len(frames[p].Bytes) == len(f.Bytes))
		if same {
			why := ""
			answered := false
			for _, g := range frames[p+1 : i] {
				if g.Dir == f.Dir || g.Kind == KindNote {
					continue
				}
				switch {
				case g.Kind == KindControl && g.Link == model.LinkNAK:
					why = "after " + g.Name
				case g.Kind == KindControl && g.Link == model.LinkACK && why == "":
					why = "after " + g.Name
				case g.Kind == KindFrame:
					answered = true
				}
			}
			if !answered {
				if why == "" {
					why = "no ACK"
				}
				f.Retransmission = frames[p].Retransmission + 1
				f.Why = why
			}
		}
		last[f.Dir] = i + 1
	}
}

// markExchanges numbers the exchanges (each host command that is not a
// retransmission, or an enquiry such as PMS ENQ, starts one) and, when
// the outcome is an error, marks the last exchange that went wrong: an
// error status or answer, a damaged frame, a command no answer came to,
// or an answer that found no card.
func markExchanges(frames []Frame, outcome string) {
	n := -1
	for i := range frames {
		f := &frames[i]
		if f.Dir == trace.HostToDevice && f.Retransmission == 0 &&
			(f.Kind == KindFrame || f.Kind == KindBad || f.Kind == KindControl && f.Link == model.LinkEnquiry) {
			n++
		}
		f.Exchange = n
	}
	if !strings.Contains(outcome, "error") && !strings.Contains(outcome, "no terminal") {
		return
	}
	bad := map[int]bool{}
	answered := map[int]bool{}
	enq := map[int]bool{}
	for _, f := range frames {
		if f.Exchange < 0 {
			continue
		}
		if f.Error || f.NoCard {
			bad[f.Exchange] = true
		}
		switch {
		case f.Dir == trace.HostToDevice && f.Kind == KindControl && f.Link == model.LinkEnquiry:
			enq[f.Exchange] = true
		case f.Dir == trace.DeviceToHost && f.Kind == KindFrame:
			answered[f.Exchange] = true
		case f.Dir == trace.DeviceToHost && f.Kind == KindControl && f.Link == model.LinkACK && enq[f.Exchange]:
			answered[f.Exchange] = true // an enquiry is answered by ACK alone
		}
	}
	failing := -1
	for x := 0; x <= n; x++ {
		if bad[x] || !answered[x] {
			failing = x
		}
	}
	for i := range frames {
		frames[i].Failing = failing >= 0 && frames[i].Exchange == failing
	}
}
