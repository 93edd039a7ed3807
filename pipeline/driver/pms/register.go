package pms

import (
	"github.com/encoderlab/encoderlab/pipeline/driver"
	"github.com/encoderlab/encoderlab/timescale"
)

// The driver of lab encoders whose "driver" is "pms", at the protocol's
// timing (docs/protocols/pms.md, Timing) scaled to the run.
func init() {
	driver.Register("pms", func(s timescale.Scale) driver.Driver { return New(DefaultTiming().Scaled(s)) })
}
