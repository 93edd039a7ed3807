package pcscd_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/internal/pcscd"
	"github.com/encoderlab/encoderlab/internal/pcscd/pcscdtest"
	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// atr is a MIFARE Classic 1K's ATR as a PC/SC reader builds it (PC/SC
// part 3).
var atr = []byte{0x3B, 0x8F, 0x80, 0x01, 0x80, 0x4F, 0x0C, 0xA0, 0x00, 0x00, 0x03, 0x06, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x6A}

// serveCard answers as a virtual card on vpcd's protocol, written from
// vsmartcard's vpcd.c: every message is a 2-byte big-endian length and a
// payload; a 1-byte payload is a control (00 power off, 01 on, 02 reset:
// unanswered; 04: answered with the ATR); anything longer is an APDU,
// answered with its response. The card answers FF CA 00 00 00 (get the
// UID) with uid and 90 00, and anything else with 6D 00. It returns when
// the connection fails or closes.
func serveCard(c net.Conn, uid []byte) {
	defer c.Close()
	for {
		msg, err := pcscd.ReadMessage(c)
		if err != nil {
			return
		}
		var out []byte
		switch {
		case len(msg) == 1 && msg[0] == 0x04:
			out = atr
		case len(msg) == 1:
			continue
		case bytes.Equal(msg, []byte{0xFF, 0xCA, 0x00, 0x00, 0x00}):
			out = append(append([]byte(nil), uid...), 0x90, 0x00)
		default:
			out = []byte{0x6D, 0x00}
		}
		if err := pcscd.WriteMessage(c, out); err != nil {
			return
		}
	}
}

// need fails the test when a program it needs is missing: these tests
// are the only check of the daemon, so a machine without it must not
// pass them.
func need(t *testing.T, name, install string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if p, err = exec.LookPath(filepath.Join("/usr/sbin", name)); err != nil {
			t.Fatalf("%s is not installed: %s", name, install)
		}
	}
	return p
}

func start(t *testing.T, name string) *pcscd.Daemon {
	t.Helper()
	need(t, "pcscd", "install pcscd and vsmartcard-vpcd (make pcsc; Debian: apt-get install pcscd vsmartcard-vpcd)")
	return pcscdtest.Start(t, pcscd.Options{Dir: t.TempDir(), ReaderName: name})
}

// processesIn lists the pids of processes whose command line names dir
// (a daemon's reader.conf is in its directory).
func processesIn(t *testing.T, dir string) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(cmdline, []byte(dir)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// dirOf is the Dir a daemon was started in (its socket is in Dir/run).
func dirOf(d *pcscd.Daemon) string { return filepath.Dir(filepath.Dir(d.Socket())) }

// opensc runs OpenSC's opensc-tool, the independent PC/SC host, against
// d's socket.
func opensc(ctx context.Context, t *testing.T, d *pcscd.Daemon, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, need(t, "opensc-tool", "install opensc (Debian: apt-get install opensc; make pcsc)"), args...)
	cmd.Env = append(os.Environ(), "PCSCLITE_CSOCK_NAME="+d.Socket())
	out, _ := cmd.CombinedOutput() // its exit status is 1 while no card is in
	return string(out)
}

// awaitUID asks opensc-tool for the UID of the card in d's first reader
// until it answers or ctx ends: pcscd finds a card at its next presence
// poll (every 400 ms).
func awaitUID(ctx context.Context, t *testing.T, d *pcscd.Daemon) string {
	t.Helper()
	var out string
	for ctx.Err() == nil {
		out = opensc(ctx, t, d, "-r", "0", "-s", "FF CA 00 00 00")
		if strings.Contains(out, "SW1=0x90") {
			return out
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no card in %s's first reader: %v; opensc-tool said:\n%s", d.Reader(), ctx.Err(), out)
	return ""
}

// TestTwoDaemonsAndOpenSC starts two daemons at once, each with its own
// socket and its own vpcd on the same port, puts a different card on
// each and reads both with OpenSC's opensc-tool. Each sees only its own
// card; Close leaves no process.
func TestTwoDaemonsAndOpenSC(t *testing.T) {
	need(t, "opensc-tool", "install opensc (Debian: apt-get install opensc; make pcsc)")
	var a, b *pcscd.Daemon
	var wg sync.WaitGroup
	began := time.Now()
	wg.Go(func() { a = start(t, "Reader A") })
	wg.Go(func() { b = start(t, "Reader B") })
	wg.Wait()
	if a == nil || b == nil {
		t.FailNow()
	}
	t.Logf("two daemons up in %v", time.Since(began).Round(time.Millisecond))
	if a.Socket() == b.Socket() {
		t.Fatalf("both daemons use socket %s", a.Socket())
	}
	for _, d := range []*pcscd.Daemon{a, b} {
		if fi, err := os.Stat(d.Socket()); err != nil || fi.Mode()&os.ModeSocket == 0 {
			t.Fatalf("socket %s: %v (mode %v)", d.Socket(), err, fi)
		}
	}
	if a.Reader() != "Reader A 00 00" {
		t.Errorf("Reader() = %q, want %q", a.Reader(), "Reader A 00 00")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out := opensc(ctx, t, b, "-l"); !strings.Contains(out, "Reader B 00 00") || strings.Contains(out, "Reader A") {
		t.Errorf("opensc-tool -l on daemon B:\n%s\nwant Reader B 00 00 only", out)
	}
	if out := opensc(ctx, t, a, "-r", "0", "-a"); !strings.Contains(out, "Card not present") {
		t.Errorf("opensc-tool -a on daemon A before any card:\n%s\nwant Card not present", out)
	}

	var cards sync.WaitGroup
	defer cards.Wait()
	for _, c := range []struct {
		d   *pcscd.Daemon
		uid []byte
	}{{a, []byte{0x04, 0xA1, 0xB2, 0xC3}}, {b, []byte{0x04, 0xD4, 0xE5, 0xF6}}} {
		conn, err := c.d.DialCard(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		cards.Go(func() { serveCard(conn, c.uid) })
	}
	placed := time.Now()
	outA := awaitUID(ctx, t, a)
	t.Logf("card read by opensc-tool %v after it connected", time.Since(placed).Round(time.Millisecond))
	outB := awaitUID(ctx, t, b)
	if !strings.Contains(outA, "04 A1 B2 C3") || strings.Contains(outA, "04 D4 E5 F6") {
		t.Errorf("opensc-tool on daemon A:\n%s\nwant the UID 04 A1 B2 C3", outA)
	}
	if !strings.Contains(outB, "04 D4 E5 F6") || strings.Contains(outB, "04 A1 B2 C3") {
		t.Errorf("opensc-tool on daemon B:\n%s\nwant the UID 04 D4 E5 F6", outB)
	}
	if out := opensc(ctx, t, a, "-r", "0", "-a"); !strings.Contains(out, "3b:8f:80:01:80:4f:0c:a0:00:00:03:06:03:00:01:00:00:00:00:6a") {
		t.Errorf("opensc-tool -a on daemon A:\n%s\nwant the card's ATR", out)
	}

	for _, d := range []*pcscd.Daemon{a, b} {
		dir := dirOf(d)
		if len(processesIn(t, dir)) == 0 {
			t.Fatalf("no process names %s while the daemon runs: the check below would prove nothing", dir)
		}
		if err := d.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		select {
		case <-d.Done():
		default:
			t.Error("Done not closed after Close")
		}
		if err := d.Err(); err != nil {
			t.Errorf("Err after Close = %v, want nil", err)
		}
		if pids := processesIn(t, dir); len(pids) != 0 {
			t.Errorf("processes %v still name %s after Close", pids, dir)
		}
		if _, err := os.Stat(d.Socket()); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("socket %s after Close: %v, want it removed", d.Socket(), err)
		}
		if _, err := d.DialCard(ctx); err == nil {
			t.Error("DialCard after Close succeeded")
		}
	}
}

// TestCrashIsSeen kills a daemon behind its back: Done closes, and Err
// and Close say it exited on its own.
func TestCrashIsSeen(t *testing.T) {
	need(t, "pcscd", "install pcscd and vsmartcard-vpcd (make pcsc; Debian: apt-get install pcscd vsmartcard-vpcd)")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := pcscd.Start(ctx, pcscd.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Reader() != pcscd.DefaultReaderName+" 00 00" {
		t.Errorf("Reader() = %q, want the default name's", d.Reader())
	}
	if err := d.Err(); err != nil {
		t.Fatalf("Err while running = %v", err)
	}
	pids := processesIn(t, dirOf(d))
	if len(pids) != 1 {
		t.Fatalf("processes naming the daemon's directory: %v, want one", pids)
	}
	if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Done not closed 10 s after pcscd was killed")
	}
	if err := d.Err(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("Err = %v, want the kill", err)
	}
	if err := d.Close(); err == nil || !strings.Contains(err.Error(), "exited on its own") {
		t.Errorf("Close = %v, want the crash", err)
	}
	if _, err := d.DialCard(ctx); err == nil {
		t.Error("DialCard after a crash succeeded")
	}
	// A new daemon starts in the same directory, over the socket and pid
	// file the killed one left.
	d2, err := pcscd.Start(ctx, pcscd.Options{Dir: dirOf(d)})
	if err != nil {
		t.Fatalf("start again in the directory a killed daemon left: %v", err)
	}
	if err := d2.Close(); err != nil {
		t.Error(err)
	}
}

// TestStartSaysWhatToFix checks Start's errors name the fix.
func TestStartSaysWhatToFix(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, c := range []struct {
		name string
		opts pcscd.Options
		want string
	}{
		{"no pcscd", pcscd.Options{Dir: t.TempDir(), Pcscd: "/nonexistent/pcscd"}, "install pcscd and vsmartcard-vpcd"},
		{"no driver", pcscd.Options{Dir: t.TempDir(), Driver: "/nonexistent/libifdvpcd.so"}, "install pcscd and vsmartcard-vpcd"},
		{"no directory", pcscd.Options{}, "no directory"},
		{"long directory", pcscd.Options{Dir: filepath.Join(t.TempDir(), strings.Repeat("d", 100))}, "use a shorter Dir"},
		{"quoted name", pcscd.Options{Dir: t.TempDir(), ReaderName: `a "b"`}, "without quotes"},
	} {
		d, err := pcscd.Start(ctx, c.opts)
		if err == nil {
			d.Close()
			t.Errorf("%s: Start succeeded", c.name)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want it to say %q", c.name, err, c.want)
		}
		if strings.HasPrefix(c.want, "install") && !errors.Is(err, pcscd.ErrMissing) {
			t.Errorf("%s: %v is not ErrMissing", c.name, err)
		}
	}
}

// TestStartFailsFast: a pcscd that exits at once (here: not pcscd at all,
// but false) fails Start at once, not at ctx's deadline.
func TestStartFailsFast(t *testing.T) {
	f := need(t, "false", "coreutils")
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	began := time.Now()
	_, err := pcscd.Start(ctx, pcscd.Options{Dir: dir, Pcscd: f})
	if err == nil || !strings.Contains(err.Error(), "exited before it opened its socket") {
		t.Fatalf("Start with false as pcscd: %v, want the early exit", err)
	}
	if took := time.Since(began); took > 10*time.Second {
		t.Errorf("Start took %v to see the exit", took)
	}
	if pids := processesIn(t, dir); len(pids) != 0 {
		t.Errorf("processes %v name %s after a failed Start", pids, dir)
	}
}
