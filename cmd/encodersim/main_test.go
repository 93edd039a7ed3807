package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/pipeline/serialport"
	"github.com/encoderlab/encoderlab/scenarios"
)

const patience = 10 * time.Second

func TestList(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"list"}, &out, &errOut); code != exitOK {
		t.Fatalf("list exited %d: %s", code, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	names := scenarios.Names()
	if len(lines) != len(names) {
		t.Fatalf("list printed %d lines for %d bundled scenarios:\n%s", len(lines), len(names), out.String())
	}
	for i, name := range names {
		sc, err := scenarios.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		if f := strings.Fields(lines[i]); len(f) < 2 || f[0] != name || !strings.Contains(lines[i], sc.Description) {
			t.Errorf("line %d = %q, want %s and its description", i, lines[i], name)
		}
	}
}

func TestLint(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	data, err := scenarios.FS.ReadFile("empty-reader.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(good, data, 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("name: x\nencoder: {model: nope, id: d}\nsteps:\n  - frobnicate: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"lint", good}, &out, &errOut); code != exitOK || out.Len() != 0 {
		t.Fatalf("lint of a good file exited %d, printed %q %q", code, out.String(), errOut.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"lint", good, bad}, &out, &errOut); code != exitFail {
		t.Fatalf("lint of a bad file exited %d, want %d", code, exitFail)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) < 2 {
		t.Fatalf("lint printed %q, want a line per problem (at least the model and the step)", out.String())
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, bad+":") {
			t.Errorf("problem line %q does not start with %s:LINE:COL", l, bad)
		}
	}
}

// TestLintChecksTheLab: a scenario that loads but does not fit the lab
// (an encoder the lab lacks, a model the lab does not drive the encoder
// with) fails lint with the position of the key at fault, and fits
// another lab given with --lab that has such an encoder.
func TestLintChecksTheLab(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const rest = "credential: {system: visionline-hotel}\nexpect: {status: success}\n"
	missing := write("missing.yaml", "name: missing\nencoder: {model: pms, id: back-office}\n"+rest)
	wrongModel := write("wrong-model.yaml", "name: wrong-model\nencoder: {model: pn532, id: front-desk-1}\n"+rest)

	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"lint", missing, wrongModel}, &out, &errOut); code != exitFail {
		t.Fatalf("lint exited %d, want %d; stdout:\n%s", code, exitFail, out.String())
	}
	for _, want := range []string{
		missing + `:2:27: encoder.id: the lab has no encoder "back-office" (its pms encoders: front-desk-1, front-desk-2, station-desk)`,
		wrongModel + ":2:18: encoder.model: pn532, but the lab drives front-desk-1 with pms (its pn532 encoders: nfc-desk-1, nfc-station-desk)",
	} {
		if !strings.Contains(out.String(), want+"\n") {
			t.Errorf("lint output lacks the line\n%s\ngot:\n%s", want, out.String())
		}
	}

	lab, err := os.ReadFile("../../fixtures/lab.yaml")
	if err != nil {
		t.Fatal(err)
	}
	other := write("lab.yaml", strings.Replace(string(lab), "display_name: front-desk-1", "display_name: back-office", 1))
	out.Reset()
	if code := run(context.Background(), []string{"lint", "--lab", other, missing}, &out, &errOut); code != exitOK {
		t.Fatalf("lint --lab with a lab that has back-office exited %d:\n%s", code, out.String())
	}
}

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
	}{
		{nil, exitUsage},
		{[]string{"frob"}, exitUsage},
		{[]string{"help"}, exitOK},
		{[]string{"help", "run"}, exitOK},
		{[]string{"run", "--help"}, exitOK},
		{[]string{"lint", "-h"}, exitOK},
		{[]string{"list", "--help"}, exitOK},
		{[]string{"run"}, exitUsage},
		{[]string{"run", "--scale", "0", "first-issue"}, exitUsage},
		{[]string{"run", "--nope"}, exitUsage},
		{[]string{"lint"}, exitUsage},
		{[]string{"list", "extra"}, exitUsage},
		{[]string{"record", "--device", "/dev/null", "--link", "x", "--protocol", "morse"}, exitUsage},
		{[]string{"record", "--device", "/dev/null", "--link", "x", "--protocol", "pms", "--redact", "shoe-size"}, exitUsage},
		{[]string{"record", "--device", "/dev/null", "--link", "x", "--redact", "keys"}, exitUsage}, // --redact needs --protocol
		{[]string{"run", "--links", "", "no-such-scenario"}, exitFail},
		// Four pms scenarios on front-desk-1: the lab has three pms encoders.
		{[]string{"run", "--links", "", "first-issue", "empty-reader", "busy-then-success", "garbled-answer"}, exitFail},
		{[]string{"run", "--links", "", "--encoder", "nfc-desk-1", "first-issue"}, exitUsage},   // a pn532 encoder for a pms scenario
		{[]string{"run", "--links", "", "--encoder", "front-desk-9", "first-issue"}, exitUsage}, // not in the lab
		{[]string{"run", "--links", "", "--encoder", "front-desk-2", "first-issue", "empty-reader"}, exitUsage},
		{[]string{"run", "--links", "", "--encoder", "nope=front-desk-2", "first-issue"}, exitUsage},
		{[]string{"run", "--links", "", "--encoder", "=front-desk-2", "first-issue"}, exitUsage},
		{[]string{"run", "--links", "", "--encoder", "front-desk-2", "--encoder", "station-desk", "first-issue"}, exitUsage},
		{[]string{"run", "--links", "", "--encoder", "first-issue=front-desk-2", "--encoder", "empty-reader=front-desk-2", "first-issue", "empty-reader"}, exitUsage},
		{[]string{"run", "--lab", "/no/such/lab.yaml", "first-issue"}, exitUsage},
		{[]string{"lint", "--lab", "/no/such/lab.yaml", "x.yaml"}, exitUsage},
	} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), tc.args, &out, &errOut); code != tc.code {
			t.Errorf("encodersim %q exited %d, want %d; stderr:\n%s", tc.args, code, tc.code, errOut.String())
		}
	}
}

// running is "encodersim run" started by startRun.
type running struct {
	t      *testing.T
	lines  chan string
	done   chan int // its exit status
	stderr *syncBuffer
}

// startRun runs encodersim with args until ctx ends, reading its stdout
// line by line.
func startRun(t *testing.T, ctx context.Context, args ...string) *running {
	t.Helper()
	r := &running{t: t, lines: make(chan string), done: make(chan int, 1), stderr: &syncBuffer{}}
	pr, pw := io.Pipe()
	quit := make(chan struct{})
	t.Cleanup(func() { close(quit) })
	go func() {
		code := run(ctx, args, pw, r.stderr)
		pw.Close()
		r.done <- code
	}()
	go func() {
		defer io.Copy(io.Discard, pr)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			select {
			case r.lines <- sc.Text():
			case <-quit:
				return
			}
		}
		close(r.lines)
	}()
	return r
}

// next returns the next line of its stdout, failing the test, with its
// stderr, when it ended or stays silent.
// exitsOK waits for the stopped run to end with exit status 0.
func (r *running) exitsOK() {
	r.t.Helper()
	select {
	case code := <-r.done:
		if code != exitOK {
			r.t.Fatalf("run exited %d after it was stopped, want 0; stderr:\n%s", code, r.stderr.String())
		}
	case <-time.After(patience):
		r.t.Fatal("run did not end after it was stopped")
	}
}

func (r *running) next() string {
	r.t.Helper()
	select {
	case l, ok := <-r.lines:
		if !ok {
			r.t.Fatalf("encodersim run ended its output early; stderr:\n%s", r.stderr.String())
		}
		return l
	case <-time.After(patience):
		r.t.Fatalf("encodersim run printed nothing more; stderr:\n%s", r.stderr.String())
	}
	return ""
}

func TestRunServesUntilStopped(t *testing.T) {
	links := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := startRun(t, ctx, "run", "--links", links, "--scale", "0.01", "empty-reader")
	next, done := r.next, r.done

	link := filepath.Join(links, "front-desk-1")
	if l := next(); !strings.HasPrefix(l, "front-desk-1\tmodel pms\ttty /dev/pts/") || !strings.HasSuffix(l, "link "+link) {
		t.Fatalf("first line %q, want the encoder's id, model, tty and link", l)
	}

	// The timeline awaits an encode; the device, with no card, answers TO.
	p, err := serialport.Open(link, serialport.Mode{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	cn := []byte("\x02CN\xb301\xb39F2C4D1A00000001\xb3G\xb3\xb3\xb3\x03")
	var x byte
	for _, c := range cn[1:] {
		x ^= c
	}
	if err := p.SetDeadline(time.Now().Add(patience)); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Write(append(cn, x)); err != nil {
		t.Fatal(err)
	}
	if l := next(); l != "front-desk-1\tempty-reader.yaml: timeline done" {
		t.Fatalf("second line %q, want the timeline's end", l)
	}
	got := make([]byte, 1+8) // ACK, then STX TO FS 01 ETX LRC
	if _, err := io.ReadFull(p, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[:8], []byte("\x06\x02TO\xb301\x03")) {
		t.Fatalf("device answered % X, want ACK then TO", got)
	}

	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Fatalf("run exited %d after it was stopped, want 0", code)
		}
	case <-time.After(patience):
		t.Fatal("run did not end after it was stopped")
	}
	if _, err := os.Lstat(link); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("link left behind: %v", err)
	}
}

// TestRunDocumentedExample runs the example of "encodersim run --help"
// that plays two scenarios naming the same encoder: the second plays on
// the lab's next free pms encoder, and each encoder plays its own
// scenario (front-desk-1 waits for a card and answers TO; front-desk-2
// answers BY once, then writes the card on the retry).
func TestRunDocumentedExample(t *testing.T) {
	const example = "encodersim run --scale 0.1 empty-reader busy-then-success"
	if !strings.Contains(runUsage, "\n  "+example+"\n") {
		t.Fatalf("run --help no longer shows the example %q", example)
	}
	links := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := startRun(t, ctx, append([]string{"run", "--links", links}, strings.Fields(example)[2:]...)...)
	next, done, errOut := r.next, r.done, r.stderr
	for _, id := range []string{"front-desk-1", "front-desk-2"} {
		if l := next(); !strings.HasPrefix(l, id+"\tmodel pms\ttty /dev/pts/") || !strings.HasSuffix(l, "link "+filepath.Join(links, id)) {
			t.Fatalf("line %q, want encoder %s's id, model, tty and link", l, id)
		}
	}
	if want := "busy-then-success: encoder front-desk-1 is already run by empty-reader.yaml; playing on front-desk-2"; !strings.Contains(errOut.String(), want) {
		t.Errorf("stderr does not say where busy-then-success plays (want %q):\n%s", want, errOut.String())
	}

	open := func(id string) *serialport.Port {
		t.Helper()
		p, err := serialport.Open(filepath.Join(links, id), serialport.Mode{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		if err := p.SetDeadline(time.Now().Add(patience)); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// exchange sends an encode command and returns the ACK and the
	// answer frame up to its ETX (the answer's fields vary).
	cn := pmsFrame(t, "CN", "01", "9F2C4D1A00000001", "G", "", "", "")
	rc := pmsFrame(t, "RC", "01")
	exchange := func(p *serialport.Port, cmd []byte) string {
		t.Helper()
		if _, err := p.Write(cmd); err != nil {
			t.Fatal(err)
		}
		var got []byte
		b := make([]byte, 1)
		for len(got) == 0 || got[len(got)-1] != 0x03 {
			if _, err := io.ReadFull(p, b); err != nil {
				t.Fatalf("reading the answer after % X: %v", got, err)
			}
			got = append(got, b[0])
		}
		if _, err := io.ReadFull(p, b); err != nil { // the LRC
			t.Fatal(err)
		}
		if _, err := p.Write([]byte{0x06}); err != nil { // the host's ACK of the answer
			t.Fatal(err)
		}
		return string(got)
	}

	desk2 := open("front-desk-2")
	// The timeline puts busy-then-success's card on the reader after it
	// makes the device busy: once a read (which answers at once, and is
	// not an encode) sees that card, the device is busy for one encode.
	for {
		got := exchange(desk2, rc)
		if strings.HasPrefix(got, "\x06\x02OK\xb301\xb304E2F3A4B5C6D7\xb3") {
			break
		}
		if got != "\x06\x02NC\xb301\x03" {
			t.Fatalf("front-desk-2 answered a read %q, want NC until busy-then-success's card 04E2F3A4B5C6D7 is placed", got)
		}
	}
	if got := exchange(desk2, cn); got != "\x06\x02BY\xb301\x03" {
		t.Fatalf("front-desk-2 answered the first encode %q, want ACK then BY (busy-then-success)", got)
	}
	if got := exchange(desk2, cn); !strings.HasPrefix(got, "\x06\x02OK\xb301\xb304E2F3A4B5C6D7\xb3") {
		t.Fatalf("front-desk-2 answered the retry %q, want ACK then OK (the card written)", got)
	}
	if l := next(); l != "front-desk-2\tbusy-then-success.yaml: timeline done" {
		t.Fatalf("line %q, want busy-then-success's timeline done on front-desk-2", l)
	}
	desk1 := open("front-desk-1")
	if got := exchange(desk1, cn); got != "\x06\x02TO\xb301\x03" {
		t.Fatalf("front-desk-1 answered %q, want ACK then TO (empty-reader)", got)
	}
	if l := next(); l != "front-desk-1\tempty-reader.yaml: timeline done" {
		t.Fatalf("line %q, want empty-reader's timeline done on front-desk-1", l)
	}

	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Fatalf("run exited %d after it was stopped, want 0; stderr:\n%s", code, errOut.String())
		}
	case <-time.After(patience):
		t.Fatal("run did not end after it was stopped")
	}
}

// TestRunOnAnotherEncoder plays a scenario on the encoder --encoder names.
func TestRunOnAnotherEncoder(t *testing.T) {
	links := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := startRun(t, ctx, "run", "--links", links, "--scale", "0.01", "--encoder", "nfc-station-desk", "pn532-first-issue")
	if l := r.next(); !strings.HasPrefix(l, "nfc-station-desk\tmodel pn532\t") || !strings.HasSuffix(l, "link "+filepath.Join(links, "nfc-station-desk")) {
		t.Fatalf("first line %q, want encoder nfc-station-desk's", l)
	}
	if _, err := os.Lstat(filepath.Join(links, "nfc-desk-1")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the scenario's own encoder nfc-desk-1 was published too: %v", err)
	}
	cancel()
	r.exitsOK()
}

// TestRunSeveralEncoders runs a scenario of two encoders: both come up,
// each under its own link, and nothing else may take them.
func TestRunSeveralEncoders(t *testing.T) {
	links := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := startRun(t, ctx, "run", "--links", links, "--scale", "0.01", "same-credential-two-encoders", "first-issue")
	want := map[string]string{
		"front-desk-1": "model pms", "nfc-desk-1": "model pn532", "front-desk-2": "model pms",
	}
	for range 3 {
		l := r.next()
		id, rest, _ := strings.Cut(l, "\t")
		if m, ok := want[id]; !ok || !strings.HasPrefix(rest, m+"\t") || !strings.HasSuffix(l, "link "+filepath.Join(links, id)) {
			t.Fatalf("line %q, want one of the encoders %v with its model and link", l, want)
		}
		delete(want, id)
	}
	// first-issue names front-desk-1 too: the two-encoder scenario keeps
	// it, so first-issue moves to the next free pms encoder.
	if !strings.Contains(r.stderr.String(), "playing on front-desk-2") {
		t.Errorf("stderr does not say first-issue moved:\n%s", r.stderr.String())
	}
	cancel()
	for range 2 {
		if l := r.next(); !strings.HasSuffix(l, ": timeline stopped before its end") {
			t.Errorf("line %q after the stop, want a timeline stopped", l)
		}
	}
	r.exitsOK()
}

func TestRunRefusesToMoveSeveralEncoders(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"run", "--links", t.TempDir(), "--encoder", "station-desk", "same-credential-two-encoders"}, &stdout, &stderr)
	if code != exitUsage || !strings.Contains(stderr.String(), "has 2 encoders and plays on its own") {
		t.Errorf("exit %d, stderr %q; want a usage error saying the scenario plays on its own encoders", code, stderr.String())
	}
}
