package stalltest

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
	. "github.com/onsi/gomega"

	"github.com/encoderlab/encoderlab/conformance"
	"github.com/encoderlab/encoderlab/conformance/mutant"
	"github.com/encoderlab/encoderlab/scenarios"
	"github.com/encoderlab/encoderlab/sim/scenario"
)

// The child process's setting: which pipeline and which stalls.
const (
	caseEnv   = "STALLTEST_CASE"
	reportEnv = "STALLTEST_REPORT"
)

// brokenFirst starts a broken pipeline on its first start and the real
// one afterwards: a failure that a second run does not repeat.
type brokenFirst struct {
	starts atomic.Int32
	always bool // broken on every start
}

func (b *brokenFirst) Start(ctx context.Context, env conformance.Env) (conformance.System, error) {
	if n := b.starts.Add(1); b.always || n == 1 {
		return mutant.Target("workspace-id-other").Start(ctx, env)
	}
	return conformance.InProcess().Start(ctx, env)
}

// stalled is what the machine's stall measure says in each case.
func stalled(d time.Duration) func(from, to time.Time) (time.Duration, string) {
	return func(from, to time.Time) (time.Duration, string) { return d, "a stall the test reports" }
}

// child is the suite run of one case, in a process TestStallReruns
// starts.
func child(t *testing.T, which string) {
	sc, err := scenarios.Load("first-issue")
	if err != nil {
		t.Fatal(err)
	}
	cfg := conformance.NewConfig()
	cfg.Scenarios = []*scenario.Scenario{sc}
	target := &brokenFirst{}
	cfg.Target = target
	switch which {
	case "stall":
		cfg.Stalls = stalled(conformance.StallThreshold)
	case "no-stall":
		cfg.Stalls = stalled(conformance.StallThreshold - time.Millisecond)
	case "stall-always-broken":
		target.always = true
		cfg.Stalls = stalled(time.Second)
	case "stall-no-reruns":
		cfg.Stalls = stalled(time.Second)
		cfg.StallReruns = conformance.NoStallReruns
	}
	conformance.Register(&cfg)
	RegisterFailHandler(Fail)
	suite, reporter := GinkgoConfiguration()
	suite.LabelFilter = "scenario:first-issue"
	reporter.JSONReport = os.Getenv(reportEnv)
	RunSpecs(t, "stall re-runs", suite, reporter)
}

// outcome runs the suite for one case and returns its report.
func outcome(t *testing.T, which string) types.Report {
	t.Helper()
	report := filepath.Join(t.TempDir(), "report.json")
	cmd := exec.Command(os.Args[0], "-test.run=^TestStallReruns$", "-test.count=1")
	cmd.Env = append(os.Environ(), caseEnv+"="+which, reportEnv+"="+report)
	out, _ := cmd.CombinedOutput() // failing specs fail the child: the report says which
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatalf("the suite wrote no report (%v); its output:\n%s", err, out)
	}
	var reports []types.Report
	if err := json.Unmarshal(b, &reports); err != nil || len(reports) != 1 {
		t.Fatalf("report %s: %v (%d reports)", report, err, len(reports))
	}
	return reports[0]
}

func failed(r types.Report) []string {
	var ids []string
	for _, s := range r.SpecReports {
		if s.LeafNodeType == types.NodeTypeIt && s.State.Is(types.SpecStateFailureStates) {
			ids = append(ids, s.LeafNodeText)
		}
	}
	return ids
}

func TestStallReruns(t *testing.T) {
	if which := os.Getenv(caseEnv); which != "" {
		child(t, which)
		return
	}
	if testing.Short() {
		t.Skip("runs the suite four times on one scenario")
	}
	t.Parallel()
	cases := []struct {
		name     string
		reruns   int  // RerunEntry notes expected
		failures bool // some spec must fail
	}{
		// The broken first run failed during a stall: played again, and
		// the second, correct run is what is judged.
		{"stall", 1, false},
		// Just under the threshold: the failure stands.
		{"no-stall", 0, true},
		// A failure that every run repeats stands, after the re-runs.
		{"stall-always-broken", conformance.DefaultStallReruns, true},
		// Re-runs turned off: the failure stands.
		{"stall-no-reruns", 0, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := outcome(t, c.name)
			reruns := conformance.Reruns(r)
			if len(reruns) != c.reruns {
				t.Errorf("%d re-runs noted; want %d: %v", len(reruns), c.reruns, reruns)
			}
			for _, rr := range reruns {
				if rr.Container != "first-issue" || !strings.Contains(rr.Note, "a stall the test reports") ||
					!strings.Contains(rr.Note, "RESULT-WORKSPACE-ID") {
					t.Errorf("re-run note %+v: want the scenario, the failed requirement and the stall", rr)
				}
			}
			if f := failed(r); (len(f) > 0) != c.failures {
				t.Errorf("failed specs: %v; want failures: %v", f, c.failures)
			}
		})
	}
}
