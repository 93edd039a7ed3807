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

// Validate reports a scale that cannot be used.
func (s Scale) Validate() error {
	if s < 0 || s > 1000 {
		return fmt.Errorf("time scale %v out of range: want a factor in (0, 1000], 1 for real time", float64(s))
	}
	return nil
}
