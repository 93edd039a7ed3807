package conformance

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"
	"gopkg.in/yaml.v3"

	"github.com/encoderlab/encoderlab/scenarios"
	"github.com/encoderlab/encoderlab/sim/scenario"
)

// Requirement statuses in a certification report.
const (
	StatusPassed     = "passed"      // every spec that checked it passed
	StatusFailed     = "failed"      // a spec that checked it failed
	StatusNotChecked = "not-checked" // no spec checking it ran
)

// ReportInfo is what a certification report says about the run that a
// Ginkgo report does not: what was certified and where.
type ReportInfo struct {
	// Product and Version name the system under test.
	Product, Version string
	// TargetKind is "in-process", "external" or "hardware"; empty means
	// "in-process" for InProcess() and the target's Go type otherwise.
	TargetKind string
	// TargetURL is the external server's base URL, if any.
	TargetURL string
	// Date is when the run happened. Default: the report's start time.
	Date time.Time
	// Interrupted, when not empty, says what stopped the run before
	// every spec ran, e.g. "interrupted (SIGINT)": the report is partial.
	Interrupted string
}

// Run modes, as a certification report names them.
const (
	// ModeCertification is a run with Config.Certified: it certifies the
	// target against the profile, or says why not.
	ModeCertification = "certification"
	// ModeConformance is any other run: it checks what it ran and
	// certifies nothing.
	ModeConformance = "conformance"
)

// Verdicts of a report.
const (
	VerdictCertified    = "certified"     // certification mode, every requirement passed
	VerdictNotCertified = "not certified" // certification mode, see Problems
	VerdictPassed       = "passed"        // conformance mode, nothing failed
	VerdictFailed       = "failed"        // conformance mode, something failed
	VerdictInterrupted  = "interrupted"   // conformance mode, stopped before the end
)

// Certification is the certification report of one run: what was run
// against what, and how every requirement of the profile fared.
type Certification struct {
	// Mode is ModeCertification or ModeConformance; Verdict is what the
	// run concluded in that mode (one of the Verdict constants).
	Mode    string `yaml:"mode"`
	Verdict string `yaml:"verdict"`
	Product string `yaml:"product"`
	Version string `yaml:"version"`
	// Suite is the build of the conformance suite that ran.
	Suite       SuiteBuild   `yaml:"suite"`
	Profile     Profile      `yaml:"profile"`
	Target      ReportTarget `yaml:"target"`
	Date        time.Time    `yaml:"date"`
	Environment Environment  `yaml:"environment"`
	Scenarios   ScenarioSet  `yaml:"scenarios"`
	Totals      Totals       `yaml:"totals"`
	Certified   bool         `yaml:"certified"`
	// Interrupted says what stopped the run early; empty when it ran to
	// its end.
	Interrupted string `yaml:"interrupted,omitempty"`
	// Problems are why the run does not certify: failed and unchecked
	// requirements, filters, a suite that did not succeed, an interrupt.
	// In certification mode a run that does not certify always has one;
	// in conformance mode they say what a certified run would add.
	Problems []string `yaml:"problems,omitempty"`
	// ScenarioFailures are the scenarios whose recording failed before
	// any of their checks ran: one root cause each, which the failures of
	// their requirements refer to rather than repeat.
	ScenarioFailures []ScenarioFailure `yaml:"scenario_failures,omitempty"`
	// Reruns are the scenarios played again after a machine stall
	// (Config.StallReruns): what failed on the discarded run, and why it
	// was not held against the system under test.
	Reruns       []Rerun           `yaml:"reruns,omitempty"`
	Requirements []RequirementRuns `yaml:"requirements"`
}

// ReportTarget is the system under test.
type ReportTarget struct {
	Kind string `yaml:"kind"`
	// URL is the API's base URL, or "in-process".
	URL string `yaml:"url"`
}

// Environment is where the suite ran.
type Environment struct {
	GoVersion string  `yaml:"go_version"`
	OS        string  `yaml:"os"`
	Arch      string  `yaml:"arch"`
	Hostname  string  `yaml:"hostname"`
	TimeScale float64 `yaml:"time_scale"`
}

// ScenarioSet identifies the scenarios a run played. Digest is the
// SHA-256 of the files' bytes concatenated in name order, so for the
// bundled set it equals `cat scenarios/*.yaml | sha256sum`.
type ScenarioSet struct {
	Digest string         `yaml:"digest"`
	Files  []ScenarioFile `yaml:"files"`
}

// ScenarioFile is one scenario of the set.
type ScenarioFile struct {
	Name   string `yaml:"name"`
	SHA256 string `yaml:"sha256"`
}

// Totals counts requirements by status and the specs that checked them.
type Totals struct {
	Requirements int `yaml:"requirements"`
	Passed       int `yaml:"passed"`
	Failed       int `yaml:"failed"`
	NotChecked   int `yaml:"not_checked"`
	Specs        int `yaml:"specs"`
	SpecsFailed  int `yaml:"specs_failed"`
	SpecsNotRun  int `yaml:"specs_not_run"`
}

// RequirementRuns is one requirement of the profile and the specs that
// checked it.
type RequirementRuns struct {
	ID     string `yaml:"id"`
	Status string `yaml:"status"`
	Must   string `yaml:"must"`
	Source Source `yaml:"source"`
	// CheckedBy lists the containers (API, or a scenario's name) whose
	// spec of this requirement ran.
	CheckedBy []string `yaml:"checked_by"`
	// NotRun lists the containers whose spec of it was skipped, pending
	// or filtered out.
	NotRun   []string      `yaml:"not_run,omitempty"`
	Failures []SpecFailure `yaml:"failures,omitempty"`
}

// SpecFailure is the failure of one spec.
type SpecFailure struct {
	Where    string `yaml:"where"`
	Location string `yaml:"location,omitempty"`
	Message  string `yaml:"message,omitempty"`
	// RootCause, when set, says the spec failed because its scenario's
	// recording failed (see Certification.ScenarioFailures, which has the
	// message); Location and Message are then empty.
	RootCause string `yaml:"root_cause,omitempty"`
	// Timeline is the failed scenario's line trace page, relative to
	// Config.ArtifactDir; empty when none was written.
	Timeline string `yaml:"timeline,omitempty"`
}

// ScenarioFailure is a scenario whose recording failed (its BeforeAll:
// starting the encoder or the target, creating the credential, playing
// the encodes), so none of its requirements could be checked.
type ScenarioFailure struct {
	Scenario string `yaml:"scenario"`
	Location string `yaml:"location"`
	Message  string `yaml:"message"`
	// Timeline is the scenario's line trace page, relative to
	// Config.ArtifactDir; empty when none was written.
	Timeline string `yaml:"timeline,omitempty"`
	// Failed are the requirements whose spec failed with the recording;
	// NotChecked those whose specs were skipped because of it.
	Failed     []string `yaml:"failed"`
	NotChecked []string `yaml:"not_checked,omitempty"`
}

// NewCertification builds the certification report of a run of the
// suite configured by cfg, from its Ginkgo report. It reads the scenario
// files to digest them; a custom scenario whose file cannot be read is
// an error, since the report could not say what was played.
func NewCertification(r types.Report, cfg Config, info ReportInfo) (*Certification, error) {
	cfg.setDefaults()
	p := cfg.Registry.Profile(cfg.Profile)
	if p == nil {
		return nil, fmt.Errorf("certification report: unknown profile %q", cfg.Profile)
	}
	set, err := scenarioSet(cfg.Scenarios)
	if err != nil {
		return nil, fmt.Errorf("certification report: %w", err)
	}
	host, _ := os.Hostname()
	scrub := newPathScrubber(cfg.ArtifactDir)
	c := &Certification{
		Mode:    ModeConformance,
		Product: info.Product,
		Version: info.Version,
		Suite:   Build(),
		Profile: *p,
		Target:  target(cfg, info),
		Date:    info.Date,
		Environment: Environment{
			GoVersion: runtime.Version(),
			OS:        runtime.GOOS,
			Arch:      runtime.GOARCH,
			Hostname:  host,
			TimeScale: float64(cfg.TimeScale),
		},
		Scenarios:   set,
		Interrupted: info.Interrupted,
		Reruns:      Reruns(r),
	}
	if cfg.Certified {
		c.Mode = ModeCertification
	}
	for i := range c.Scenarios.Files {
		c.Scenarios.Files[i].Name = scrub.Scrub(c.Scenarios.Files[i].Name)
	}
	for i := range c.Reruns {
		c.Reruns[i].Note = scrub.Scrub(c.Reruns[i].Note)
	}
	if c.Date.IsZero() {
		c.Date = r.StartTime
	}
	c.Date = c.Date.UTC().Truncate(time.Second)

	// A scenario whose recording failed fails its first spec with the
	// recording's message and skips the rest: one root cause, kept once.
	broken := map[string]*ScenarioFailure{}
	var brokenOrder []string
	for _, s := range r.SpecReports {
		if s.LeafNodeType != types.NodeTypeIt || stateOf(s) != statusFailed || !setupFailure(s) {
			continue
		}
		name := container(s)
		if broken[name] == nil {
			broken[name] = &ScenarioFailure{
				Scenario: name,
				Location: scrub.Scrub(s.Failure.Location.String()),
				Message:  scrub.Scrub(strings.TrimSpace(s.Failure.Message)),
				Timeline: timelineLink(cfg.ArtifactDir, name),
				Failed:   []string{},
			}
			brokenOrder = append(brokenOrder, name)
		}
	}

	specs := specsByRequirement(r)
	for _, req := range cfg.Registry.For(cfg.Profile) {
		rr := RequirementRuns{ID: req.ID, Must: req.Must, Source: req.Source, CheckedBy: []string{}}
		passed := 0
		for _, s := range specs[req.ID] {
			c.Totals.Specs++
			where := container(s)
			switch stateOf(s) {
			case statusPassed:
				passed++
				rr.CheckedBy = append(rr.CheckedBy, where)
			case statusFailed:
				c.Totals.SpecsFailed++
				rr.CheckedBy = append(rr.CheckedBy, where)
				if sf := broken[where]; sf != nil && setupFailure(s) {
					sf.Failed = append(sf.Failed, req.ID)
					rr.Failures = append(rr.Failures, SpecFailure{
						Where:     where,
						RootCause: setupName(where) + " failed, before any check (scenario_failures)",
						Timeline:  sf.Timeline,
					})
					continue
				}
				rr.Failures = append(rr.Failures, SpecFailure{
					Where:    where,
					Location: scrub.Scrub(s.Failure.Location.String()),
					Message:  scrub.Scrub(strings.TrimSpace(s.Failure.Message)),
					Timeline: timelineLink(cfg.ArtifactDir, where),
				})
			default:
				c.Totals.SpecsNotRun++
				rr.NotRun = append(rr.NotRun, where)
				if sf := broken[where]; sf != nil {
					sf.NotChecked = append(sf.NotChecked, req.ID)
				}
			}
		}
		switch {
		case len(rr.Failures) > 0:
			rr.Status = StatusFailed
			c.Totals.Failed++
		case passed > 0:
			rr.Status = StatusPassed
			c.Totals.Passed++
		default:
			rr.Status = StatusNotChecked
			c.Totals.NotChecked++
		}
		c.Totals.Requirements++
		c.Requirements = append(c.Requirements, rr)
	}
	for _, name := range brokenOrder {
		c.ScenarioFailures = append(c.ScenarioFailures, *broken[name])
	}

	c.Problems = runProblems(cfg, r, info)
	for i := range c.Problems {
		c.Problems[i] = scrub.Scrub(c.Problems[i])
	}
	c.Certified = cfg.Certified && r.SuiteSucceeded && c.Totals.Failed == 0 && len(c.Problems) == 0 && info.Interrupted == ""
	switch {
	case c.Mode == ModeCertification && c.Certified:
		c.Verdict = VerdictCertified
	case c.Mode == ModeCertification:
		c.Verdict = VerdictNotCertified
		if len(c.Problems) == 0 {
			// Never a bare "not certified": CertificationProblems names
			// every failed requirement, so this is a suite-level failure.
			c.Problems = []string{"the suite did not succeed (a node outside the requirements' specs failed; see ginkgo.json)"}
		}
	case info.Interrupted != "":
		c.Verdict = VerdictInterrupted
	case r.SuiteSucceeded && c.Totals.Failed == 0:
		c.Verdict = VerdictPassed
	default:
		c.Verdict = VerdictFailed
	}
	return c, nil
}

// setupName is what a container's setup is, for people.
func setupName(container string) string {
	if container == "API" {
		return "the setup of the API checks"
	}
	return "the recording of scenario " + container
}

// setupFailure reports whether a failed spec failed in its container's
// setup (the scenario's recording) rather than in its own check.
func setupFailure(s types.SpecReport) bool {
	switch s.Failure.FailureNodeType {
	case types.NodeTypeBeforeAll, types.NodeTypeBeforeEach, types.NodeTypeJustBeforeEach:
		return true
	}
	return false
}

// runProblems is every reason the run does not certify: those of
// CertificationProblems, then the suite's own failures and an interrupt.
func runProblems(cfg Config, r types.Report, info ReportInfo) []string {
	var out []string
	if info.Interrupted != "" {
		out = append(out, "the run was "+info.Interrupted+" before every spec ran: the report is partial")
	}
	out = append(out, CertificationProblems(cfg.Registry, cfg.Profile, r)...)
	for _, reason := range r.SpecialSuiteFailureReasons {
		if info.Interrupted != "" && strings.Contains(reason, "Interrupted") {
			continue // said above
		}
		out = append(out, "the suite: "+reason)
	}
	return out
}

func target(cfg Config, info ReportInfo) ReportTarget {
	t := ReportTarget{Kind: info.TargetKind, URL: info.TargetURL}
	if t.Kind == "" {
		switch {
		case cfg.Hardware != nil:
			t.Kind = "hardware"
		case cfg.Target == InProcess():
			t.Kind = "in-process"
		default:
			t.Kind = fmt.Sprintf("%T", cfg.Target)
		}
	}
	if t.URL == "" {
		t.URL = "in-process"
	}
	return t
}

// scenarioSet digests the scenarios: the bundled set when scs is nil,
// otherwise each file as loaded (read from disk, or from the bundled
// set when it names a bundled file that is not on disk).
func scenarioSet(scs []*scenario.Scenario) (ScenarioSet, error) {
	type file struct {
		name string
		data []byte
	}
	var files []file
	if scs == nil {
		names, err := fs.Glob(scenarios.FS, "*.yaml")
		if err != nil {
			return ScenarioSet{}, err
		}
		for _, n := range names {
			b, err := scenarios.FS.ReadFile(n)
			if err != nil {
				return ScenarioSet{}, fmt.Errorf("bundled scenario %s: %w", n, err)
			}
			files = append(files, file{n, b})
		}
	}
	for _, sc := range scs {
		b, err := os.ReadFile(sc.File)
		if err != nil && filepath.Base(sc.File) == sc.File {
			if fb, ferr := scenarios.FS.ReadFile(sc.File); ferr == nil {
				b, err = fb, nil
			}
		}
		if err != nil {
			return ScenarioSet{}, fmt.Errorf("scenario %s: %w", sc.Name, err)
		}
		files = append(files, file{sc.File, b})
	}
	slices.SortFunc(files, func(a, b file) int { return strings.Compare(a.name, b.name) })
	all := sha256.New()
	set := ScenarioSet{Files: []ScenarioFile{}}
	for _, f := range files {
		all.Write(f.data)
		sum := sha256.Sum256(f.data)
		set.Files = append(set.Files, ScenarioFile{Name: f.name, SHA256: hex.EncodeToString(sum[:])})
	}
	set.Digest = hex.EncodeToString(all.Sum(nil))
	return set, nil
}

// WriteYAML writes the report as YAML.
func (c *Certification) WriteYAML(w io.Writer) error {
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return fmt.Errorf("certification report: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("certification report: %w", err)
	}
	return nil
}

// reportHTML is the certification page: one file, inline style, no
// scripts, so it can be archived and opened anywhere.
const reportHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Encoder conformance: {{.Product}} {{.Version}}, profile {{.Profile.ID}}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:72em;padding:0 1em;color:#1b1b1b}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;width:100%}th,td{text-align:left;vertical-align:top;padding:.3em .5em;border-bottom:1px solid #eee}
th{background:#f6f6f6}.meta th{width:12em;background:none}
.verdict{display:inline-block;padding:.2em .8em;border-radius:4px;font-weight:600;color:#fff}
.yes{background:#1a7f37}.no{background:#cf222e}
.passed{color:#1a7f37}.failed{color:#cf222e;font-weight:600}.not-checked{color:#9a6700}
pre{white-space:pre-wrap;background:#fff5f5;border-left:3px solid #cf222e;padding:.5em;margin:.3em 0;font-size:12px}
code{font-size:12px}.small{color:#555;font-size:12px}
</style>
</head>
<body>
<h1>Encoder conformance: {{if .Product}}{{.Product}}{{else}}unnamed product{{end}}{{if .Version}} {{.Version}}{{end}}</h1>
<p><span class="verdict {{if or .Certified (eq .Verdict "passed")}}yes{{else}}no{{end}}">{{if eq .Mode "certification"}}{{if .Certified}}CERTIFIED{{else}}NOT CERTIFIED{{end}}{{else}}CONFORMANCE RUN: {{upper .Verdict}}{{end}}</span>
 {{.Totals.Passed}} passed, {{.Totals.Failed}} failed, {{.Totals.NotChecked}} not checked of {{.Totals.Requirements}} requirements
 ({{.Totals.Specs}} specs, {{.Totals.SpecsFailed}} failed, {{.Totals.SpecsNotRun}} not run)</p>
{{if ne .Mode "certification"}}<p class="small">A conformance run: it checks what it ran and certifies nothing. A certification run (certified mode) demands every requirement of the profile, checked by passing specs, nothing filtered out.</p>{{end}}
{{if .Interrupted}}<p class="failed">The run was {{.Interrupted}} before every spec ran: this report is partial.</p>{{end}}
<table class="meta">
<tr><th>Profile</th><td>{{.Profile.ID}}: {{.Profile.Title}} (<code>{{.Profile.Seed}}</code>)</td></tr>
<tr><th>Target</th><td>{{.Target.Kind}}, {{.Target.URL}}</td></tr>
<tr><th>Suite</th><td><code>{{.Suite.Module}}</code> {{.Suite.Version}}, commit <code>{{.Suite.Revision}}</code>{{if .Suite.Modified}} (uncommitted changes){{end}}</td></tr>
<tr><th>Date</th><td>{{date .Date}}</td></tr>
<tr><th>Environment</th><td>{{.Environment.GoVersion}} {{.Environment.OS}}/{{.Environment.Arch}} on {{.Environment.Hostname}}, time scale {{.Environment.TimeScale}}</td></tr>
<tr><th>Scenario set</th><td><code>{{.Scenarios.Digest}}</code> ({{len .Scenarios.Files}} files, SHA-256)</td></tr>
</table>
{{if .Problems}}<h2>{{if eq .Mode "certification"}}Why this run does not certify{{else}}Why this run would not certify{{end}}</h2>
<ul>{{range .Problems}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{if .Reruns}}<h2>Scenarios played again after a machine stall</h2>
<ul>{{range .Reruns}}<li>{{.Container}}: {{.Note}}</li>{{end}}</ul>{{end}}
{{if .ScenarioFailures}}<h2>Scenarios whose recording failed</h2>
{{range .ScenarioFailures}}<h3 id="scenario-{{.Scenario}}" class="failed">{{.Scenario}}</h3>
<p class="small">at {{.Location}}{{if .Timeline}} (<a href="{{.Timeline}}">line timeline</a>){{end}}; failed: {{range $i, $r := .Failed}}{{if $i}}, {{end}}<a href="#fail-{{$r}}">{{$r}}</a>{{end}}{{if .NotChecked}}; not checked because of it: {{len .NotChecked}} requirement(s){{end}}</p><pre>{{.Message}}</pre>
{{end}}{{end}}
{{if .Failed}}<h2>Failed requirements</h2>
{{range .Failed}}<h3 id="fail-{{.ID}}" class="failed">{{.ID}}</h3>
<p>{{.Must}} <span class="small">({{.Source.Doc}}, {{.Source.Section}})</span></p>
{{range .Failures}}{{if .RootCause}}<p class="small">{{.Where}}: {{.RootCause}}, <a href="#scenario-{{.Where}}">see there</a></p>{{else}}<p class="small">{{.Where}} at {{.Location}}{{if .Timeline}} (<a href="{{.Timeline}}">line timeline</a>){{end}}</p><pre>{{.Message}}</pre>{{end}}{{end}}
{{end}}{{end}}
{{range .Groups}}<h2>{{.Prefix}} ({{len .Requirements}}{{if .Failed}}, {{.Failed}} failed{{end}})</h2>
<table>
<tr><th>Requirement</th><th>Status</th><th>MUST</th><th>Checked by</th></tr>
{{range .Requirements}}<tr><td><code>{{.ID}}</code></td><td class="{{.Status}}">{{.Status}}</td>
<td>{{.Must}}<br><span class="small">{{.Source.Doc}}, {{.Source.Section}}</span></td>
<td class="small">{{range $i, $c := .CheckedBy}}{{if $i}}, {{end}}{{$c}}{{end}}{{if .NotRun}}<br>not run: {{range $i, $c := .NotRun}}{{if $i}}, {{end}}{{$c}}{{end}}{{end}}</td></tr>
{{end}}</table>
{{end}}
<h2>Scenario files</h2>
<table>{{range .Scenarios.Files}}<tr><td>{{.Name}}</td><td><code>{{.SHA256}}</code></td></tr>{{end}}</table>
</body>
</html>
`

var reportTemplate = template.Must(template.New("certification").Funcs(template.FuncMap{
	"date":  func(t time.Time) string { return t.Format(time.RFC3339) },
	"upper": strings.ToUpper,
}).Parse(reportHTML))

// RequirementGroup is the requirements sharing an id prefix ("AUTH",
// "FIELD"), as the HTML page shows them.
type RequirementGroup struct {
	Prefix       string
	Requirements []RequirementRuns
	Failed       int
}

// WriteHTML writes the report as a self-contained HTML page: inline
// style, no scripts, failed requirements first, then every requirement
// grouped by id prefix.
func (c *Certification) WriteHTML(w io.Writer) error {
	var failed []RequirementRuns
	var groups []*RequirementGroup
	byPrefix := map[string]*RequirementGroup{}
	for _, r := range c.Requirements {
		if r.Status == StatusFailed {
			failed = append(failed, r)
		}
		prefix, _, _ := strings.Cut(r.ID, "-")
		g := byPrefix[prefix]
		if g == nil {
			g = &RequirementGroup{Prefix: prefix}
			byPrefix[prefix] = g
			groups = append(groups, g)
		}
		g.Requirements = append(g.Requirements, r)
		if r.Status == StatusFailed {
			g.Failed++
		}
	}
	// Groups with failures first, each keeping registry order.
	slices.SortStableFunc(groups, func(a, b *RequirementGroup) int { return b.Failed - a.Failed })
	err := reportTemplate.Execute(w, struct {
		*Certification
		Failed []RequirementRuns
		Groups []*RequirementGroup
	}{c, failed, groups})
	if err != nil {
		return fmt.Errorf("certification report: %w", err)
	}
	return nil
}

// MergeReports joins the reports of processes that each ran part of one
// suite into the report of the whole run. A spec present in several
// reports (each process lists the specs it filtered out as skipped) is
// kept once, preferring the copy that ran. The run spans the earliest
// start to the latest end; it succeeded when every part did.
func MergeReports(parts []types.Report) types.Report {
	if len(parts) == 0 {
		return types.Report{}
	}
	out := parts[0]
	out.SpecReports = nil
	out.SpecialSuiteFailureReasons = nil
	out.PreRunStats.SpecsThatWillRun = 0
	index := map[string]int{}
	for _, p := range parts {
		out.SuiteSucceeded = out.SuiteSucceeded && p.SuiteSucceeded
		out.SuiteHasProgrammaticFocus = out.SuiteHasProgrammaticFocus || p.SuiteHasProgrammaticFocus
		out.PreRunStats.SpecsThatWillRun += p.PreRunStats.SpecsThatWillRun
		out.PreRunStats.TotalSpecs = max(out.PreRunStats.TotalSpecs, p.PreRunStats.TotalSpecs)
		if p.StartTime.Before(out.StartTime) {
			out.StartTime = p.StartTime
		}
		if p.EndTime.After(out.EndTime) {
			out.EndTime = p.EndTime
		}
		for _, r := range p.SpecialSuiteFailureReasons {
			if !slices.Contains(out.SpecialSuiteFailureReasons, r) {
				out.SpecialSuiteFailureReasons = append(out.SpecialSuiteFailureReasons, r)
			}
		}
		for _, s := range p.SpecReports {
			key := s.LeafNodeType.String() + "\x00" + strings.Join(s.ContainerHierarchyTexts, "\x00") + "\x00" + s.LeafNodeText
			i, seen := index[key]
			switch {
			case !seen:
				index[key] = len(out.SpecReports)
				out.SpecReports = append(out.SpecReports, s)
			case stateOf(out.SpecReports[i]) == statusNotRun && stateOf(s) != statusNotRun:
				out.SpecReports[i] = s
			}
		}
	}
	out.RunTime = out.EndTime.Sub(out.StartTime)
	return out
}

// ShardLabelFilter returns the Ginkgo label filter that selects shard i
// (0-based) of n of the plan: every n-th container, counting the API
// container first. It returns "" when the shard has no container. Each
// container runs whole in one shard, so its BeforeAll plays the scenario
// once.
func ShardLabelFilter(plan []Group, i, n int) string {
	if n < 1 || i < 0 || i >= n {
		return ""
	}
	var labels []string
	for j := i; j < len(plan); j += n {
		labels = append(labels, ContainerLabel(plan[j]))
	}
	return strings.Join(labels, " || ")
}

// ContainerLabel is the label Register gives a group's container: "api"
// or "scenario:<name>".
func ContainerLabel(g Group) string {
	if g.Scenario == nil {
		return "api"
	}
	return "scenario:" + g.Scenario.Name
}
