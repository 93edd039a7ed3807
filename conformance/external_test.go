package conformance_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/encoderlab/encoderlab/conformance"

	"github.com/encoderlab/encoderlab/internal/require"
)

// externalScale is the time scale of the demonstration: encoderd's
// --scale and the suite's ENCODERLAB_TIME_SCALE must agree.
const externalScale = "0.05"

// TestExternalServer certifies encoderd as a black box: it builds the
// server and runs it as a separate process on a link directory, then
// runs this package's suite in another process against its URL, as
// `ENCODERLAB_API_URL=… ENCODERLAB_LINKS=… go test ./conformance` would,
// and requires every requirement of the plan to pass.
func TestExternalServer(t *testing.T) {
	if os.Getenv("ENCODERLAB_API_URL") != "" {
		t.Skip("this process is the suite run against an external server")
	}
	if testing.Short() {
		t.Skip("builds and runs two processes; skipped with -short")
	}
	// What failed, said again last: a CI log that keeps only the end of
	// the output (encoderd's log comes after the failures) still says it.
	var summary []string
	t.Cleanup(func() {
		if len(summary) > 0 {
			t.Logf("the failures above, once more:\n  %s", strings.Join(summary, "\n  "))
		}
	})
	goTool, err := exec.LookPath("go")
	if err != nil {
		require.Missing(t, "the go command is not on PATH; it builds encoderd and the suite")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	bin := t.TempDir()
	build := func(args ...string) {
		t.Helper()
		out, err := exec.CommandContext(ctx, goTool, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	encoderd := filepath.Join(bin, "encoderd")
	suite := filepath.Join(bin, "conformance.test")
	build("build", "-o", encoderd, "github.com/encoderlab/encoderlab/cmd/encoderd")
	build("test", "-c", "-o", suite, "github.com/encoderlab/encoderlab/conformance")

	links := filepath.Join(t.TempDir(), "links")
	if err := os.Mkdir(links, 0o755); err != nil {
		t.Fatal(err)
	}
	url := startEncoderd(ctx, t, encoderd, links)

	report := filepath.Join(t.TempDir(), "report.json")
	run := exec.CommandContext(ctx, suite,
		"-test.run", "^TestConformance$",
		"-ginkgo.json-report", report,
		"-ginkgo.no-color",
	)
	run.Env = append(os.Environ(),
		"ENCODERLAB_API_URL="+url,
		"ENCODERLAB_LINKS="+links,
		"ENCODERLAB_TIME_SCALE="+externalScale,
	)
	out, runErr := run.CombinedOutput()
	if runErr != nil {
		t.Errorf("the suite against encoderd failed: %v\n%s", runErr, tail(out, 80))
		summary = append(summary, fmt.Sprintf("the suite exited %v", runErr))
	}

	raw, err := os.ReadFile(report)
	if err != nil {
		t.Fatalf("the suite wrote no JSON report: %v", err)
	}
	var reports []types.Report
	if err := json.Unmarshal(raw, &reports); err != nil || len(reports) != 1 {
		t.Fatalf("JSON report: %d reports, %v; want one", len(reports), err)
	}
	got := map[string]*conformance.RequirementResult{}
	for _, r := range conformance.Results(reports[0]) {
		got[r.ID] = r
	}
	cfg := conformance.NewConfig()
	plan, err := conformance.Plan(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, g := range plan {
		for _, req := range g.Requirements {
			checked++
			res := got[req.ID]
			switch {
			case res == nil:
				t.Errorf("%s: no spec ran", req.ID)
				summary = append(summary, req.ID+": no spec ran")
			case res.Failed > 0:
				msg := fmt.Sprintf("%s: %d specs failed in %s: %s", req.ID, res.Failed, strings.Join(res.Where, ", "), strings.Join(res.Failures, "; "))
				t.Error(msg)
				summary = append(summary, firstChars(msg, 600))
			case res.Passed == 0:
				t.Errorf("%s: %d specs did not run", req.ID, res.NotRun)
				summary = append(summary, req.ID+": no spec passed")
			}
		}
	}
	t.Logf("encoderd at %s: %d requirements, %d checks, in %s", url, len(got), checked, reports[0].RunTime.Round(time.Millisecond))
}

// startEncoderd runs encoderd on a free port with its encoders' ports in
// links and returns its API URL, read from the banner it prints. The
// server is stopped with SIGTERM when the test ends.
func startEncoderd(ctx context.Context, t *testing.T, bin, links string) string {
	t.Helper()
	logs, err := os.Create(filepath.Join(t.TempDir(), "encoderd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin,
		"--addr", "127.0.0.1:0",
		"--links", links,
		"--scale", externalScale,
		"--db", filepath.Join(t.TempDir(), "encoderd.db"),
		"--log-level", "debug",
	)
	cmd.Stderr = logs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting encoderd: %v", err)
	}
	exited := make(chan error, 1)
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "encoderd serving the API at "); ok {
				urls <- u
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		defer logs.Close()
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
			t.Errorf("stopping encoderd: %v", err)
		}
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("encoderd exited with %v after SIGTERM", err)
			}
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("encoderd still running 30s after SIGTERM; killed")
			<-exited
		}
		if t.Failed() {
			if b, err := os.ReadFile(logs.Name()); err == nil {
				t.Logf("encoderd's log:\n%s", tail(b, 60))
			}
		}
	})
	select {
	case u := <-urls:
		return u
	case err := <-exited:
		t.Fatalf("encoderd exited before serving: %v", err)
	case <-ctx.Done():
		t.Fatalf("encoderd did not print its URL: %v", ctx.Err())
	}
	return ""
}

// firstChars is s cut to n bytes.
func firstChars(s string, n int) string {
	if len(s) > n {
		return s[:n] + " …"
	}
	return s
}

// tail returns the last n lines of b.
func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("… (%d lines before)", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}
