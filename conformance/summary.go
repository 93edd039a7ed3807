package conformance

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"
)

// RequirementResult is how one requirement fared in a run.
type RequirementResult struct {
	ID string
	// Passed and Failed count the specs that checked it.
	Passed, Failed int
	// NotRun counts its specs that were skipped, pending, filtered out
	// or interrupted.
	NotRun int
	// Where lists the containers (API, or a scenario) of its failed specs.
	Where []string
	// Failures holds the first line of each failure message.
	Failures []string
}

// Results folds a Ginkgo report into one result per requirement, in the
// order the requirements first appear.
func Results(r types.Report) []*RequirementResult {
	byID := map[string]*RequirementResult{}
	var order []string
	for _, s := range r.SpecReports {
		if s.LeafNodeType != types.NodeTypeIt {
			continue
		}
		id, _, ok := strings.Cut(s.LeafNodeText, ": ")
		if !ok {
			continue
		}
		res := byID[id]
		if res == nil {
			res = &RequirementResult{ID: id}
			byID[id] = res
			order = append(order, id)
		}
		switch {
		case s.State == types.SpecStatePassed:
			res.Passed++
		case s.State.Is(types.SpecStateFailureStates) && s.State != types.SpecStateInterrupted:
			res.Failed++
			where := "?"
			if n := len(s.ContainerHierarchyTexts); n > 0 {
				where = s.ContainerHierarchyTexts[n-1]
			}
			// A failed BeforeAll fails every spec of its container; say so
			// rather than blame the requirement the spec was about.
			if s.Failure.FailureNodeType != types.NodeTypeIt {
				where += " (setup)"
			}
			res.Where = append(res.Where, where)
			res.Failures = append(res.Failures, strings.SplitN(s.Failure.Message, "\n", 2)[0])
		default:
			res.NotRun++
		}
	}
	out := make([]*RequirementResult, 0, len(order))
	for _, id := range order {
		out = append(out, byID[id])
	}
	return out
}

// writeSummary prints what a person reading a CI log wants after the run:
// each requirement that failed and where, then the totals.
func writeSummary(w io.Writer, r types.Report) {
	results := Results(r)
	specs, failedReqs, notRun := 0, 0, 0
	for _, res := range results {
		specs += res.Passed + res.Failed + res.NotRun
		if res.Failed > 0 {
			failedReqs++
		} else if res.Passed == 0 {
			notRun++
		}
	}
	fmt.Fprintf(w, "\nEncoder conformance: %d requirements checked by %d specs\n", len(results), specs)
	sort.SliceStable(results, func(i, j int) bool { return results[i].Failed > results[j].Failed })
	for _, res := range results {
		if res.Failed == 0 {
			continue
		}
		fmt.Fprintf(w, "  FAILED  %-44s %d of %d specs: %s\n", res.ID, res.Failed, res.Failed+res.Passed,
			strings.Join(dedupe(res.Where), ", "))
	}
	fmt.Fprintf(w, "requirements: %d passed, %d failed, %d not checked; in %s\n",
		len(results)-failedReqs-notRun, failedReqs, notRun, r.RunTime.Round(time.Millisecond))
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
