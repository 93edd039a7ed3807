package conformance_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/conformance"
	"github.com/encoderlab/encoderlab/scenarios"
	"github.com/encoderlab/encoderlab/sim/scenario"
)

func TestHardwareCapable(t *testing.T) {
	all, err := scenarios.All()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*scenario.Scenario{}
	for _, sc := range all {
		byName[sc.Name] = sc
	}
	for name, want := range map[string]string{
		"first-issue":             "",
		"reissue-allowed":         "",
		"unknown-encoder":         "",
		"garbled-answer":          "only a virtual encoder",
		"hangup-then-recover":     "only a virtual encoder",
		"card-removed-mid-encode": "write_time",
		"card-never-placed":       "card_wait",
	} {
		sc := byName[name]
		if sc == nil {
			t.Fatalf("no bundled scenario %s", name)
		}
		ok, why := conformance.HardwareCapable(sc)
		if ok != (want == "") || !strings.Contains(why, want) {
			t.Errorf("HardwareCapable(%s) = %v, %q; want %v and a reason containing %q", name, ok, why, want == "", want)
		}
		if !ok && !strings.Contains(why, sc.File) {
			t.Errorf("HardwareCapable(%s) reason %q should name the file", name, why)
		}
	}
	late := &scenario.Scenario{File: "late.yaml", Steps: []scenario.Step{
		{Index: 0, Op: scenario.OpPlace, Card: "blank", Line: 5},
		{Index: 1, Op: scenario.OpAwait, Command: "encode", Line: 6},
		{Index: 2, Op: scenario.OpRemove, Card: "blank", Line: 7},
	}}
	if ok, why := conformance.HardwareCapable(late); ok || !strings.Contains(why, "late.yaml:7 step 3 (remove blank) follows an await") {
		t.Errorf("HardwareCapable(remove after await) = %v, %q; want false naming step 3", ok, why)
	}
	if ok, _ := conformance.HardwareCapable(nil); ok {
		t.Error("HardwareCapable(nil) = true")
	}
}

func TestTerminalOperator(t *testing.T) {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	defer outW.Close() // ends the reader of the prompts below
	op := conformance.TerminalOperator(inR, outW)
	prompts := bufio.NewReader(outR)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	done := make(chan error, 1)
	go func() { done <- op.Perform(ctx, "Place card 'blank' on encoder front-desk-1, then press Enter") }()
	for {
		line, err := prompts.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the prompt: %v", err)
		}
		if strings.Contains(line, "Place card 'blank' on encoder front-desk-1") {
			break
		}
	}
	select {
	case err := <-done:
		t.Fatalf("Perform returned %v before Enter", err)
	default:
	}
	if _, err := io.WriteString(inW, "\n"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Perform after Enter: %v", err)
	}

	// A cancelled wait returns the context's error.
	cctx, stop := context.WithCancel(ctx)
	go func() { done <- op.Perform(cctx, "Remove card 'blank'") }()
	if _, err := prompts.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	if _, err := prompts.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	stop()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Perform with a cancelled context = %v; want context.Canceled", err)
	}

	// The end of input means the operator is gone: every later step fails.
	go func() { _, _ = io.Copy(io.Discard, outR) }()
	inW.Close()
	for range 2 {
		if err := op.Perform(ctx, "Place card 'staff'"); !errors.Is(err, conformance.ErrOperatorGone) {
			t.Fatalf("Perform after the input ended = %v; want ErrOperatorGone", err)
		}
	}
}

func TestExternalStart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, bad := range []struct{ url, dir string }{
		{"ftp://127.0.0.1:8450", dir},
		{"127.0.0.1:8450", dir},
		{"http://", dir},
		{"http://127.0.0.1:8450", "relative/links"},
		{"http://127.0.0.1:8450", ""},
	} {
		if sys, err := conformance.External(bad.url, bad.dir).Start(ctx, conformance.Env{}); err == nil {
			sys.Close()
			t.Errorf("External(%q, %q) started; want an error", bad.url, bad.dir)
		}
	}
	target := conformance.External("http://127.0.0.1:8450", dir)
	if l, ok := target.(interface{ LinkDir() string }); !ok || l.LinkDir() != dir {
		t.Errorf("External target does not report its link directory %s", dir)
	}
	sys, err := target.Start(ctx, conformance.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if sys.URL() != "http://127.0.0.1:8450" {
		t.Errorf("URL() = %q", sys.URL())
	}
	if err := sys.Close(); err != nil {
		t.Errorf("Close() = %v; the suite does not stop a server it did not start", err)
	}
}
