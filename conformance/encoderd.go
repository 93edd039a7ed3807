package conformance

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/encoderlab/encoderlab/pipeline/seam"
	"github.com/encoderlab/encoderlab/sim/scenario"
)

// Encoderd is encoderd, or a server that takes its flags, run from binary
// as a process of its own for each spec: on a free loopback port, with its
// store in the spec's temporary directory and its encoders' ports in the
// spec's link directory, at the suite's time scale and attempt deadline.
// args are added to its command line: a lab other than the bundled one
// needs "--lab FILE" there, naming the file Config.Lab was loaded from.
//
// It is the target a timeline's server and store steps need
// (scenario.System): `server: kill` kills the process with SIGKILL and
// starts it again on the same store and port; `store: full` fills the
// file system the store is on. For that the store gets a tmpfs of its own
// (StoreDiskSize), which takes root to mount; elsewhere the store lives
// in the temporary directory and store steps fail, saying so
// (its SystemSteps tells beforehand, and Preflight reports a scenario it
// cannot run).
func Encoderd(binary string, args ...string) Target {
	return encoderd{bin: binary, args: args}
}

// StoreDiskSize is the size of the tmpfs each spec's store gets under the
// Encoderd target: room for every write a scenario makes many times over,
// small enough that filling it costs nothing.
const StoreDiskSize = 8 << 20

type encoderd struct {
	bin  string
	args []string
}

// SystemStepTarget is a Target whose systems take a timeline's server
// and store steps: the System it starts implements scenario.System.
// Encoderd is one.
type SystemStepTarget interface {
	Target
	// SystemSteps says whether this machine lets the target take server
	// and store steps: nil for both, or why each cannot run.
	SystemSteps() (server, store error)
}

// SystemSteps: a kill needs nothing but the process; store steps need a
// tmpfs mounted for the store, which takes root.
func (encoderd) SystemSteps() (server, store error) {
	dir, err := os.MkdirTemp("", "encoderlab-mount-probe-")
	if err != nil {
		return nil, err
	}
	defer os.Remove(dir)
	if err := mountStoreDisk(dir); err != nil {
		return nil, err
	}
	return nil, unix.Unmount(dir, 0)
}

// systemStepsProblems is why the target cannot take the server and
// store steps of the scenarios, one problem per scenario.
func systemStepsProblems(t Target, scs []*scenario.Scenario) []string {
	if !slices.ContainsFunc(scs, (*scenario.Scenario).SystemSteps) {
		return nil
	}
	var server, store error
	if st, ok := t.(SystemStepTarget); ok {
		server, store = st.SystemSteps()
	} else {
		server = errors.New("only a target that runs the server as a process of its own can kill it or fill its disk: use --target encoderd (conformance.Encoderd)")
		store = server
	}
	var problems []string
	for _, sc := range scs {
		for _, st := range sc.Steps {
			err := server
			if st.Op == scenario.OpStore {
				err = store
			}
			if slices.Contains(scenario.SystemOps, st.Op) && err != nil {
				problems = append(problems, fmt.Sprintf("scenario %s step %d (line %d, %s) acts on the system under test, which this run cannot do: %v",
					sc.File, st.Index+1, st.Line, st, err))
				break
			}
		}
	}
	return problems
}

func mountStoreDisk(dir string) error {
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, fmt.Sprintf("size=%d,mode=0700", StoreDiskSize)); err != nil {
		return fmt.Errorf("store steps need the store on a file system of its own, and mounting a tmpfs at %s failed (it needs root): %w", dir, err)
	}
	return nil
}

func (t encoderd) Start(ctx context.Context, env Env) (System, error) {
	if _, err := os.Stat(t.bin); err != nil {
		return nil, fmt.Errorf("encoderd target: %w (build it with: go build -o encoderd ./cmd/encoderd)", err)
	}
	p := &encoderdProcess{target: t, env: env, store: filepath.Join(env.TempDir, "store")}
	if err := os.Mkdir(p.store, 0o700); err != nil {
		return nil, fmt.Errorf("encoderd target: %w", err)
	}
	if p.diskErr = mountStoreDisk(p.store); p.diskErr == nil {
		p.mounted = true
	}
	var err error
	for try := 0; ; try++ {
		addr := restartableAddr()
		if addr == "" {
			addr = "127.0.0.1:0"
		}
		err = p.start(ctx, addr)
		if err == nil || try == 20 || ctx.Err() != nil || !inUse(err) {
			break
		}
	}
	if err != nil {
		return nil, errors.Join(err, p.unmount())
	}
	return p, nil
}

// restartableAddr is a loopback address for a server that is killed and
// started again on it: a random port below the kernel's ephemeral range.
// A port in that range, freed by the kill, can be handed by chance to one
// of the many connections the suite and its servers open meanwhile, and a
// connected socket on it fails the new server's bind for as long as that
// connection lasts (seen in CI: a restart that never came, and every
// poll after it refused). Below the range a port is only ever taken by a
// listener asking for it by number; Start tries another if one did.
// It is "" where the range cannot be read or leaves no room below it.
func restartableAddr() string {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return ""
	}
	var lo, hi int
	if _, err := fmt.Sscan(string(b), &lo, &hi); err != nil || lo <= lowestRestartablePort {
		return ""
	}
	return fmt.Sprintf("127.0.0.1:%d", lowestRestartablePort+rand.IntN(lo-lowestRestartablePort))
}

// lowestRestartablePort keeps restartableAddr clear of the well-known and
// commonly registered ports a machine's own services listen on.
const lowestRestartablePort = 10000

func inUse(err error) bool { return strings.Contains(err.Error(), "address already in use") }

// encoderdProcess is one spec's encoderd: the process, and what a kill
// needs to start it again the same.
type encoderdProcess struct {
	target encoderd
	env    Env
	store  string // the store's directory (a tmpfs of its own when mounted)

	mounted bool
	diskErr error // why the store has no file system of its own

	mu     sync.Mutex
	url    string
	cmd    *exec.Cmd
	exited chan error
	filler string // the file store: full wrote, "" when there is none
}

// start runs the server listening on addr and waits until it serves.
func (p *encoderdProcess) start(ctx context.Context, addr string) error {
	args := append([]string{
		"--addr", addr,
		"--links", p.env.LinkDir,
		"--db", filepath.Join(p.store, "encoderd.db"),
		"--scale", fmt.Sprint(float64(p.env.TimeScale)),
		"--deadline", p.env.AttemptDeadline.String(),
	}, p.target.args...)
	if p.env.Profile == string(seam.ProfileLatest) {
		// The seed profiles are what encoderd serves a lab that names
		// none, and what servers older than profiles serve.
		args = append(args, "--profile", p.env.Profile)
	}
	logs, err := os.OpenFile(filepath.Join(p.env.TempDir, "encoderd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("encoderd target: %w", err)
	}
	cmd := exec.Command(p.target.bin, args...)
	cmd.Stderr = logs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logs.Close()
		return fmt.Errorf("encoderd target: %w", err)
	}
	if err := cmd.Start(); err != nil {
		logs.Close()
		return fmt.Errorf("encoderd target: starting %s: %w", p.target.bin, err)
	}
	exited := make(chan error, 1)
	urls := make(chan string, 1)
	go func() {
		defer logs.Close()
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "encoderd serving the API at "); ok {
				select {
				case urls <- u:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		exited <- cmd.Wait()
	}()
	fail := func(err error) error {
		_ = cmd.Process.Kill()
		<-exited
		return fmt.Errorf("encoderd target: %w%s", err, p.logTail())
	}
	var u string
	select {
	case u = <-urls:
	case err := <-exited:
		return fmt.Errorf("encoderd target: %s exited before serving (%v)%s", p.target.bin, err, p.logTail())
	case <-ctx.Done():
		return fail(fmt.Errorf("no API URL from %s: %w", p.target.bin, context.Cause(ctx)))
	case <-time.After(30 * time.Second):
		return fail(fmt.Errorf("%s printed no API URL in 30 s", p.target.bin))
	}
	p.mu.Lock()
	p.url, p.cmd, p.exited = u, cmd, exited
	p.mu.Unlock()
	return nil
}

// logTail is the end of the server's log, for errors.
func (p *encoderdProcess) logTail() string {
	b, err := os.ReadFile(filepath.Join(p.env.TempDir, "encoderd.log"))
	if err != nil || len(b) == 0 {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	// Its warnings and errors, and what the program itself said, first:
	// the last lines are mostly requests.
	var said []string
	for _, l := range lines {
		if strings.HasPrefix(l, "encoderd: ") || strings.Contains(l, " level=WARN ") || strings.Contains(l, " level=ERROR ") {
			said = append(said, l)
		}
	}
	out := ""
	if len(said) > 0 {
		out = "; it warned:\n" + strings.Join(said[max(0, len(said)-10):], "\n")
	}
	return out + "; its log ends:\n" + strings.Join(lines[max(0, len(lines)-10):], "\n")
}

func (p *encoderdProcess) URL() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.url
}

// Kill kills the server with SIGKILL, as a crash or a power loss would
// end it, and starts it again on the same store and port.
func (p *encoderdProcess) Kill(ctx context.Context) error {
	if err := p.Stop(ctx); err != nil {
		return err
	}
	return p.Start(ctx)
}

// Stop kills the server with SIGKILL and leaves it down.
func (p *encoderdProcess) Stop(context.Context) error {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return errors.New("encoderd target: server: stop: the server is not running")
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("encoderd target: SIGKILL: %w", err)
	}
	<-exited
	return nil
}

// Start starts the stopped server again on the same store and port.
func (p *encoderdProcess) Start(ctx context.Context) error {
	p.mu.Lock()
	running, u := p.cmd != nil, p.url
	p.mu.Unlock()
	if running {
		return errors.New("encoderd target: server: start: the server is running")
	}
	parsed, err := url.Parse(u)
	if err != nil {
		return fmt.Errorf("encoderd target: its URL %q: %w", u, err)
	}
	// The port was the server's; its death freed it at once, and nothing
	// asks for it meanwhile but a listener naming it (restartableAddr).
	for try := 0; ; try++ {
		err = p.start(ctx, parsed.Host)
		if err == nil || try == 20 || ctx.Err() != nil || !inUse(err) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("starting again after SIGKILL: %w", err)
	}
	return nil
}

// FillStore fills the store's file system: a file takes every block
// free at its first look, at once (fallocate), as a disk that filled at
// that moment. It is not a process that goes on writing: space the
// server frees after it (its store's reserve, docs/store.md) stays free,
// so what the server does with a full disk is what is tested, not a race
// with the filler.
func (p *encoderdProcess) FillStore(ctx context.Context) error {
	if !p.mounted {
		return fmt.Errorf("encoderd target: store: full: %w", p.diskErr)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.filler == "" {
		p.filler = filepath.Join(p.store, "filler")
	}
	f, err := os.OpenFile(p.filler, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("encoderd target: store: full: %w", err)
	}
	defer f.Close()
	// The server may take a block between the look and the take: then
	// the take is refused whole, and the filler looks again. But a take
	// that tmpfs refuses may have held the disk full for an instant
	// before it let go, long enough for the server to hit the full disk
	// and give its reserve back (docs/store.md). So the filler takes at
	// most what was free at its first look: room the server frees after
	// that, its reserve, stays free, as on a disk that filled at that
	// moment and not one that something keeps filling. (Taking it was
	// the explorer's full-disk-outcome-refused: the outcome the reserve
	// was freed for found the disk full again.)
	budget := int64(-1)
	for tries := 0; ; tries++ {
		var st unix.Statfs_t
		if err := unix.Fstatfs(int(f.Fd()), &st); err != nil {
			return fmt.Errorf("encoderd target: store: full: %w", err)
		}
		free := int64(st.Bavail) * st.Bsize
		if budget < 0 {
			budget = free
		}
		n := min(free, budget)
		if n == 0 {
			return nil
		}
		size, err := fileSize(f)
		if err != nil {
			return fmt.Errorf("encoderd target: store: full: %w", err)
		}
		err = unix.Fallocate(int(f.Fd()), 0, size, n)
		switch {
		case err == nil:
			// The disk is full, or the budget taken (the rest is what
			// the server freed since the first look).
			return nil
		case !errors.Is(err, unix.ENOSPC):
			return fmt.Errorf("encoderd target: store: full: taking %d bytes: %w", n, err)
		case tries == 1000:
			return fmt.Errorf("encoderd target: store: full: the server's writes outran 1,000 takes of the free space: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// fileSize is f's size now.
func fileSize(f *os.File) (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// FreeStore removes what FillStore wrote.
func (p *encoderdProcess) FreeStore(context.Context) error {
	if !p.mounted {
		return fmt.Errorf("encoderd target: store: free: %w", p.diskErr)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.filler == "" {
		return nil
	}
	if err := os.Remove(p.filler); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("encoderd target: store: free: %w", err)
	}
	p.filler = ""
	return nil
}

// Close stops the server with SIGTERM (SIGKILL if it has not stopped in
// 30 s) and unmounts its store's file system.
func (p *encoderdProcess) Close() error {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.cmd = nil
	p.mu.Unlock()
	var errs []error
	if cmd != nil {
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
			errs = append(errs, fmt.Errorf("encoderd target: SIGTERM: %w", err))
		}
		select {
		case err := <-exited:
			if err != nil {
				errs = append(errs, fmt.Errorf("encoderd target: the server exited with %v after SIGTERM%s", err, p.logTail()))
			}
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			errs = append(errs, fmt.Errorf("encoderd target: the server was still running 30 s after SIGTERM; killed%s", p.logTail()))
		}
	}
	errs = append(errs, p.unmount())
	return errors.Join(errs...)
}

func (p *encoderdProcess) unmount() error {
	if !p.mounted {
		return nil
	}
	p.mounted = false
	if err := unix.Unmount(p.store, 0); err != nil {
		return fmt.Errorf("encoderd target: unmounting the store's tmpfs %s: %w", p.store, err)
	}
	return nil
}
