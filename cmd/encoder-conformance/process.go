package main

import (
	"fmt"
	"io"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
	"github.com/onsi/gomega"

	"github.com/encoderlab/encoderlab/conformance"
)

// runProcess runs one part of the suite with Ginkgo in this process and
// writes its JSON report to o.processReport. Certified mode is judged by
// the parent on the merged report, since a part alone never covers every
// requirement.
func runProcess(o *options, stderr io.Writer) int {
	cfg, err := o.config()
	if err != nil {
		fmt.Fprintf(stderr, "encoder-conformance run: %v\n", err)
		return exitFail
	}
	cfg.Certified = false
	plan, err := conformance.Plan(&cfg)
	if err != nil {
		fmt.Fprintf(stderr, "encoder-conformance run: %v\n", err)
		return exitFail
	}
	plan = shardOf(plan, o.shard)
	mine := shardOf(plan, o.process)
	split := conformance.ShardLabelFilter(plan, o.process.i-1, o.process.n)
	if o.process.n == 0 {
		split = conformance.ShardLabelFilter(plan, 0, 1)
	}

	suite, reporter := types.NewDefaultSuiteConfig(), types.NewDefaultReporterConfig()
	suite.LabelFilter = joinFilters(o.labelFilter, split)
	if o.focus != "" {
		suite.FocusStrings = []string{o.focus}
	}
	reporter.NoColor = true
	reporter.Verbose = o.verbose
	reporter.JSONReport = o.processReport

	progress := newProgress(mine, o.process, stderr)
	ReportAfterEach(progress.spec)
	conformance.Register(&cfg)
	gomega.RegisterFailHandler(Fail)
	var t testingT
	RunSpecs(&t, "Encoder conformance", suite, reporter)
	if t.failed {
		return exitFail
	}
	return exitOK
}

// testingT stands in for *testing.T: Ginkgo only calls Fail.
type testingT struct{ failed bool }

func (t *testingT) Fail() { t.failed = true }

// progress prints a line on stderr as each container finishes, and one
// for each failed spec at once.
type progress struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
	left   map[string]int // specs not yet reported, by container
	failed map[string]int
	ran    map[string]int
}

func newProgress(plan []conformance.Group, p part, w io.Writer) *progress {
	pr := &progress{w: w, left: map[string]int{}, failed: map[string]int{}, ran: map[string]int{}}
	if p.n > 1 {
		pr.prefix = "[" + p.String() + "] "
	}
	for _, g := range plan {
		pr.left[name(g)] = len(g.Requirements)
	}
	return pr
}

func name(g conformance.Group) string {
	if g.Scenario == nil {
		return "API"
	}
	return g.Scenario.Name
}

func (p *progress) spec(r SpecReport) {
	if r.LeafNodeType != types.NodeTypeIt || len(r.ContainerHierarchyTexts) == 0 {
		return
	}
	c := r.ContainerHierarchyTexts[len(r.ContainerHierarchyTexts)-1]
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.left[c]; !ok {
		return // another process's container, filtered out here
	}
	for _, e := range r.ReportEntries {
		if e.Name == conformance.RerunEntry {
			fmt.Fprintf(p.w, "%sre-run %s: %s\n", p.prefix, c, e.StringRepresentation())
		}
	}
	switch {
	case r.State == types.SpecStateInterrupted:
		fmt.Fprintf(p.w, "%sinterrupted %s: %s\n", p.prefix, c, firstLines(r.LeafNodeText, 1)[0])
	case r.State == types.SpecStatePassed:
		p.ran[c]++
	case r.State.Is(types.SpecStateFailureStates):
		p.ran[c]++
		p.failed[c]++
		fmt.Fprintf(p.w, "%sFAIL %s: %s\n", p.prefix, c, firstLines(r.LeafNodeText, 1)[0])
	}
	p.left[c]--
	if p.left[c] == 0 && p.ran[c] > 0 {
		verdict := "ok  "
		if p.failed[c] > 0 {
			verdict = "FAIL"
		}
		fmt.Fprintf(p.w, "%s%s %-28s %d specs run, %d failed\n", p.prefix, verdict, c, p.ran[c], p.failed[c])
	}
}
