package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/internal/linkdir"
)

// simProcess is an "encodersim run" child process.
type simProcess struct {
	cmd   *exec.Cmd
	first string      // its first stdout line: id, model, tty and link
	exit  chan error  // cmd.Wait's result
	err   chan string // all of stderr, once the process ended
}

// startSim runs "encodersim run args..." and returns once it printed its
// first line.
func startSim(t *testing.T, args ...string) *simProcess {
	t.Helper()
	cmd := exec.Command(binary(t), append([]string{"run"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &simProcess{cmd: cmd, exit: make(chan error, 1), err: make(chan string, 1)}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, stdout)
		err := cmd.Wait()
		p.err <- stderr.String()
		p.exit <- err
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.exit
	})
	select {
	case l, ok := <-lines:
		if !ok {
			t.Fatalf("encodersim run %q ended before its first line: %v\n%s", args, <-p.exit, <-p.err)
		}
		p.first = l
	case <-time.After(patience):
		t.Fatalf("encodersim run %q printed nothing within %v", args, patience)
	}
	return p
}

// tty is the pty the first line names.
func (p *simProcess) tty(t *testing.T) string {
	t.Helper()
	for _, f := range strings.Split(p.first, "\t") {
		if tty, ok := strings.CutPrefix(f, "tty "); ok {
			return tty
		}
	}
	t.Fatalf("no tty in %q", p.first)
	return ""
}

// stop sends SIGTERM and waits for the exit.
func (p *simProcess) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.exit:
		p.exit <- err
		if err != nil {
			t.Errorf("encodersim exited with %v after SIGTERM:\n%s", err, <-p.err)
		}
	case <-time.After(patience):
		t.Fatal("encodersim did not stop on SIGTERM")
	}
}

func linkTarget(t *testing.T, link string) string {
	t.Helper()
	target, err := os.Readlink(link)
	if err != nil {
		t.Fatalf("link %s: %v", link, err)
	}
	return target
}

// TestSecondSimulatorLeavesALiveLinkAlone: two simulators on one links
// directory and encoder name. The second is refused, names the first, and
// leaves its link in place, and the first keeps serving; once the first is
// killed outright, its stale lock is taken over.
func TestSecondSimulatorLeavesALiveLinkAlone(t *testing.T) {
	links := filepath.Join(t.TempDir(), "links")
	link := filepath.Join(links, "front-desk-1")
	first := startSim(t, "--links", links, "--scale", "0.01", "first-issue")
	if got := linkTarget(t, link); got != first.tty(t) {
		t.Fatalf("%s -> %s, want the first simulator's %s", link, got, first.tty(t))
	}

	// A simulator that starts serves until stopped: the bound makes one
	// that wrongly started end, with exit 0.
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	var out, errOut bytes.Buffer
	if code := run(ctx, []string{"run", "--links", links, "--scale", "0.01", "first-issue"}, &out, &errOut); code != exitFail {
		t.Fatalf("a second simulator of front-desk-1 exited %d, want %d; stdout %q stderr %q", code, exitFail, out.String(), errOut.String())
	}
	for _, want := range []string{link, fmt.Sprintf("pid %d", first.cmd.Process.Pid), "encodersim run", "--links"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("the refusal %q should say %q", errOut.String(), want)
		}
	}
	if got := linkTarget(t, link); got != first.tty(t) {
		t.Fatalf("after the refusal %s -> %s, want the first simulator's %s still", link, got, first.tty(t))
	}

	// A simulator killed outright leaves its link and its lock file, but
	// the kernel drops its lock: the next one takes the name over.
	if err := first.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-first.exit
	first.exit <- nil
	third := startSim(t, "--links", links, "--scale", "0.01", "first-issue")
	if got := linkTarget(t, link); got != third.tty(t) {
		t.Fatalf("after the holder was killed %s -> %s, want the new simulator's %s", link, got, third.tty(t))
	}
	third.stop(t)
	if _, err := os.Lstat(link); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("link %s left after the simulator stopped: %v", link, err)
	}
	if _, err := os.Lstat(linkdir.LockPath(link)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("lock file left after the simulator stopped: %v", err)
	}
}

func TestRunRefusesALinksDirectoryOthersControl(t *testing.T) {
	for name, spoil := range map[string]func(t *testing.T, dir string){
		"owned by another user": func(t *testing.T, dir string) {
			if os.Geteuid() != 0 {
				t.Skip("giving a directory to another user (os.Lchown) takes root")
			}
			if err := os.Lchown(dir, 65534, 65534); err != nil {
				t.Fatal(err)
			}
		},
		"writable by others": func(t *testing.T, dir string) {
			if err := os.Chmod(dir, 0o777); err != nil {
				t.Fatal(err)
			}
		},
		"a symlink": func(t *testing.T, dir string) {
			real := filepath.Join(t.TempDir(), "real")
			if err := os.Mkdir(real, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(dir); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(real, dir); err != nil {
				t.Fatal(err)
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "links")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			spoil(t, dir)
			ctx, cancel := context.WithTimeout(context.Background(), patience) // see TestSecondSimulatorLeavesALiveLinkAlone
			defer cancel()
			var out, errOut bytes.Buffer
			if code := run(ctx, []string{"run", "--links", dir, "--scale", "0.01", "first-issue"}, &out, &errOut); code != exitFail {
				t.Fatalf("exit %d, want %d; stdout %q stderr %q", code, exitFail, out.String(), errOut.String())
			}
			if !strings.Contains(errOut.String(), "refusing the links directory: "+dir) {
				t.Errorf("stderr %q should refuse %s and say why", errOut.String(), dir)
			}
			if _, err := os.Lstat(filepath.Join(dir, "front-desk-1")); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("a link was published in the refused directory: %v", err)
			}
		})
	}
}

func TestRunHelpNamesThePerUserDefault(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"run", "--help"}, &out, &errOut); code != exitOK {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"$XDG_RUNTIME_DIR/encoderlab", "$TMPDIR/encoderlab-<uid>", "0700", linkdir.Default()} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("run --help should mention %q on stdout:\n%s", want, out.String())
		}
	}
}
