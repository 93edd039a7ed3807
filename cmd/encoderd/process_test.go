package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/fixtures"
	"github.com/encoderlab/encoderlab/sim"
	"github.com/encoderlab/encoderlab/sim/scenario"
	"github.com/encoderlab/encoderlab/timescale"

	"github.com/encoderlab/encoderlab/internal/require"
)

// The tests in this file's neighbours run encoderd as a separate process,
// as an operator does, so that SIGKILL and SIGTERM reach a real server.

var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	buildErr  error
)

// encoderdBinary builds encoderd once per test binary and returns its
// path; the test is skipped where the go command is missing.
func encoderdBinary(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		require.Missing(t, "the go command is not on PATH; it builds encoderd for the process tests")
	}
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "encoderd-bin-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "encoderd")
		out, err := exec.Command(goTool, "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// removeBinary deletes what encoderdBinary built; TestMain calls it.
func removeBinary() {
	if binDir != "" {
		os.RemoveAll(binDir)
	}
}

// daemon is one run of the encoderd binary.
type daemon struct {
	t      *testing.T
	cmd    *exec.Cmd
	url    string
	log    string // path of its stderr
	exited chan struct{}
	err    error // Wait's result, once exited is closed
}

// startDaemon runs encoderd with args (plus --addr 127.0.0.1:0) and waits
// until it prints its URL. Whatever happens, the process is gone when the
// test ends.
func startDaemon(t *testing.T, logName string, args ...string) *daemon {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), logName)
	logs, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	d := &daemon{t: t, log: logPath, exited: make(chan struct{})}
	d.cmd = exec.Command(encoderdBinary(t), append([]string{"--addr", "127.0.0.1:0"}, args...)...)
	d.cmd.Stderr = logs
	stdout, err := d.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("starting encoderd: %v", err)
	}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "encoderd serving the API at "); ok {
				urls <- u
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		d.err = d.cmd.Wait()
		logs.Close()
		close(d.exited)
	}()
	t.Cleanup(func() {
		_ = d.cmd.Process.Kill()
		<-d.exited
		if t.Failed() {
			t.Logf("%s:\n%s", logName, d.logTail(40))
		}
	})
	select {
	case d.url = <-urls:
		return d
	case <-d.exited:
		t.Fatalf("encoderd exited before serving (%v):\n%s", d.err, d.logTail(40))
	case <-time.After(waitBound):
		t.Fatalf("encoderd printed no URL within %v:\n%s", waitBound, d.logTail(40))
	}
	return nil
}

// kill ends the process with SIGKILL, as a crash or the OOM killer would,
// and waits until it is gone.
func (d *daemon) kill() {
	d.t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		d.t.Fatalf("SIGKILL: %v", err)
	}
	<-d.exited
}

// signal sends sig without waiting.
func (d *daemon) signal(sig os.Signal) {
	d.t.Helper()
	if err := d.cmd.Process.Signal(sig); err != nil {
		d.t.Fatalf("sending %v: %v", sig, err)
	}
}

// wait waits up to bound for the process to exit and returns its status.
func (d *daemon) wait(bound time.Duration) (error, bool) {
	select {
	case <-d.exited:
		return d.err, true
	case <-time.After(bound):
		return nil, false
	}
}

func (d *daemon) logTail(n int) string {
	b, err := os.ReadFile(d.log)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// apiClient calls the API the way a Seam SDK does. It has its own
// transport so its keep-alive connections close with the test.
type apiClient struct {
	base, token string
	http        *http.Client
}

func newAPIClient(t *testing.T, base, token string) *apiClient {
	tr := &http.Transport{MaxIdleConnsPerHost: 4}
	t.Cleanup(tr.CloseIdleConnections)
	return &apiClient{base: base, token: token, http: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
}

// call posts body to path and returns the status and the decoded body.
func (c *apiClient) call(ctx context.Context, path string, body any) (int, map[string]any, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return 0, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(b))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.token)
	res, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return res.StatusCode, nil, fmt.Errorf("%s: reading the answer: %w", path, err)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		return res.StatusCode, nil, fmt.Errorf("%s: answer %d is not a JSON object: %q", path, res.StatusCode, raw)
	}
	return res.StatusCode, out, nil
}

// object calls path and returns the named object of a 200 answer.
func (c *apiClient) object(ctx context.Context, path, name string, body any) (map[string]any, error) {
	status, out, err := c.call(ctx, path, body)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("%s: status %d: %v", path, status, out)
	}
	obj, ok := out[name].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: no %q object in %v", path, name, out)
	}
	return obj, nil
}

// startDesk runs the virtual encoder a scenario describes, at crashScale,
// published in a new link directory it returns; both go when the test ends.
func startDesk(t *testing.T, name, yaml string) (*sim.Encoder, string) {
	t.Helper()
	links := filepath.Join(t.TempDir(), "links")
	if err := os.Mkdir(links, 0o755); err != nil {
		t.Fatal(err)
	}
	sc, err := scenario.Load(name, []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	enc, err := sim.Start(ctx, sc, sim.Options{LinkDir: links, Scale: timescale.Scale(crashScale)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { enc.Close() })
	return enc, links
}

// guestCredential creates a Visionline guest card credential for the
// bundled lab's guest and returns its id.
func (c *apiClient) guestCredential(ctx context.Context) (string, error) {
	sys := fixtures.Bundled().Workspaces[0].System("visionline-hotel")
	cred, err := c.object(ctx, "/acs/credentials/create", "acs_credential", map[string]any{
		"acs_user_id": sys.User("guest").ID, "access_method": "card",
		"visionline_metadata": map[string]any{"card_function_type": "guest"},
	})
	if err != nil {
		return "", err
	}
	return cred["acs_credential_id"].(string), nil
}
