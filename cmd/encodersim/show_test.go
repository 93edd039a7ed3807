package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/pipeline/driver"
	pmsdriver "github.com/encoderlab/encoderlab/pipeline/driver/pms"
	"github.com/encoderlab/encoderlab/pipeline/serialport"
	"github.com/encoderlab/encoderlab/scenarios"
	"github.com/encoderlab/encoderlab/sim"
	"github.com/encoderlab/encoderlab/sim/trace"
	"github.com/encoderlab/encoderlab/timescale"
)

// recordFirstIssue runs the bundled first-issue scenario with its line
// traced, encodes once with the pipeline's PMS driver and returns the
// trace file's path.
func recordFirstIssue(t *testing.T) string {
	t.Helper()
	const scale = timescale.Scale(0.05)
	sc, err := scenarios.Load("first-issue")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var events []trace.Event
	started := time.Now()
	enc, err := sim.Start(context.Background(), sc, sim.Options{LinkDir: t.TempDir(), Scale: scale,
		Trace: func(e trace.Event) { mu.Lock(); events = append(events, e); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	played := make(chan error, 1)
	go func() { played <- enc.Play(ctx) }()

	port, err := serialport.Open(enc.Path(), serialport.Mode{})
	if err != nil {
		t.Fatal(err)
	}
	defer port.Close()
	job := driver.Job{CardID: "9F2C4D1A00000001", Function: driver.Guest, EndsAt: time.Now().Add(72 * time.Hour), Label: "<script>101</script>"}
	if _, err := pmsdriver.New(pmsdriver.DefaultTiming().Scaled(scale)).Encode(ctx, port, job); err != nil {
		t.Fatalf("encode: %v", err)
	}
	if err := <-played; err != nil {
		t.Fatalf("timeline: %v", err)
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}

	path := filepath.Join(t.TempDir(), "first-issue.jsonl")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := trace.NewWriter(f, trace.Header{Protocol: "pms", Link: enc.Path(), Started: started, Note: "first-issue"})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, e := range events {
		if err := w.Write(e); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

func TestShowDrawsARecordedEncode(t *testing.T) {
	in := recordFirstIssue(t)
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"show", in, "--outcome", "success"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("show exited %d: %s", code, &stderr)
	}
	out := strings.TrimSuffix(in, ".jsonl") + ".html"
	if got := strings.TrimSpace(stdout.String()); got != out {
		t.Fatalf("show printed %q, want the page's path %q", got, out)
	}
	page, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	// The driver's CN frame and the device's OK answer are both drawn as
	// decoded frames, the guest label escaped.
	for _, want := range []string{`<tspan class="name">CN</tspan>`, `<tspan class="name">OK</tspan>`, "&lt;script&gt;101", "outcome: success", "host → device", "device → host", `class="legend"`} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("page lacks %q", want)
		}
	}
	if bytes.Contains(page, []byte("<script")) {
		t.Error("page carries a script element")
	}
	if dst := os.Getenv("ENCODERLAB_TIMELINE_SAMPLE"); dst != "" {
		// make timeline-check screenshots this page.
		if err := os.WriteFile(dst, page, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestShowText prints the recorded encode one frame a line: the PMS
// driver's ENQ, its CN with the job's fields, the device's OK.
func TestShowText(t *testing.T) {
	in := recordFirstIssue(t)
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"show", "--text", in}, &stdout, &stderr); code != exitOK {
		t.Fatalf("show --text exited %d: %s", code, &stderr)
	}
	out := stdout.String()
	if !strings.HasPrefix(out, "        0 µs → ") {
		t.Errorf("the first line is not at 0 µs, host to device:\n%s", out)
	}
	for _, want := range []string{
		"→ ENQ\n",
		"→ CN · encode a new card · address 01 · card id 9F2C4D1A00000001 · guest · from ",
		`label "<script>101</script>"`,
		"← OK · done · address 01 · card ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the text lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "[error") {
		t.Errorf("a successful encode shows an error:\n%s", out)
	}
}

func TestShowRejects(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.jsonl")
	if err := os.WriteFile(bad, []byte(`{"trace":1,"started":"2026-11-25T10:00:00Z"}`+"\n"+`{"t_us":1,"dir":"up","hex":"05"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		args []string
		code int
		says string
	}{
		"no trace":      {[]string{"show"}, exitUsage, "want one trace file"},
		"two traces":    {[]string{"show", bad, bad}, exitUsage, "want one trace file"},
		"missing file":  {[]string{"show", filepath.Join(dir, "nope.jsonl")}, exitFail, "no such file"},
		"bad trace":     {[]string{"show", bad}, exitFail, "line 2"},
		"unknown flags": {[]string{"show", "--colour", bad}, exitUsage, "colour"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), c.args, &stdout, &stderr)
		if code != c.code || !strings.Contains(stderr.String(), c.says) {
			t.Errorf("%s: exit %d, stderr %q; want exit %d saying %q", name, code, &stderr, c.code, c.says)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "bad.html")); !os.IsNotExist(err) {
		t.Errorf("a page was left behind for a bad trace (%v)", err)
	}
}

func TestShowToStdout(t *testing.T) {
	in := filepath.Join(t.TempDir(), "t.jsonl")
	text := `{"trace":1,"started":"2026-11-25T10:00:00Z"}` + "\n" + `{"t_us":5,"dir":"host>device","hex":"05","frames":["ENQ"]}` + "\n"
	if err := os.WriteFile(in, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"show", "-o", "-", "--title", "desk 3", in}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s", code, &stderr)
	}
	if !strings.HasPrefix(stdout.String(), "<!DOCTYPE html>") || !strings.Contains(stdout.String(), "<h1>desk 3</h1>") || !strings.Contains(stdout.String(), ">ENQ<") {
		t.Errorf("stdout is not the page:\n%s", &stdout)
	}
}

// A run's directory, as the suite keeps it for a failed scenario, draws
// its trace with the outcome the trace recorded.
func TestShowARunDirectory(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "TRACE.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	w, err := trace.NewWriter(f, trace.Header{Protocol: "pms", Outcome: "error/no_credential_on_encoder"})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(trace.NewEvent(0, trace.HostToDevice, []byte{0x05})); err != nil {
		t.Fatal(err)
	}
	f.Close()
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"show", "-o", "-", dir}, &stdout, &stderr); code != exitOK {
		t.Fatalf("show %s exited %d: %s", dir, code, &stderr)
	}
	if !strings.Contains(stdout.String(), "error/no_credential_on_encoder") {
		t.Errorf("the page does not show the run's outcome:\n%.400s", stdout.String())
	}
}
