package mutant_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/encoderlab/encoderlab/conformance"
	"github.com/encoderlab/encoderlab/conformance/mutant"

	"github.com/encoderlab/encoderlab/internal/require"
)

// killTableEnv names a file the kill table is written to (make mutants).
const killTableEnv = "ENCODERLAB_KILL_TABLE"

// concurrentRuns is how many suite runs go at once: the suite mostly
// waits on ptys and timers, and two fit a 2-core machine with room for
// the protocol's short, scaled timeouts.
const concurrentRuns = 2

// runTimeout bounds one run of the suite, far above its few seconds so a
// loaded machine does not turn a slow run into a failure.
const runTimeout = 5 * time.Minute

// TestEveryMutantIsKilled runs the conformance suite against the control
// (the real pipeline behind the mutants' proxy) and against each mutant,
// each in a process of its own, and fails unless the control passes and
// every mutant fails at least one requirement's check.
func TestEveryMutantIsKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the conformance suite once per mutant (a minute or two); skipped with -short")
	}
	start := time.Now()
	suite := buildSuite(t)
	control := suite.control(t)

	outcomes := suite.runEach(t, "mutants", mutant.All, func(t *testing.T, m mutant.Mutant, o outcome) {
		switch {
		case o.err != nil:
			t.Errorf("%v", o.err)
		case len(o.caughtBy) == 0:
			t.Errorf("mutant %s survived: no requirement's check failed against a pipeline where %s "+
				"(%d specs passed; setup failed in: %v)", m.Name, m.Breaks, o.passed, o.setup)
		}
	})

	table := killTable(control, outcomes, time.Since(start))
	t.Log("\n" + table)
	if path := os.Getenv(killTableEnv); path != "" {
		if err := os.WriteFile(path, []byte(table), 0o644); err != nil {
			t.Errorf("writing the kill table: %v", err)
		}
	}
}

// buildSuite compiles the conformance suite once for the runs of a test.
func buildSuite(t *testing.T) suiteRunner {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		require.Missing(t, "building the conformance suite needs the go command: %v", err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "conformance.test")
	build := exec.Command(goTool, "test", "-c", "-o", bin, "github.com/encoderlab/encoderlab/conformance")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the conformance suite: %v\n%s", err, out)
	}
	suiteDir, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return suiteRunner{bin: bin, dir: suiteDir, reports: dir}
}

// control runs the suite against the control and stops the test unless
// it passes: against a suite that fails anyway, a catch says nothing.
func (s suiteRunner) control(t *testing.T) outcome {
	t.Helper()
	control := s.run(t, mutant.Control)
	if control.err != nil {
		t.Fatalf("control run: %v", control.err)
	}
	if len(control.caughtBy) > 0 || len(control.setup) > 0 || control.passed == 0 {
		t.Fatalf("the suite must pass against the control, or a kill says nothing; "+
			"%d specs passed, requirements failed: %v, setup failed in: %v\n%s",
			control.passed, control.caughtBy, control.setup, control.output)
	}
	return control
}

// runEach runs the suite against each mutant, concurrentRuns at a time,
// each in a subtest of group that judge then checks; it returns the
// outcomes in the mutants' order.
func (s suiteRunner) runEach(t *testing.T, group string, ms []mutant.Mutant, judge func(*testing.T, mutant.Mutant, outcome)) []outcome {
	outcomes := make([]outcome, len(ms))
	sem := make(chan struct{}, concurrentRuns)
	t.Run(group, func(t *testing.T) {
		for i, m := range ms {
			t.Run(m.Name, func(t *testing.T) {
				t.Parallel()
				sem <- struct{}{}
				defer func() { <-sem }()
				outcomes[i] = s.run(t, m)
				judge(t, m, outcomes[i])
			})
		}
	})
	return outcomes
}

// suiteRunner runs the compiled conformance suite.
type suiteRunner struct {
	bin, dir, reports string
}

// outcome is how one run of the suite went.
type outcome struct {
	mutant mutant.Mutant
	// caughtBy lists the requirements whose check failed, sorted.
	caughtBy []string
	// setup lists the containers whose setup (playing the scenario,
	// starting the system) failed: the suite failed there, but no
	// requirement's check said why.
	setup  []string
	passed int
	took   time.Duration
	output []byte
	// err says why the run could not be judged at all.
	err error
}

// defaultLabels selects the specs a mutant is run against unless it
// names its own: the API checks and every PMS scenario.
const defaultLabels = "api || model:pms"

func (s suiteRunner) run(t *testing.T, m mutant.Mutant) outcome {
	t.Helper()
	o := outcome{mutant: m}
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	report := filepath.Join(s.reports, m.Name+".json")
	args := []string{"-test.run", "^TestConformance$", "-test.count=1",
		"-ginkgo.no-color", "-ginkgo.json-report=" + report}
	// Every mutant breaks the pipeline above its drivers, so one device
	// model's scenarios show it as well as all of them, in half the time.
	labels := defaultLabels
	if m.Labels != "" {
		labels = m.Labels
	}
	args = append(args, "-ginkgo.label-filter="+labels)
	cmd := exec.CommandContext(ctx, s.bin, args...)
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(), mutant.EnvVar+"="+m.Name, "ENCODERLAB_TIME_SCALE=0.05")
	if m.Profile != "" {
		cmd.Env = append(cmd.Env, "ENCODERLAB_PROFILE="+m.Profile)
	}
	cmd.WaitDelay = 10 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	began := time.Now()
	runErr := cmd.Run() // a failing suite exits non-zero: the report says why
	o.took = time.Since(began)
	o.output = out.Bytes()

	raw, err := os.ReadFile(report)
	if err != nil {
		o.err = fmt.Errorf("mutant %s: no Ginkgo report (%v; the run ended: %v):\n%s", m.Name, err, runErr, tail(o.output))
		return o
	}
	var reports []types.Report
	if err := json.Unmarshal(raw, &reports); err != nil || len(reports) != 1 {
		o.err = fmt.Errorf("mutant %s: reading the Ginkgo report %s: %d suites, %v", m.Name, report, len(reports), err)
		return o
	}
	o.caughtBy, o.setup, o.passed = judge(reports[0])
	return o
}

// judge splits a report's failures into requirements whose own check
// failed and containers whose setup failed, and counts the passed specs.
func judge(r types.Report) (caughtBy, setup []string, passed int) {
	checks := r
	checks.SpecReports = nil
	for _, s := range r.SpecReports {
		if s.LeafNodeType != types.NodeTypeIt {
			continue
		}
		if s.State.Is(types.SpecStateFailureStates) && s.Failure.FailureNodeType != types.NodeTypeIt {
			where := "suite"
			if n := len(s.ContainerHierarchyTexts); n > 0 {
				where = s.ContainerHierarchyTexts[n-1]
			}
			setup = append(setup, where)
			continue
		}
		checks.SpecReports = append(checks.SpecReports, s)
	}
	for _, res := range conformance.Results(checks) {
		if res.Failed > 0 {
			caughtBy = append(caughtBy, res.ID)
		}
		passed += res.Passed
	}
	slices.Sort(caughtBy)
	return caughtBy, slices.Compact(setup), passed
}

// killTable is the kill table in Markdown: each mutant, the promise it
// breaks, and the requirements that caught it, or SURVIVED.
func killTable(control outcome, outcomes []outcome, took time.Duration) string {
	var b strings.Builder
	killed := 0
	for _, o := range outcomes {
		if o.err == nil && len(o.caughtBy) > 0 {
			killed++
		}
	}
	fmt.Fprintf(&b, "# Kill table\n\n%d of %d mutants killed; the control passed %d specs; %s in all.\n\n",
		killed, len(outcomes), control.passed, took.Round(time.Second))
	b.WriteString("| Mutant | Breaks | Caught by |\n|---|---|---|\n")
	for _, o := range outcomes {
		caught := strings.Join(o.caughtBy, ", ")
		switch {
		case o.err != nil:
			caught = "NOT RUN: " + strings.SplitN(o.err.Error(), "\n", 2)[0]
		case len(o.caughtBy) == 0:
			caught = "**SURVIVED**"
		}
		if len(o.setup) > 0 {
			caught += fmt.Sprintf(" (setup failed in %s)", strings.Join(o.setup, ", "))
		}
		name := o.mutant.Name
		if o.mutant.Labels != "" && o.mutant.Labels != defaultLabels {
			name += fmt.Sprintf(" (specs: `%s`)", o.mutant.Labels)
		}
		if o.mutant.Profile != "" {
			name += fmt.Sprintf(" (profile %s)", o.mutant.Profile)
		}
		cell := strings.NewReplacer("|", `\|`).Replace
		fmt.Fprintf(&b, "| %s | %s | %s |\n", cell(name), cell(o.mutant.Breaks), cell(caught))
	}
	return b.String()
}

// tail is the end of a run's output, enough to see why it stopped.
func tail(out []byte) []byte {
	const n = 4000
	if len(out) > n {
		return out[len(out)-n:]
	}
	return out
}

// systematicEnv makes TestSystematicMutationScore run (make
// mutants-systematic): one suite run per field of the registry.
const systematicEnv = "ENCODERLAB_SYSTEMATIC"

// minScore is the least share of the changes the seeds constrain that
// the suite must catch.
const minScore = 95.0

// scoreFileEnv names a file the score table is written to.
const scoreFileEnv = "ENCODERLAB_SCORE_TABLE"

// TestSystematicMutationScore runs the suite against every systematic
// mutant (mutant.Systematic: each field of the registry replaced by
// another valid value of its type) and reports which the suite caught:
// the mutation score, overall and per field. A run where the suite
// failed anywhere, a requirement's check or a scenario's setup, is a
// catch. The control must pass first, or a catch says nothing. The test
// fails then, when a run cannot be judged, when a change survives that
// the registry does not justify (a field check's free:, or the answer
// mutant's own reason), or when the score over the changes the seeds
// constrain is below minScore.
func TestSystematicMutationScore(t *testing.T) {
	if os.Getenv(systematicEnv) == "" {
		t.Skipf("one suite run per registry field (several minutes): make mutants-systematic sets %s=1", systematicEnv)
	}
	start := time.Now()
	suite := buildSuite(t)
	suite.control(t)
	outcomes := suite.runEach(t, "fields", mutant.Systematic, func(t *testing.T, _ mutant.Mutant, o outcome) {
		if o.err != nil {
			t.Errorf("%v", o.err)
		}
	})
	var b strings.Builder
	caught, applied, free := 0, 0, 0
	var rows []string
	for _, o := range outcomes {
		path, why := mutant.SystematicField(o.mutant)
		by := strings.Join(o.caughtBy, ", ")
		if len(o.setup) > 0 {
			by = strings.TrimPrefix(by+", setup of "+strings.Join(o.setup, ", "), ", ")
		}
		switch {
		case !bytes.Contains(o.output, []byte(mutant.ChangedMarker)):
			// No answer of the run carried the field with a value to
			// change (absent, or null): nothing to catch.
			by = "n/a: no answer carried a value"
		case by != "":
			applied++
			caught++
		case why != "":
			applied++
			free++
			by = "let through, justified: " + why
		default:
			applied++
			by = "SURVIVED"
		}
		rows = append(rows, fmt.Sprintf("| `%s` | %s | %s |", path, strings.TrimPrefix(o.mutant.Breaks, path+" is "), by))
	}
	constrained := applied - free
	score := 100 * float64(caught) / float64(max(constrained, 1))
	fmt.Fprintf(&b, "# Systematic mutation score\n\n"+
		"%d of the %d changes the seeds constrain caught (%.0f%%); %d more let through where the seeds leave the value free (each with its reason below); "+
		"%d of %d changes caught in all (%.0f%%); %d fields no answer carried; %s in all.\n\n",
		caught, constrained, score, free, caught, applied, 100*float64(caught)/float64(max(applied, 1)),
		len(outcomes)-applied, time.Since(start).Round(time.Second))
	if survived := constrained - caught; survived > 0 || score < minScore {
		t.Errorf("mutation score %.0f%% (want at least %.0f%%), %d change(s) survived with no reason in the registry: see the table", score, minScore, survived)
	}
	b.WriteString("| field | changed to | caught by |\n| --- | --- | --- |\n")
	b.WriteString(strings.Join(rows, "\n") + "\n")
	t.Log("\n" + b.String())
	if path := os.Getenv(scoreFileEnv); path != "" {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Errorf("writing the score table: %v", err)
		}
	}
}
