package acr122

import (
	"github.com/encoderlab/encoderlab/pipeline/driver"
	"github.com/encoderlab/encoderlab/timescale"
)

// The driver of lab encoders whose "driver" is "acr122", at the page's
// timing (docs/protocols/acr122.md, Timing) scaled to the run.
func init() {
	driver.Register("acr122", func(s timescale.Scale) driver.Driver { return New(DefaultTiming().Scaled(s)) })
}
