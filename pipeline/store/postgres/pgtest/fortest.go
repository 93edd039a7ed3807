package pgtest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/internal/require"
)

// EnvURL names the environment variable that points ForTest at a server
// of your own: a postgres:// URL of a role that may create databases.
const EnvURL = "ENCODERLAB_POSTGRES_URL"

// databaseTimeout bounds creating or dropping one test database.
const databaseTimeout = time.Minute

// shared is the server ForTest starts once per test binary.
var shared struct {
	once sync.Once
	dir  string
	srv  *Server
	err  error
}

// seq numbers the databases ForTest creates, so names never repeat.
var seq atomic.Int64

// ForTest returns the URL of a fresh, empty database for t, on:
//
//   - the server at $ENCODERLAB_POSTGRES_URL when that is set; the
//     database is dropped when t ends;
//   - otherwise a server of this test binary's own, started by the first
//     call in a temporary directory (see Start) and stopped by Shutdown,
//     which the package's TestMain must call (WithShutdown does);
//   - otherwise t is skipped, with the reason and what to install.
//
// A server named by ENCODERLAB_POSTGRES_URL that cannot be reached fails
// t rather than skipping it: it was asked for.
func ForTest(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), databaseTimeout)
	defer cancel()
	name := databaseName(t.Name())

	if admin := os.Getenv(EnvURL); admin != "" {
		u, err := createDatabase(ctx, admin, name)
		if err != nil {
			t.Fatalf("pgtest: on the server at $%s: %v", EnvURL, err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), databaseTimeout)
			defer cancel()
			if err := dropDatabase(ctx, admin, name); err != nil {
				t.Errorf("pgtest: on the server at $%s: %v", EnvURL, err)
			}
		})
		return u
	}

	srv, err := sharedServer()
	if err != nil {
		require.Missing(t, "PostgreSQL tests need a server: %v\n"+
			"\tinstall Debian's postgresql package (make postgres), or set %s to a server where the tests may create databases",
			err, EnvURL)
	}
	u, err := srv.NewDatabase(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func sharedServer() (*Server, error) {
	shared.once.Do(func() {
		// Not t.TempDir: the server outlives any one test, and as root
		// the postgres user must be able to reach the directory.
		base, err := os.MkdirTemp("", "encoderlab-pg-")
		if err == nil {
			err = os.Chmod(base, 0o755)
		}
		if err != nil {
			shared.err = fmt.Errorf("pgtest: %w", err)
			return
		}
		shared.dir = base
		shared.srv, shared.err = Start(base + "/pg")
		if shared.err != nil {
			_ = os.RemoveAll(base)
		}
	})
	return shared.srv, shared.err
}

// Shutdown stops the server ForTest started, if it did, and removes its
// directory. Call it once every test has run: from TestMain, or through
// WithShutdown. A test binary that is killed instead leaves the directory
// behind; on Linux the server still gets a fast shutdown when the binary
// dies, and elsewhere it stops within about a minute of noticing that its
// data directory is gone.
func Shutdown() error {
	var err error
	shared.once.Do(func() {}) // no server is started after Shutdown
	if shared.srv != nil {
		err = shared.srv.Stop()
	}
	if shared.dir != "" {
		if rerr := os.RemoveAll(shared.dir); rerr != nil && err == nil {
			err = fmt.Errorf("pgtest: %w", rerr)
		}
	}
	return err
}

// M is what a TestMain runs: *testing.M, or a wrapper of it such as
// WithShutdown's.
type M interface{ Run() int }

// WithShutdown returns m with Shutdown after its tests, failing the run
// if the server did not stop cleanly; a package's TestMain runs it,
// alone or under goleak, which then sees the server's goroutine gone:
//
//	func TestMain(m *testing.M) { goleak.VerifyTestMain(pgtest.WithShutdown(m)) }
func WithShutdown(m M) M { return shutdownAfter{m} }

type shutdownAfter struct{ m M }

func (s shutdownAfter) Run() int {
	code := s.m.Run()
	if err := Shutdown(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// databaseName makes a database name from a test's name: unique within
// the process and among processes (the pid), readable, at most 63 bytes.
func databaseName(testName string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(testName) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	name := fmt.Sprintf("encoderlab_%d_%d_%s", os.Getpid(), seq.Add(1), b.String())
	return name[:min(len(name), 63)]
}
