package pn532

import (
	"github.com/encoderlab/encoderlab/pipeline/driver"
	"github.com/encoderlab/encoderlab/timescale"
)

// The driver of lab encoders whose "driver" is "pn532", at the page's
// timing (docs/protocols/pn532.md, Timing) scaled to the run.
func init() {
	driver.Register("pn532", func(s timescale.Scale) driver.Driver { return New(DefaultTiming().Scaled(s)) })
}
