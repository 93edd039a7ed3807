package serialport_test

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/encoderlab/encoderlab/pipeline/serialport"
)

// bound is how long a test waits for something that should happen at
// once; generous so a loaded machine does not fail the test.
const bound = 10 * time.Second

// ptyPair opens a pseudo-terminal and returns its master, on the runtime
// poller so deadlines work, and a file holding the slave open.
func ptyPair(t testing.TB) (master, slave *os.File) {
	t.Helper()
	m, s, err := pty.Open()
	if err != nil {
		t.Fatalf("pty.Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	// pty.Open leaves the master blocking; a non-blocking duplicate goes
	// on the poller.
	rc, err := m.SyscallConn()
	if err != nil {
		t.Fatalf("master SyscallConn: %v", err)
	}
	dup, dupErr := -1, error(nil)
	if err := rc.Control(func(fd uintptr) { dup, dupErr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		t.Fatalf("master Control: %v", err)
	}
	m.Close()
	if dupErr != nil {
		t.Fatalf("dup master: %v", dupErr)
	}
	if err := unix.SetNonblock(dup, true); err != nil {
		unix.Close(dup)
		t.Fatalf("set master non-blocking: %v", err)
	}
	master = os.NewFile(uintptr(dup), s.Name()+" (master)")
	t.Cleanup(func() { master.Close() })
	return master, s
}

func openPort(t testing.TB, path string, m serialport.Mode) *serialport.Port {
	t.Helper()
	p, err := serialport.Open(path, m)
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// readFull reads len(want) bytes from r under a deadline and compares them.
func readFull(t *testing.T, what string, r interface {
	io.Reader
	SetReadDeadline(time.Time) error
}, want []byte) {
	t.Helper()
	if err := r.SetReadDeadline(time.Now().Add(bound)); err != nil {
		t.Fatalf("%s: SetReadDeadline: %v", what, err)
	}
	got := make([]byte, len(want))
	n, err := io.ReadFull(r, got)
	if err != nil {
		t.Fatalf("%s: read %d of %d bytes (% x): %v", what, n, len(want), got[:n], err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: got % x, want % x", what, got, want)
	}
}

// await waits for a result from ch, failing the test if none comes in time.
func await[T any](t *testing.T, what string, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(bound):
		t.Fatalf("%s: no result after %v", what, bound)
		panic("unreachable")
	}
}

type readResult struct {
	n   int
	err error
}

func pendingRead(p *serialport.Port) <-chan readResult {
	ch := make(chan readResult, 1)
	go func() {
		n, err := p.Read(make([]byte, 16))
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
			if strings.Contains(g, "serialport_test.pendingRead.func1") &&
				(strings.Contains(header, "[IO wait") || strings.Contains(header, "[syscall")) {
				return
			}
		}
		runtime.Gosched()
	}
	t.Fatalf("the read did not block within %v", bound)
}

func TestRoundTrip(t *testing.T) {
	master, slave := ptyPair(t)
	p := openPort(t, slave.Name(), serialport.Mode{})
	if p.Path() != slave.Name() {
		t.Errorf("Path() = %q, want %q", p.Path(), slave.Name())
	}

	toDevice := []byte("\x02CN\xb3card\x03\x41")
	if _, err := p.Write(toDevice); err != nil {
		t.Fatalf("port Write: %v", err)
	}
	readFull(t, "master", master, toDevice)

	toHost := []byte("\x06\x02OK\x03\x4c")
	if _, err := master.Write(toHost); err != nil {
		t.Fatalf("master Write: %v", err)
	}
	readFull(t, "port", p, toHost)
}

// TestRawMode checks that bytes a line discipline would act on (newlines,
// interrupt and flow-control characters, the PMS field separator, NUL)
// pass through unchanged both ways and that nothing is echoed. A marker
// byte sent the other way after each transfer proves that no extra bytes
// (an echo, an inserted \r) came before it, without waiting on a timer.
func TestRawMode(t *testing.T) {
	master, slave := ptyPair(t)
	p := openPort(t, slave.Name(), serialport.Mode{Baud: 115200})
	special := []byte{'\n', '\r', 0x03, 0x11, 0x13, 0xB3, 0x00, 0x04, 0x1A, 0x1C, 0x7F, 0x15, 0x17, 0xFF, '\n'}
	marker := []byte{'Z'}

	if _, err := master.Write(special); err != nil {
		t.Fatalf("master Write: %v", err)
	}
	readFull(t, "port (device to host)", p, special)
	if _, err := p.Write(marker); err != nil {
		t.Fatalf("port Write marker: %v", err)
	}
	readFull(t, "master (echo check)", master, marker)

	if _, err := p.Write(special); err != nil {
		t.Fatalf("port Write: %v", err)
	}
	readFull(t, "master (host to device)", master, special)
	if _, err := master.Write(marker); err != nil {
		t.Fatalf("master Write marker: %v", err)
	}
	readFull(t, "port (echo check)", p, marker)
	if _, err := p.Write(marker); err != nil {
		t.Fatalf("port Write marker: %v", err)
	}
	readFull(t, "master (output translation check)", master, marker)
}

func TestReadDeadline(t *testing.T) {
	master, slave := ptyPair(t)
	p := openPort(t, slave.Name(), serialport.Mode{})

	for _, d := range []time.Duration{-time.Second, 20 * time.Millisecond} {
		if err := p.SetReadDeadline(time.Now().Add(d)); err != nil {
			t.Fatalf("SetReadDeadline: %v", err)
		}
		n, err := p.Read(make([]byte, 8))
		if n != 0 || err == nil {
			t.Fatalf("Read past deadline (%v) = %d, %v; want 0 and a timeout", d, n, err)
		}
		if !os.IsTimeout(err) || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Read past deadline (%v): %v is not a timeout", d, err)
		}
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("Read past deadline (%v): %v is not a net.Error with Timeout()", d, err)
		}
	}

	// The port still works after a timeout.
	if _, err := master.Write([]byte("after")); err != nil {
		t.Fatalf("master Write: %v", err)
	}
	readFull(t, "port after timeout", p, []byte("after"))
}

func TestWriteDeadline(t *testing.T) {
	_, slave := ptyPair(t)
	p := openPort(t, slave.Name(), serialport.Mode{})
	// Nobody reads the master, so the pty's buffer (tens of KiB) fills
	// and the write has to wait for the deadline.
	if err := p.SetWriteDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatalf("SetWriteDeadline: %v", err)
	}
	big := make([]byte, 1<<20)
	n, err := p.Write(big)
	if !os.IsTimeout(err) {
		t.Fatalf("Write into a full pty = %d, %v; want a timeout", n, err)
	}
	if n >= len(big) {
		t.Fatalf("Write into a full pty wrote all %d bytes", n)
	}
}

func TestHangup(t *testing.T) {
	master, slave := ptyPair(t)
	p := openPort(t, slave.Name(), serialport.Mode{})
	pending := pendingRead(p)
	waitBlocked(t)

	if err := master.Close(); err != nil {
		t.Fatalf("master Close: %v", err)
	}
	r := await(t, "Read after master closed", pending)
	if r.n != 0 || r.err != io.EOF {
		t.Fatalf("Read after master closed = %d, %v; want 0, io.EOF", r.n, r.err)
	}
	n, err := p.Read(make([]byte, 4))
	if n != 0 || err != io.EOF {
		t.Fatalf("second Read after hangup = %d, %v; want 0, io.EOF", n, err)
	}
	if _, err := p.Write([]byte("x")); !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("Write after hangup: %v; want an error wrapping io.ErrClosedPipe", err)
	}
}

func TestCloseUnblocksRead(t *testing.T) {
	_, slave := ptyPair(t)
	p, err := serialport.Open(slave.Name(), serialport.Mode{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	pending := pendingRead(p)
	waitBlocked(t)
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	r := await(t, "Read pending at Close", pending)
	if !errors.Is(r.err, os.ErrClosed) {
		t.Fatalf("Read pending at Close = %d, %v; want an error wrapping os.ErrClosed", r.n, r.err)
	}
	if _, err := p.Read(make([]byte, 1)); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Read after Close: %v; want os.ErrClosed", err)
	}
	if _, err := p.Write([]byte("x")); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Write after Close: %v; want os.ErrClosed", err)
	}
	if err := p.Close(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("second Close: %v; want os.ErrClosed", err)
	}
}

func TestOpenNotTerminal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "not-a-tty")
	if err := os.WriteFile(path, []byte("plain file"), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := serialport.Open(path, serialport.Mode{})
	if err == nil {
		p.Close()
		t.Fatalf("Open(regular file) succeeded")
	}
	if !errors.Is(err, serialport.ErrNotTerminal) {
		t.Errorf("Open(regular file): %v; want ErrNotTerminal", err)
	}
	var oe *serialport.OpenError
	if !errors.As(err, &oe) || oe.Path != path || oe.Hint == "" {
		t.Errorf("Open(regular file): %#v; want an *OpenError for %q with a hint", err, path)
	}
	if msg := err.Error(); !strings.Contains(msg, path) || !strings.Contains(msg, "not a terminal") {
		t.Errorf("Open(regular file) message %q does not name the path and the cause", msg)
	}
}

func TestOpenMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ttyUSB9")
	_, err := serialport.Open(path, serialport.Mode{})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open(missing): %v; want fs.ErrNotExist", err)
	}
	if !strings.Contains(err.Error(), "plugged in") {
		t.Errorf("Open(missing) message %q gives no hint", err)
	}
}

func TestOpenPermissionDenied(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("running as root: file permissions do not apply")
	}
	path := filepath.Join(t.TempDir(), "ttyS0")
	if err := os.WriteFile(path, nil, 0); err != nil {
		t.Fatal(err)
	}
	_, err := serialport.Open(path, serialport.Mode{})
	if !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("Open(unreadable): %v; want fs.ErrPermission", err)
	}
	if !strings.Contains(err.Error(), "dialout") {
		t.Errorf("Open(unreadable) message %q does not mention the dialout group", err)
	}
}

func TestOpenBadBaud(t *testing.T) {
	_, slave := ptyPair(t)
	for _, baud := range []int{-9600, 1, 12345, 10_000_000} {
		p, err := serialport.Open(slave.Name(), serialport.Mode{Baud: baud})
		if err == nil {
			p.Close()
			t.Fatalf("Open with baud %d succeeded", baud)
		}
		var be *serialport.UnsupportedBaudError
		if !errors.As(err, &be) || be.Baud != baud {
			t.Fatalf("Open with baud %d: %v; want an *UnsupportedBaudError", baud, err)
		}
		if !strings.Contains(err.Error(), "115200") {
			t.Errorf("Open with baud %d: message %q does not list the supported rates", baud, err)
		}
	}
}

// TestBaud checks that each supported rate reaches the tty's settings, as
// read back through another descriptor of the same tty.
func TestBaud(t *testing.T) {
	_, slave := ptyPair(t)
	speeds := map[int]uint32{0: unix.B9600, 1200: unix.B1200, 9600: unix.B9600, 115200: unix.B115200, 921600: unix.B921600}
	for _, baud := range serialport.SupportedBauds() {
		if _, ok := speeds[baud]; !ok {
			speeds[baud] = 0 // accepted; only the code is not checked
		}
	}
	for baud, want := range speeds {
		p, err := serialport.Open(slave.Name(), serialport.Mode{Baud: baud})
		if err != nil {
			t.Fatalf("Open with baud %d: %v", baud, err)
		}
		p.Close()
		if want == 0 {
			continue
		}
		got := termios(t, slave)
		if got.Cflag&unix.CBAUD != want {
			t.Errorf("baud %d: termios speed code %#x, want %#x", baud, got.Cflag&unix.CBAUD, want)
		}
		if got.Lflag&(unix.ICANON|unix.ECHO) != 0 || got.Oflag&unix.OPOST != 0 {
			t.Errorf("baud %d: tty not raw: lflag %#x oflag %#x", baud, got.Lflag, got.Oflag)
		}
	}
}

func termios(t *testing.T, f *os.File) *unix.Termios {
	t.Helper()
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
	return tio
}
