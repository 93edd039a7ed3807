package conformance_test

import (
	"os"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/encoderlab/encoderlab/conformance"
	"github.com/encoderlab/encoderlab/conformance/mutant"
)

// cfg is the suite's configuration: every bundled scenario against the
// bundled pipeline, in process. ENCODERLAB_TIME_SCALE=1 runs it at real
// time. ENCODERLAB_API_URL and ENCODERLAB_LINKS run it against a server
// started elsewhere instead (see conformance.External and
// docs/targets.md), one spec at a time: ginkgo --procs=1.
// ENCODERLAB_API_KEY overrides the lab's API key for that server.
// ENCODERLAB_ARTIFACTS=DIR writes a failed scenario's trace and timeline there.
// ENCODERLAB_PROFILE=latest certifies the latest profile instead of current.
var cfg = suiteConfig()

func suiteConfig() conformance.Config {
	c := conformance.NewConfig()
	if u := os.Getenv("ENCODERLAB_API_URL"); u != "" {
		c.Target = conformance.External(u, os.Getenv("ENCODERLAB_LINKS"))
		c.APIKey = os.Getenv("ENCODERLAB_API_KEY")
	}
	// ENCODERLAB_ARTIFACTS=DIR keeps each failed scenario's line trace
	// and timeline page there (make conformance sets it).
	c.ArtifactDir = os.Getenv("ENCODERLAB_ARTIFACTS")
	// ENCODERLAB_PROFILE=<profile> certifies another profile than
	// current (the mutants of the latest profile's promises set it).
	if p := os.Getenv("ENCODERLAB_PROFILE"); p != "" {
		c.Profile = p
	}
	// ENCODERLAB_MUTANT=<name> runs it against a deliberately broken
	// pipeline (conformance/mutant); the mutants' kill test sets it.
	if name := os.Getenv(mutant.EnvVar); name != "" {
		c.Target = mutant.Target(name)
	}
	return c
}

var _ = conformance.Register(&cfg)

// TestConformance calls RunSpecs itself (rather than conformance.Test) so
// the ginkgo CLI recognises the package as a suite and can run it in
// parallel processes: ginkgo -p ./conformance.
func TestConformance(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Encoder conformance")
}
