package conformance_test

import (
	"testing"

	"github.com/encoderlab/encoderlab/conformance"
)

// TestConformance runs every bundled scenario against the bundled
// pipeline, in process. ENCODERLAB_TIME_SCALE=1 runs it at real time.
func TestConformance(t *testing.T) {
	conformance.Test(t, conformance.NewConfig())
}
