package main

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// TestInterruptWritesPartialReports starts the real program, waits for
// the progress line of a finished container (specs ran), sends it a
// signal and checks that it exits 128 + the signal, writes the summary
// and every report saying the run was interrupted, and leaves nothing in
// the temporary directory it was given.
func TestInterruptWritesPartialReports(t *testing.T) {
	for _, tt := range []struct {
		name  string
		procs string
		sig   syscall.Signal
		code  int
		said  string
	}{
		{"SIGINT, one process", "1", syscall.SIGINT, 130, "interrupted (SIGINT)"},
		{"SIGINT, two processes", "2", syscall.SIGINT, 130, "interrupted (SIGINT)"},
		{"SIGTERM, two processes", "2", syscall.SIGTERM, 143, "interrupted (SIGTERM)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tmp := filepath.Join(dir, "tmp")
			if err := os.Mkdir(tmp, 0o755); err != nil {
				t.Fatal(err)
			}
			// A watchdog, not a wait: the run is killed if it hangs.
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, "run", "--procs", tt.procs, "--report-dir", "reports")
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
			var stdout strings.Builder
			cmd.Stdout = &stdout
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			var errText strings.Builder
			lines := bufio.NewScanner(stderr)
			for lines.Scan() {
				errText.WriteString(lines.Text() + "\n")
				if strings.Contains(lines.Text(), "specs run,") {
					break // a container has finished: specs are running
				}
			}
			if err := cmd.Process.Signal(tt.sig); err != nil {
				t.Fatal(err)
			}
			for lines.Scan() {
				errText.WriteString(lines.Text() + "\n")
			}
			err = cmd.Wait()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != tt.code {
				t.Fatalf("exit: %v, want status %d\nstdout:\n%s\nstderr:\n%s", err, tt.code, stdout.String(), errText.String())
			}
			out := stdout.String()
			for _, want := range []string{"INTERRUPTED: the run was " + tt.said, "conformance run: interrupted", "requirements: "} {
				if !strings.Contains(out, want) {
					t.Errorf("the summary lacks %q:\n%s", want, out)
				}
			}
			for _, name := range []string{"junit.xml", "ginkgo.json", "certification.yaml", "certification.html"} {
				if fi, err := os.Stat(filepath.Join(dir, "reports", name)); err != nil || fi.Size() == 0 {
					t.Errorf("report %s: %v", name, err)
				}
			}
			var cert struct {
				Verdict     string
				Interrupted string
				Totals      struct {
					Passed     int
					NotChecked int `yaml:"not_checked"`
				}
			}
			b, err := os.ReadFile(filepath.Join(dir, "reports", "certification.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			if err := yaml.Unmarshal(b, &cert); err != nil {
				t.Fatal(err)
			}
			if cert.Verdict != "interrupted" || cert.Interrupted != tt.said || cert.Totals.Passed == 0 || cert.Totals.NotChecked == 0 {
				t.Errorf("certification.yaml: verdict %q, interrupted %q, totals %+v; want interrupted, %q, some passed, some not checked",
					cert.Verdict, cert.Interrupted, cert.Totals, tt.said)
			}
			if html, _ := os.ReadFile(filepath.Join(dir, "reports", "certification.html")); !strings.Contains(string(html), "CONFORMANCE RUN: INTERRUPTED") {
				t.Error("certification.html does not say the run was interrupted")
			}
			left, err := os.ReadDir(tmp)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range left {
				t.Errorf("left in TMPDIR: %s", e.Name())
			}
		})
	}
}
