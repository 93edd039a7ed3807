package conformance

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/encoderlab/encoderlab/pipeline/serialport"
	"github.com/encoderlab/encoderlab/scenarios"
	"github.com/encoderlab/encoderlab/sim"
	"github.com/encoderlab/encoderlab/sim/trace"
	"github.com/encoderlab/encoderlab/timescale"
)

// traceOnePing runs sc's virtual encoder with its line traced into l and
// has a host ping it (ENQ, ACK) over the pty.
func traceOnePing(t *testing.T, l *lineLog, name string) {
	t.Helper()
	sc, err := scenarios.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := sim.Start(context.Background(), sc, sim.Options{LinkDir: t.TempDir(), Scale: DefaultTimeScale, Trace: l.add})
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	p, err := serialport.Open(enc.Path(), serialport.Mode{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Write([]byte{0x05}); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	if _, err := io.ReadFull(p, b); err != nil || b[0] != 0x06 {
		t.Fatalf("answer to ENQ: % x, %v", b, err)
	}
	// Close waits for the serving goroutine, so the ACK's event is in.
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestFailedScenarioTimelineIsSavedAndLinked(t *testing.T) {
	dir := t.TempDir()
	sc, err := scenarios.Load("first-issue")
	if err != nil {
		t.Fatal(err)
	}
	passed, failed := newLineLog(sc, timescale.Real), newLineLog(sc, timescale.Real)
	traceOnePing(t, passed, "first-issue")
	traceOnePing(t, failed, "first-issue")
	failed.fail()
	failed.setOutcome(&recording{encodes: []*encodeRecord{{final: map[string]any{
		"status": "error", "error": map[string]any{"type": "no_credential_on_encoder"}}}}})

	if err := passed.save(dir, sc); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("a passing scenario left %d entries in the artifact directory", len(entries))
	}
	if err := failed.save(dir, sc); err != nil {
		t.Fatal(err)
	}

	f, err := os.Open(filepath.Join(dir, "first-issue", TraceFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr, err := trace.Read(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Events) != 2 || tr.Events[0].Hex != "05" || tr.Events[1].Hex != "06" || tr.Header.Protocol != "pms" {
		t.Fatalf("saved trace = %+v", tr)
	}
	page, err := os.ReadFile(filepath.Join(dir, "first-issue", TimelineFile))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(page, []byte("outcome: error/no_credential_on_encoder")) || !bytes.Contains(page, []byte("<svg")) {
		t.Errorf("timeline page lacks the outcome or the drawing")
	}

	// The certification page links the failed scenario's timeline, and
	// only where one was written.
	it := func(container string, state types.SpecState) types.SpecReport {
		s := types.SpecReport{ContainerHierarchyTexts: []string{"encode_credential", container},
			LeafNodeType: types.NodeTypeIt, LeafNodeText: "LIFECYCLE-ONE-ENCODE-PER-CALL: x",
			LeafNodeLabels: []string{"LIFECYCLE-ONE-ENCODE-PER-CALL"}, State: state}
		if state == types.SpecStateFailed {
			s.Failure = types.Failure{Message: "wrong"}
		}
		return s
	}
	cfg := NewConfig()
	cfg.ArtifactDir = dir
	r := types.Report{StartTime: time.Now(), SpecReports: []types.SpecReport{
		it("first-issue", types.SpecStateFailed), it("empty-reader", types.SpecStateFailed)}}
	c, err := NewCertification(r, cfg, ReportInfo{})
	if err != nil {
		t.Fatal(err)
	}
	var html bytes.Buffer
	if err := c.WriteHTML(&html); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(html.String(), `<a href="first-issue/TRACE.html">`); n != 1 {
		t.Errorf("certification page links first-issue's timeline %d times, want once", n)
	}
	if strings.Count(html.String(), "TRACE.html") != 1 {
		t.Error("certification page links a timeline that was not written")
	}
}

func TestArtifactNameStaysInItsDirectory(t *testing.T) {
	for in, want := range map[string]string{"first-issue": "first-issue", "../x": ".._x", "..": "_..", "a b/c": "a_b_c", "": "_"} {
		if got := artifactName(in); got != want {
			t.Errorf("artifactName(%q) = %q, want %q", in, got, want)
		}
	}
}

// A trace of a compressed run says its time scale, so convert can undo it.
func TestLineLogRecordsScale(t *testing.T) {
	sc, err := scenarios.Load("first-issue")
	if err != nil {
		t.Fatal(err)
	}
	if got := newLineLog(sc, 0.05).header.Scale; got != 0.05 {
		t.Errorf("header scale %v at time scale 0.05", got)
	}
	if got := newLineLog(sc, timescale.Real).header.Scale; got != 0 {
		t.Errorf("header scale %v at real time; want it absent", got)
	}
}
