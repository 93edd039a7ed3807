package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/encoderlab/encoderlab/pipeline/seam"
	"github.com/encoderlab/encoderlab/pipeline/store"
	"github.com/encoderlab/encoderlab/pipeline/store/postgres/pgtest"
	"github.com/encoderlab/encoderlab/pipeline/store/storetest"
)

// open opens a store on url and closes it when t ends.
func open(t testing.TB, url string) *Store {
	t.Helper()
	s, err := Open(t.Context(), url)
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
	})
	return s
}

// openTemp opens a store on a fresh database.
func openTemp(t testing.TB) (*Store, string) {
	t.Helper()
	url := pgtest.ForTest(t)
	return open(t, url), url
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(t.Context(), pgtest.ForTest(t))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}

// TestDurable gives each of RunDurable's directories a database of its
// own: a store "kept in dir" is the database created for it.
func TestDurable(t *testing.T) {
	var mu sync.Mutex
	databases := map[string]string{}
	storetest.RunDurable(t, func(t *testing.T, dir string) store.Store {
		mu.Lock()
		url, ok := databases[dir]
		if !ok {
			url = pgtest.ForTest(t)
			databases[dir] = url
		}
		mu.Unlock()
		s, err := Open(t.Context(), url)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}

// rawConn connects to url with pgx alone, bypassing Open, to look at or
// prepare a database the way another program would.
func rawConn(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func schemaVersion(t *testing.T, conn *pgx.Conn) []int {
	t.Helper()
	rows, err := conn.Query(t.Context(), `SELECT version FROM encoderlab_schema`)
	if err != nil {
		t.Fatalf("read encoderlab_schema: %v", err)
	}
	v, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatalf("read encoderlab_schema: %v", err)
	}
	return v
}

func TestSchemaVersion(t *testing.T) {
	if len(migrations) != SchemaVersion {
		t.Fatalf("%d migrations, SchemaVersion %d: they must match", len(migrations), SchemaVersion)
	}
	s, url := openTemp(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	conn := rawConn(t, url)
	if got := schemaVersion(t, conn); len(got) != 1 || got[0] != SchemaVersion {
		t.Errorf("encoderlab_schema after Open = %v, want [%d]", got, SchemaVersion)
	}
	for _, table := range []string{"credentials", "attempts", "leases"} {
		var exists bool
		if err := conn.QueryRow(t.Context(), `SELECT to_regclass($1) IS NOT NULL`, table).Scan(&exists); err != nil || !exists {
			t.Errorf("table %s: exists %v, err %v; want it created", table, exists, err)
		}
	}
	// Opening again must not run the migrations a second time.
	s2 := open(t, url)
	s2.Close()
	if got := schemaVersion(t, conn); len(got) != 1 || got[0] != SchemaVersion {
		t.Errorf("encoderlab_schema after a second Open = %v, want [%d]", got, SchemaVersion)
	}
}

// TestOpenConcurrently opens one new database from several stores at
// once, as several encoderd processes starting together would: each must
// succeed, and the schema must be created once.
func TestOpenConcurrently(t *testing.T) {
	url := pgtest.ForTest(t)
	const openers = 6
	errs := make([]error, openers)
	stores := make([]*Store, openers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range openers {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = Open(t.Context(), url)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open by opener %d of %d at once = %v, want nil", i, openers, err)
			continue
		}
		stores[i].Close()
	}
	if got := schemaVersion(t, rawConn(t, url)); len(got) != 1 || got[0] != SchemaVersion {
		t.Errorf("encoderlab_schema after %d concurrent Opens = %v, want [%d]", openers, got, SchemaVersion)
	}
}

func TestOpenNewerSchema(t *testing.T) {
	url := pgtest.ForTest(t)
	conn := rawConn(t, url)
	newer := SchemaVersion + 3
	if _, err := conn.Exec(t.Context(), fmt.Sprintf(
		`CREATE TABLE encoderlab_schema (version integer NOT NULL); INSERT INTO encoderlab_schema VALUES (%d)`, newer)); err != nil {
		t.Fatal(err)
	}
	s, err := Open(t.Context(), url)
	if err == nil {
		s.Close()
		t.Fatalf("Open of schema version %d = nil error, want *SchemaVersionError", newer)
	}
	ve, ok := errors.AsType[*SchemaVersionError](err)
	if !ok {
		t.Fatalf("Open of schema version %d = %v, want *SchemaVersionError", newer, err)
	}
	if ve.Found != newer || ve.Supported != SchemaVersion || !strings.Contains(ve.Database, "/encoderlab_") {
		t.Errorf("SchemaVersionError = %+v, want the database, Found %d Supported %d", *ve, newer, SchemaVersion)
	}
	if got := schemaVersion(t, conn); len(got) != 1 || got[0] != newer {
		t.Errorf("encoderlab_schema after refused Open = %v, want [%d] unchanged", got, newer)
	}
	var exists bool
	if err := conn.QueryRow(t.Context(), `SELECT to_regclass('attempts') IS NOT NULL`).Scan(&exists); err != nil || exists {
		t.Errorf("table attempts after refused Open: exists %v, err %v; want none created", exists, err)
	}
}

// TestOpenUnreachable: a server that is not there is a *ConnectError
// naming host:port/database, and no error repeats the password.
func TestOpenUnreachable(t *testing.T) {
	const password = "s3cret-pw"
	for _, c := range []struct {
		url, addr string
	}{
		// Port 1 on loopback: nothing listens there, refused at once.
		{"postgres://encoderlab:" + password + "@127.0.0.1:1/shop?connect_timeout=10", "127.0.0.1:1/shop"},
		{"host=/nonexistent-dir port=5432 dbname=shop user=encoderlab password=" + password, "/nonexistent-dir:5432/shop"},
	} {
		s, err := Open(t.Context(), c.url)
		if err == nil {
			s.Close()
			t.Errorf("Open(%s) = nil error, want *ConnectError", c.addr)
			continue
		}
		ce, ok := errors.AsType[*ConnectError](err)
		if !ok || ce.Addr != c.addr {
			t.Errorf("Open(%s) = %v, want *ConnectError with Addr %q", c.addr, err, c.addr)
		}
		if want := "cannot connect to PostgreSQL at " + c.addr + ": "; !strings.Contains(err.Error(), want) {
			t.Errorf("Open(%s) error %q, want it to contain %q", c.addr, err, want)
		}
		if strings.Contains(err.Error(), password) {
			t.Errorf("Open(%s) error %q shows the password", c.addr, err)
		}
	}

	bad := "postgres://encoderlab:" + password + "@db.example:notaport/shop"
	s, err := Open(t.Context(), bad)
	if err == nil {
		s.Close()
		t.Fatalf("Open of a URL with a bad port = nil error, want an error")
	}
	if strings.Contains(err.Error(), password) {
		t.Errorf("Open of a URL with a bad port: error %q shows the password", err)
	}
}

func TestCloseTwice(t *testing.T) {
	s, err := Open(t.Context(), pgtest.ForTest(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close() = %v, want nil", err)
	}
	_, err = s.PendingAttempts(t.Context())
	if want := "postgres: pending attempts: "; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("PendingAttempts() after Close = %v, want an error starting %q", err, want)
	}
}

func attempt(id string, created time.Time) *store.Attempt {
	return &store.Attempt{ID: id, WorkspaceID: "ws-a", EncoderID: "enc-1", CredentialID: "cred-1",
		Status: seam.StatusPending, CreatedAt: created, Deadline: created.Add(time.Minute)}
}

// TestNULRefused: PostgreSQL's text holds no NUL byte, so an id or a
// lease name with one is refused with the server's error, never stored
// cut short.
func TestNULRefused(t *testing.T) {
	s, _ := openTemp(t)
	ctx := t.Context()
	if err := s.CreateAttempt(ctx, attempt("att-\x00", time.Now())); err == nil {
		t.Errorf("CreateAttempt(%q) = nil error, want an error", "att-\x00")
	}
	if exp, err := s.AcquireLease(ctx, "enc-\x00", "server-a", time.Minute); err == nil || errors.Is(err, store.ErrLeaseHeld) {
		t.Errorf("AcquireLease(%q) = %v, %v; want an error other than ErrLeaseHeld", "enc-\x00", exp, err)
	}
	if pending, err := s.PendingAttempts(ctx); err != nil || len(pending) != 0 {
		t.Errorf("PendingAttempts() after the refused Create = %d attempts, %v; want none", len(pending), err)
	}
}

// TestTimesTruncated: the database keeps microseconds; the store drops
// the rest rather than letting it round, so a time never comes back later
// than it was.
func TestTimesTruncated(t *testing.T) {
	s, _ := openTemp(t)
	created := time.Date(2025, 3, 1, 12, 0, 0, 123456999, time.UTC)
	if err := s.CreateAttempt(t.Context(), attempt("att-1", created)); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetAttempt(t.Context(), "ws-a", "att-1")
	if err != nil {
		t.Fatal(err)
	}
	if want := created.Truncate(time.Microsecond); !got.CreatedAt.Equal(want) {
		t.Errorf("GetAttempt(att-1).CreatedAt = %s, want %s", got.CreatedAt.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano))
	}
}

// TestLeaseServerClock: a lease's expiry is the server's now() plus ttl.
func TestLeaseServerClock(t *testing.T) {
	s, url := openTemp(t)
	conn := rawConn(t, url)
	serverNow := func() time.Time {
		var now time.Time
		if err := conn.QueryRow(t.Context(), `SELECT clock_timestamp()`).Scan(&now); err != nil {
			t.Fatal(err)
		}
		return now
	}
	before := serverNow()
	expires, err := s.AcquireLease(t.Context(), "enc-1", "server-a", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	after := serverNow()
	if granted := expires.Add(-time.Hour); granted.Before(before) || granted.After(after) {
		t.Errorf("AcquireLease(enc-1, server-a, 1h) = %s: granted at %s, want between the server's clock before (%s) and after (%s)",
			expires.Format(time.RFC3339Nano), granted.Format(time.RFC3339Nano), before.Format(time.RFC3339Nano), after.Format(time.RFC3339Nano))
	}
	var stored time.Time
	if err := conn.QueryRow(t.Context(), `SELECT expires FROM leases WHERE name = 'enc-1'`).Scan(&stored); err != nil || !stored.Equal(expires) {
		t.Errorf("stored expiry = %s, %v; want the %s AcquireLease returned", stored, err, expires)
	}
}

// TestSeveralStores is several encoderd processes on one database: each
// has its own pool of connections. Every attempt is finished exactly
// once whichever store's finishers race for it, and exactly one holder
// gets each lease.
func TestSeveralStores(t *testing.T) {
	first, url := openTemp(t)
	stores := []*Store{first, open(t, url), open(t, url)}
	ctx := t.Context()
	const attempts, finishersEach = 8, 4
	base := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := range attempts {
		if err := stores[i%len(stores)].CreateAttempt(ctx, attempt(fmt.Sprintf("att-%02d", i), base.Add(time.Duration(i)*time.Second))); err != nil {
			t.Fatal(err)
		}
	}

	type outcome struct {
		attempt, store int
		err            error
	}
	outcomes := make(chan outcome, attempts*len(stores)*(finishersEach+1))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range attempts {
		for j, s := range stores {
			for range finishersEach {
				wg.Go(func() {
					<-start
					a := attempt(fmt.Sprintf("att-%02d", i), base)
					a.Status, a.FinishedAt = seam.StatusError, base
					a.ErrorMessage = fmt.Sprintf("finished through store %d", j)
					outcomes <- outcome{i, j, s.FinishAttempt(ctx, a, nil)}
				})
			}
		}
		for j, s := range stores {
			wg.Go(func() {
				<-start
				_, err := s.AcquireLease(ctx, fmt.Sprintf("enc-%02d", i), fmt.Sprintf("server-%d", j), time.Hour)
				outcomes <- outcome{-1 - i, j, err}
			})
		}
	}
	close(start)
	wg.Wait()
	close(outcomes)

	wins := map[int][]int{}
	for o := range outcomes {
		switch {
		case o.err == nil:
			wins[o.attempt] = append(wins[o.attempt], o.store)
		case o.attempt >= 0 && !errors.Is(o.err, store.ErrNotPending):
			t.Errorf("FinishAttempt(att-%02d) through store %d = %v, want nil or ErrNotPending", o.attempt, o.store, o.err)
		case o.attempt < 0 && !errors.Is(o.err, store.ErrLeaseHeld):
			t.Errorf("AcquireLease(enc-%02d) through store %d = %v, want nil or ErrLeaseHeld", -1-o.attempt, o.store, o.err)
		}
	}
	for i := range attempts {
		if w := wins[i]; len(w) != 1 {
			t.Errorf("FinishAttempt(att-%02d) won by finishers through stores %v, want exactly one", i, w)
		} else {
			got, err := first.GetAttempt(ctx, "ws-a", fmt.Sprintf("att-%02d", i))
			if want := fmt.Sprintf("finished through store %d", w[0]); err != nil || got.ErrorMessage != want {
				t.Errorf("GetAttempt(att-%02d) = %+v, %v; want the winner's %q", i, got, err, want)
			}
		}
		if w := wins[-1-i]; len(w) != 1 {
			t.Errorf("AcquireLease(enc-%02d) won through stores %v, want exactly one", i, w)
		}
	}
	for j, s := range stores {
		if p, err := s.PendingAttempts(ctx); err != nil || len(p) != 0 {
			t.Errorf("PendingAttempts() through store %d = %d, %v; want none left", j, len(p), err)
		}
	}
}

func BenchmarkStore(b *testing.B) {
	storetest.Benchmark(b, func(b *testing.B) store.Store {
		s, err := Open(b.Context(), pgtest.ForTest(b))
		if err != nil {
			b.Fatalf("Open: %v", err)
		}
		return s
	})
}
