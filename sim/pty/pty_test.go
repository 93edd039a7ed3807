package pty_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/encoderlab/encoderlab/pipeline/serialport"
	"github.com/encoderlab/encoderlab/sim/pty"
)

// bound is how long a test waits for something that should happen at
// once; generous so a loaded machine does not fail the test.
const bound = 10 * time.Second

func openPair(t *testing.T) *pty.Pair {
	t.Helper()
	p, err := pty.Open()
	if err != nil {
		t.Fatalf("pty.Open: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func openClient(t *testing.T, path string) *serialport.Port {
	t.Helper()
	c, err := serialport.Open(path, serialport.Mode{})
	if err != nil {
		t.Fatalf("serialport.Open(%q): %v", path, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

type deadlineReader interface {
	io.Reader
	SetReadDeadline(time.Time) error
}

func readFull(t *testing.T, what string, r deadlineReader, want []byte) {
	t.Helper()
	if err := r.SetReadDeadline(time.Now().Add(bound)); err != nil {
		t.Fatalf("%s: SetReadDeadline: %v", what, err)
	}
	got := make([]byte, len(want))
	res := make(chan readResult, 1)
	go func() {
		n, err := io.ReadFull(r, got)
		res <- readResult{n, err}
	}()
	// Guard the deadline itself: a file off the poller ignores it.
	rr := await(t, what, res)
	if rr.err != nil {
		t.Fatalf("%s: read %d of %d bytes (% x): %v", what, rr.n, len(want), got[:rr.n], rr.err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: got % x, want % x", what, got, want)
	}
}

func write(t *testing.T, what string, w io.Writer, b []byte) {
	t.Helper()
	if _, err := w.Write(b); err != nil {
		t.Fatalf("%s: Write: %v", what, err)
	}
}

type readResult struct {
	n   int
	err error
}

func pendingRead(r io.Reader) <-chan readResult {
	ch := make(chan readResult, 1)
	go func() {
		n, err := r.Read(make([]byte, 16))
		ch <- readResult{n, err}
	}()
	return ch
}

// waitBlocked waits until the goroutine started by pendingRead is blocked
// in its read, so that what the test does next happens to a pending read
// rather than racing with its start.
func waitBlocked(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(bound)
	buf := make([]byte, 1<<20)
	for time.Now().Before(deadline) {
		stacks := string(buf[:runtime.Stack(buf, true)])
		for _, g := range strings.Split(stacks, "\n\n") {
			header, _, _ := strings.Cut(g, "\n")
			if strings.Contains(g, "pty_test.pendingRead.func1") &&
				(strings.Contains(header, "[IO wait") || strings.Contains(header, "[syscall")) {
				return
			}
		}
		runtime.Gosched()
	}
	t.Fatalf("the read did not block within %v", bound)
}

func await(t *testing.T, what string, ch <-chan readResult) readResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(bound):
		t.Fatalf("%s: still blocked after %v", what, bound)
		return readResult{}
	}
}

// expectTimeout reads from r with a short deadline and fails unless the
// read times out: no data arrives and the line is still up.
func expectTimeout(t *testing.T, what string, r deadlineReader) {
	t.Helper()
	if err := r.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatalf("%s: SetReadDeadline: %v", what, err)
	}
	if rr := await(t, what+" (read deadline ignored?)", pendingRead(r)); !os.IsTimeout(rr.err) {
		t.Fatalf("%s: Read = %d, %v; want a timeout", what, rr.n, rr.err)
	}
}

func TestDataBothWays(t *testing.T) {
	p := openPair(t)
	c := openClient(t, p.TTY())
	frame := []byte{0x02, 'C', 'N', 0xB3, '\n', '\r', 0x03, 0x11, 0x13, 0x00, 0x03, 0x5A}

	write(t, "master", p.Master(), frame)
	readFull(t, "client", c, frame)
	write(t, "client", c, frame)
	readFull(t, "master", p.Master(), frame)
}

// TestRawBeforeClientOpens checks the slave is raw from the start, for
// clients that do not set the line up themselves.
func TestRawBeforeClientOpens(t *testing.T) {
	p := openPair(t)
	f, err := os.OpenFile(p.TTY(), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open %s: %v", p.TTY(), err)
	}
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var tio *unix.Termios
	var terr error
	if err := rc.Control(func(fd uintptr) { tio, terr = unix.IoctlGetTermios(int(fd), unix.TCGETS) }); err != nil {
		t.Fatal(err)
	}
	if terr != nil {
		t.Fatalf("TCGETS: %v", terr)
	}
	if tio.Lflag&(unix.ICANON|unix.ECHO|unix.ISIG) != 0 || tio.Oflag&unix.OPOST != 0 || tio.Iflag&(unix.ICRNL|unix.IXON) != 0 {
		t.Errorf("slave not raw: iflag %#x oflag %#x lflag %#x", tio.Iflag, tio.Oflag, tio.Lflag)
	}
	if tio.Cflag&unix.CSIZE != unix.CS8 {
		t.Errorf("slave not 8-bit: cflag %#x", tio.Cflag)
	}
}

func TestMasterIsPollable(t *testing.T) {
	p := openPair(t)
	rc, err := p.Master().SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var flags int
	var ferr error
	if err := rc.Control(func(fd uintptr) { flags, ferr = unix.FcntlInt(fd, unix.F_GETFL, 0) }); err != nil {
		t.Fatal(err)
	}
	if ferr != nil {
		t.Fatalf("F_GETFL: %v", ferr)
	}
	if flags&unix.O_NONBLOCK == 0 {
		t.Fatalf("master flags %#x: not non-blocking, so not on the poller", flags)
	}
}

func TestMasterReadDeadline(t *testing.T) {
	p := openPair(t)
	expectTimeout(t, "master with no client", p.Master())

	c := openClient(t, p.TTY())
	write(t, "client", c, []byte("late"))
	readFull(t, "master after timeout", p.Master(), []byte("late"))
}

func TestCloseHangsUpClient(t *testing.T) {
	p := openPair(t)
	c := openClient(t, p.TTY())
	pending := pendingRead(c)
	waitBlocked(t)
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if r := await(t, "client Read at Close", pending); r.n != 0 || r.err != io.EOF {
		t.Fatalf("client Read at Close = %d, %v; want 0, io.EOF", r.n, r.err)
	}
}

func TestCloseUnblocksMasterRead(t *testing.T) {
	p := openPair(t)
	openClient(t, p.TTY())
	pending := pendingRead(p.Master())
	waitBlocked(t)
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if r := await(t, "master Read at Close", pending); !errors.Is(r.err, os.ErrClosed) {
		t.Fatalf("master Read at Close = %d, %v; want os.ErrClosed", r.n, r.err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v; want nil", err)
	}
	if err := p.Link(filepath.Join(t.TempDir(), "late")); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Link after Close: %v; want os.ErrClosed", err)
	}
}

// TestClientReopens checks that the line survives a client closing its
// port: the master sees no hangup and a new client reaches it.
func TestClientReopens(t *testing.T) {
	p := openPair(t)

	first, err := serialport.Open(p.TTY(), serialport.Mode{})
	if err != nil {
		t.Fatalf("first Open: %v", err)
	}
	write(t, "first client", first, []byte("one"))
	readFull(t, "master", p.Master(), []byte("one"))
	if err := first.Close(); err != nil {
		t.Fatalf("first Close: %v", err)
	}
	expectTimeout(t, "master after the client closed", p.Master())

	second := openClient(t, p.TTY())
	write(t, "second client", second, []byte("two"))
	readFull(t, "master", p.Master(), []byte("two"))
	write(t, "master", p.Master(), []byte("back"))
	readFull(t, "second client", second, []byte("back"))
}

func TestLink(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "encoders", "front-desk-1")
	a, b := openPair(t), openPair(t)

	if err := a.Link(link); err != nil {
		t.Fatalf("a.Link: %v", err)
	}
	assertLink(t, link, a.TTY())
	c := openClient(t, link)
	write(t, "client via link", c, []byte("via"))
	readFull(t, "a master", a.Master(), []byte("via"))

	if err := b.Link(link); err != nil {
		t.Fatalf("b.Link over a's link: %v", err)
	}
	assertLink(t, link, b.TTY())
	entries, err := os.ReadDir(filepath.Dir(link))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("link directory holds %d entries, want only the link: %v", len(entries), entries)
	}

	if err := a.Close(); err != nil {
		t.Fatalf("a.Close: %v", err)
	}
	assertLink(t, link, b.TTY()) // a no longer owns it
	if err := b.Close(); err != nil {
		t.Fatalf("b.Close: %v", err)
	}
	if _, err := os.Lstat(link); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("link after its owner closed: Lstat = %v; want it removed", err)
	}
}

func TestLinkReplacesFile(t *testing.T) {
	link := filepath.Join(t.TempDir(), "ttyENC0")
	if err := os.WriteFile(link, []byte("stale"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := openPair(t)
	if err := p.Link(link); err != nil {
		t.Fatalf("Link over a file: %v", err)
	}
	assertLink(t, link, p.TTY())
}

// TestLinkAtomic republishes one name between two pairs while a reader
// resolves it; with an atomic replacement the name never disappears.
func TestLinkAtomic(t *testing.T) {
	link := filepath.Join(t.TempDir(), "front-desk-1")
	a, b := openPair(t), openPair(t)
	if err := a.Link(link); err != nil {
		t.Fatalf("Link: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		for i := range 200 {
			p := a
			if i%2 == 0 {
				p = b
			}
			if err := p.Link(link); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Link: %v", err)
			}
			return
		default:
		}
		target, err := os.Readlink(link)
		if err != nil {
			t.Fatalf("Readlink during replacement: %v", err)
		}
		if target != a.TTY() && target != b.TTY() {
			t.Fatalf("link points at %q, want %q or %q", target, a.TTY(), b.TTY())
		}
	}
}

func assertLink(t *testing.T, link, want string) {
	t.Helper()
	got, err := os.Readlink(link)
	if err != nil {
		t.Fatalf("Readlink(%s): %v", link, err)
	}
	if got != want {
		t.Fatalf("%s points at %q, want %q", link, got, want)
	}
}

// TestNoDescriptorLeak opens and closes pairs and checks that the
// process holds as many descriptors afterwards as before.
func TestNoDescriptorLeak(t *testing.T) {
	count := func() int {
		entries, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Skipf("cannot count descriptors: %v", err)
		}
		return len(entries)
	}
	// The first pair may make the runtime set up its poller; count after.
	warm, err := pty.Open()
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	warm.Close()
	before := count()
	for range 20 {
		p, err := pty.Open()
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if err := p.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	if after := count(); after != before {
		t.Fatalf("descriptors: %d before, %d after opening and closing 20 pairs", before, after)
	}
}
