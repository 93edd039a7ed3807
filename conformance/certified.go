package conformance

import (
	"fmt"
	"strings"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
)

// CertificationProblems lists why a run cannot certify a system against
// a profile: every requirement the profile demands must be checked by at
// least one spec that ran and passed, and by no spec that failed. It
// names each requirement without a spec in the report, each one whose
// specs were skipped, pending or filtered out, each one no spec passed
// and each one a spec failed; and it names the run's filters and
// programmatic focus, which leave requirements out. An empty result
// means the run certifies.
//
// The specs are recognised by their text, "<requirement id>: <MUST
// sentence>", as Register writes them.
func CertificationProblems(reg *Registry, profile string, report types.Report) []string {
	var problems []string
	if reg.Profile(profile) == nil {
		return []string{fmt.Sprintf("unknown profile %q", profile)}
	}
	if report.SuiteHasProgrammaticFocus {
		problems = append(problems, "the suite has focused specs (FIt, FDescribe): certification runs every spec")
	}
	if f := filters(report.SuiteConfig); f != "" {
		problems = append(problems, "the run was filtered ("+f+"): certification runs every spec")
	}
	specs := specsByRequirement(report)
	for _, req := range reg.For(profile) {
		counts := map[string]int{}
		var notRun, failed []string
		for _, s := range specs[req.ID] {
			st := stateOf(s)
			counts[st]++
			switch st {
			case statusNotRun:
				notRun = append(notRun, container(s)+" ("+s.State.String()+")")
			case statusFailed:
				failed = append(failed, container(s))
			}
		}
		notRun, failed = atMost(notRun, 3), atMost(failed, 3)
		total := len(specs[req.ID])
		switch {
		case total == 0:
			problems = append(problems, req.ID+": no spec checks it")
		case counts[statusPassed] == 0 && counts[statusFailed] > 0:
			problems = append(problems, fmt.Sprintf("%s: not checked by a passing spec (%d of %d failed: %s)", req.ID, counts[statusFailed], total, strings.Join(failed, ", ")))
		case counts[statusFailed] > 0:
			problems = append(problems, fmt.Sprintf("%s: failed in %d of %d specs: %s", req.ID, counts[statusFailed], total, strings.Join(failed, ", ")))
		case counts[statusNotRun] > 0:
			problems = append(problems, fmt.Sprintf("%s: %d of %d specs did not run: %s", req.ID, counts[statusNotRun], total, strings.Join(notRun, ", ")))
		}
	}
	return problems
}

// atMost keeps the first n of list and says how many more there were.
func atMost(list []string, n int) []string {
	if len(list) > n {
		return append(list[:n:n], fmt.Sprintf("and %d more", len(list)-n))
	}
	return list
}

// Outcomes of one spec, as the certification counts them.
const (
	statusPassed = "passed"
	statusFailed = "failed"
	statusNotRun = "not-run"
)

func stateOf(s types.SpecReport) string {
	switch {
	case s.State == types.SpecStatePassed:
		return statusPassed
	case s.State == types.SpecStateInterrupted:
		// Stopped by a signal: it checked nothing, and nothing failed.
		return statusNotRun
	case s.State.Is(types.SpecStateFailureStates):
		return statusFailed
	}
	return statusNotRun // skipped, pending, filtered out, interrupted
}

// specsByRequirement groups the report's specs by the requirement id
// their text starts with.
func specsByRequirement(r types.Report) map[string][]types.SpecReport {
	out := map[string][]types.SpecReport{}
	for _, s := range r.SpecReports {
		if s.LeafNodeType != types.NodeTypeIt {
			continue
		}
		if id, _, ok := strings.Cut(s.LeafNodeText, ": "); ok {
			out[id] = append(out[id], s)
		}
	}
	return out
}

// container is where a spec checked its requirement: "API" or the
// scenario's name.
func container(s types.SpecReport) string {
	if n := len(s.ContainerHierarchyTexts); n > 0 {
		return s.ContainerHierarchyTexts[n-1]
	}
	return "?"
}

// filters describes the spec selection of a run, "" when it ran all.
func filters(c types.SuiteConfig) string {
	var parts []string
	if c.LabelFilter != "" {
		parts = append(parts, fmt.Sprintf("label filter %q", c.LabelFilter))
	}
	for _, f := range c.FocusStrings {
		parts = append(parts, fmt.Sprintf("focus %q", f))
	}
	for _, f := range c.SkipStrings {
		parts = append(parts, fmt.Sprintf("skip %q", f))
	}
	for _, f := range c.FocusFiles {
		parts = append(parts, fmt.Sprintf("focus file %q", f))
	}
	for _, f := range c.SkipFiles {
		parts = append(parts, fmt.Sprintf("skip file %q", f))
	}
	return strings.Join(parts, ", ")
}

// failUncertified fails the suite, from its ReportAfterSuite, when the
// run does not certify: see CertificationProblems.
func failUncertified(cfg *Config, r types.Report) {
	if p := CertificationProblems(cfg.Registry, cfg.Profile, r); len(p) > 0 {
		ginkgo.Fail(fmt.Sprintf("certified mode: profile %s is not certified by this run:\n  %s",
			cfg.Profile, strings.Join(p, "\n  ")))
	}
}
