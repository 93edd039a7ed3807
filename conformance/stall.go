package conformance

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"

	"github.com/encoderlab/encoderlab/internal/stall"
	"github.com/encoderlab/encoderlab/sim/scenario"
	"github.com/encoderlab/encoderlab/timescale"
)

// A busy machine can hold up what every timing in a scenario rests on:
// measured on a 2-core CI machine with two CPU burners beside the suite,
// the kernel held pty input back from the reading side for 650 ms while
// every thread still got its CPU, so an encoder's "no card" answer
// reached the pipeline after the attempt's deadline. Such a run says
// nothing about the system under test. The suite measures the machine
// while each scenario plays (internal/stall) and plays a scenario again
// when a check failed and the machine stalled during the run; a failure
// that holds without a stall is reported as it is.

// StallThreshold is the shortest stall that lets a failed scenario run
// again: half the least link-level wait (timescale.LinkFloor), the
// shortest time any requirement's outcome rests on.
const StallThreshold = timescale.LinkFloor / 2

// DefaultStallReruns is how many times a scenario runs again, at most,
// after failed checks during a machine stall.
const DefaultStallReruns = 2

// RerunEntry names the report entry a scenario run again after a stall
// carries, on the first spec of its container.
const RerunEntry = "re-run after a machine stall"

// machine measures the stalls of the machine the suite runs on while a
// scenario plays: started by the first scenario that needs it, stopped
// when the last one running is done, so no probe outlives the suite.
var machine struct {
	mu    sync.Mutex
	users int
	meter *stall.Meter
}

func acquireMeter() *stall.Meter {
	machine.mu.Lock()
	defer machine.mu.Unlock()
	if machine.users == 0 {
		machine.meter = stall.Start()
	}
	machine.users++
	return machine.meter
}

func releaseMeter() {
	machine.mu.Lock()
	defer machine.mu.Unlock()
	if machine.users--; machine.users == 0 {
		machine.meter.Stop()
		machine.meter = nil
	}
}

// recordSteady records sc and, while its checks fail on a run during
// which the machine stalled, records it again, up to cfg.StallReruns
// times (playSteady). Each discarded run is noted in the report
// (RerunEntry) and its line trace kept beside the scenario's, so a
// re-run hides nothing. The recording is closed at the end of the
// container; a run that cannot be made fails the spec.
func recordSteady(ctx SpecContext, cfg *Config, sc *scenario.Scenario, reqs []Requirement, lines *lineLog) *recording {
	GinkgoHelper()
	var run *steadyRun
	if ahead := aheadOf(cfg); ahead != nil {
		run = ahead.take(ctx, sc)
	} else {
		run = playSteady(ctx, cfg, sc, reqs, lines, func(s string) { By(s) })
	}
	for _, e := range run.entries {
		AddReportEntry(e.name, e.text)
	}
	if run.rec != nil {
		if ctx.Err() != nil {
			// Interrupted: Ginkgo may have left the node already, and a
			// DeferCleanup outside one aborts the process without its
			// report. Nothing will check the recording.
			_ = run.rec.close()
		} else {
			DeferCleanup(run.rec.close)
		}
	}
	if run.err != nil {
		if ctx.Err() != nil {
			// Interrupted: the specs are reported interrupted, not failed
			// (and Ginkgo may have moved on, taking a Fail for another's).
			return run.rec
		}
		Fail(run.err.Error())
	}
	return run.rec
}

// steadyRun is what playSteady made of a scenario: the recording kept,
// or why none could be made, and the report entries for the runs it
// discarded.
type steadyRun struct {
	rec     *recording
	err     error
	entries []entry
}

type entry struct{ name, text string }

// playSteady records sc and records it again while its checks fail on a
// run during which the machine stalled, up to cfg.StallReruns times. It
// uses nothing of Ginkgo: step hears what each run does.
func playSteady(ctx context.Context, cfg *Config, sc *scenario.Scenario, reqs []Requirement, lines *lineLog, step func(string)) *steadyRun {
	cfg = cfg.forScenario(sc)
	meter := acquireMeter()
	defer releaseMeter()
	out := &steadyRun{}
	for run := 1; ; run++ {
		rec, err := record(ctx, cfg, sc, lines, step)
		if err != nil {
			out.err = err
			return out
		}
		out.rec = rec
		if rec.hardware || run > cfg.StallReruns {
			return out
		}
		failed := failedChecks(reqs, rec, cfg)
		if len(failed) == 0 {
			return out
		}
		longest := cfg.Stalls
		if longest == nil {
			longest = func(from, to time.Time) (time.Duration, string) { return measuredStall(meter, from, to) }
		}
		d, what := longest(rec.started, rec.ended)
		if d < StallThreshold {
			return out
		}
		note := fmt.Sprintf("run %d of %s failed %s while the machine stalled: %s; running it again",
			run, sc.File, strings.Join(failed, ", "), what)
		out.entries = append(out.entries, entry{RerunEntry, note})
		step(note)
		if lines != nil {
			lines.setOutcome(rec)
			if err := lines.discard(cfg.ArtifactDir, sc, run); err != nil {
				out.entries = append(out.entries, entry{"line trace not saved", err.Error()})
			}
		}
		out.rec = nil
		if err := rec.close(); err != nil {
			out.err = fmt.Errorf("scenario %s: stopping run %d before running it again: %w", sc.File, run, err)
			return out
		}
	}
}

// failedChecks returns the requirements rec fails, and "the timeline"
// when the scenario's own side did not run to its end.
func failedChecks(reqs []Requirement, rec *recording, cfg *Config) []string {
	var failed []string
	if rec.timeline != nil {
		failed = append(failed, "the timeline")
	}
	for _, req := range reqs {
		if len(rec.problems(req, cfg)) > 0 {
			failed = append(failed, req.ID)
		}
	}
	return failed
}

// measuredStall is the longest stall m saw between
// from and to, and what it was.
func measuredStall(m *stall.Meter, from, to time.Time) (time.Duration, string) {
	st, ok := m.Longest(from, to)
	if !ok {
		return 0, ""
	}
	return st.Length(), describeStall(st, from)
}

func describeStall(s stall.Stall, from time.Time) string {
	what := fmt.Sprintf("CPU %d gave no thread its turn", s.CPU)
	switch s.CPU {
	case stall.TTY:
		what = "the kernel held pty input back from its reader"
	case -1:
		what = "a ready thread waited for a CPU"
	}
	return fmt.Sprintf("%s for %v, %v into the run", what, s.Length().Round(time.Millisecond), s.Start.Sub(from).Round(time.Millisecond))
}

// Rerun is a scenario run again after a machine stall.
type Rerun struct {
	Container string `yaml:"scenario"`
	Note      string `yaml:"note"`
}

// Reruns lists the re-runs a report's specs carry (RerunEntry).
func Reruns(r types.Report) []Rerun {
	var out []Rerun
	for _, s := range r.SpecReports {
		for _, e := range s.ReportEntries {
			if e.Name != RerunEntry {
				continue
			}
			c := "?"
			if n := len(s.ContainerHierarchyTexts); n > 0 {
				c = s.ContainerHierarchyTexts[n-1]
			}
			out = append(out, Rerun{Container: c, Note: e.StringRepresentation()})
		}
	}
	return out
}
