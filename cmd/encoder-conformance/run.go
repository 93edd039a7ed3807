package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/onsi/ginkgo/v2/reporters"
	"github.com/onsi/ginkgo/v2/types"

	"github.com/encoderlab/encoderlab/conformance"
)

// runCmd runs the suite. The parent process plans the run, starts one
// process of this program per part of the plan (--process I/N), merges
// their Ginkgo JSON reports and writes every report; a started process
// runs its part with Ginkgo and writes its JSON report.
func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, code, ok := parseRun(args, stdout, stderr)
	if !ok {
		return code
	}
	if o.processReport != "" {
		return runProcess(o, stderr)
	}
	cfg, err := o.config()
	if err != nil {
		return setupError(stderr, err)
	}
	if err := preflight(ctx, &cfg, o); err != nil {
		return setupError(stderr, err)
	}
	plan, err := conformance.Plan(&cfg)
	if err != nil {
		return setupError(stderr, err)
	}
	plan = shardOf(plan, o.shard)
	tmp, err := os.MkdirTemp("", "encoder-conformance-")
	if err != nil {
		fmt.Fprintf(stderr, "encoder-conformance run: %v\n", err)
		return exitFail
	}
	defer os.RemoveAll(tmp)

	procs := min(o.procs, max(len(plan), 1))
	fmt.Fprintf(stderr, "encoder-conformance: profile %s, %d containers in %d process(es), %d scenario(s) at once in each\n", cfg.Profile, len(plan), procs, max(o.concurrency, 1))
	parts := make([]types.Report, procs)
	errs := make([]error, procs)
	var wg sync.WaitGroup
	for i := range procs {
		wg.Go(func() {
			parts[i], errs[i] = startProcess(ctx, args, part{i + 1, procs}, filepath.Join(tmp, fmt.Sprintf("part-%d.json", i+1)), o.verbose, o.hardware, stderr)
		})
	}
	wg.Wait()
	stop, interrupted := interruption(ctx)
	var got []types.Report
	for i, err := range errs {
		switch {
		case err == nil:
			got = append(got, parts[i])
		case interrupted:
			// What a part ran before it stopped is in its report; a part
			// that stopped without one ran nothing the report can show.
			fmt.Fprintf(stderr, "encoder-conformance run: process %d of %d: %v\n", i+1, procs, err)
		default:
			fmt.Fprintf(stderr, "encoder-conformance run: process %d of %d: %v\n", i+1, procs, err)
			return exitFail
		}
	}
	report := conformance.MergeReports(got)
	if interrupted {
		report.SuiteSucceeded = false
		if report.StartTime.IsZero() {
			report.StartTime = time.Now()
		}
	}
	// The parts' label filters carry the split; the run's is the user's.
	report.SuiteConfig.LabelFilter = o.labelFilter
	if o.shard.n > 0 {
		report.SuiteConfig.LabelFilter = joinFilters(o.labelFilter, "shard "+o.shard.String())
	}

	kind, url := o.targetInfo()
	product, version := o.product, o.version
	if product == "" && kind == "in-process" {
		// The system under test is this very build's pipeline.
		product, version = "encoderlab pipeline", conformance.Build().String()
	}
	info := conformance.ReportInfo{Product: product, Version: version, TargetKind: kind, TargetURL: url}
	if interrupted {
		info.Interrupted = stop.Error()
	}
	cert, err := conformance.NewCertification(report, cfg, info)
	if err != nil {
		fmt.Fprintf(stderr, "encoder-conformance run: %v\n", err)
		return exitFail
	}
	if err := writeReports(o.reportDir, report, cert); err != nil {
		fmt.Fprintf(stderr, "encoder-conformance run: %v\n", err)
		return exitFail
	}
	writeSummary(stdout, report, cert, o)
	switch {
	case interrupted:
		return exitInterrupted(stop)
	case !report.SuiteSucceeded || cert.Totals.Failed > 0 || (o.certified && !cert.Certified):
		return exitFail
	}
	return exitOK
}

// preflight checks, before any process starts, what would fail every
// spec alike (conformance.Preflight) and that the report directory can
// be written, and returns every problem as one *conformance.SetupError.
func preflight(ctx context.Context, cfg *conformance.Config, o *options) error {
	var problems []string
	if err := checkReportDir(o.reportDir); err != nil {
		problems = append(problems, err.Error())
	}
	var se *conformance.SetupError
	if err := conformance.Preflight(ctx, cfg); errors.As(err, &se) {
		problems = append(problems, se.Problems...)
	} else if err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return &conformance.SetupError{Problems: problems}
	}
	return nil
}

// checkReportDir makes the report directory and writes a file in it, so
// a run that could not keep its reports does not start.
func checkReportDir(dir string) error {
	fail := func(err error) error {
		return fmt.Errorf("report directory %s cannot be written (%v); give --report-dir a directory this user may create and write", dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fail(err)
	}
	f, err := os.CreateTemp(dir, ".encoder-conformance-check-*")
	if err != nil {
		return fail(err)
	}
	f.Close()
	return os.Remove(f.Name())
}

// setupError reports a run that cannot start and returns exitSetup.
func setupError(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "encoder-conformance run: setup error, nothing ran: %v\n", err)
	return exitSetup
}

// shardOf returns the containers of shard s of the plan, or the whole
// plan when no shard was asked for.
func shardOf(plan []conformance.Group, s part) []conformance.Group {
	if s.n == 0 {
		return plan
	}
	var out []conformance.Group
	for j := s.i - 1; j < len(plan); j += s.n {
		out = append(out, plan[j])
	}
	return out
}

func joinFilters(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return "(" + a + ") && (" + b + ")"
}

// startProcess runs part p of the plan in a process of this program and
// returns its report. The process's progress lines go to stderr; its
// Ginkgo output too with -v, otherwise only if it ends without a report.
func startProcess(ctx context.Context, args []string, p part, reportPath string, verbose, hardware bool, stderr io.Writer) (types.Report, error) {
	self, err := os.Executable()
	if err != nil {
		return types.Report{}, fmt.Errorf("finding this program to start it again: %w", err)
	}
	argv := append([]string{"run"}, args...)
	argv = append(argv, "--process", p.String(), "--process-report", reportPath)
	cmd := exec.CommandContext(ctx, self, argv...)
	if hardware {
		cmd.Stdin = os.Stdin // an operator answers prompts in a hardware run
	}
	stopOnInterrupt(ctx, cmd, hardware)
	cmd.Stderr = &lockedWriter{w: stderr}
	var out bytes.Buffer
	cmd.Stdout = &out
	if verbose {
		cmd.Stdout = cmd.Stderr
	}
	// An interrupted part gets this long to clean up and write its
	// report before it is killed.
	cmd.WaitDelay = 30 * time.Second
	runErr := cmd.Run()
	b, err := os.ReadFile(reportPath)
	if err != nil {
		if out.Len() > 0 {
			fmt.Fprintf(stderr, "--- output of process %s:\n%s\n", p.String(), lastBytes(out.Bytes(), 8000))
		}
		if runErr != nil {
			return types.Report{}, fmt.Errorf("ended without a report: %w", runErr)
		}
		return types.Report{}, fmt.Errorf("no report: %w", err)
	}
	var reports []types.Report
	if err := json.Unmarshal(b, &reports); err != nil || len(reports) != 1 {
		return types.Report{}, fmt.Errorf("reading its report %s: want one suite report (err %v)", reportPath, err)
	}
	return reports[0], nil
}

func lastBytes(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// lockedWriter lets several processes write whole lines to one stream.
type lockedWriter struct{ w io.Writer }

var outputMu sync.Mutex

func (l *lockedWriter) Write(p []byte) (int, error) {
	outputMu.Lock()
	defer outputMu.Unlock()
	return l.w.Write(p)
}

// writeReports writes the four reports into dir.
func writeReports(dir string, report types.Report, cert *conformance.Certification) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report directory: %w", err)
	}
	if err := reporters.GenerateJSONReport(report, filepath.Join(dir, "ginkgo.json")); err != nil {
		return fmt.Errorf("writing ginkgo.json: %w", err)
	}
	if err := reporters.GenerateJUnitReport(report, filepath.Join(dir, "junit.xml")); err != nil {
		return fmt.Errorf("writing junit.xml: %w", err)
	}
	for name, write := range map[string]func(io.Writer) error{
		"certification.yaml": cert.WriteYAML,
		"certification.html": cert.WriteHTML,
	} {
		if err := writeFile(filepath.Join(dir, name), write); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("writing %s: %w", filepath.Base(path), err)
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", filepath.Base(path), err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", filepath.Base(path), err)
	}
	return nil
}

// writeSummary prints what a person reading a CI log wants: what kind
// of run it was and of which suite, each scenario whose recording failed
// (once, however many requirements it took down), each other failure
// with where and what came back (requirements failing with the same
// lines in one container together), then the totals, the verdict with
// its reasons, and where the reports are.
func writeSummary(w io.Writer, r types.Report, c *conformance.Certification, o *options) {
	kind := "Encoder conformance run"
	if c.Mode == conformance.ModeCertification {
		kind = "Encoder certification run"
	}
	fmt.Fprintf(w, "\n%s, profile %s, target %s (%s)\n", kind, c.Profile.ID, c.Target.Kind, c.Target.URL)
	fmt.Fprintf(w, "suite: %s %s\n", c.Suite.Module, c.Suite)
	if c.Interrupted != "" {
		fmt.Fprintf(w, "INTERRUPTED: the run was %s; what follows is what ran before\n", c.Interrupted)
	}
	for _, sf := range c.ScenarioFailures {
		fmt.Fprintf(w, "FAILED scenario %s: its recording failed before any check (%d requirement(s) failed, %d not checked because of it)\n",
			sf.Scenario, len(sf.Failed), len(sf.NotChecked))
		for _, l := range failureLines(sf.Message) {
			fmt.Fprintf(w, "    %s\n", l)
		}
	}
	type block struct {
		where string
		lines []string
		ids   []string
	}
	var blocks []*block
	byKey := map[string]*block{}
	for _, req := range c.Requirements {
		for _, f := range req.Failures {
			if f.RootCause != "" {
				continue // printed with its scenario above
			}
			lines := failureLines(f.Message)
			key := f.Where + "\x00" + strings.Join(lines, "\n")
			b := byKey[key]
			if b == nil {
				b = &block{where: f.Where, lines: lines}
				byKey[key] = b
				blocks = append(blocks, b)
			}
			b.ids = append(b.ids, req.ID)
		}
	}
	for _, b := range blocks {
		fmt.Fprintf(w, "FAILED %s in %s\n", strings.Join(b.ids, ", "), b.where)
		for _, l := range b.lines {
			fmt.Fprintf(w, "    %s\n", l)
		}
	}
	for _, rr := range c.Reruns {
		fmt.Fprintf(w, "re-run %s: %s\n", rr.Container, rr.Note)
	}
	t := c.Totals
	fmt.Fprintf(w, "requirements: %d passed, %d failed, %d not checked of %d (%d specs, %d failed, %d not run) in %s\n",
		t.Passed, t.Failed, t.NotChecked, t.Requirements, t.Specs, t.SpecsFailed, t.SpecsNotRun, r.RunTime.Round(time.Millisecond))
	switch c.Verdict {
	case conformance.VerdictCertified:
		fmt.Fprintln(w, "CERTIFIED: every requirement of the profile is checked by a passing spec")
	case conformance.VerdictNotCertified:
		fmt.Fprintf(w, "NOT CERTIFIED: %d reason(s)\n", len(c.Problems))
		listProblems(w, c.Problems)
	default:
		fmt.Fprintf(w, "conformance run: %s (not a certification: run with --certified to certify)\n", c.Verdict)
		if c.Verdict != conformance.VerdictPassed {
			for _, p := range c.Problems {
				if strings.HasPrefix(p, "the suite: ") {
					fmt.Fprintf(w, "  %s\n", p)
				}
			}
		}
	}
	var paths []string
	for _, name := range []string{"junit.xml", "ginkgo.json", "certification.yaml", "certification.html"} {
		paths = append(paths, displayPath(filepath.Join(o.reportDir, name)))
	}
	fmt.Fprintf(w, "reports: %s\n", strings.Join(paths, " "))
}

// listProblems prints the reasons a run does not certify, the first
// twenty of them.
func listProblems(w io.Writer, problems []string) {
	const most = 20
	for i, p := range problems {
		if i == most {
			fmt.Fprintf(w, "  … and %d more (see certification.yaml)\n", len(problems)-most)
			break
		}
		fmt.Fprintf(w, "  %s\n", p)
	}
}

// displayPath is path as the summary shows it: relative to the working
// directory when it lies under it, so a log names no directory of the
// machine.
func displayPath(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return path
	}
	wd, err := os.Getwd()
	if err != nil {
		return path
	}
	rel, err := filepath.Rel(wd, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return path
	}
	return rel
}

// failureLines picks the lines of a failure message worth a glance: the
// requirement's own header and the MUST sentence are in the report, so
// it keeps where it was checked and what came back.
func failureLines(msg string) []string {
	lines := firstLines(msg, 8)
	var out []string
	for _, l := range lines {
		if strings.HasPrefix(l, "requirement ") || strings.HasPrefix(l, "MUST: ") {
			continue
		}
		out = append(out, strings.TrimSpace(l))
	}
	if len(out) > 4 {
		out = out[:4]
	}
	return out
}
