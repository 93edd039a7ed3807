package conformance_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"
	"gopkg.in/yaml.v3"

	"github.com/encoderlab/encoderlab/conformance"
	"github.com/encoderlab/encoderlab/scenarios"
)

// spec is a hand-built It report of requirement id in container.
// registry is the bundled registry, parsed once: the report tests build
// reports of a spec per requirement, hundreds of them.
var registry = conformance.Requirements()

func spec(id, container string, state types.SpecState, failure string) types.SpecReport {
	must := "?"
	if r := registry.Get(id); r != nil {
		must = r.Must
	}
	s := types.SpecReport{
		ContainerHierarchyTexts: []string{"encode_credential", container},
		LeafNodeType:            types.NodeTypeIt,
		LeafNodeText:            id + ": " + must,
		LeafNodeLabels:          []string{id},
		State:                   state,
	}
	if failure != "" {
		s.Failure = types.Failure{Message: failure, Location: types.CodeLocation{FileName: "suite.go", LineNumber: 7}}
	}
	return s
}

// passingReport has one passing spec for every requirement of the
// profile, in the API container.
func passingReport(t *testing.T, profile string) types.Report {
	t.Helper()
	r := types.Report{SuiteSucceeded: true, StartTime: time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)}
	for _, req := range conformance.Requirements().For(profile) {
		r.SpecReports = append(r.SpecReports, spec(req.ID, "API", types.SpecStatePassed, ""))
	}
	return r
}

func TestCertificationReport(t *testing.T) {
	r := passingReport(t, "current")
	const evil = `<script>alert("x")</script> got 02 45 50, want 02 4F 4B`
	r.SpecReports[0] = spec(r.SpecReports[0].LeafNodeLabels[0], "first-issue", types.SpecStateFailed, "requirement X\nMUST: y\nscenario first-issue.yaml:\n  "+evil)
	r.SpecReports[1].State = types.SpecStateSkipped
	r.SuiteSucceeded = false
	failedID, skippedID := r.SpecReports[0].LeafNodeLabels[0], r.SpecReports[1].LeafNodeLabels[0]

	cfg := conformance.NewConfig()
	cfg.Certified = true
	c, err := conformance.NewCertification(r, cfg, conformance.ReportInfo{Product: "acme-encode", Version: "1.4.2"})
	if err != nil {
		t.Fatal(err)
	}
	total := len(conformance.Requirements().For("current"))
	if c.Certified {
		t.Error("certified = true with a failed and an unchecked requirement")
	}
	if c.Totals.Requirements != total || c.Totals.Failed != 1 || c.Totals.NotChecked != 1 || c.Totals.Passed != total-2 {
		t.Errorf("totals = %+v, want %d requirements, 1 failed, 1 not checked", c.Totals, total)
	}
	if c.Target.Kind != "in-process" || c.Target.URL != "in-process" {
		t.Errorf("target = %+v, want in-process", c.Target)
	}
	if got := c.Date.Format(time.RFC3339); got != "2025-03-04T05:06:07Z" {
		t.Errorf("date = %s, want the report's start time in UTC", got)
	}
	if c.Profile.ID != "current" || c.Profile.Seed != "encode-credential.md" {
		t.Errorf("profile = %+v", c.Profile)
	}
	byID := map[string]conformance.RequirementRuns{}
	for _, rr := range c.Requirements {
		byID[rr.ID] = rr
	}
	if f := byID[failedID]; f.Status != conformance.StatusFailed || len(f.Failures) != 1 ||
		f.Failures[0].Where != "first-issue" || !strings.Contains(f.Failures[0].Message, evil) {
		t.Errorf("failed requirement = %+v", f)
	}
	if s := byID[skippedID]; s.Status != conformance.StatusNotChecked || len(s.NotRun) != 1 {
		t.Errorf("skipped requirement = %+v", s)
	}

	// The digest is over the bundled files' bytes in name order.
	names, _ := fs.Glob(scenarios.FS, "*.yaml")
	h := sha256.New()
	for _, n := range names {
		b, _ := scenarios.FS.ReadFile(n)
		h.Write(b)
	}
	if want := hex.EncodeToString(h.Sum(nil)); c.Scenarios.Digest != want || len(c.Scenarios.Files) != len(names) {
		t.Errorf("digest = %s over %d files, want %s over %d", c.Scenarios.Digest, len(c.Scenarios.Files), want, len(names))
	}

	var y bytes.Buffer
	if err := c.WriteYAML(&y); err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := yaml.Unmarshal(y.Bytes(), &back); err != nil {
		t.Fatalf("the YAML does not parse: %v", err)
	}
	for _, key := range []string{"product", "version", "profile", "target", "date", "environment", "scenarios", "totals", "certified", "requirements"} {
		if _, ok := back[key]; !ok {
			t.Errorf("YAML lacks %q", key)
		}
	}
	if back["certified"] != false || back["product"] != "acme-encode" {
		t.Errorf("YAML certified = %v, product = %v", back["certified"], back["product"])
	}

	var h2 bytes.Buffer
	if err := c.WriteHTML(&h2); err != nil {
		t.Fatal(err)
	}
	page := h2.String()
	if strings.Contains(page, "<script>") {
		t.Error("the HTML page carries the failure text unescaped")
	}
	if !strings.Contains(page, "&lt;script&gt;") {
		t.Error("the HTML page lacks the escaped failure text")
	}
	if !strings.Contains(page, "NOT CERTIFIED") || !strings.Contains(page, "acme-encode") {
		t.Error("the HTML page lacks the verdict or the product")
	}
	if i, j := strings.Index(page, "Failed requirements"), strings.Index(page, "<th>Requirement</th>"); i < 0 || j < 0 || i > j {
		t.Error("the HTML page does not list failures before the requirement tables")
	}
}

func TestCertificationReportCertifies(t *testing.T) {
	cfg := conformance.NewConfig()
	cfg.Profile = "older"
	cfg.Certified = true
	c, err := conformance.NewCertification(passingReport(t, "older"), cfg, conformance.ReportInfo{TargetKind: "external", TargetURL: "http://127.0.0.1:8450"})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Certified || len(c.Problems) > 0 || c.Totals.Passed != c.Totals.Requirements {
		t.Errorf("certified = %v, problems %q, totals %+v; want certified", c.Certified, c.Problems, c.Totals)
	}
	if c.Target.URL != "http://127.0.0.1:8450" || c.Profile.ID != "older" {
		t.Errorf("target %+v, profile %+v", c.Target, c.Profile)
	}
	// Without certified mode the same run reports but does not certify.
	cfg.Certified = false
	if c, _ := conformance.NewCertification(passingReport(t, "older"), cfg, conformance.ReportInfo{}); c.Certified {
		t.Error("certified = true outside certified mode")
	}
}

func TestCertificationReportUnknownProfile(t *testing.T) {
	cfg := conformance.NewConfig()
	cfg.Profile = "future"
	if _, err := conformance.NewCertification(types.Report{}, cfg, conformance.ReportInfo{}); err == nil {
		t.Error("no error for an unknown profile")
	}
}

func TestMergeReports(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	a := types.Report{SuiteSucceeded: true, StartTime: t0, EndTime: t0.Add(3 * time.Second), SpecReports: types.SpecReports{
		spec("AUTH-API-KEY", "API", types.SpecStatePassed, ""),
		spec("ATTEMPT-STATUS", "first-issue", types.SpecStateSkipped, ""),
	}}
	b := types.Report{SuiteSucceeded: false, StartTime: t0.Add(time.Second), EndTime: t0.Add(5 * time.Second), SpecReports: types.SpecReports{
		spec("AUTH-API-KEY", "API", types.SpecStateSkipped, ""),
		spec("ATTEMPT-STATUS", "first-issue", types.SpecStateFailed, "boom"),
	}}
	m := conformance.MergeReports([]types.Report{a, b})
	if len(m.SpecReports) != 2 {
		t.Fatalf("merged %d specs, want 2 (one copy each)", len(m.SpecReports))
	}
	if m.SpecReports[0].State != types.SpecStatePassed || m.SpecReports[1].State != types.SpecStateFailed {
		t.Errorf("merged states %v, %v; want the copies that ran", m.SpecReports[0].State, m.SpecReports[1].State)
	}
	if m.SuiteSucceeded {
		t.Error("merged run succeeded though a part failed")
	}
	if m.RunTime != 5*time.Second || !m.StartTime.Equal(t0) {
		t.Errorf("run time %s from %s, want 5s from the earliest start", m.RunTime, m.StartTime)
	}
}

func TestShardLabelFilter(t *testing.T) {
	cfg := conformance.NewConfig()
	plan, err := conformance.Plan(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for i := range 3 {
		for _, l := range strings.Split(conformance.ShardLabelFilter(plan, i, 3), " || ") {
			seen[l]++
		}
	}
	if len(seen) != len(plan) {
		t.Errorf("3 shards name %d containers, want all %d", len(seen), len(plan))
	}
	for l, n := range seen {
		if n != 1 {
			t.Errorf("container %s in %d shards, want 1", l, n)
		}
	}
	if seen["api"] != 1 {
		t.Error("no shard has the API container")
	}
	if f := conformance.ShardLabelFilter(plan, 3, 3); f != "" {
		t.Errorf("shard 3 of 3 (0-based) = %q, want none", f)
	}
}

func TestReportSaysWhatRunItIs(t *testing.T) {
	html := func(c *conformance.Certification) string {
		var b bytes.Buffer
		if err := c.WriteHTML(&b); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	cfg := conformance.NewConfig()

	// A run without certified mode is a conformance run, whatever its
	// outcome: never "NOT CERTIFIED".
	c, err := conformance.NewCertification(passingReport(t, "current"), cfg, conformance.ReportInfo{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Mode != conformance.ModeConformance || c.Verdict != conformance.VerdictPassed || c.Certified {
		t.Errorf("mode %q, verdict %q, certified %v; want conformance, passed, false", c.Mode, c.Verdict, c.Certified)
	}
	if page := html(c); strings.Contains(page, "NOT CERTIFIED") || !strings.Contains(page, "CONFORMANCE RUN: PASSED") {
		t.Error("a passing conformance run's page does not say CONFORMANCE RUN: PASSED, or says NOT CERTIFIED")
	}
	if c.Suite.Module != conformance.ModulePath || c.Suite.Version == "" || c.Suite.Revision == "" {
		t.Errorf("suite = %+v: want the module, a version and a revision (devel/unknown when absent)", c.Suite)
	}

	// A certified run that fails one spec of a requirement other specs
	// passed: not certified, and the reason names the requirement.
	r := passingReport(t, "current")
	id := r.SpecReports[0].LeafNodeLabels[0]
	r.SpecReports = append(r.SpecReports, spec(id, "first-issue", types.SpecStateFailed, "boom"))
	r.SuiteSucceeded = false
	cfg.Certified = true
	c, err = conformance.NewCertification(r, cfg, conformance.ReportInfo{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Mode != conformance.ModeCertification || c.Verdict != conformance.VerdictNotCertified {
		t.Errorf("mode %q, verdict %q; want certification, not certified", c.Mode, c.Verdict)
	}
	if want := id + ": failed in 1 of 2 specs: first-issue"; len(c.Problems) != 1 || c.Problems[0] != want {
		t.Errorf("problems = %q, want [%q]", c.Problems, want)
	}
	if page := html(c); !strings.Contains(page, "NOT CERTIFIED") || !strings.Contains(page, "Why this run does not certify") {
		t.Error("the page of a failed certified run lacks NOT CERTIFIED and its reasons")
	}

	// A suite that failed outside the requirements' specs still says why.
	r = passingReport(t, "current")
	r.SuiteSucceeded = false
	if c, _ = conformance.NewCertification(r, cfg, conformance.ReportInfo{}); c.Certified || len(c.Problems) == 0 {
		t.Errorf("certified %v, problems %q: want not certified, with a reason", c.Certified, c.Problems)
	}
	r.SpecialSuiteFailureReasons = []string{"AfterSuite failed"}
	if c, _ = conformance.NewCertification(r, cfg, conformance.ReportInfo{}); len(c.Problems) != 1 || c.Problems[0] != "the suite: AfterSuite failed" {
		t.Errorf("problems = %q, want the suite's failure", c.Problems)
	}

	// An interrupted run says so, in either mode.
	c, _ = conformance.NewCertification(passingReport(t, "current"), cfg, conformance.ReportInfo{Interrupted: "interrupted (SIGINT)"})
	if c.Certified || c.Interrupted == "" || len(c.Problems) == 0 || !strings.Contains(c.Problems[0], "interrupted (SIGINT)") {
		t.Errorf("certified %v, interrupted %q, problems %q", c.Certified, c.Interrupted, c.Problems)
	}
	cfg.Certified = false
	c, _ = conformance.NewCertification(passingReport(t, "current"), cfg, conformance.ReportInfo{Interrupted: "interrupted (SIGINT)"})
	if c.Verdict != conformance.VerdictInterrupted || !strings.Contains(html(c), "CONFORMANCE RUN: INTERRUPTED") {
		t.Errorf("verdict %q; want interrupted, on the page too", c.Verdict)
	}
}

// TestReportGroupsScenarioFailure: a scenario whose recording failed
// fails its first spec with the recording's message and skips the rest
// (Ordered, ContinueOnFailure); the report keeps the message once.
func TestReportGroupsScenarioFailure(t *testing.T) {
	const msg = "GET /acs/encoders/list: dial tcp 127.0.0.1:1: connect: connection refused"
	r := passingReport(t, "current")
	ids := []string{"ATTEMPT-STATUS", "LIFECYCLE-PENDING-FIRST", "ISSUE-STORED"}
	for i, id := range ids {
		s := spec(id, "first-issue", types.SpecStateSkipped, "")
		if i == 0 {
			s = spec(id, "first-issue", types.SpecStateFailed, msg)
			s.Failure.FailureNodeType = types.NodeTypeBeforeAll
		}
		r.SpecReports = append(r.SpecReports, s)
	}
	r.SuiteSucceeded = false
	c, err := conformance.NewCertification(r, conformance.NewConfig(), conformance.ReportInfo{})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.ScenarioFailures) != 1 {
		t.Fatalf("scenario failures = %+v, want one", c.ScenarioFailures)
	}
	sf := c.ScenarioFailures[0]
	if sf.Scenario != "first-issue" || sf.Message != msg || len(sf.Failed) != 1 || sf.Failed[0] != ids[0] || len(sf.NotChecked) != 2 {
		t.Errorf("scenario failure = %+v, want first-issue, its message, %s failed, 2 not checked", sf, ids[0])
	}
	var y bytes.Buffer
	if err := c.WriteYAML(&y); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(y.String(), "connection refused"); n != 1 {
		t.Errorf("the YAML carries the recording's message %d times, want once", n)
	}
	var h bytes.Buffer
	if err := c.WriteHTML(&h); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(h.String(), "connection refused"); n != 1 {
		t.Errorf("the HTML carries the recording's message %d times, want once", n)
	}
}

// TestReportNamesNoMachinePath: paths under the report directory, the
// temporary directory, the home directory and the suite's source tree
// do not appear in the report.
func TestReportNamesNoMachinePath(t *testing.T) {
	dir := t.TempDir()
	home, err := os.UserHomeDir()
	if err != nil {
		t.Skip("no home directory:", err)
	}
	_, self, _, _ := runtime.Caller(0)
	src := filepath.Dir(filepath.Dir(self))
	msg := strings.Join([]string{
		"trace kept in " + filepath.Join(dir, "first-issue", "TRACE.jsonl"),
		"link " + filepath.Join(os.TempDir(), "ginkgo123", "links", "front-desk-1") + " vanished",
		"scenario " + filepath.Join(home, "lab", "odd.yaml"),
	}, "\n")
	r := passingReport(t, "current")
	r.SpecReports[0] = spec(r.SpecReports[0].LeafNodeLabels[0], "first-issue", types.SpecStateFailed, msg)
	r.SpecReports[0].Failure.Location = types.CodeLocation{FileName: filepath.Join(src, "conformance", "suite.go"), LineNumber: 110}
	cfg := conformance.NewConfig()
	cfg.ArtifactDir = dir
	c, err := conformance.NewCertification(r, cfg, conformance.ReportInfo{})
	if err != nil {
		t.Fatal(err)
	}
	var y, h bytes.Buffer
	if err := c.WriteYAML(&y); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteHTML(&h); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"YAML": y.String(), "HTML": h.String()} {
		for _, p := range []string{dir, os.TempDir(), home, src} {
			if strings.Contains(text, p) {
				t.Errorf("the %s names %s", name, p)
			}
		}
		for _, want := range []string{"./first-issue/TRACE.jsonl", "$TMPDIR/ginkgo123/links", "~/lab/odd.yaml", "conformance/suite.go:110"} {
			if !strings.Contains(text, want) {
				t.Errorf("the %s lacks %q", name, want)
			}
		}
	}
}
