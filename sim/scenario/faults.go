package scenario

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Fault names: the serial and device faults a scenario's faults list may
// apply (docs/faults.md is the catalogue; sim/fault runs them).
const (
	FaultLatency     = "latency"
	FaultJitter      = "jitter"
	FaultSilence     = "silence"
	FaultDrop        = "drop"
	FaultCorrupt     = "corrupt"
	FaultChunk       = "chunk"
	FaultDuplicate   = "duplicate"
	FaultNAKStorm    = "nak-storm"
	FaultBaud        = "baud"
	FaultHangup      = "hangup"
	FaultReboot      = "reboot"
	FaultCardRemoved = "card-removed"
)

// Faults lists every fault name, in the order docs/faults.md documents them.
var Faults = []string{
	FaultLatency, FaultJitter, FaultSilence, FaultDrop, FaultCorrupt, FaultChunk,
	FaultDuplicate, FaultNAKStorm, FaultBaud, FaultHangup, FaultReboot, FaultCardRemoved,
}

// Directions a stream fault applies to.
const (
	HostToDevice = "host>device"
	DeviceToHost = "device>host"
	BothWays     = "both"
)

// FaultSpec is one entry of a scenario's faults: a named fault, its
// parameters, the direction of the line it acts on and when it is active.
// Zero parameters mean the fault's documented default.
type FaultSpec struct {
	Fault string
	// Dir is HostToDevice, DeviceToHost or BothWays (stream faults only).
	Dir string

	// The window: at most one is set. None means the whole run.
	// AtStep and FromStep are 1-based timeline steps: AtStep is active
	// while that step plays, FromStep from its start on. After is a
	// duration (unscaled) from the start of the timeline.
	AtStep, FromStep int
	After            time.Duration

	D     time.Duration // latency, jitter: the delay (unscaled)
	Seed  int64         // jitter, corrupt (random): the random source's seed
	N     int           // drop: bytes to drop; chunk: piece size; duplicate: writes; nak-storm: frames
	Every int           // drop: drop every k-th byte instead
	// AtByte is corrupt's 0-based offset, counted from when the fault
	// became active, of the one byte whose lowest bit it flips; -1 when P
	// is used instead.
	AtByte int
	P      float64 // corrupt: probability that each byte gets one random bit flipped
	Rate   int     // baud: bits per second, 10 bits per byte (8N1)
	Card   string  // card-removed: the card that leaves the field

	Line, Column int
}

// Event reports whether the fault is a one-off event (hangup, reboot,
// card removed, NAK storm) rather than a change to the byte stream: an
// event happens once, when its window opens.
func (f FaultSpec) Event() bool {
	switch f.Fault {
	case FaultHangup, FaultReboot, FaultCardRemoved, FaultNAKStorm:
		return true
	}
	return false
}

// faultParams are the parameter keys each fault takes besides the common
// ones (fault, dir and the window).
var faultParams = map[string][]string{
	FaultLatency:     {"d"},
	FaultJitter:      {"d", "seed"},
	FaultSilence:     nil,
	FaultDrop:        {"n", "every"},
	FaultCorrupt:     {"at_byte", "p", "seed"},
	FaultChunk:       {"n"},
	FaultDuplicate:   {"n"},
	FaultNAKStorm:    {"n"},
	FaultBaud:        {"rate"},
	FaultHangup:      nil,
	FaultReboot:      nil,
	FaultCardRemoved: {"card"},
}

// faults reads the scenario's faults list. cards are the declared card
// names; steps is the timeline's length, for checking step windows.
func (l *loader) faults(n *yaml.Node, cards []CardSpec, steps int) []FaultSpec {
	var out []FaultSpec
	for i, it := range l.list(n, "faults") {
		if f, ok := l.fault(it, i, cards, steps); ok {
			out = append(out, f)
		}
	}
	return out
}

func (l *loader) fault(n *yaml.Node, i int, cards []CardSpec, steps int) (FaultSpec, bool) {
	what := fmt.Sprintf("fault %d", i+1)
	f := FaultSpec{Line: n.Line, Column: n.Column, AtByte: -1}
	if n.Kind != yaml.MappingNode {
		l.addf(n, "%s must be a mapping such as {fault: latency, d: 30ms}, got %s", what, describe(n))
		return f, false
	}
	// The name decides which keys are known, so read it first.
	var nameNode *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "fault" {
			nameNode = n.Content[i+1]
		}
	}
	if nameNode == nil {
		l.addf(n, "%s: fault is required (one of %s)", what, strings.Join(Faults, ", "))
		return f, false
	}
	name, ok := l.oneOf(nameNode, what+": fault", "fault", Faults)
	if !ok {
		return f, false
	}
	f.Fault = name
	what = fmt.Sprintf("fault %d (%s)", i+1, name)
	known := append([]string{"fault", "at_step", "from_step", "after"}, faultParams[name]...)
	if !f.Event() {
		known = append(known, "dir")
	}
	before := len(l.problems)
	fs := l.fields(n, what, known...)

	f.Dir = BothWays
	if v, ok := fs["dir"]; ok {
		f.Dir, _ = l.oneOf(v, what+": dir", "direction", []string{HostToDevice, DeviceToHost, BothWays})
	}
	var windows []string
	step := func(key string) int {
		v, ok := fs[key]
		if !ok {
			return 0
		}
		windows = append(windows, key)
		s, ok := l.integer(v, what+": "+key)
		if ok && (s < 1 || s > steps) {
			l.addf(v, "%s: %s must name a timeline step, 1 to %d, got %d", what, key, steps, s)
		}
		return s
	}
	f.AtStep = step("at_step")
	f.FromStep = step("from_step")
	if v, ok := fs["after"]; ok {
		windows = append(windows, "after")
		f.After = l.duration(v, what+": after", false)
	}
	if len(windows) > 1 {
		l.addf(n, "%s: %s are exclusive: give one window", what, strings.Join(windows, ", "))
	}
	positive := func(key string) int {
		v, ok := fs[key]
		if !ok {
			return 0
		}
		c, ok := l.integer(v, what+": "+key)
		if ok && c < 1 {
			l.addf(v, "%s: %s must be at least 1, got %d", what, key, c)
		}
		return c
	}
	if v, ok := fs["d"]; ok {
		f.D = l.duration(v, what+": d", false)
	}
	if v, ok := fs["seed"]; ok {
		s, _ := l.integer(v, what+": seed")
		f.Seed = int64(s)
	}
	f.N = positive("n")
	f.Every = positive("every")
	f.Rate = positive("rate")
	if v, ok := fs["at_byte"]; ok {
		if b, ok := l.integer(v, what+": at_byte"); ok {
			if b < 0 {
				l.addf(v, "%s: at_byte must not be negative, got %d", what, b)
			}
			f.AtByte = b
		}
	}
	if v, ok := fs["p"]; ok {
		if v.Kind != yaml.ScalarNode || (v.Tag != "!!float" && v.Tag != "!!int") || v.Decode(&f.P) != nil || f.P <= 0 || f.P > 1 {
			l.addf(v, "%s: p must be a probability above 0 and at most 1, got %s", what, describe(v))
		}
	}
	if v, ok := fs["card"]; ok {
		if s, ok := l.str(v, what+": card"); ok {
			if !slices.ContainsFunc(cards, func(c CardSpec) bool { return c.Name == s }) {
				l.addf(v, "%s: no card named %q in cards", what, s)
			}
			f.Card = s
		}
	}

	// Required parameters and exclusive choices.
	_, hasN := fs["n"]
	_, hasEvery := fs["every"]
	_, hasAt := fs["at_byte"]
	_, hasP := fs["p"]
	switch name {
	case FaultLatency, FaultJitter:
		if _, ok := fs["d"]; !ok || f.D == 0 {
			l.addf(n, "%s: d, a positive duration, is required", what)
		}
	case FaultDrop:
		if hasN == hasEvery {
			l.addf(n, "%s: give one of n (drop the next n bytes) or every (drop every k-th byte)", what)
		}
	case FaultCorrupt:
		if hasAt == hasP {
			l.addf(n, "%s: give one of at_byte (flip one bit there) or p (flip bits at random)", what)
		}
	case FaultChunk, FaultNAKStorm:
		if !hasN {
			l.addf(n, "%s: n is required", what)
		}
	case FaultBaud:
		if _, ok := fs["rate"]; !ok {
			l.addf(n, "%s: rate is required", what)
		}
	case FaultCardRemoved:
		if _, ok := fs["card"]; !ok {
			if len(cards) != 1 {
				l.addf(n, "%s: card is required when the scenario does not declare exactly one card", what)
			} else {
				f.Card = cards[0].Name
			}
		}
	}
	if name == FaultDuplicate && f.N == 0 {
		f.N = 1
	}
	return f, len(l.problems) == before
}

// StepObserver is a Line that follows the timeline: Play calls
// StepStarted with each step's 0-based index before playing it, and with
// the number of steps once the last has ended. Faults use it for their
// step windows.
type StepObserver interface {
	StepStarted(index int)
}
