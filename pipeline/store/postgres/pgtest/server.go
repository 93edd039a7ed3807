package pgtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Timeouts for a loaded machine: they bound a server that never comes up
// or never goes down, and are far above what a healthy one takes.
const (
	readyWait = 2 * time.Minute
	stopWait  = time.Minute
	killWait  = 10 * time.Second
)

// port only names the socket file (.s.PGSQL.5432): the server listens on
// no TCP port, so servers in different directories never collide.
const port = 5432

// maxSocketPath is the longest unix socket path Linux accepts (sun_path
// holds 108 bytes with the terminating NUL).
const maxSocketPath = 107

// superuser is the role initdb creates and every URL connects as.
const superuser = "postgres"

// Server is a PostgreSQL server of its own: a cluster in a directory,
// reachable only through a unix socket in that directory, with trust
// authentication. It is for tests: anyone who can reach the socket is
// its superuser.
type Server struct {
	dir string
	log string

	cmd    *exec.Cmd
	exited chan struct{} // closed when the server process has exited
	// waitErr is the server process's exit; read it after exited closes.
	waitErr error

	stopOnce sync.Once
	stopErr  error
}

// Start starts a PostgreSQL server in dir, creating dir (mode 0700) and
// the cluster in dir/data with initdb unless a previous Start left one
// there, in which case that server starts again with its databases. It
// returns once the server accepts connections; Stop stops it.
//
// PostgreSQL refuses to run as root. When the process runs as root, Start
// runs initdb and the server as the "postgres" system user and gives dir
// to that user, which must be able to reach dir: every parent directory
// must be searchable by others. It returns an error matching
// ErrNotInstalled when initdb or postgres cannot be found (on PATH, then
// in the newest /usr/lib/postgresql/*/bin).
func Start(dir string) (*Server, error) {
	s, err := start(dir)
	if err != nil {
		return nil, fmt.Errorf("pgtest: start PostgreSQL in %s: %w", dir, err)
	}
	return s, nil
}

func start(dir string) (*Server, error) {
	bin, err := findBinaries()
	if err != nil {
		return nil, err
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if n := len(filepath.Join(dir, ".s.PGSQL."+strconv.Itoa(port))); n > maxSocketPath {
		return nil, fmt.Errorf("the socket path would be %d bytes, more than the %d a unix socket allows; use a shorter directory", n, maxSocketPath)
	}
	cred, err := serverUser()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, err
		}
		if err := reachable(dir, cred); err != nil {
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	if _, err := os.Stat(filepath.Join(data, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		if err := initdb(bin.initdb, dir, data, cred); err != nil {
			return nil, err
		}
	}

	s := &Server{dir: dir, log: filepath.Join(dir, "postgres.log"), exited: make(chan struct{})}
	logFile, err := os.OpenFile(s.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the server has its own copy of the descriptor
	s.cmd = exec.Command(bin.postgres,
		"-D", data,
		"-p", strconv.Itoa(port),
		"-c", "listen_addresses=",
		"-c", "unix_socket_directories="+dir,
		// A test server on a shared machine: small memory, and shared
		// memory in files under data/ rather than /dev/shm, which some
		// containers keep tiny.
		"-c", "shared_buffers=32MB",
		"-c", "dynamic_shared_memory_type=mmap",
	)
	s.cmd.Dir = dir
	s.cmd.Env = serverEnv()
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true}
	deathSignal(s.cmd.SysProcAttr)

	// The server is started, and waited for, from one goroutine locked to
	// its thread: the parent-death signal follows the thread that forked,
	// not the process, and the thread must outlive the server.
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if err := s.cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("run %s: %w", bin.postgres, err)
	}
	if err := s.waitReady(); err != nil {
		return nil, errors.Join(err, s.Stop())
	}
	return s, nil
}

// serverUser returns the credential to run PostgreSQL with: nil to run as
// this process, the postgres system user when this process is root.
func serverUser() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, which PostgreSQL refuses, and there is no postgres user to run it as: %w", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("postgres user: %w", err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}

// reachable checks that the user of cred can search every directory
// above dir, as the server must to open its data directory by path.
func reachable(dir string, cred *syscall.Credential) error {
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		perm := fi.Mode().Perm()
		st, ok := fi.Sys().(*syscall.Stat_t)
		search := perm&0o001 != 0
		if ok && st.Uid == cred.Uid {
			search = perm&0o100 != 0
		} else if ok && st.Gid == cred.Gid {
			search = perm&0o010 != 0
		}
		if !search {
			return fmt.Errorf("the postgres user (uid %d) cannot reach %s: %s is mode %v; use a directory whose parents others can search (0755)",
				cred.Uid, dir, d, perm)
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// serverEnv is this process's environment without the PG* variables,
// which would point initdb and the server at another cluster.
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") {
			env = append(env, kv)
		}
	}
	return append(env, "LC_ALL=C")
}

func initdb(path, dir, data string, cred *syscall.Credential) error {
	cmd := exec.Command(path, "-D", data, "-U", superuser, "--auth=trust",
		"--encoding=UTF8", "--locale=C",
		// initdb's own final fsync only; the server still fsyncs its commits.
		"--no-sync")
	cmd.Dir = dir
	cmd.Env = serverEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %w\n%s", err, out)
	}
	return nil
}

// waitReady polls the socket until the server accepts a connection, it
// exits, or readyWait passes.
func (s *Server) waitReady() error {
	deadline := time.NewTimer(readyWait)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		conn, err := pgconn.Connect(ctx, s.URL())
		cancel()
		if err == nil {
			return conn.Close(context.Background())
		}
		select {
		case <-s.exited:
			return fmt.Errorf("server exited before accepting connections (%v); its log:\n%s", s.waitErr, s.logTail())
		case <-deadline.C:
			return fmt.Errorf("server not accepting connections after %s (last: %v); its log:\n%s", readyWait, err, s.logTail())
		case <-tick.C:
		}
	}
}

// logTail returns the end of the server's log, for error messages.
func (s *Server) logTail() string {
	const tail = 4 << 10
	f, err := os.Open(s.log)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", s.log, err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > tail {
		_, _ = f.Seek(-tail, io.SeekEnd)
	}
	b, _ := io.ReadAll(f)
	return strings.TrimRight(string(b), "\n")
}

// URL is the superuser's connection URL for the server's postgres
// database, over the unix socket.
func (s *Server) URL() string { return s.databaseURL("postgres") }

func (s *Server) databaseURL(db string) string {
	q := url.Values{"host": {s.dir}, "port": {strconv.Itoa(port)}}
	u := url.URL{Scheme: "postgres", User: url.User(superuser), Path: "/" + db, RawQuery: q.Encode()}
	return u.String()
}

// NewDatabase creates an empty database called name and returns its URL.
func (s *Server) NewDatabase(ctx context.Context, name string) (string, error) {
	u, err := createDatabase(ctx, s.URL(), name)
	if err != nil {
		return "", fmt.Errorf("pgtest: %w", err)
	}
	return u, nil
}

// Stop shuts the server down (a fast shutdown: open sessions are ended,
// committed work is kept) and waits for it to exit; the directory stays.
// It returns an error if the server had already died, or did not stop
// within a minute and was killed. Calling Stop again returns the first
// call's result.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		if err := s.stop(); err != nil {
			s.stopErr = fmt.Errorf("pgtest: stop PostgreSQL in %s: %w", s.dir, err)
		}
	})
	return s.stopErr
}

// Crash stops the server the way a crash would: an immediate shutdown,
// which ends every process at once without a checkpoint, so that the next
// Start on the directory has to recover from the write-ahead log. Stop
// afterwards returns Crash's result.
func (s *Server) Crash() error {
	s.stopOnce.Do(func() {
		if err := s.crash(); err != nil {
			s.stopErr = fmt.Errorf("pgtest: crash PostgreSQL in %s: %w", s.dir, err)
		}
	})
	return s.stopErr
}

func (s *Server) crash() error {
	if err := s.cmd.Process.Signal(syscall.SIGQUIT); err != nil {
		return err
	}
	select {
	case <-s.exited:
		return nil // the exit status of an immediate shutdown is not 0
	case <-time.After(killWait):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.exited
		return fmt.Errorf("server did not stop within %s of an immediate shutdown and was killed", killWait)
	}
}

func (s *Server) stop() error {
	select {
	case <-s.exited:
		return fmt.Errorf("server had already exited (%v); its log:\n%s", s.waitErr, s.logTail())
	default:
	}
	if err := s.cmd.Process.Signal(syscall.SIGINT); err != nil {
		return err
	}
	select {
	case <-s.exited:
		if s.waitErr != nil {
			return fmt.Errorf("fast shutdown: %w; its log:\n%s", s.waitErr, s.logTail())
		}
		return nil
	case <-time.After(stopWait):
	}
	// An immediate shutdown, then the kernel.
	_ = s.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-s.exited:
	case <-time.After(killWait):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.exited
	}
	return fmt.Errorf("server did not stop within %s of a fast shutdown and was killed; its log:\n%s", stopWait, s.logTail())
}

// createDatabase connects to adminURL and creates database name there,
// returning adminURL with its database replaced by name.
func createDatabase(ctx context.Context, adminURL, name string) (string, error) {
	if name == "" || len(name) > 63 {
		return "", fmt.Errorf("create database %q: a name is 1 to 63 bytes", name)
	}
	target, err := withDatabase(adminURL, name)
	if err != nil {
		return "", fmt.Errorf("create database %q: %w", name, err)
	}
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", fmt.Errorf("create database %q: %w", name, err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("create database %q: %w", name, err)
	}
	return target, nil
}

// dropDatabase drops database name, ending any session still on it.
func dropDatabase(ctx context.Context, adminURL, name string) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("drop database %q: %w", name, err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %q: %w", name, err)
	}
	return nil
}

// withDatabase returns the URL u with its database replaced by name. It
// takes URLs only (postgres:// or postgresql://), not keyword/value
// connection strings.
func withDatabase(u, name string) (string, error) {
	parsed, err := url.Parse(u)
	if err != nil || (parsed.Scheme != "postgres" && parsed.Scheme != "postgresql") {
		return "", errors.New("the server address must be a postgres:// URL")
	}
	q := parsed.Query()
	q.Del("dbname")
	q.Del("database")
	parsed.RawQuery = q.Encode()
	parsed.Path = "/" + name
	parsed.RawPath = ""
	return parsed.String(), nil
}
