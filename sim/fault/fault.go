package fault

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/encoderlab/encoderlab/sim/scenario"
	"github.com/encoderlab/encoderlab/timescale"
)

// Target is what event faults act on: the running encoder.
type Target interface {
	// Hangup closes the line and reopens it under the same path.
	Hangup(ctx context.Context) error
	// Reboot restarts the device on the same line: everything it held in
	// memory about the exchange in progress is lost.
	Reboot(ctx context.Context) error
	// Remove takes the named card off the reader.
	Remove(card string) error
	// NAK answers the next n frames the host sends with the protocol's
	// negative acknowledgement (0 ends a storm in progress).
	NAK(n int)
}

// ErrUnknownFault is a spec naming no fault of the catalogue.
var ErrUnknownFault = errors.New("unknown fault")

// eventTimeout bounds one event's action (a hangup opens a new pty).
const eventTimeout = 10 * time.Second

// Chain is a run's faults, in scenario order. Its methods are safe for
// concurrent use.
type Chain struct {
	target Target
	scale  timescale.Scale
	log    *slog.Logger

	mu      sync.Mutex
	faults  []*fault
	step    int       // the step being played; -1 before the timeline starts
	started time.Time // when the timeline started; zero before
	lifted  bool
	stormed bool // a NAK storm was started, so Lift ends it
	timers  []*time.Timer
}

// fault is one spec with its per-direction stream state.
type fault struct {
	spec scenario.FaultSpec
	// stages holds the stream stage for each direction it applies to;
	// empty for an event.
	stages map[Direction]stage
	fired  bool
}

// Direction is a way across the line.
type Direction int

const (
	HostToDevice Direction = iota
	DeviceToHost
)

func (d Direction) String() string {
	if d == HostToDevice {
		return scenario.HostToDevice
	}
	return scenario.DeviceToHost
}

// New builds the chain for specs, acting on target, with durations scaled
// by scale. A spec the loader would refuse is an error, not a panic.
func New(specs []scenario.FaultSpec, target Target, scale timescale.Scale, log *slog.Logger) (*Chain, error) {
	if scale == 0 {
		scale = timescale.Real
	}
	if err := scale.Validate(); err != nil {
		return nil, fmt.Errorf("fault chain: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Chain{target: target, scale: scale, log: log, step: -1}
	for i, s := range specs {
		f := &fault{spec: s, stages: map[Direction]stage{}}
		if !s.Event() {
			for _, d := range []Direction{HostToDevice, DeviceToHost} {
				if s.Dir != scenario.BothWays && s.Dir != "" && s.Dir != d.String() {
					continue
				}
				st, err := newStage(s, d, scale)
				if err != nil {
					return nil, fmt.Errorf("fault %d (line %d): %w", i+1, s.Line, err)
				}
				f.stages[d] = st
			}
		} else if err := checkEvent(s, target); err != nil {
			return nil, fmt.Errorf("fault %d (line %d): %w", i+1, s.Line, err)
		}
		c.faults = append(c.faults, f)
	}
	return c, nil
}

func checkEvent(s scenario.FaultSpec, target Target) error {
	if target == nil {
		return fmt.Errorf("%s: no encoder to act on", s.Fault)
	}
	switch s.Fault {
	case scenario.FaultNAKStorm:
		if s.N < 1 {
			return fmt.Errorf("nak-storm: n must be at least 1, got %d", s.N)
		}
	case scenario.FaultCardRemoved:
		if s.Card == "" {
			return errors.New("card-removed: no card named")
		}
	}
	return nil
}

// openLocked reports whether f's window is open now.
func (c *Chain) openLocked(f *fault, now time.Time) bool {
	if c.lifted {
		return false
	}
	s := f.spec
	switch {
	case s.AtStep > 0:
		return c.step == s.AtStep-1
	case s.FromStep > 0:
		return c.step >= s.FromStep-1
	case s.After > 0:
		return !c.started.IsZero() && !now.Before(c.started.Add(c.scale.Of(s.After)))
	}
	return true
}

// Step reports that the timeline started playing step index (0-based),
// or ended (index = the number of steps). Events whose window opens now
// happen before Step returns, so they precede the step's own action.
func (c *Chain) Step(index int) {
	c.mu.Lock()
	first := c.started.IsZero()
	if first {
		c.started = time.Now()
	}
	c.step = index
	var due []*fault
	for _, f := range c.faults {
		if !f.spec.Event() || f.fired || c.lifted {
			continue
		}
		s := f.spec
		switch {
		case s.After > 0:
			if first {
				f := f
				c.timers = append(c.timers, time.AfterFunc(c.scale.Of(s.After), func() { c.fire(f) }))
			}
		case s.AtStep > 0 || s.FromStep > 0:
			if index == max(s.AtStep, s.FromStep)-1 {
				due = append(due, f)
			}
		default:
			if first {
				due = append(due, f)
			}
		}
	}
	c.mu.Unlock()
	for _, f := range due {
		c.fire(f)
	}
}

// fire makes an event happen, once.
func (c *Chain) fire(f *fault) {
	c.mu.Lock()
	if f.fired || c.lifted {
		c.mu.Unlock()
		return
	}
	f.fired = true
	if f.spec.Fault == scenario.FaultNAKStorm {
		c.stormed = true
	}
	c.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	var err error
	switch f.spec.Fault {
	case scenario.FaultHangup:
		err = c.target.Hangup(ctx)
	case scenario.FaultReboot:
		err = c.target.Reboot(ctx)
	case scenario.FaultCardRemoved:
		err = c.target.Remove(f.spec.Card)
	case scenario.FaultNAKStorm:
		c.target.NAK(f.spec.N)
	}
	if err != nil {
		c.log.Warn("fault could not happen", "fault", f.spec.Fault, "line", f.spec.Line, "err", err)
		return
	}
	c.log.Info("fault happened", "fault", f.spec.Fault, "line", f.spec.Line)
}

// Lift ends every fault: stream faults stop acting, pending events never
// happen and a NAK storm in progress stops. Bytes already delayed are
// still delivered.
func (c *Chain) Lift() {
	c.mu.Lock()
	c.lifted = true
	stormed := c.stormed
	for _, t := range c.timers {
		t.Stop()
	}
	c.timers = nil
	c.mu.Unlock()
	if stormed {
		c.target.NAK(0)
	}
}

// Close stops the chain's timers; no event happens after it returns
// (one already under way finishes).
func (c *Chain) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range c.timers {
		t.Stop()
	}
	c.timers = nil
	c.lifted = true
}

// transform passes b, travelling in direction d, through every open
// stream fault in order.
func (c *Chain) transform(d Direction, b []byte) []piece {
	ps := []piece{{b: b}}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	for _, f := range c.faults {
		st, ok := f.stages[d]
		if !ok || !c.openLocked(f, now) {
			continue
		}
		ps = st.apply(ps)
	}
	return ps
}

// newRand is a deterministic source for one fault in one direction.
func newRand(seed int64, d Direction) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), uint64(d)+1))
}
