package conformance_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/encoderlab/encoderlab/conformance"
	"github.com/encoderlab/encoderlab/scenarios"
	"github.com/encoderlab/encoderlab/sim/pty"
	"github.com/encoderlab/encoderlab/sim/scenario"
)

// setupProblems runs Preflight and returns its problems; it fails the
// test when the error is not a *conformance.SetupError.
func setupProblems(t *testing.T, cfg conformance.Config) []string {
	t.Helper()
	err := conformance.Preflight(context.Background(), &cfg)
	if err == nil {
		return nil
	}
	var se *conformance.SetupError
	if !errors.As(err, &se) {
		t.Fatalf("Preflight = %v (%T), want a *conformance.SetupError", err, err)
	}
	return se.Problems
}

func wantProblems(t *testing.T, got []string, want ...string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d problem(s), want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i, w := range want {
		if !strings.Contains(got[i], w) {
			t.Errorf("problem %d lacks %q:\n%s", i+1, w, got[i])
		}
	}
}

func TestPreflightBundledSetFits(t *testing.T) {
	if p := setupProblems(t, conformance.NewConfig()); p != nil {
		t.Fatalf("the bundled set does not fit the bundled lab:\n%s", strings.Join(p, "\n"))
	}
}

// TestPreflightScenariosThatDoNotFit: every scenario that does not fit
// the lab is one problem with its file:line:col, a name used twice is
// one more, and Plan refuses the same run with the same error.
func TestPreflightScenariosThatDoNotFit(t *testing.T) {
	load := func(file, doc string) *scenario.Scenario {
		t.Helper()
		s, err := scenario.Load(file, []byte(doc+"credential: {system: visionline-hotel}\nexpect: {status: success}\n"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	first, err := scenarios.Load("first-issue")
	if err != nil {
		t.Fatal(err)
	}
	cfg := conformance.NewConfig()
	cfg.Scenarios = []*scenario.Scenario{
		first,
		load("missing.yaml", "name: missing\nencoder: {model: pms, id: back-office}\n"),
		load("wrong-model.yaml", "name: wrong-model\nencoder: {model: pn532, id: front-desk-1}\n"),
		load("again.yaml", "name: first-issue\nencoder: {model: pms, id: front-desk-1}\n"),
	}
	got := setupProblems(t, cfg)
	wantProblems(t, got,
		`missing.yaml:2:27: encoder.id: the lab has no encoder "back-office"`,
		"wrong-model.yaml:2:18: encoder.model: pn532, but the lab drives front-desk-1 with pms",
		`scenarios first-issue.yaml and again.yaml are both named "first-issue"`)
	if _, err := conformance.Plan(&cfg); err == nil || !strings.Contains(err.Error(), "back-office") {
		t.Errorf("Plan = %v, want the same setup error", err)
	}
}

// Scans are latest's (the seeds define no scan_credential): the bundled
// set leaves its scan scenarios out of a seed profile's run, and a scan of
// the run's own under one is a setup problem.
func TestScansOnlyUnderLatest(t *testing.T) {
	scanning := func(plan []conformance.Group) []string {
		var out []string
		for _, g := range plan {
			if g.Scenario != nil && g.Scenario.Scans() {
				out = append(out, g.Scenario.Name)
			}
		}
		return out
	}
	for _, c := range []struct {
		profile string
		scans   bool
	}{{"current", false}, {"older", false}, {"latest", true}} {
		cfg := conformance.NewConfig()
		cfg.Profile = c.profile
		plan, err := conformance.Plan(&cfg)
		if err != nil {
			t.Fatal(err)
		}
		if got := scanning(plan); (len(got) > 0) != c.scans {
			t.Errorf("profile %s plans the scan scenarios %v; want them %s", c.profile, got, map[bool]string{true: "all", false: "left out"}[c.scans])
		}
	}
	scan, err := scenarios.Load("scan-blank-card")
	if err != nil {
		t.Fatal(err)
	}
	cfg := conformance.NewConfig()
	cfg.Scenarios = []*scenario.Scenario{scan}
	wantProblems(t, setupProblems(t, cfg), "scan-blank-card.yaml scans a card (scan: true), but profile current has no /acs/encoders/scan_credential: run it with --profile latest")
}

func TestPreflightExternalServer(t *testing.T) {
	links := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close() // nothing listens there now: a refused connection

	cfg := conformance.NewConfig()
	cfg.Target = conformance.External(closed, links)
	wantProblems(t, setupProblems(t, cfg), "external server at "+closed+" does not answer (dial tcp "+strings.TrimPrefix(closed, "http://")+": connect: connection refused)")

	// Any HTTP answer will do: the suite judges the answers.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no key", http.StatusUnauthorized)
	}))
	defer srv.Close()
	cfg.Target = conformance.External(srv.URL, links)
	if p := setupProblems(t, cfg); p != nil {
		t.Errorf("Preflight of a server that answers 401: %s", strings.Join(p, "\n"))
	}

	cfg.Target = conformance.External(srv.URL, "relative/links")
	wantProblems(t, setupProblems(t, cfg), `link directory "relative/links"`)
}

func TestPreflightHardwarePorts(t *testing.T) {
	p, err := pty.Open()
	if err != nil {
		t.Skipf("no pty to stand in for a serial device: %v", err)
	}
	defer p.Close()
	dir := t.TempDir()
	file := filepath.Join(dir, "not-a-tty")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// A PC/SC reader's port is its pcscd's socket.
	sock := filepath.Join(dir, "pcscd.comm")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := conformance.NewConfig()
	cfg.Hardware = &conformance.Hardware{Ports: map[string]string{
		"pcsc-desk-1": sock,
		// and may name the reader after it.
		"pcsc-station-desk": sock + "#ACS ACR122U PICC Interface 01",
		"front-desk-1":      p.TTY(),
		"front-desk-2":      filepath.Join(dir, "ttyUSB9"),
		"station-desk":      file,
		"back-office":       p.TTY(),
	}}
	wantProblems(t, setupProblems(t, cfg),
		"port back-office="+p.TTY()+": the lab has no encoder back-office",
		"port front-desk-2="+filepath.Join(dir, "ttyUSB9")+": no such device",
		"port station-desk="+file+": not a serial device")
}
