// Package pcscd runs a private pcscd (Debian's pcsc-lite) whose one
// reader driver is vsmartcard's vpcd: a virtual card reader that a test,
// or a simulated PC/SC encoder, feeds with a card over TCP.
//
// pcscd always makes its socket at /run/pcscd/pcscd.comm (it reads no
// setting for it; only clients honour PCSCLITE_CSOCK_NAME), and vpcd
// listens for its card on a fixed TCP port of every address. So each
// daemon runs in a mount namespace of its own, with a directory of the
// caller's bind-mounted over /run/pcscd, and in a network namespace of its
// own, so that many daemons run at once on the same port and nobody else
// on the machine can connect as the card. DialCard reaches vpcd inside
// that namespace. Both namespaces need root (CAP_SYS_ADMIN).
//
// vpcd runs in server mode (DEVICENAME /dev/null:port): in
// virtualsmartcard 0.8, the version Debian ships, its client mode aborts
// pcscd after the first eject (it selects on an invalid socket).
package pcscd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Port is vpcd's TCP port for the daemon's first slot (vpcd's VPCDPORT,
// 0x8C7B), inside the daemon's own network namespace. vpcd always opens
// two slots; the second, on Port+1, is never fed.
const Port = 0x8C7B

// DefaultReaderName is the reader's FRIENDLYNAME when Options has none.
const DefaultReaderName = "Encoderlab PC/SC"

// ErrMissing is wrapped by Start's error when pcscd or vpcd's driver is
// not installed.
var ErrMissing = errors.New("install pcscd and vsmartcard-vpcd (make pcsc; Debian: apt-get install pcscd vsmartcard-vpcd)")

// stopGrace is how long Close waits after SIGTERM before SIGKILL.
// pcscd exits at once on SIGTERM ("Direct suicide"), so this only bounds
// a daemon that hangs.
const stopGrace = 5 * time.Second

// startBound bounds Start when ctx has no deadline: a pcscd that has not
// opened its socket by then is not going to.
const startBound = 30 * time.Second

// tailSize is how much of pcscd's last output an error quotes.
const tailSize = 4 << 10

// maxSocketPath is the longest path a Unix socket address holds
// (sockaddr_un's sun_path, 108 bytes with its NUL).
const maxSocketPath = 107

// Options say where and how a daemon runs.
type Options struct {
	// Dir is a directory the caller owns. The daemon's reader.conf and
	// its log (pcscd.log) are written in it, and its socket and pid file
	// live in Dir/run, which is bind-mounted over /run/pcscd inside the
	// daemon's namespace. Required; the socket's path must fit a Unix
	// socket address (107 bytes).
	Dir string
	// ReaderName is the reader's FRIENDLYNAME; pcscd appends the slot
	// (" 00 00"). Default DefaultReaderName.
	ReaderName string
	// Logger receives the daemon's start and stop, and each line pcscd
	// logs (at debug level). nil: none.
	Logger *slog.Logger
	// Pcscd is the pcscd binary (default: pcscd on PATH, or
	// /usr/sbin/pcscd).
	Pcscd string
	// Driver is vpcd's driver, libifdvpcd.so (default: searched where
	// Debian puts it).
	Driver string
}

// Daemon is one running pcscd. Its methods are safe for concurrent use.
type Daemon struct {
	dir    string // Dir/run: the socket's directory
	reader string
	cmd    *exec.Cmd
	out    *sink
	log    *slog.Logger
	done   chan struct{}
	exit   error // cmd.Wait's, once done is closed

	// nsMu guards netns: DialCard uses it, Close closes it.
	nsMu  sync.RWMutex
	netns *os.File // the daemon's network namespace

	mu       sync.Mutex
	stopping bool // Close signalled the daemon

	closeOnce sync.Once
	closeErr  error
}

// driverPaths are where Debian and vsmartcard's own install put vpcd's
// driver.
var driverPaths = []string{
	"/usr/lib/pcsc/drivers/serial/libifdvpcd.so",
	"/usr/local/lib/pcsc/drivers/serial/libifdvpcd.so",
	"/usr/lib64/pcsc/drivers/serial/libifdvpcd.so",
}

// findDriver looks for libifdvpcd.so in driverPaths and Debian's
// multiarch directories.
func findDriver() (string, error) {
	paths := append([]string(nil), driverPaths...)
	if multi, err := filepath.Glob("/usr/lib/*/pcsc/drivers/serial/libifdvpcd.so"); err == nil {
		paths = append(paths, multi...)
	}
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", fmt.Errorf("no libifdvpcd.so in %s: %w", strings.Join(paths, ", "), ErrMissing)
}

// findPcscd looks for pcscd on PATH, then in /usr/sbin (which a user's
// PATH often lacks).
func findPcscd() (string, error) {
	if p, err := exec.LookPath("pcscd"); err == nil {
		return p, nil
	}
	if p, err := exec.LookPath("/usr/sbin/pcscd"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("no pcscd on PATH or in /usr/sbin: %w", ErrMissing)
}

// Start runs a pcscd with one vpcd reader and returns once its socket
// accepts clients. ctx bounds the start only (30 s when it has no
// deadline); a daemon that exits meanwhile fails Start at once, with what
// pcscd said.
func Start(ctx context.Context, opts Options) (*Daemon, error) {
	d, err := start(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("pcscd: start: %w", err)
	}
	return d, nil
}

func start(ctx context.Context, opts Options) (*Daemon, error) {
	if opts.Dir == "" {
		return nil, errors.New("no directory (Options.Dir)")
	}
	name := opts.ReaderName
	if name == "" {
		name = DefaultReaderName
	}
	// pcscd's reader names fit 128 bytes with the slot it appends.
	if strings.ContainsAny(name, "\"\n\r\x00") || len(name) > 100 {
		return nil, fmt.Errorf("reader name %q: want at most 100 bytes, without quotes or newlines", name)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	bin := opts.Pcscd
	if bin == "" {
		var err error
		if bin, err = findPcscd(); err != nil {
			return nil, err
		}
	} else if _, err := exec.LookPath(bin); err != nil {
		return nil, fmt.Errorf("pcscd %s: %v: %w", bin, err, ErrMissing)
	}
	lib := opts.Driver
	if lib == "" {
		var err error
		if lib, err = findDriver(); err != nil {
			return nil, err
		}
	} else if _, err := os.Stat(lib); err != nil {
		return nil, fmt.Errorf("vpcd driver: %v: %w", err, ErrMissing)
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	run := filepath.Join(dir, "run")
	if sock := filepath.Join(run, "pcscd.comm"); len(sock) > maxSocketPath {
		return nil, fmt.Errorf("socket path %s is %d bytes, longer than a Unix socket address holds (%d): use a shorter Dir", sock, len(sock), maxSocketPath)
	}
	if err := os.MkdirAll(run, 0o755); err != nil {
		return nil, err
	}
	// A pcscd killed earlier in this directory left its socket and pid
	// file; a new one would refuse to start if that pid now names a live
	// process.
	for _, f := range []string{"pcscd.comm", "pcscd.pid"} {
		if err := os.Remove(filepath.Join(run, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("remove a stale %s: %w", f, err)
		}
	}
	conf := filepath.Join(dir, "reader.conf")
	text := fmt.Sprintf("FRIENDLYNAME \"%s\"\nDEVICENAME /dev/null:0x%X\nLIBPATH %s\nCHANNELID 0x%X\n", name, Port, lib, Port)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		return nil, err
	}
	logFile, err := os.Create(filepath.Join(dir, "pcscd.log"))
	if err != nil {
		return nil, err
	}
	out := &sink{file: logFile, log: log}

	// The namespace's mounts are made private first, so the bind mount
	// does not propagate back to the machine's /run.
	script := `mount --make-rprivate / && mkdir -p /run/pcscd && mount --bind "$1" /run/pcscd && exec "$2" --foreground --info --config "$3"`
	cmd := exec.Command("/bin/sh", "-c", script, "sh", run, bin, conf)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWNET,
		// The daemon dies with this process, even when it is killed.
		Pdeathsig: syscall.SIGKILL,
	}
	cmd.Stdout, cmd.Stderr = out, out
	d := &Daemon{dir: run, reader: name + " 00 00", cmd: cmd, out: out, log: log, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// Pdeathsig follows the thread that forked, not the process: a
		// thread the runtime retires (a goroutine that ends locked to
		// it, as the stall meter's probes do) would kill the daemon. So
		// the daemon is forked from a thread held until it exits.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		d.exit = cmd.Wait()
		logFile.Close()
		close(d.done)
	}()
	if err := <-started; err != nil {
		logFile.Close()
		if errors.Is(err, syscall.EPERM) {
			return nil, fmt.Errorf("a private pcscd needs root (CAP_SYS_ADMIN) for its own mount and network namespace: %w", err)
		}
		return nil, err
	}
	fail := func(err error) (*Daemon, error) {
		_ = d.Close() // err already says how the daemon ended
		return nil, err
	}
	// The namespace exists from the clone on: hold it, so DialCard never
	// opens another process's through a reused pid.
	d.netns, err = os.Open(fmt.Sprintf("/proc/%d/ns/net", cmd.Process.Pid))
	if err != nil {
		return fail(fmt.Errorf("the daemon's network namespace: %w", err))
	}
	// A new network namespace has only lo, and it is down.
	if err := d.inNetns(loopbackUp); err != nil {
		return fail(fmt.Errorf("bring up lo in the daemon's network namespace: %w", err))
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, startBound)
		defer cancel()
	}
	if err := d.awaitSocket(ctx); err != nil {
		return fail(err)
	}
	log.Debug("pcscd up", "socket", d.Socket(), "reader", d.reader, "pid", cmd.Process.Pid)
	return d, nil
}

// awaitSocket waits until the daemon's socket accepts a connection.
// pcscd opens it after loading its readers, so vpcd listens by then.
func (d *Daemon) awaitSocket(ctx context.Context) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if c, err := net.Dial("unix", d.Socket()); err == nil {
			c.Close()
			return nil
		}
		select {
		case <-d.done:
			return fmt.Errorf("pcscd exited before it opened its socket (%v); it said: %s", d.exit, d.out.tail())
		case <-ctx.Done():
			return fmt.Errorf("socket %s not open: %w; pcscd said: %s", d.Socket(), ctx.Err(), d.out.tail())
		case <-tick.C:
		}
	}
}

// Socket is the daemon's socket, where a PC/SC client connects
// (PCSCLITE_CSOCK_NAME for libpcsclite's tools).
func (d *Daemon) Socket() string { return filepath.Join(d.dir, "pcscd.comm") }

// Reader is the name pcscd gives the reader DialCard's card is in (the
// first slot: ReaderName and " 00 00"). pcscd also lists the second slot
// (" 00 01"), which stays empty.
func (d *Daemon) Reader() string { return d.reader }

// Done is closed when the daemon has exited, asked to or not.
func (d *Daemon) Done() <-chan struct{} { return d.done }

// Err is nil while the daemon runs and after a stop Close asked for; once
// it exited on its own (a crash), it says how, with pcscd's last words.
func (d *Daemon) Err() error {
	select {
	case <-d.done:
	default:
		return nil
	}
	d.mu.Lock()
	stopping := d.stopping
	d.mu.Unlock()
	if stopping {
		return nil
	}
	return fmt.Errorf("pcscd (pid %d) exited on its own (%v); it said: %s", d.cmd.Process.Pid, d.exit, d.out.tail())
}

// DialCard connects to vpcd's first slot inside the daemon's network
// namespace: the virtual card's end of vpcd's protocol. It retries until
// vpcd listens, the daemon exits or ctx ends. vpcd takes one card at a
// time: a second connection waits in its backlog until the first closes.
func (d *Daemon) DialCard(ctx context.Context) (net.Conn, error) {
	for {
		c, err := d.dialOnce(ctx)
		if err == nil {
			return c, nil
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("pcscd: dial the card: %w", err)
		}
		select {
		case <-d.done:
			return nil, fmt.Errorf("pcscd: dial the card: the daemon exited (%v); it said: %s", d.exit, d.out.tail())
		case <-ctx.Done():
			return nil, fmt.Errorf("pcscd: dial the card: vpcd not listening on port %d: %w", Port, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (d *Daemon) dialOnce(ctx context.Context) (net.Conn, error) {
	select {
	case <-d.done:
		return nil, fmt.Errorf("the daemon exited (%v); it said: %s", d.exit, d.out.tail())
	default:
	}
	var c net.Conn
	err := d.inNetns(func() error {
		var dl net.Dialer
		var err error
		c, err = dl.DialContext(ctx, "tcp4", fmt.Sprintf("127.0.0.1:%d", Port))
		return err
	})
	return c, err
}

// inNetns runs f on an OS thread moved into the daemon's network
// namespace. A socket stays in the namespace it was made in, whichever
// thread uses it afterwards, so f's sockets outlive the call. f runs on a
// goroutine of its own: if the thread cannot move back, it stays locked
// and ends with that goroutine instead of serving any other.
func (d *Daemon) inNetns(f func() error) error {
	d.nsMu.RLock()
	defer d.nsMu.RUnlock()
	if d.netns == nil {
		return errors.New("the daemon is closed")
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		own, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("this thread's network namespace: %w", err)
			return
		}
		defer own.Close()
		if err := unix.Setns(int(d.netns.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			if errors.Is(err, unix.EPERM) {
				err = fmt.Errorf("needs root (CAP_SYS_ADMIN): %w", err)
			}
			errc <- fmt.Errorf("enter the daemon's network namespace: %w", err)
			return
		}
		ferr := f()
		if err := unix.Setns(int(own.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("leave the daemon's network namespace: %w", err))
			return // still locked: the thread exits with the goroutine
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// loopbackUp brings up lo in the calling thread's network namespace.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("SIOCGIFFLAGS lo: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("SIOCSIFFLAGS lo: %w", err)
	}
	return nil
}

// Close stops the daemon (SIGTERM, then SIGKILL after 5 s) and waits for
// it to exit, so no process is left. It returns the daemon's Err when it
// had already exited on its own, so a caller's Close reports a crash.
// Later calls return the first call's result.
func (d *Daemon) Close() error {
	d.closeOnce.Do(func() { d.closeErr = d.stop() })
	return d.closeErr
}

func (d *Daemon) stop() error {
	var crashed error
	select {
	case <-d.done:
		crashed = d.Err()
	default:
		d.mu.Lock()
		d.stopping = true
		d.mu.Unlock()
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		t := time.NewTimer(stopGrace)
		select {
		case <-d.done:
		case <-t.C:
			d.log.Warn("pcscd ignored SIGTERM; killing it", "pid", d.cmd.Process.Pid, "grace", stopGrace)
			_ = d.cmd.Process.Kill()
			<-d.done
		}
		t.Stop()
	}
	d.nsMu.Lock()
	if d.netns != nil {
		d.netns.Close()
		d.netns = nil
	}
	d.nsMu.Unlock()
	d.log.Debug("pcscd down", "socket", d.Socket(), "exit", fmt.Sprint(d.exit))
	return crashed
}

// sink takes pcscd's output: all of it to its log file, each line to the
// logger, and the last tailSize bytes for errors to quote.
type sink struct {
	file *os.File
	log  *slog.Logger

	mu      sync.Mutex
	last    []byte // the tail, at most tailSize
	partial []byte // a line not yet ended
}

func (s *sink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, _ = s.file.Write(p) // a full disk must not stall pcscd's output
	s.last = append(s.last, p...)
	if len(s.last) > tailSize {
		s.last = append(s.last[:0], s.last[len(s.last)-tailSize:]...)
	}
	s.partial = append(s.partial, p...)
	for {
		i := bytes.IndexByte(s.partial, '\n')
		if i < 0 {
			break
		}
		s.log.Debug("pcscd", "line", string(s.partial[:i]))
		s.partial = s.partial[i+1:]
	}
	if len(s.partial) > tailSize {
		s.partial = s.partial[:0]
	}
	return len(p), nil
}

// tail is pcscd's last output, or a note that it said nothing.
func (s *sink) tail() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := strings.TrimSpace(string(s.last))
	if t == "" {
		return "(nothing)"
	}
	return t
}
