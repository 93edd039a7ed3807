package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/pipeline/seam"
	"github.com/encoderlab/encoderlab/pipeline/store"
	"github.com/encoderlab/encoderlab/pipeline/store/storetest"
)

func openTemp(t testing.TB) (*Store, string) {
	t.Helper()
	return openTempWith(t, Options{})
}

func openTempWith(t testing.TB, o Options) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "store.db")
	s, err := OpenWith(path, o)
	if err != nil {
		t.Fatalf("OpenWith(%q, %+v) = %v", path, o, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
	})
	return s, path
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(filepath.Join(t.TempDir(), "store.db"))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}

func TestDurable(t *testing.T) {
	storetest.RunDurable(t, func(t *testing.T, dir string) store.Store {
		s, err := Open(filepath.Join(dir, "store.db"))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}

// rawDB opens path with the driver alone, bypassing Open, to look at or
// prepare a file the way another program would.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatalf("sql.Open(%q) = %v", path, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func pragma(t *testing.T, db *sql.DB, name string) string {
	t.Helper()
	var v string
	if err := db.QueryRow("PRAGMA " + name).Scan(&v); err != nil {
		t.Fatalf("PRAGMA %s: %v", name, err)
	}
	return v
}

func TestPragmas(t *testing.T) {
	s, path := openTemp(t)
	for _, p := range []struct {
		db         *sql.DB
		pool, name string
		want       string
	}{
		{s.w, "writer", "journal_mode", "wal"},
		{s.w, "writer", "synchronous", "2"}, // FULL
		{s.w, "writer", "foreign_keys", "1"},
		{s.w, "writer", "busy_timeout", fmt.Sprint(busyTimeout.Milliseconds())},
		{s.r, "reader", "journal_mode", "wal"},
		{s.r, "reader", "foreign_keys", "1"},
		{s.r, "reader", "query_only", "1"},
		{s.r, "reader", "busy_timeout", fmt.Sprint(busyTimeout.Milliseconds())},
	} {
		if got := pragma(t, p.db, p.name); got != p.want {
			t.Errorf("%s PRAGMA %s = %q, want %q", p.pool, p.name, got, p.want)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}

	// WAL is recorded in the file itself: header bytes 18 and 19 (file
	// format write and read versions) are 2 in WAL mode, 1 otherwise.
	f, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(f) < 100 || f[18] != 2 || f[19] != 2 {
		t.Errorf("%s header bytes 18-19 = % x, want 02 02 (WAL)", path, f[18:20])
	}
}

func TestSchemaVersion(t *testing.T) {
	if len(migrations) != SchemaVersion {
		t.Fatalf("%d migrations, SchemaVersion %d: they must match", len(migrations), SchemaVersion)
	}
	s, path := openTemp(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db := rawDB(t, path)
	if got := pragma(t, db, "user_version"); got != fmt.Sprint(SchemaVersion) {
		t.Errorf("user_version after Open = %s, want %d", got, SchemaVersion)
	}
	for _, table := range []string{"credentials", "attempts", "leases"} {
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?`, table).Scan(&n); err != nil || n != 1 {
			t.Errorf("table %s: count %d, err %v; want it created", table, n, err)
		}
	}
	db.Close()

	// Opening again must not run the migrations a second time.
	s2, err := Open(path)
	if err != nil {
		t.Fatalf("second Open(%q) = %v", path, err)
	}
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestMigrateVersion1 opens a file written before leases existed: Open
// brings it forward, keeping its records, and leases then work.
func TestMigrateVersion1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v1.db")
	db := rawDB(t, path)
	if _, err := db.Exec(migrations[0] + "PRAGMA user_version = 1;"); err != nil {
		t.Fatalf("writing a version 1 file: %v", err)
	}
	if _, err := db.Exec(`INSERT INTO attempts (id, workspace_id, encoder_id, credential_id, status, created_at, deadline)
VALUES ('att-1', 'ws-a', 'enc-1', 'cred-1', 'pending', '2025-03-01T12:00:00.000000000Z', '2025-03-01T12:01:00.000000000Z')`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s, err := Open(path)
	if err != nil {
		t.Fatalf("Open(%q) of a version 1 file = %v", path, err)
	}
	defer s.Close()
	if got := pragma(t, s.w, "user_version"); got != fmt.Sprint(SchemaVersion) {
		t.Errorf("user_version after Open of a version 1 file = %s, want %d", got, SchemaVersion)
	}
	ctx := context.Background()
	if p, err := s.PendingAttempts(ctx); err != nil || len(p) != 1 || p[0].ID != "att-1" {
		t.Errorf("PendingAttempts() after migrating = %v, %v; want [att-1] kept", p, err)
	}
	if _, err := s.AcquireLease(ctx, "enc-1", "server-a", time.Minute); err != nil {
		t.Errorf("AcquireLease after migrating = %v, want nil", err)
	}
}

// TestLeaseTwoStoresOneFile races holders on two Stores on one file, both
// opened shared, as two processes would: exactly one gets the lease.
func TestLeaseTwoStoresOneFile(t *testing.T) {
	s1, path := openTempWith(t, Options{Shared: true})
	s2, err := OpenWith(path, Options{Shared: true})
	if err != nil {
		t.Fatalf("second Open(%q) = %v", path, err)
	}
	defer s2.Close()
	ctx := context.Background()
	const each = 8
	errs := make([]error, 2*each)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range errs {
		s := s1
		if i%2 == 1 {
			s = s2
		}
		wg.Go(func() {
			<-start
			_, errs[i] = s.AcquireLease(ctx, "enc-1", fmt.Sprintf("server-%02d", i), time.Hour)
		})
	}
	close(start)
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrLeaseHeld):
			t.Errorf("AcquireLease by server-%02d = %v, want nil or ErrLeaseHeld", i, err)
		}
	}
	if won != 1 {
		t.Errorf("%d of %d AcquireLease calls on two Stores won, want exactly 1", won, len(errs))
	}
}

func TestOpenNotDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notes.txt")
	text := strings.Repeat("this is a text file, not a database\n", 20)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path)
	if err == nil {
		s.Close()
		t.Fatalf("Open(%q) of a text file = nil error, want ErrNotDatabase", path)
	}
	if !errors.Is(err, ErrNotDatabase) {
		t.Errorf("Open(%q) of a text file = %v, want ErrNotDatabase", path, err)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("Open error %q does not name the file %q", err, path)
	}
	got, rerr := os.ReadFile(path)
	if rerr != nil || string(got) != text {
		t.Errorf("Open changed the file it refused (read error %v)", rerr)
	}
	if _, err := os.Stat(path + ".encoderlab"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused Open left a sidecar next to the file it refused: %v", err)
	}
}

func TestOpenNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "future.db")
	db := rawDB(t, path)
	newer := SchemaVersion + 3
	if _, err := db.Exec(fmt.Sprintf("CREATE TABLE future (x); PRAGMA user_version = %d", newer)); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s, err := Open(path)
	if err == nil {
		s.Close()
		t.Fatalf("Open(%q) of schema version %d = nil error, want *SchemaVersionError", path, newer)
	}
	var ve *SchemaVersionError
	if !errors.As(err, &ve) {
		t.Fatalf("Open(%q) of schema version %d = %v, want *SchemaVersionError", path, newer, err)
	}
	if ve.Found != newer || ve.Supported != SchemaVersion || ve.Path != path {
		t.Errorf("SchemaVersionError = %+v, want Path %q Found %d Supported %d", *ve, path, newer, SchemaVersion)
	}
	if got := pragma(t, rawDB(t, path), "user_version"); got != fmt.Sprint(newer) {
		t.Errorf("user_version after refused Open = %s, want %d unchanged", got, newer)
	}
}

func TestOpenBadPath(t *testing.T) {
	t.Chdir(t.TempDir()) // should ":memory:" be taken for a file name
	for _, path := range []string{"", ":memory:", filepath.Join(t.TempDir(), "missing-dir", "store.db")} {
		s, err := Open(path)
		if err == nil {
			s.Close()
			t.Errorf("Open(%q) = nil error, want an error", path)
		}
	}
}

// TestOpenPathSyntax opens paths that mean something in a URI; the file
// must be created under exactly that name.
func TestOpenPathSyntax(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a?b.db", "c#d.db", "e f%20g.db", "mode=ro&x.db"} {
		path := filepath.Join(dir, name)
		s, err := Open(path)
		if err != nil {
			t.Errorf("Open(%q) = %v", path, err)
			continue
		}
		if err := s.CreateAttempt(context.Background(), attempt("att-1", time.Now())); err != nil {
			t.Errorf("CreateAttempt in %q = %v", path, err)
		}
		s.Close()
		if _, err := os.Stat(path); err != nil {
			t.Errorf("after Open(%q): %v", path, err)
		}
	}

	t.Chdir(dir)
	s, err := Open("relative.db")
	if err != nil {
		t.Fatalf("Open(%q) = %v", "relative.db", err)
	}
	s.Close()
	if _, err := os.Stat(filepath.Join(dir, "relative.db")); err != nil {
		t.Errorf("after Open(%q): %v", "relative.db", err)
	}
}

func TestCloseTwice(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close() = %v, want nil", err)
	}
	_, err = s.PendingAttempts(context.Background())
	if want := "sqlite: pending attempts: "; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("PendingAttempts() after Close = %v, want an error starting %q", err, want)
	}
}

func attempt(id string, created time.Time) *store.Attempt {
	return &store.Attempt{ID: id, WorkspaceID: "ws-a", EncoderID: "enc-1", CredentialID: "cred-1",
		Status: seam.StatusPending, CreatedAt: created, Deadline: created.Add(time.Minute)}
}

// TestTwoStoresOneFile writes from two Stores on the same file at once,
// both opened shared, as two processes would: their writes wait for each other (BEGIN IMMEDIATE
// and busy_timeout) rather than fail with SQLITE_BUSY.
func TestTwoStoresOneFile(t *testing.T) {
	s1, path := openTempWith(t, Options{Shared: true})
	s2, err := OpenWith(path, Options{Shared: true})
	if err != nil {
		t.Fatalf("second Open(%q) = %v", path, err)
	}
	defer s2.Close()

	const each = 25
	ctx := context.Background()
	start := make(chan struct{})
	errs := make(chan error, 2*each)
	var wg sync.WaitGroup
	base := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := range 2 * each {
		s := s1
		if i%2 == 1 {
			s = s2
		}
		wg.Go(func() {
			<-start
			a := attempt(fmt.Sprintf("att-%02d", i), base.Add(time.Duration(i)*time.Second))
			if err := s.CreateAttempt(ctx, a); err != nil {
				errs <- err
				return
			}
			a.Status, a.FinishedAt = seam.StatusError, base
			errs <- s.FinishAttempt(ctx, a, nil)
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	for _, s := range []*Store{s1, s2} {
		if p, err := s.PendingAttempts(ctx); err != nil || len(p) != 0 {
			t.Errorf("PendingAttempts() = %d, %v; want none left", len(p), err)
		}
	}
}

// BenchmarkStore: every write is a durable transaction (synchronous=FULL).
func BenchmarkStore(b *testing.B) {
	storetest.Benchmark(b, func(b *testing.B) store.Store {
		s, err := Open(filepath.Join(b.TempDir(), "store.db"))
		if err != nil {
			b.Fatalf("Open: %v", err)
		}
		return s
	})
}
