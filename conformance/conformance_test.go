package conformance_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/encoderlab/encoderlab/conformance"
)

// cfg is the suite's configuration: every bundled scenario against the
// bundled pipeline, in process. ENCODERLAB_TIME_SCALE=1 runs it at real
// time.
var cfg = conformance.NewConfig()

var _ = conformance.Register(&cfg)

// TestConformance calls RunSpecs itself (rather than conformance.Test) so
// the ginkgo CLI recognises the package as a suite and can run it in
// parallel processes: ginkgo -p ./conformance.
func TestConformance(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Encoder conformance")
}
