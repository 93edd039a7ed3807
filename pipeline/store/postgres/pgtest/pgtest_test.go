package pgtest_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/encoderlab/encoderlab/pipeline/store/postgres/pgtest"

	"github.com/encoderlab/encoderlab/internal/require"
)

// serverDir returns a directory for Start that the postgres user can
// reach when the tests run as root: t.TempDir and its parent are 0700.
func serverDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "pg")
}

// start starts a server in a fresh directory, skipping t where PostgreSQL
// is not installed, and stops it when t ends.
func start(t *testing.T, dir string) *pgtest.Server {
	t.Helper()
	s, err := pgtest.Start(dir)
	if errors.Is(err, pgtest.ErrNotInstalled) {
		require.Missing(t, "%v; make postgres installs it", err)
	}
	if err != nil {
		t.Fatalf("Start(%q) = %v", dir, err)
	}
	t.Cleanup(func() { _ = s.Stop() })
	return s
}

func connect(t *testing.T, url string) (*pgx.Conn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return pgx.Connect(ctx, url)
}

// query runs a one-value query on a new connection to url.
func query(t *testing.T, url, sql string) string {
	t.Helper()
	conn, err := connect(t, url)
	if err != nil {
		t.Fatalf("connect to %s: %v", url, err)
	}
	defer conn.Close(context.Background())
	var v string
	if err := conn.QueryRow(context.Background(), sql).Scan(&v); err != nil {
		t.Fatalf("%s on %s: %v", sql, url, err)
	}
	return v
}

// TestStartStopRestart: a started server serves its own databases, Stop
// ends it, and Start on the same directory brings it back with them.
func TestStartStopRestart(t *testing.T) {
	dir := serverDir(t)
	s := start(t, dir)
	ctx := context.Background()
	u, err := s.NewDatabase(ctx, "shop")
	if err != nil {
		t.Fatalf("NewDatabase(shop) = %v", err)
	}
	if got := query(t, u, "SELECT current_database()"); got != "shop" {
		t.Errorf("current_database() on NewDatabase's URL = %q, want shop", got)
	}
	conn, err := connect(t, u)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('survives')"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	if _, err := s.NewDatabase(ctx, "shop"); err == nil {
		t.Errorf("NewDatabase(shop) a second time = nil error, want the server's refusal")
	}

	if err := s.Stop(); err != nil {
		t.Fatalf("Stop() = %v", err)
	}
	if err := s.Stop(); err != nil {
		t.Errorf("second Stop() = %v, want the first's nil", err)
	}
	if c, err := connect(t, u); err == nil {
		c.Close(ctx)
		t.Fatalf("connect after Stop = nil error, want the server gone")
	}

	again := start(t, dir)
	if got := query(t, u, "SELECT v FROM kept"); got != "survives" {
		t.Errorf("SELECT v FROM kept after a restart = %q, want survives", got)
	}
	if again.URL() != s.URL() {
		t.Errorf("URL() after a restart = %q, want %q as before", again.URL(), s.URL())
	}
}

// TestForTest: each call gets an empty database of its own.
func TestForTest(t *testing.T) {
	a := pgtest.ForTest(t)
	b := pgtest.ForTest(t)
	if a == b {
		t.Fatalf("ForTest twice = %q both times, want two databases", a)
	}
	da := query(t, a, "SELECT current_database()")
	db := query(t, b, "SELECT current_database()")
	if da == db {
		t.Errorf("ForTest's two URLs both reach database %q", da)
	}
	if n := query(t, a, "SELECT count(*)::text FROM pg_tables WHERE schemaname = 'public'"); n != "0" {
		t.Errorf("tables in a ForTest database = %s, want 0", n)
	}
	// The server runs with the durability settings a real one has.
	if got := query(t, a, "SHOW fsync"); got != "on" {
		t.Errorf("SHOW fsync = %q, want on", got)
	}
}

func TestStartSocketPathTooLong(t *testing.T) {
	dir := serverDir(t) + strings.Repeat("/long-directory-name", 6)
	s, err := pgtest.Start(dir)
	if err == nil {
		s.Stop()
		t.Fatalf("Start in a directory too long for a unix socket = nil error, want an error")
	}
	if !strings.Contains(err.Error(), "unix socket") {
		t.Errorf("Start in a directory too long for a unix socket = %v, want an error that says so", err)
	}
}

func TestStartUnreachableAsRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only root runs the server as another user")
	}
	// t.TempDir and its parent are 0700: the postgres user cannot pass them.
	dir := filepath.Join(t.TempDir(), "pg")
	s, err := pgtest.Start(dir)
	if err == nil {
		s.Stop()
		t.Fatalf("Start(%q) as root below a 0700 directory = nil error, want an error", dir)
	}
	if !strings.Contains(err.Error(), "cannot reach") {
		t.Errorf("Start(%q) as root below a 0700 directory = %v, want an error saying the postgres user cannot reach it", dir, err)
	}
}
