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
		{[]string{"run", "--links", "", "first-issue", "empty-reader"}, exitFail}, // same encoder twice
	} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), tc.args, &out, &errOut); code != tc.code {
			t.Errorf("encodersim %q exited %d, want %d; stderr:\n%s", tc.args, code, tc.code, errOut.String())
		}
	}
}

func TestRunServesUntilStopped(t *testing.T) {
	links := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		code := run(ctx, []string{"run", "--links", links, "--scale", "0.01", "empty-reader"}, pw, io.Discard)
		pw.Close()
		done <- code
	}()
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	next := func() string {
		t.Helper()
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("encodersim run ended its output early")
			}
			return l
		case <-time.After(patience):
			t.Fatal("encodersim run printed nothing")
		}
		return ""
	}

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
