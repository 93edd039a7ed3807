package conformance

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/encoderlab/encoderlab/sim/scenario"
	"github.com/encoderlab/encoderlab/sim/timeline"
	"github.com/encoderlab/encoderlab/sim/trace"
	"github.com/encoderlab/encoderlab/timescale"
)

// Names of a failed scenario's line trace and its timeline page, in its
// directory under Config.ArtifactDir.
const (
	TraceFile    = "TRACE.jsonl"
	TimelineFile = "TRACE.html"
)

// lineLog is one scenario's line trace, every chunk the virtual encoder
// read or wrote, kept in memory while the scenario plays and its
// requirements are checked; it is written out only if one of them failed.
type lineLog struct {
	mu      sync.Mutex
	header  trace.Header
	events  []trace.Event
	failed  bool
	outcome string
}

func newLineLog(sc *scenario.Scenario, scale timescale.Scale) *lineLog {
	h := trace.Header{Protocol: sc.Encoder.Model, Started: time.Now(), Note: "scenario " + sc.File}
	if scale != timescale.Real {
		h.Scale = float64(scale)
	}
	return &lineLog{header: h}
}

// add is the virtual encoder's sim.Options.Trace.
func (l *lineLog) add(e trace.Event) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
}

// started marks the moment event times count from.
func (l *lineLog) started(t time.Time, link string) {
	l.mu.Lock()
	l.header.Started, l.header.Link = t, link
	l.mu.Unlock()
}

// fail notes that a spec of the scenario failed.
func (l *lineLog) fail() {
	l.mu.Lock()
	l.failed = true
	l.mu.Unlock()
}

// setOutcome records the attempts' outcomes for the timeline's header.
func (l *lineLog) setOutcome(rec *recording) {
	if rec == nil {
		return
	}
	var parts []string
	for _, er := range rec.calls() {
		switch {
		case er.final == nil:
			parts = append(parts, "no terminal status")
		case er.final["status"] == "success":
			parts = append(parts, "success")
		default:
			kind := "?"
			if e, ok := er.final["error"].(map[string]any); ok {
				kind, _ = e["type"].(string)
			}
			parts = append(parts, fmt.Sprintf("%v/%s", er.final["status"], kind))
		}
	}
	l.mu.Lock()
	l.outcome = strings.Join(parts, ", ")
	l.mu.Unlock()
}

// save writes the trace and its timeline into dir/<scenario>/ when a
// spec failed, and does nothing otherwise.
func (l *lineLog) save(dir string, sc *scenario.Scenario) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.failed || dir == "" {
		return nil
	}
	return l.write(filepath.Join(dir, artifactName(sc.Name)), sc)
}

// discard sets the trace so far aside for a run that is played again:
// it goes to dir/<scenario>/run-<run>/ (when dir is set) and the log
// starts empty.
func (l *lineLog) discard(dir string, sc *scenario.Scenario, run int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var err error
	if dir != "" {
		err = l.write(filepath.Join(dir, artifactName(sc.Name), fmt.Sprintf("run-%d", run)), sc)
	}
	l.events, l.outcome = nil, ""
	return err
}

// write writes the trace and its timeline into out. l.mu must be held.
func (l *lineLog) write(out string, sc *scenario.Scenario) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("line trace of %s: %w", sc.Name, err)
	}
	t := &trace.Trace{Header: l.header, Events: l.events}
	t.Header.Outcome = l.outcome
	err := writeArtifact(filepath.Join(out, TraceFile), func(f *os.File) error {
		w, err := trace.NewWriter(f, t.Header)
		if err != nil {
			return err
		}
		for _, e := range t.Events {
			if err := w.Write(e); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		err = writeArtifact(filepath.Join(out, TimelineFile), func(f *os.File) error {
			return timeline.Render(f, t, timeline.Options{Title: "Line trace of scenario " + sc.Name, Outcome: l.outcome})
		})
	}
	if err != nil {
		return fmt.Errorf("line trace of %s: %w", sc.Name, err)
	}
	return nil
}

func writeArtifact(path string, write func(*os.File) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	return errors.Join(write(f), f.Close())
}

// artifactName is a scenario's directory under Config.ArtifactDir: its
// name with anything but letters, digits, '.', '-' and '_' replaced.
func artifactName(name string) string {
	s := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, name)
	if s == "" || strings.Trim(s, ".") == "" {
		s = "_" + s
	}
	return s
}

// timelineLink is the link, relative to Config.ArtifactDir, to the
// timeline of the scenario a failed spec belongs to, or "" when there is
// none.
func timelineLink(dir, container string) string {
	if dir == "" {
		return ""
	}
	rel := filepath.ToSlash(filepath.Join(artifactName(container), TimelineFile))
	if _, err := os.Stat(filepath.Join(dir, rel)); err != nil {
		return ""
	}
	return rel
}
