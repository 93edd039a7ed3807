// Package timescale holds the one time scale that the pipeline and the
// simulator share, so that a 20 s wait for a card takes 200 ms in CI and
// 20 s on a desk.
package timescale

import (
	"fmt"
	"time"
)

// Scale multiplies every protocol and scenario duration. 1 is real time;
// 0.01 runs a hundred times faster. The zero value means real time.
type Scale float64

// Real is wall-clock time.
const Real Scale = 1

// Of returns d scaled. Scaled durations never round down to zero for a
// positive d, so a timeout never turns into "do not wait at all".
func (s Scale) Of(d time.Duration) time.Duration {
	if s <= 0 || s == 1 {
		return d
	}
	out := time.Duration(float64(d) * float64(s))
	if out <= 0 && d > 0 {
		out = 1
	}
	return out
}

// LinkFloor is the least a link-level wait (an ACK wait, the gap allowed
// inside a frame) is scaled down to. Those waits tell a lost frame from a
// slow one; compressed to a few milliseconds, a scheduling stall on a
// busy machine reads as a lost frame and the link gives up although
// nothing was lost. Card waits, write times, answer waits and deadlines
// scale in full: the relations between them are the protocol's.
const LinkFloor = 100 * time.Millisecond

// Link returns the link-level wait d scaled, but never below LinkFloor
// (nor above d itself, for a d shorter than the floor).
func (s Scale) Link(d time.Duration) time.Duration {
	return max(s.Of(d), min(d, LinkFloor))
}

// Validate reports a scale that cannot be used.
func (s Scale) Validate() error {
	if s < 0 || s > 1000 {
		return fmt.Errorf("time scale %v out of range: want a factor in (0, 1000], 1 for real time", float64(s))
	}
	return nil
}
