// Package layering checks the module's import rules, which keep the
// oracles independent: the virtual encoders (sim/...) are written from
// the protocol pages and share no code with the pipeline's drivers
// (pipeline/...), so a driver and a device model cannot agree on the same
// misreading by sharing it; and the pipeline knows nothing of the
// simulator, so it drives a real encoder exactly as it drives a virtual
// one.
package layering

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"github.com/encoderlab/encoderlab/internal/require"
)

const module = "github.com/encoderlab/encoderlab/"

// deps lists each package matching pattern with the module packages it
// imports, directly or not (its non-test imports: benchmarks may put the
// pipeline's serial port on a device's line as its host, which shares no
// protocol code).
func deps(t *testing.T, pattern string) map[string][]string {
	t.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		require.Missing(t, "the go command is not on PATH; it lists the packages' imports")
	}
	out, err := exec.Command(goCmd, "list", "-f", "{{.ImportPath}} {{join .Deps \" \"}}", pattern).Output()
	if err != nil {
		t.Fatalf("go list %s: %v", pattern, err)
	}
	got := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		for _, d := range f[1:] {
			if strings.HasPrefix(d, module) {
				got[f[0]] = append(got[f[0]], d)
			}
		}
		if _, ok := got[f[0]]; !ok {
			got[f[0]] = nil
		}
	}
	if len(got) == 0 {
		t.Fatalf("go list %s listed no packages", pattern)
	}
	return got
}

func forbid(t *testing.T, pattern, prefix, why string) {
	t.Helper()
	for pkg, ds := range deps(t, pattern) {
		for _, d := range ds {
			if strings.HasPrefix(d, module+prefix) {
				t.Errorf("%s imports %s: %s", strings.TrimPrefix(pkg, module), strings.TrimPrefix(d, module), why)
			}
		}
	}
}

func TestSimulatorSharesNoCodeWithThePipeline(t *testing.T) {
	forbid(t, "./../../sim/...", "pipeline/",
		"the virtual encoders are written from the protocol pages, never from the pipeline's code")
}

func TestPipelineKnowsNothingOfTheSimulator(t *testing.T) {
	forbid(t, "./../../pipeline/...", "sim/",
		"the pipeline drives a virtual encoder exactly as a real one, through its serial line")
}
