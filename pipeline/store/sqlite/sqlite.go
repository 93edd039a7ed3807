package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/encoderlab/encoderlab/pipeline/store"
	"github.com/encoderlab/encoderlab/pipeline/store/internal/record"
)

// busyTimeout is how long a connection waits for a lock held by another
// process on the same file before it gives up with SQLITE_BUSY. Within one
// process writers never contend: they share one connection.
const busyTimeout = 10 * time.Second

// ErrNotDatabase is returned by Open when the file exists but is not a
// SQLite database.
var ErrNotDatabase = errors.New("file is not a SQLite database")

// SchemaVersionError is returned by Open when the database was written by a
// newer version of this package: its schema version is higher than any
// this code knows, and reading it could silently lose data.
type SchemaVersionError struct {
	Path      string
	Found     int // the file's PRAGMA user_version
	Supported int // the newest version this code can migrate to
}

func (e *SchemaVersionError) Error() string {
	return fmt.Sprintf("database %s has schema version %d, newer than the %d this program supports; use a newer encoderlab or another file",
		e.Path, e.Found, e.Supported)
}

// Store is a store.Store backed by one SQLite database file. Its methods
// are safe for concurrent use.
type Store struct {
	path string
	// w has exactly one connection: all writes are serialised on it.
	w *sql.DB
	// r has read-only connections for Get*, List* and PendingAttempts.
	r *sql.DB

	// commits runs every write (group commit).
	commits *committer
	// wq and rq are the prepared statements of the writer and the readers.
	wq, rq *stmts

	closeOnce sync.Once
	closeErr  error
}

var _ store.Store = (*Store)(nil)

// Open opens the database file at path, creating it if it does not exist,
// and migrates its schema to the current version. It returns an error
// matching ErrNotDatabase for a file that is not SQLite, and a
// *SchemaVersionError for one written by a newer encoderlab. An in-memory
// database (":memory:") is refused: it cannot run in WAL mode.
func Open(path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlite: open: empty path")
	}
	s := &Store{path: path}
	var err error
	s.w, err = sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxLifetime(0)
	s.w.SetConnMaxIdleTime(0)

	if err := s.init(); err != nil {
		s.w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, classify(err))
	}

	s.r, err = sql.Open("sqlite", dsn(path, true))
	if err != nil {
		s.w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	s.r.SetMaxOpenConns(max(4, runtime.GOMAXPROCS(0)))
	s.r.SetMaxIdleConns(max(4, runtime.GOMAXPROCS(0)))
	if err := s.r.Ping(); err != nil {
		s.r.Close()
		s.w.Close()
		return nil, fmt.Errorf("sqlite: open %s: read connection: %w", path, classify(err))
	}
	s.wq, s.rq = newStmts(s.w), newStmts(s.r)
	if err := s.wq.prepare(context.Background(), insertAttemptSQL, finishAttemptSQL, putCredentialSQL); err != nil {
		s.r.Close()
		s.w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	s.commits = newCommitter(s.w)
	return s, nil
}

// dsn builds the connection string. The pragmas travel as _pragma
// parameters so that every connection the pool opens gets them, not just
// the first. The path becomes a file: URI so that characters such as '?'
// or '#' in it are escaped rather than read as URI syntax.
func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(ON)")
	// FULL, not NORMAL: in WAL mode NORMAL can lose the last commits on
	// power loss, and an acknowledged encode must not be forgotten.
	q.Add("_pragma", "synchronous(FULL)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Add("_pragma", "journal_mode(WAL)")
		// Take the write lock at BEGIN: a deferred transaction that reads
		// and then writes can fail with SQLITE_BUSY_SNAPSHOT when another
		// process wrote in between, and busy_timeout cannot help then.
		q.Set("_txlock", "immediate")
	}
	u := url.URL{Scheme: "file", Path: path, RawQuery: q.Encode()}
	if !strings.HasPrefix(path, "/") {
		// A relative path has no authority: file:rel/path, not file://rel/path.
		u = url.URL{Scheme: "file", Opaque: (&url.URL{Path: path}).EscapedPath(), RawQuery: q.Encode()}
	}
	return u.String()
}

// init checks the journal mode and migrates the schema on the writer.
func (s *Store) init() error {
	ctx := context.Background()
	var mode string
	if err := s.w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("read journal_mode: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		// WAL is what lets readers run beside the writer; without it, and
		// on file systems that cannot share memory, the guarantees in the
		// package comment do not hold.
		return fmt.Errorf("journal_mode is %q after asking for WAL; the file system may not support it", mode)
	}
	return migrate(ctx, s.w, s.path)
}

// classify maps driver errors Open callers can act on to this package's
// errors, keeping the driver's error in the chain.
func classify(err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_NOTADB {
		return fmt.Errorf("%w: %w", ErrNotDatabase, err)
	}
	return err
}

// Close closes the database. Every acknowledged write is already durable
// (synchronous=FULL); closing the last connection also checkpoints the WAL
// into the main file. Calling Close again returns the first call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.commits.close()
		serr := errors.Join(s.wq.close(), s.rq.close())
		// Readers first, so the writer's connection is the last one and
		// SQLite checkpoints and removes the WAL file when it closes.
		rerr := s.r.Close()
		werr := s.w.Close()
		if err := errors.Join(serr, rerr, werr); err != nil {
			s.closeErr = fmt.Errorf("sqlite: close %s: %w", s.path, err)
		}
	})
	return s.closeErr
}

// writeTx runs fn in a write transaction and returns once it committed,
// or fn's error (fn's part rolled back). Writes from concurrent callers
// share transactions (commit.go).
func (s *Store) writeTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return s.commits.do(ctx, fn)
}

// timeLayout is fixed width, so comparing the text compares the times.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

// formatTime writes t in UTC in timeLayout. Years outside 0000–9999 would
// break the fixed width, and with it the ordering, so they are refused
// (record.CheckTime).
func formatTime(t time.Time) (string, error) {
	t, err := record.CheckTime(t)
	if err != nil {
		return "", err
	}
	return t.Format(timeLayout), nil
}

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("stored time %q: %w", s, err)
	}
	return t.UTC(), nil
}
