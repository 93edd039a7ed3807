package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/fixtures"
)

const waitBound = 20 * time.Second

// syncBuffer is a bytes.Buffer that run may write while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestHelp(t *testing.T) {
	var out, errOut syncBuffer
	if code := run(context.Background(), []string{"--help"}, &out, &errOut); code != exitOK {
		t.Fatalf("--help exit %d, want %d", code, exitOK)
	}
	if errOut.String() != "" {
		t.Errorf("--help wrote to stderr: %q", errOut.String())
	}
	help := out.String()
	for _, want := range []string{"Usage: encoderd", "Examples:", "-deadline", "(default 30s)", "-scale", "-lab", "-links", "$XDG_RUNTIME_DIR/encoderlab", "$TMPDIR/encoderlab-<uid>", "-log-level"} {
		if !strings.Contains(help, want) {
			t.Errorf("--help does not mention %q:\n%s", want, help)
		}
	}
}

func TestVersion(t *testing.T) {
	var out, errOut syncBuffer
	if code := run(context.Background(), []string{"--version"}, &out, &errOut); code != exitOK {
		t.Fatalf("--version exit %d, want %d", code, exitOK)
	}
	if got := out.String(); !strings.HasPrefix(got, "encoderd ") || !strings.Contains(got, "commit ") || errOut.String() != "" {
		t.Errorf("--version: stdout %q, stderr %q; want one line naming encoderd and its commit", got, errOut.String())
	}
}

func TestBadUsage(t *testing.T) {
	for _, args := range [][]string{
		{"--scale", "0"},
		{"--scale", "-2"},
		{"--deadline", "-1s"},
		{"--deadline", "soon"},
		{"--log-level", "loud"},
		{"--profile", "newest"},
		{"--no-such-flag"},
		{"serve"},
	} {
		var out, errOut syncBuffer
		if code := run(context.Background(), args, &out, &errOut); code != exitUsage {
			t.Errorf("%q: exit %d, want %d (stderr %q)", args, code, exitUsage, errOut.String())
		}
	}
}

func TestBadLabFile(t *testing.T) {
	var out, errOut syncBuffer
	missing := filepath.Join(t.TempDir(), "lab.yaml")
	if code := run(context.Background(), []string{"--lab", missing}, &out, &errOut); code != exitFail {
		t.Fatalf("exit %d, want %d", code, exitFail)
	}
	if !strings.Contains(errOut.String(), missing) {
		t.Errorf("stderr %q should name %s", errOut.String(), missing)
	}
}

func TestServesUntilCancelled(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "encoderd.db")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	exit := make(chan int, 1)
	go func() {
		exit <- run(ctx, []string{"--addr", "127.0.0.1:0", "--db", db, "--links", dir, "--scale", "0.01"}, &out, &errOut)
	}()

	// The banner ends with the curl line.
	curl := regexp.MustCompile(`curl -s -H 'Authorization: Bearer (\S+)' (http://127\.0\.0\.1:\d+)/acs/encoders/list`)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	limit := time.After(waitBound)
	var m []string
	for m == nil {
		select {
		case code := <-exit:
			t.Fatalf("encoderd exited with %d before serving; stderr:\n%s", code, errOut.String())
		case <-limit:
			t.Fatalf("no curl line within %v; stdout:\n%s", waitBound, out.String())
		case <-tick.C:
			m = curl.FindStringSubmatch(out.String())
		}
	}
	banner := out.String()
	lab := fixtures.Bundled()
	for _, want := range []string{db, "front-desk-1", lab.Workspaces[0].Encoders[0].ID, filepath.Join(dir, "front-desk-1"),
		"pms", lab.Workspaces[0].APIKeys[0], "TEST-ONLY"} {
		if !strings.Contains(banner, want) {
			t.Errorf("banner does not show %q:\n%s", want, banner)
		}
	}

	req, err := http.NewRequest(http.MethodGet, m[2]+"/acs/encoders/list", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+m[1])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("the printed curl line does not work: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("the printed curl line got status %d, want 200", resp.StatusCode)
	}

	cancel()
	select {
	case code := <-exit:
		if code != exitOK {
			t.Errorf("exit %d after cancellation, want %d; stderr:\n%s", code, exitOK, errOut.String())
		}
	case <-time.After(waitBound):
		t.Fatal("encoderd did not stop after cancellation")
	}
}

// TestProfiles: --pprof serves Go's profiles on a listener of its own, and
// the API does not; its cmdline endpoint never shows the store's password,
// which the banner and logs hide too.
func TestProfiles(t *testing.T) {
	// The process's command line as the cmdline endpoint reads it: a
	// PostgreSQL URL with a password, in every form a flag can take.
	const secret = "s3cret-Pa55"
	args := os.Args
	os.Args = []string{args[0], "--db", "postgres://encoderd:" + secret + "@db.internal/encoderd",
		"--db=postgresql://encoderd:" + secret + "@db.internal/encoderd", "-db=postgres://db.internal/encoderd?password=" + secret,
		"--shared"}
	t.Cleanup(func() { os.Args = args })
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	exit := make(chan int, 1)
	go func() {
		exit <- run(ctx, []string{"--addr", "127.0.0.1:0", "--pprof", "127.0.0.1:0", "--db", filepath.Join(dir, "e.db"),
			"--links", dir, "--scale", "0.01"}, &out, &errOut)
	}()
	profiles := regexp.MustCompile(`msg="serving profiles" url=(\S+)`)
	api := regexp.MustCompile(`encoderd serving the API at (\S+)`)
	var pm, am []string
	limit := time.After(waitBound)
	for pm == nil || am == nil {
		select {
		case code := <-exit:
			t.Fatalf("encoderd exited with %d; stderr:\n%s", code, errOut.String())
		case <-limit:
			t.Fatalf("no profile or API URL within %v; stderr:\n%s", waitBound, errOut.String())
		case <-time.After(10 * time.Millisecond):
			pm, am = profiles.FindStringSubmatch(errOut.String()), api.FindStringSubmatch(out.String())
		}
	}
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	get := func(u string) int {
		res, err := client.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	res, err := client.Get(pm[1] + "cmdline")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(body), secret) {
		t.Errorf("GET %scmdline shows the store's password: %q", pm[1], body)
	}
	if res.StatusCode == http.StatusOK {
		// Served redacted: the rest of the line is still there.
		for _, want := range []string{"\x00--db\x00postgres://encoderd:xxxxx@db.internal/encoderd\x00", "--db=postgresql://encoderd:xxxxx@db.internal/encoderd",
			"-db=postgres://db.internal/encoderd?password=xxxxx", "\x00--shared"} {
			if !strings.Contains(string(body), want) {
				t.Errorf("GET %scmdline = %q, want it to show %q", pm[1], body, want)
			}
		}
	}
	if code := get(pm[1] + "goroutine?debug=1"); code != http.StatusOK {
		t.Errorf("GET %sgoroutine: %d, want 200", pm[1], code)
	}
	if code := get(am[1] + "/debug/pprof/"); code == http.StatusOK {
		t.Errorf("the API serves /debug/pprof/ (status %d): profiles must stay on their own listener", code)
	}
	cancel()
	if code := <-exit; code != exitOK {
		t.Errorf("exit %d, want %d", code, exitOK)
	}
}
