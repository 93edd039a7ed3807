package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/reporters"
	"github.com/onsi/ginkgo/v2/types"
	"golang.org/x/sys/unix"

	"github.com/encoderlab/encoderlab/conformance"
	"github.com/encoderlab/encoderlab/conformance/explore"
	"github.com/encoderlab/encoderlab/fixtures"
)

const exploreUsage = `Usage: encoder-conformance explore [flags]

Generate random desks (scenarios of the lab's encoders, cards, timelines
and encodes, each encode expecting any terminal status), run them through
the system under test in batches, and check what holds for every encode:
the registry's invariants and per-attempt requirements. When one breaks,
shrink the desk to the smallest one that still breaks it and write it to
the output directory as a scenario file that "encoder-conformance run
--scenarios FILE" replays, with the failure and the line trace beside it.
The same seed gives the same desks (docs/explore.md).

Flags:
  --seed N          seed of the desks (default: from the clock, printed)
  --runs N          how many desks to run (default 100)
  --duration D      run desks for this long instead (e.g. 10m)
  --batch N         desks per run of the suite (default 40)
  --procs N         batches that run at once, each in a process of its
                    own, so one plays while another waits for its slowest
                    desk (default 3)
  --concurrency N   desks each batch plays at once, each on its own
                    virtual encoders and pipeline (default 16); an external
                    target, whose links one desk at a time uses, plays one
                    desk at a time in one process
  --out DIR         where a shrunk desk, its failure and trace go, and
                    explore.json, a summary (default explore-out)
  --shrink-rounds N at most this many rounds of shrinking (default 40)
  --replays N       run the shrunk desk N times more and say how often it
                    broke again (default 3): fewer than all is a find that
                    depends on timing
  --keep-going      after a find, go on looking for other requirements
                    broken (each shrunk once) instead of stopping
  --target, --api-url, --links, --encoderd, --api-key, --pat, --workspace,
  --scale, --profile
                    the system under test, as for run; with --target
                    encoderd the desks also kill the server and fill its
                    store's disk (the disk only as root)

Exit status: 0 nothing broke; 1 a desk broke a requirement (its shrunk
form is in --out); 2 a usage or setup error.

Example:
  encoder-conformance explore --seed 1 --runs 200
`

type exploreOptions struct {
	seed         uint64
	seedSet      bool
	runs         int
	duration     time.Duration
	batch        int
	procs        int
	concurrency  int
	out          string
	shrinkRounds int
	replays      int
	keepGoing    bool
	passOn       []string // flags handed to run
}

func exploreCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o := &exploreOptions{}
	fs := newFlags("explore", exploreUsage, stdout, stderr)
	fs.Func("seed", "", func(s string) error {
		v, err := strconv.ParseUint(s, 10, 64)
		o.seed, o.seedSet = v, true
		return err
	})
	fs.IntVar(&o.runs, "runs", 100, "")
	fs.DurationVar(&o.duration, "duration", 0, "")
	fs.IntVar(&o.batch, "batch", 40, "")
	fs.IntVar(&o.procs, "procs", 3, "")
	fs.IntVar(&o.concurrency, "concurrency", 16, "")
	fs.StringVar(&o.out, "out", "explore-out", "")
	fs.IntVar(&o.shrinkRounds, "shrink-rounds", 40, "")
	fs.IntVar(&o.replays, "replays", 3, "")
	fs.BoolVar(&o.keepGoing, "keep-going", false, "")
	for _, name := range []string{"target", "api-url", "links", "encoderd", "api-key", "pat", "workspace", "scale", "profile"} {
		fs.Func(name, "", func(s string) error {
			o.passOn = append(o.passOn, "--"+name, s)
			return nil
		})
	}
	if code, stop := parse(fs, args); stop {
		return code
	}
	switch {
	case o.runs < 1 && o.duration == 0:
		return usageError(stderr, "explore", "--runs must be at least 1")
	case o.batch < 1 || o.procs < 1 || o.concurrency < 1:
		return usageError(stderr, "explore", "--batch, --procs and --concurrency must be at least 1")
	case o.replays < 0:
		return usageError(stderr, "explore", "--replays must not be negative")
	case o.duration < 0:
		return usageError(stderr, "explore", "--duration must not be negative")
	}
	if i := slices.Index(o.passOn, "--target"); i >= 0 && o.passOn[i+1] == "external" {
		// An external server drives one set of links: one desk at a time.
		o.procs, o.concurrency = 1, 1
	}
	if !o.seedSet {
		o.seed = uint64(time.Now().UnixNano())
	}
	fmt.Fprintf(stderr, "explore: seed %d (encoder-conformance explore --seed %d replays these desks)\n", o.seed, o.seed)
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return setupError(stderr, err)
	}
	tmp, err := os.MkdirTemp(memoryDir(), "encoder-explore-")
	if err != nil {
		return setupError(stderr, err)
	}
	defer os.RemoveAll(tmp)
	// Every desk's store, links and files go under tmp, in the batches'
	// processes too (they inherit TMPDIR).
	if err := os.Setenv("TMPDIR", tmp); err != nil {
		return setupError(stderr, err)
	}

	ex := &explorer{o: o, lab: fixtures.Bundled(), tmp: tmp, stderr: stderr}
	if i := slices.Index(o.passOn, "--target"); i >= 0 && o.passOn[i+1] == "encoderd" {
		// The server is a process of the exploration's own: desks may
		// kill it, and fill its store's disk where a tmpfs can be mounted.
		ex.gen.Kill = true
		_, storeErr := conformance.Encoderd("").(conformance.SystemStepTarget).SystemSteps()
		if ex.gen.Store = storeErr == nil; !ex.gen.Store {
			fmt.Fprintf(stderr, "explore: desks will not fill the store's disk: %v\n", storeErr)
		}
	}
	ex.runDesks = ex.suite
	if code := ex.check(ctx); code != exitOK {
		return code
	}
	return ex.explore(ctx, stdout)
}

// explore runs desks until --runs or --duration, and shrinks and writes
// the first that breaks something. Up to --procs batches run at once, so
// while one waits for its slowest desk the next is already playing; their
// results are taken in batch order, so the same seed finds the same
// desk first.
func (ex *explorer) explore(ctx context.Context, stdout io.Writer) int {
	o, stderr := ex.o, ex.stderr
	start := time.Now()
	sum := exploreSummary{Seed: o.seed, Violations: []exploreViolation{}}
	found := map[string]bool{} // requirements a desk broke, each shrunk once
	var inFlight []*batch
	next := 0
	// wait lets the batches in flight finish, so no process outlives
	// the exploration.
	wait := func() {
		for _, b := range inFlight {
			<-b.done
		}
	}
	stopped := false
	for {
		for !stopped && len(inFlight) < o.procs && ex.more(start, next) {
			n := o.batch
			if o.duration == 0 {
				n = min(n, o.runs-next)
			}
			b := &batch{first: next, done: make(chan struct{})}
			for i := next; i < next+n; i++ {
				d, err := explore.GenerateWith(ex.lab, o.seed, i, ex.gen)
				if err != nil {
					wait()
					return setupError(stderr, err)
				}
				b.desks = append(b.desks, d)
			}
			next += n
			go func() {
				defer close(b.done)
				b.broke, b.code = ex.runDesks(ctx, fmt.Sprintf("batch-%d", b.first+len(b.desks)), b.desks)
			}()
			inFlight = append(inFlight, b)
		}
		if len(inFlight) == 0 {
			break
		}
		b := inFlight[0]
		inFlight = inFlight[1:]
		<-b.done
		if b.code != exitOK {
			wait()
			return b.code
		}
		sum.Runs = b.first + len(b.desks)
		elapsed := time.Since(start)
		fmt.Fprintf(stderr, "explore: %d desks, %.1f desks/s, %d broke\n", sum.Runs, float64(sum.Runs)/elapsed.Seconds(), len(b.broke))
		for _, v := range b.broke {
			if found[v.requirement] {
				continue
			}
			found[v.requirement] = true
			fmt.Fprintf(stderr, "explore: %s broke %s; shrinking it\n", v.desk.Name, v.requirement)
			small := ex.shrink(ctx, v)
			replayed := ex.replay(ctx, small)
			path, err := ex.write(small, replayed)
			if err != nil {
				wait()
				fmt.Fprintf(stderr, "encoder-conformance explore: %v\n", err)
				return exitFail
			}
			sum.Violations = append(sum.Violations, exploreViolation{Desk: v.desk.Name, Requirement: small.requirement, Shrunk: path,
				Size: small.desk.Size(), Steps: len(small.desk.Steps), Replays: replayed, Of: o.replays, Message: small.message})
			if !o.keepGoing {
				// The first find ends the exploration: what is still
				// running is let finish and not looked at.
				stopped = true
				wait()
				inFlight = nil
				break
			}
		}
	}
	sum.Seconds = time.Since(start).Seconds()
	if err := writeJSON(filepath.Join(o.out, "explore.json"), sum); err != nil {
		fmt.Fprintf(stderr, "encoder-conformance explore: %v\n", err)
		return exitFail
	}
	for _, v := range sum.Violations {
		fmt.Fprintf(stdout, "explore: seed %d: %s broke %s; shrunk to %d steps, which broke it again in %d of %d replays: %s\n  encoder-conformance run --scenarios %s\n",
			o.seed, v.Desk, v.Requirement, v.Steps, v.Replays, v.Of, v.Shrunk, v.Shrunk)
	}
	if len(sum.Violations) > 0 {
		return exitFail
	}
	fmt.Fprintf(stdout, "explore: seed %d: %d desks in %.1f s (%.1f desks/s), nothing broke\n", o.seed, sum.Runs, sum.Seconds, float64(sum.Runs)/sum.Seconds)
	return exitOK
}

// memoryDir is a directory in memory (/dev/shm, a tmpfs on Linux) when
// the machine has one this user may write, else "" (the system's temporary
// directory). A desk's pipeline syncs its store to disk on every commit,
// and on a disk that is most of the system time a desk costs; no desk
// tests what survives a power loss, so the explorer keeps them in memory.
func memoryDir() string {
	const shm = "/dev/shm"
	if fi, err := os.Stat(shm); err != nil || !fi.IsDir() || unix.Access(shm, unix.W_OK) != nil {
		return ""
	}
	return shm
}

// batch is one run of the suite on desks first… of the exploration.
type batch struct {
	first int
	desks []*explore.Desk
	done  chan struct{}
	broke []violation
	code  int
}

// more reports whether another batch is due: --runs not yet all
// started, or --duration not yet over.
func (ex *explorer) more(start time.Time, next int) bool {
	if ex.o.duration > 0 {
		return time.Since(start) < ex.o.duration
	}
	return next < ex.o.runs
}

type exploreSummary struct {
	Seed    uint64  `json:"seed"`
	Runs    int     `json:"runs"`
	Seconds float64 `json:"seconds"`
	// Violations are the requirements desks broke, each with the first
	// desk that broke it, shrunk.
	Violations []exploreViolation `json:"violations"`
}

type exploreViolation struct {
	Desk        string `json:"desk"`
	Requirement string `json:"requirement"`
	Shrunk      string `json:"shrunk"`
	Size        int    `json:"size"`
	Steps       int    `json:"steps"`
	// Replays of Of runs of the shrunk desk broke the requirement again:
	// fewer than all is a find that depends on timing.
	Replays int    `json:"replays"`
	Of      int    `json:"of"`
	Message string `json:"message"`
}

type explorer struct {
	o      *exploreOptions
	lab    *fixtures.Lab
	gen    explore.Options // what desks may do besides their encoders
	tmp    string
	stderr io.Writer
	// runDesks runs desks and returns those that broke a requirement
	// (suite, by default); a test puts a stand-in here.
	runDesks func(ctx context.Context, name string, desks []*explore.Desk) ([]violation, int)
}

// violation is a desk that broke a requirement, and the run that showed it.
type violation struct {
	desk        *explore.Desk
	requirement string
	message     string
	// report is the Ginkgo report of the batch that showed it, and
	// reportDir where that batch kept its line traces.
	report    *types.Report
	reportDir string
}

// suite runs desks through the suite in a process of this program, as
// run starts its parts (it plays --concurrency desks at once and writes
// its Ginkgo JSON report), and returns the desks that broke a requirement, in desk order. It skips
// what run does around them (the checks before, the merged reports
// after): explore checked the target once before the first batch, and
// keeps reports only of the runs that broke something. A batch that
// could not run is a setup error (exit 2).
func (ex *explorer) suite(ctx context.Context, name string, desks []*explore.Desk) ([]violation, int) {
	dir := filepath.Join(ex.tmp, name)
	scDir, reportDir := filepath.Join(dir, "scenarios"), filepath.Join(dir, "report")
	if err := os.MkdirAll(scDir, 0o755); err != nil {
		return nil, setupError(ex.stderr, err)
	}
	byName := map[string]*explore.Desk{}
	for _, d := range desks {
		byName[d.Name] = d
		if err := os.WriteFile(filepath.Join(scDir, d.Name+".yaml"), d.YAML(""), 0o644); err != nil {
			return nil, setupError(ex.stderr, err)
		}
	}
	args := append(ex.runArgs(), "--scenarios", scDir, "--report-dir", reportDir)
	var errOut bytes.Buffer
	report, err := startProcess(ctx, args, part{1, 1}, filepath.Join(dir, "report.json"), false, false, &errOut)
	if err != nil {
		if i, ok := interruption(ctx); ok {
			return nil, exitInterrupted(i)
		}
		fmt.Fprintf(ex.stderr, "%s", lastBytes(errOut.Bytes(), 8000))
		fmt.Fprintf(ex.stderr, "encoder-conformance explore: %s: %v\n", name, err)
		return nil, exitFail
	}
	var out []violation
	for _, f := range failedSpecs(report) {
		if d := byName[f.scenario]; d != nil {
			out = append(out, violation{desk: d, requirement: f.requirement, message: f.message, report: &report, reportDir: reportDir})
		}
	}
	slices.SortStableFunc(out, func(a, b violation) int { return strings.Compare(a.desk.Name, b.desk.Name) })
	return out, exitOK
}

// runArgs are the flags of run every batch passes its processes: the
// target's, and what an exploration changes of run's defaults.
func (ex *explorer) runArgs() []string {
	return append([]string{"--concurrency", strconv.Itoa(ex.o.concurrency),
		"--stall-reruns", "1", "--label-filter", "!api"}, ex.o.passOn...)
}

// check checks, before the first desk, what would fail every batch
// alike (the target does not answer, --links is not there), as run
// does, and returns exitOK or the setup error's exit status.
func (ex *explorer) check(ctx context.Context) int {
	var quiet bytes.Buffer
	o, code, ok := parseRun(append(ex.runArgs(), "--report-dir", filepath.Join(ex.tmp, "check")), &quiet, &quiet)
	if !ok {
		fmt.Fprintf(ex.stderr, "%s", quiet.Bytes())
		return code
	}
	cfg, err := o.config()
	if err == nil {
		err = preflight(ctx, &cfg, o)
	}
	if err != nil {
		return setupError(ex.stderr, err)
	}
	return exitOK
}

// shrink makes v's desk smaller while the same requirement still breaks.
func (ex *explorer) shrink(ctx context.Context, v violation) violation {
	for round := 1; round <= ex.o.shrinkRounds; round++ {
		cands := explore.Shrink(v.desk, ex.lab)
		if len(cands) == 0 {
			break
		}
		for i, c := range cands {
			c.Name = fmt.Sprintf("%s-s%d-%d", v.desk.Name, round, i)
		}
		broke, code := ex.runDesks(ctx, fmt.Sprintf("shrink-%d", round), cands)
		if code != exitOK {
			break
		}
		var best *violation
		for i := range broke {
			b := &broke[i]
			if b.requirement == v.requirement && (best == nil || b.desk.Size() < best.desk.Size()) {
				best = b
			}
		}
		if best == nil {
			break
		}
		fmt.Fprintf(ex.stderr, "explore: shrink round %d: %d steps, size %d\n", round, len(best.desk.Steps), best.desk.Size())
		v = *best
	}
	return v
}

// replay runs v's desk --replays times more, all at once, and returns how
// many runs broke the same requirement again.
func (ex *explorer) replay(ctx context.Context, v violation) int {
	if ex.o.replays == 0 {
		return 0
	}
	desks := make([]*explore.Desk, ex.o.replays)
	for i := range desks {
		d := *v.desk
		d.Name = fmt.Sprintf("%s-r%d", v.desk.Name, i+1)
		desks[i] = &d
	}
	broke, code := ex.runDesks(ctx, "replay-"+v.desk.Name, desks)
	if code != exitOK {
		return 0
	}
	again := map[string]bool{}
	for _, b := range broke {
		if b.requirement == v.requirement {
			again[b.desk.Name] = true
		}
	}
	return len(again)
}

// write puts the shrunk desk in --out as a scenario file named after the
// requirement, with the failure and the line trace beside it.
func (ex *explorer) write(v violation, replayed int) (string, error) {
	name := "explore-" + strings.ToLower(v.requirement) + "-" + strconv.FormatUint(ex.o.seed, 10)
	d := *v.desk
	d.Name = name
	comment := fmt.Sprintf("Found by encoder-conformance explore --seed %d, shrunk from a larger desk;\nit broke the requirement again in %d of %d replays.\nIt breaks %s:\n%s",
		ex.o.seed, replayed, ex.o.replays, v.requirement, firstLinesOf(v.message, 12))
	path := filepath.Join(ex.o.out, name+".yaml")
	if err := os.WriteFile(path, d.YAML(comment), 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(ex.o.out, name+".failure.txt"), []byte(v.message+"\n"), 0o644); err != nil {
		return "", err
	}
	// The failing run's reports, and its line trace and timeline, under
	// the desk's name.
	if v.report != nil {
		if err := reporters.GenerateJUnitReport(*v.report, filepath.Join(ex.o.out, name+".junit.xml")); err != nil {
			return "", err
		}
		if err := reporters.GenerateJSONReport(*v.report, filepath.Join(ex.o.out, name+".ginkgo.json")); err != nil {
			return "", err
		}
	}
	src := filepath.Join(v.reportDir, v.desk.Name)
	if entries, err := os.ReadDir(src); err == nil {
		for _, e := range entries {
			if b, err := os.ReadFile(filepath.Join(src, e.Name())); err == nil {
				_ = os.WriteFile(filepath.Join(ex.o.out, name+"."+e.Name()), b, 0o644)
			}
		}
	}
	return path, nil
}

func firstLinesOf(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = append(lines[:n], "…")
	}
	return strings.Join(lines, "\n")
}

// failed is one failed spec: the scenario it ran in, the requirement.
type failed struct {
	scenario, requirement, message string
}

// failedSpecs are the failed specs of a run's report that name a
// scenario and a requirement.
func failedSpecs(r types.Report) []failed {
	var out []failed
	for _, s := range r.SpecReports {
		if !s.State.Is(types.SpecStateFailureStates) || s.LeafNodeType != types.NodeTypeIt {
			continue
		}
		f := failed{message: s.Failure.Message}
		for _, l := range s.ContainerHierarchyLabels {
			for _, x := range l {
				if name, ok := strings.CutPrefix(x, "scenario:"); ok {
					f.scenario = name
				}
			}
		}
		for _, l := range s.LeafNodeLabels {
			if strings.ToUpper(l) == l && strings.Contains(l, "-") {
				f.requirement = l
			}
		}
		if s.Failure.FailureNodeType == types.NodeTypeBeforeAll {
			// The run itself failed (its timeline, or the system under
			// test would not start or stop), which Ginkgo reports on the
			// container's first spec: no requirement of that spec.
			f.requirement = RunFailed
		}
		if f.scenario != "" && f.requirement != "" {
			out = append(out, f)
		}
	}
	return out
}

// RunFailed names, among the requirements a desk broke, a run that could
// not be made or judged at all: the timeline did not run to its end, or
// the system under test did not start, or did not stop cleanly.
const RunFailed = "SCENARIO-RUN"

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return errors.Join(fmt.Errorf("writing %s", path), err)
	}
	return nil
}
