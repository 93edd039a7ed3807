package main

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

	"github.com/onsi/ginkgo/v2/types"

	"github.com/encoderlab/encoderlab/conformance"
	"github.com/encoderlab/encoderlab/conformance/explore"
	"github.com/encoderlab/encoderlab/fixtures"
	"github.com/encoderlab/encoderlab/internal/require"
	"github.com/encoderlab/encoderlab/sim/scenario"
)

// breaksOnBusy stands in for the suite: a desk breaks BUSY-BREAKS when
// its timeline answers busy to an encode, whatever else it holds.
func breaksOnBusy(calls *int) func(context.Context, string, []*explore.Desk) ([]violation, int) {
	return func(_ context.Context, _ string, desks []*explore.Desk) ([]violation, int) {
		*calls++
		var out []violation
		for _, d := range desks {
			if slices.ContainsFunc(d.Steps, func(s explore.Step) bool { return s.Op == "busy" }) {
				out = append(out, violation{desk: d, requirement: "BUSY-BREAKS", message: "busy broke it"})
			}
		}
		return out, exitOK
	}
}

func exploreWith(t *testing.T, out string, seed uint64) (int, string) {
	t.Helper()
	calls := 0
	o := &exploreOptions{seed: seed, runs: 200, batch: 20, procs: 1, out: out, shrinkRounds: 40, replays: 3}
	var stderr bytes.Buffer
	ex := &explorer{o: o, lab: fixtures.Bundled(), tmp: t.TempDir(), stderr: &stderr, runDesks: breaksOnBusy(&calls)}
	var stdout bytes.Buffer
	code := ex.explore(context.Background(), &stdout)
	return code, stdout.String() + stderr.String()
}

// The explorer finds a desk that breaks, shrinks it to what breaks (one
// busy step, one encode, one encoder, no cards) and writes it as a
// scenario that loads, with a summary; the same seed writes the same file.
func TestExploreShrinksWhatBreaks(t *testing.T) {
	out := t.TempDir()
	code, log := exploreWith(t, out, 3)
	if code != exitFail {
		t.Fatalf("explore exited %d, want 1 (a desk broke):\n%s", code, log)
	}
	var sum exploreSummary
	b, err := os.ReadFile(filepath.Join(out, "explore.json"))
	if err != nil || json.Unmarshal(b, &sum) != nil || len(sum.Violations) != 1 {
		t.Fatalf("explore.json = %s, %v; want a summary with the violation", b, err)
	}
	v := sum.Violations[0]
	if sum.Seed != 3 || v.Requirement != "BUSY-BREAKS" || v.Replays != 3 || v.Of != 3 {
		t.Errorf("summary %+v, want seed 3 and BUSY-BREAKS, broken again in 3 of 3 replays", sum)
	}
	sc, err := scenario.LoadFile(v.Shrunk)
	if err != nil {
		t.Fatalf("the shrunk desk does not load: %v", err)
	}
	if err := scenario.CheckLab(sc, fixtures.Bundled()); err != nil {
		t.Errorf("the shrunk desk does not fit the lab: %v", err)
	}
	if len(sc.Steps) != 1 || sc.Steps[0].Op != scenario.OpBusy || len(sc.Encodes) != 1 || len(sc.Cards) != 0 || len(sc.AllEncoders()) != 1 {
		y, _ := os.ReadFile(v.Shrunk)
		t.Errorf("shrunk to %d steps, %d encodes, %d cards, %d encoders; want one busy step, one encode, nothing else:\n%s",
			len(sc.Steps), len(sc.Encodes), len(sc.Cards), len(sc.AllEncoders()), y)
	}
	if !strings.Contains(log, "--scenarios "+v.Shrunk) {
		t.Errorf("the output does not say how to replay it:\n%s", log)
	}
	again := t.TempDir()
	exploreWith(t, again, 3)
	first, _ := os.ReadFile(v.Shrunk)
	second, _ := os.ReadFile(filepath.Join(again, filepath.Base(v.Shrunk)))
	if !bytes.Equal(first, second) {
		t.Errorf("the same seed wrote another desk:\n%s\n---\n%s", first, second)
	}
}

func TestExploreNothingBreaks(t *testing.T) {
	calls := 0
	o := &exploreOptions{seed: 5, runs: 45, batch: 20, procs: 1, out: t.TempDir(), shrinkRounds: 40}
	var stdout, stderr bytes.Buffer
	ex := &explorer{o: o, lab: fixtures.Bundled(), tmp: t.TempDir(), stderr: &stderr,
		runDesks: func(context.Context, string, []*explore.Desk) ([]violation, int) { calls++; return nil, exitOK }}
	if code := ex.explore(context.Background(), &stdout); code != exitOK {
		t.Fatalf("explore exited %d, want 0:\n%s", code, stderr.String())
	}
	if calls != 3 || !strings.Contains(stdout.String(), "45 desks") {
		t.Errorf("%d batches, output %q; want 3 batches (20, 20, 5) and 45 desks", calls, stdout.String())
	}
}

func TestExploreUsage(t *testing.T) {
	for _, args := range [][]string{{"--runs", "0"}, {"--batch", "0"}, {"--seed", "x"}, {"--duration", "-1s"}} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), append([]string{"explore"}, args...), &stdout, &stderr); code != exitUsage {
			t.Errorf("explore %v exited %d, want 2; stderr %q", args, code, stderr.String())
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"explore", "--help"}, &stdout, &stderr); code != exitOK || !strings.Contains(stdout.String(), "--shrink-rounds") {
		t.Errorf("explore --help exited %d: %q %q", code, stdout.String(), stderr.String())
	}
}

// TestExploreSeededRun is CI's seeded exploration: three hundred desks of a
// fixed seed through the bundled pipeline, the real suite judging them.
// Nothing may break, and the summary says what ran. make test runs it
// beside every other package's tests, so it plays fewer desks at once than
// the defaults (whose speed BenchmarkExplore measures): a machine that
// busy stalls, and a desk is re-run after a stall only once.
func TestExploreSeededRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three hundred generated desks through the suite (half a minute or more); skipped with -short")
	}
	out := t.TempDir()
	stdout, stderr, code := runBin(t, t.TempDir(), "explore", "--seed", "20261203", "--runs", "300",
		"--procs", "2", "--concurrency", "4", "--out", out)
	if code != exitOK {
		b, _ := os.ReadFile(filepath.Join(out, "explore.json"))
		t.Fatalf("explore exited %d; stdout:\n%s\nstderr:\n%s\nexplore.json:\n%s", code, stdout, stderr, b)
	}
	var sum exploreSummary
	b, err := os.ReadFile(filepath.Join(out, "explore.json"))
	if err != nil || json.Unmarshal(b, &sum) != nil {
		t.Fatalf("explore.json: %s, %v", b, err)
	}
	if sum.Seed != 20261203 || sum.Runs != 300 || len(sum.Violations) != 0 {
		t.Errorf("summary %+v, want seed 20261203, 300 runs, no violation", sum)
	}
	if !strings.Contains(stderr, "explore: 300 desks") || !strings.Contains(stdout, "nothing broke") {
		t.Errorf("no progress or result line:\nstdout %s\nstderr %s", stdout, stderr)
	}
}

// With --keep-going the explorer goes on after a find and shrinks the
// first desk of each requirement broken, once.
func TestExploreKeepGoing(t *testing.T) {
	breaks := func(_ context.Context, _ string, desks []*explore.Desk) ([]violation, int) {
		var out []violation
		for _, d := range desks {
			for _, s := range d.Steps {
				switch s.Op {
				case "busy":
					out = append(out, violation{desk: d, requirement: "BUSY-BREAKS"})
				case "garble":
					out = append(out, violation{desk: d, requirement: "GARBLE-BREAKS"})
				}
			}
		}
		return out, exitOK
	}
	out := t.TempDir()
	o := &exploreOptions{seed: 3, runs: 100, batch: 20, procs: 1, out: out, shrinkRounds: 40, replays: 1, keepGoing: true}
	var stdout, stderr bytes.Buffer
	ex := &explorer{o: o, lab: fixtures.Bundled(), tmp: t.TempDir(), stderr: &stderr, runDesks: breaks}
	if code := ex.explore(context.Background(), &stdout); code != exitFail {
		t.Fatalf("exit %d, want 1:\n%s", code, stderr.String())
	}
	var sum exploreSummary
	b, _ := os.ReadFile(filepath.Join(out, "explore.json"))
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	var reqs []string
	for _, v := range sum.Violations {
		reqs = append(reqs, v.Requirement)
	}
	slices.Sort(reqs)
	if sum.Runs != 100 || !slices.Equal(reqs, []string{"BUSY-BREAKS", "GARBLE-BREAKS"}) {
		t.Errorf("ran %d desks, found %v; want all 100 and each requirement once", sum.Runs, reqs)
	}
}

// TestExploreEncoderdTarget explores encoderd run by the suite, a process
// per desk: desks kill it (at once, or left down while the timeline goes
// on) and fill its store's disk (a tmpfs per desk, root only), and
// nothing may break: every acknowledged attempt ends, no refused reissue
// lands on two cards, an error writes nothing, whatever the process and
// its disk do.
func TestExploreEncoderdTarget(t *testing.T) {
	if testing.Short() {
		t.Skip("builds encoderd and runs a hundred and twenty desks, each on a process of its own; skipped with -short")
	}
	if _, err := conformance.Encoderd("").(conformance.SystemStepTarget).SystemSteps(); err != nil {
		require.Missing(t, "%v", err)
	}
	server := filepath.Join(t.TempDir(), "encoderd")
	if out, err := exec.Command("go", "build", "-o", server, "../encoderd").CombinedOutput(); err != nil {
		t.Fatalf("building encoderd: %v\n%s", err, out)
	}
	const seed, runs = 20261205, 120
	// The desks the exploration generates: enough of them must act on
	// the process for the run to say anything.
	acts := map[string]int{}
	for i := range runs {
		d, err := explore.GenerateWith(fixtures.Bundled(), seed, i, explore.Options{Kill: true, Store: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range d.Steps {
			if st.Op == "server" || st.Op == "store" {
				acts[st.Op+" "+st.Value]++
			}
		}
	}
	for _, want := range []string{"server kill", "server stop", "server start", "store full", "store free"} {
		if acts[want] < 5 {
			t.Fatalf("%d desks of seed %d have %s only %d times; the run would not try it", runs, seed, want, acts[want])
		}
	}
	out := t.TempDir()
	stdout, stderr, code := runBin(t, t.TempDir(), "explore", "--target", "encoderd", "--encoderd", server,
		"--seed", fmt.Sprint(seed), "--runs", fmt.Sprint(runs), "--procs", "2", "--concurrency", "4", "--out", out)
	if code != exitOK {
		b, _ := os.ReadFile(filepath.Join(out, "explore.json"))
		t.Fatalf("explore exited %d; stdout:\n%s\nstderr:\n%s\nexplore.json:\n%s", code, stdout, stderr, b)
	}
	if strings.Contains(stderr, "will not fill") || !strings.Contains(stdout, fmt.Sprintf("%d desks", runs)) || !strings.Contains(stdout, "nothing broke") {
		t.Errorf("want every desk run, store steps included, and nothing broken:\nstdout %s\nstderr %s", stdout, stderr)
	}
}

// A run that failed as a whole (in the container's BeforeAll, which
// Ginkgo reports on its first spec) is not a break of that spec's
// requirement.
func TestFailedSpecsNameARunThatFailed(t *testing.T) {
	spec := func(node types.NodeType, req string) types.SpecReport {
		return types.SpecReport{
			LeafNodeType:             types.NodeTypeIt,
			State:                    types.SpecStateFailed,
			ContainerHierarchyLabels: [][]string{{"scenario:explore-1-2"}},
			LeafNodeLabels:           []string{req},
			Failure:                  types.Failure{Message: "m", FailureNodeType: node},
		}
	}
	got := failedSpecs(types.Report{SpecReports: types.SpecReports{spec(types.NodeTypeBeforeAll, "API-OK-TRUE"), spec(types.NodeTypeIt, "LIFECYCLE-DEADLINE")}})
	if len(got) != 2 || got[0].requirement != RunFailed || got[1].requirement != "LIFECYCLE-DEADLINE" || got[0].scenario != "explore-1-2" {
		t.Errorf("failedSpecs = %+v; want %s for the BeforeAll failure, LIFECYCLE-DEADLINE for the spec's own", got, RunFailed)
	}
}
