package main

import (
	"bufio"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/pipeline/serialport"
	"github.com/encoderlab/encoderlab/sim/pty"
	"github.com/encoderlab/encoderlab/sim/trace"
)

// The encodersim binary, built once per test binary for the tests that
// need a real process (signals, exit status).
var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	binErr    error
)

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "encodersim-test-")
		if binErr != nil {
			return
		}
		// The go command that runs the tests builds the binary too.
		gobin := "go"
		if goroot := os.Getenv("GOROOT"); goroot != "" {
			if p := filepath.Join(goroot, "bin", "go"); fileExists(p) {
				gobin = p
			}
		}
		binPath = filepath.Join(binDir, "encodersim")
		out, err := exec.Command(gobin, "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = errors.New("go build: " + err.Error() + "\n" + string(out))
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func removeBinary() {
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
}

// recorder is an "encodersim record" child process.
type recorder struct {
	cmd    *exec.Cmd
	lines  chan string   // stderr, line by line
	stderr chan string   // all of stderr, once it closed
	done   chan struct{} // closed when stderr closed
}

// startRecorder runs "encodersim record" with args and returns once it
// says it is recording, reading its stderr.
func startRecorder(t *testing.T, args ...string) *recorder {
	t.Helper()
	cmd := exec.Command(binary(t), append([]string{"record"}, args...)...)
	errPipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &recorder{cmd: cmd, lines: make(chan string, 64), stderr: make(chan string, 1), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		var all strings.Builder
		sc := bufio.NewScanner(errPipe)
		for sc.Scan() {
			all.WriteString(sc.Text() + "\n")
			select {
			case r.lines <- sc.Text():
			default: // nobody waits for lines any more
			}
		}
		r.stderr <- all.String()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-r.done
			_ = cmd.Wait()
		}
	})
	timeout := time.After(time.Minute)
	for {
		select {
		case l := <-r.lines:
			if strings.HasPrefix(l, "recording ") {
				return r
			}
		case <-r.done:
			_ = cmd.Wait()
			t.Fatalf("encodersim record ended before recording:\n%s", <-r.stderr)
		case <-timeout:
			t.Fatal("encodersim record did not say it was recording within a minute")
		}
	}
}

// wait waits for the recorder to exit and returns its exit code and
// everything it wrote to stderr.
func (r *recorder) wait(t *testing.T) (int, string) {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(time.Minute):
		t.Fatal("encodersim record did not exit within a minute")
	}
	stderr := <-r.stderr
	err := r.cmd.Wait()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("wait: %v", err)
	}
	return r.cmd.ProcessState.ExitCode(), stderr
}

// exchange sends an ENQ from the pipeline's side through the recorder,
// answers it with an ACK from the device's, and returns once each side
// has read the other's byte: both are in the trace, since the recorder
// writes a chunk before forwarding it.
func exchange(t *testing.T, host *serialport.Port, dev *os.File) {
	t.Helper()
	if _, err := host.Write([]byte{0x05}); err != nil {
		t.Fatal(err)
	}
	readByte(t, dev, 0x05, "the device")
	if _, err := dev.Write([]byte{0x06}); err != nil {
		t.Fatal(err)
	}
	readByte(t, host, 0x06, "the pipeline")
}

func readByte(t *testing.T, r interface {
	io.Reader
	SetReadDeadline(time.Time) error
}, want byte, who string) {
	t.Helper()
	if err := r.SetReadDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	if _, err := io.ReadFull(r, b); err != nil || b[0] != want {
		t.Fatalf("%s read % X, %v; want %02X", who, b, err, want)
	}
}

// hungUp checks the pipeline's side sees its line end.
func hungUp(t *testing.T, host *serialport.Port) {
	t.Helper()
	if err := host.SetReadDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 16)
	for {
		n, err := host.Read(b)
		if err == nil {
			if n == 0 {
				t.Fatal("read (0, nil) from the pipeline's side")
			}
			continue
		}
		if !errors.Is(err, io.EOF) {
			t.Errorf("the pipeline's side read %v, want a hangup (EOF)", err)
		}
		return
	}
}

// readRecorded reads the trace file and checks the exchange is in it.
func readRecorded(t *testing.T, path string) *trace.Trace {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr, err := trace.Read(f)
	if err != nil {
		t.Fatalf("the trace does not read: %v", err)
	}
	var got []string
	for _, e := range tr.Events {
		if e.Hex != "" {
			got = append(got, string(e.Dir)+" "+strings.Join(e.Frames, ","))
		}
	}
	if want := []string{"host>device ENQ", "device>host ACK"}; strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("trace events %q, want %q", got, want)
	}
	return tr
}

// desk sets up a "real device" on a pty and the recorder in front of it.
func desk(t *testing.T) (dev *pty.Pair, host *serialport.Port, rec *recorder, link, out string) {
	t.Helper()
	dev, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dev.Close() })
	dir := t.TempDir()
	link, out = filepath.Join(dir, "front-desk-1"), filepath.Join(dir, "bug.jsonl")
	rec = startRecorder(t, "--device", dev.TTY(), "--link", link, "--protocol", "pms", "--out", out)
	host, err = serialport.Open(link, serialport.Mode{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { host.Close() })
	exchange(t, host, dev.Master())
	return dev, host, rec, link, out
}

func TestRecordStopsOnSignal(t *testing.T) {
	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			_, host, rec, link, out := desk(t)
			if err := rec.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			code, stderr := rec.wait(t)
			if code != exitOK {
				t.Errorf("exit status %d after %v, want %d (documented in --help)\n%s", code, sig, exitOK, stderr)
			}
			if !strings.Contains(stderr, "recording stopped; the trace is in "+out) {
				t.Errorf("stderr does not say where the trace is:\n%s", stderr)
			}
			hungUp(t, host)
			if _, err := os.Lstat(link); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("link %s after the recorder stopped: %v, want it removed", link, err)
			}
			tr := readRecorded(t, out)
			if last := tr.Events[len(tr.Events)-1]; last.Dir != trace.DeviceToHost || last.Hex != "06" {
				t.Errorf("last event %+v, want the device's ACK", last)
			}
		})
	}
}

func TestRecordDeviceHangsUp(t *testing.T) {
	dev, host, rec, link, out := desk(t)
	if err := dev.Close(); err != nil {
		t.Fatal(err)
	}
	code, stderr := rec.wait(t)
	if code != exitFail {
		t.Errorf("exit status %d after the device hung up, want %d (documented in --help)\n%s", code, exitFail, stderr)
	}
	for _, want := range []string{"the device hung up", "the trace " + out + " is complete up to the hangup"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	hungUp(t, host)
	if _, err := os.Lstat(link); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("link %s after the device hung up: %v, want it removed", link, err)
	}
	tr := readRecorded(t, out)
	if last := tr.Events[len(tr.Events)-1]; last.Dir != trace.DeviceToHost || !strings.HasPrefix(last.Note, "hangup") {
		t.Errorf("last event %+v, want the device's hangup noted", last)
	}
}

// A device that cannot be opened leaves an earlier trace at --out as it was.
func TestRecordKeepsTraceWhenDeviceFails(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "bug.jsonl")
	if err := os.WriteFile(out, []byte("earlier\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr strings.Builder
	code := run(t.Context(), []string{"record", "--device", filepath.Join(dir, "no-such-tty"), "--link", filepath.Join(dir, "l"), "--out", out}, &stdout, &stderr)
	if code != exitFail {
		t.Errorf("exit status %d, want %d: %s", code, exitFail, stderr.String())
	}
	if b, err := os.ReadFile(out); err != nil || string(b) != "earlier\n" {
		t.Errorf("trace file after a failed start: %q, %v; want it untouched", b, err)
	}
}
