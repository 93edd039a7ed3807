package conformance

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"
)

// writeSummary prints one line per scenario and the totals: what a person
// reading a CI log wants after the run.
func writeSummary(w io.Writer, r types.Report) {
	var rows []types.SpecReport
	for _, s := range r.SpecReports {
		if s.LeafNodeType == types.NodeTypeIt {
			rows = append(rows, s)
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].FullText() < rows[j].FullText() })
	counts := map[types.SpecState]int{}
	fmt.Fprintf(w, "\nEncoder conformance: %d scenarios\n", len(rows))
	for _, s := range rows {
		counts[s.State]++
		line := fmt.Sprintf("  %-8s %-40s %8s", strings.ToUpper(s.State.String()), s.LeafNodeText, s.RunTime.Round(time.Millisecond))
		if s.State.Is(types.SpecStateFailureStates) {
			msg := strings.SplitN(s.Failure.Message, "\n", 2)[0]
			line += "  " + msg
		}
		fmt.Fprintln(w, line)
	}
	fmt.Fprintf(w, "passed %d, failed %d, skipped %d, in %s\n",
		counts[types.SpecStatePassed],
		len(rows)-counts[types.SpecStatePassed]-counts[types.SpecStateSkipped]-counts[types.SpecStatePending],
		counts[types.SpecStateSkipped]+counts[types.SpecStatePending],
		r.RunTime.Round(time.Millisecond))
}
