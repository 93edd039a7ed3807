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
	"runtime/debug"
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
	o, code, ok := parseRun(args, stderr)
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
	fmt.Fprintf(stderr, "encoder-conformance: profile %s, %d containers in %d process(es)\n", cfg.Profile, len(plan), procs)
	parts := make([]types.Report, procs)
	errs := make([]error, procs)
	var wg sync.WaitGroup
	for i := range procs {
		wg.Go(func() {
			parts[i], errs[i] = startProcess(ctx, args, part{i + 1, procs}, filepath.Join(tmp, fmt.Sprintf("part-%d.json", i+1)), o.verbose, stderr)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			fmt.Fprintf(stderr, "encoder-conformance run: process %d of %d: %v\n", i+1, procs, err)
			return exitFail
		}
	}
	report := conformance.MergeReports(parts)
	// The parts' label filters carry the split; the run's is the user's.
	report.SuiteConfig.LabelFilter = o.labelFilter
	if o.shard.n > 0 {
		report.SuiteConfig.LabelFilter = joinFilters(o.labelFilter, "shard "+o.shard.String())
	}

	kind, url := o.targetInfo()
	product, version := o.product, o.version
	if product == "" && kind == "in-process" {
		// The system under test is this very build's pipeline.
		product, version = "encoderlab pipeline", buildVersion()
	}
	cert, err := conformance.NewCertification(report, cfg, conformance.ReportInfo{
		Product: product, Version: version, TargetKind: kind, TargetURL: url,
	})
	if err != nil {
		fmt.Fprintf(stderr, "encoder-conformance run: %v\n", err)
		return exitFail
	}
	if err := writeReports(o.reportDir, report, cert); err != nil {
		fmt.Fprintf(stderr, "encoder-conformance run: %v\n", err)
		return exitFail
	}
	writeSummary(stdout, report, cert, o)
	if !report.SuiteSucceeded || cert.Totals.Failed > 0 || (o.certified && !cert.Certified) {
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
func startProcess(ctx context.Context, args []string, p part, reportPath string, verbose bool, stderr io.Writer) (types.Report, error) {
	self, err := os.Executable()
	if err != nil {
		return types.Report{}, fmt.Errorf("finding this program to start it again: %w", err)
	}
	argv := append([]string{"run"}, args...)
	argv = append(argv, "--process", p.String(), "--process-report", reportPath)
	cmd := exec.CommandContext(ctx, self, argv...)
	cmd.Stdin = os.Stdin // an operator answers prompts in a hardware run
	cmd.Stderr = &lockedWriter{w: stderr}
	var out bytes.Buffer
	cmd.Stdout = &out
	if verbose {
		cmd.Stdout = cmd.Stderr
	}
	cmd.WaitDelay = 10 * time.Second
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

// writeSummary prints what a person reading a CI log wants: each failed
// requirement with where and what came back, then the totals and where
// the reports are.
func writeSummary(w io.Writer, r types.Report, c *conformance.Certification, o *options) {
	fmt.Fprintf(w, "\nEncoder conformance, profile %s, target %s (%s)\n", c.Profile.ID, c.Target.Kind, c.Target.URL)
	for _, req := range c.Requirements {
		for _, f := range req.Failures {
			fmt.Fprintf(w, "FAILED %s in %s\n", req.ID, f.Where)
			for _, l := range failureLines(f.Message) {
				fmt.Fprintf(w, "    %s\n", l)
			}
		}
	}
	for _, reason := range r.SpecialSuiteFailureReasons {
		fmt.Fprintf(w, "suite: %s\n", reason)
	}
	for _, rr := range conformance.Reruns(r) {
		fmt.Fprintf(w, "re-run %s: %s\n", rr.Container, rr.Note)
	}
	t := c.Totals
	fmt.Fprintf(w, "requirements: %d passed, %d failed, %d not checked of %d (%d specs, %d failed, %d not run) in %s\n",
		t.Passed, t.Failed, t.NotChecked, t.Requirements, t.Specs, t.SpecsFailed, t.SpecsNotRun, r.RunTime.Round(time.Millisecond))
	if o.certified {
		if c.Certified {
			fmt.Fprintln(w, "certified: every requirement of the profile is checked by a passing spec")
		} else {
			fmt.Fprintf(w, "NOT CERTIFIED: %d problem(s)\n", len(c.Problems))
			const most = 20
			for i, p := range c.Problems {
				if i == most {
					fmt.Fprintf(w, "  … and %d more (see certification.yaml)\n", len(c.Problems)-most)
					break
				}
				fmt.Fprintf(w, "  %s\n", p)
			}
		}
	}
	fmt.Fprintf(w, "reports: %s\n", strings.Join([]string{
		filepath.Join(o.reportDir, "junit.xml"), filepath.Join(o.reportDir, "ginkgo.json"),
		filepath.Join(o.reportDir, "certification.yaml"), filepath.Join(o.reportDir, "certification.html"),
	}, " "))
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

// buildVersion is the module version and VCS revision this binary was
// built from, as far as the build recorded them.
func buildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " (" + s.Value[:12] + ")"
		}
	}
	return v
}
