package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sys/unix"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/encoderlab/encoderlab/pipeline/store"
	"github.com/encoderlab/encoderlab/pipeline/store/internal/record"
)

// busyTimeout is how long a connection waits for a lock held by another
// process on the same file before it gives up with SQLITE_BUSY. Within one
// process writers never contend: they share one connection.
const busyTimeout = 10 * time.Second

// WAL size bounds (see dsn and docs/store.md for the measurements).
const (
	walCheckpointPages = 256     // SQLite's default is 1000
	walSizeLimit       = 1 << 20 // bytes; SQLite's default is no limit
)

// ErrNotDatabase is returned by Open when the file exists but is not a
// SQLite database.
var ErrNotDatabase = errors.New("file is not a SQLite database")

// ErrInUse is returned by Open when another process has the store open
// and they cannot share it: one of them did not ask to (Options.Shared).
var ErrInUse = errors.New("store is in use by another process")

// ErrDamaged is returned by Open for a store that was initialised at that
// path and is no longer what it was: the database file is missing, empty
// or another store's, or the WAL that held its latest commits is missing
// or cut. Options.AcceptReset opens such a store as it is now.
var ErrDamaged = errors.New("store was emptied, replaced or cut short")

// ErrCorrupt is returned by Open when SQLite's own check (PRAGMA
// quick_check) finds the database damaged. AcceptReset does not override
// it: such a file cannot be trusted with new writes.
var ErrCorrupt = errors.New("database file is corrupt")

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

	// side is the sidecar: the store's identity, state and lock.
	side *sidecar
	// shared: other processes may use the file (Options.Shared).
	shared bool
	// accepted is what Open found wrong and AcceptReset accepted.
	accepted string
	// wal is the WAL file, kept open for markWAL; nil when shared.
	wal *os.File
	// shm is the start of the -shm file (the WAL index) mapped read-only,
	// where markWAL reads the WAL's salts and committed frames; nil when
	// it could not be mapped.
	shm []byte
	// reserve is room kept on the disk for outcomes (reserve.go); none
	// when shared.
	reserve *reserve

	closeOnce sync.Once
	closeErr  error
}

// Options configure OpenWith. The zero value is what Open uses.
type Options struct {
	// Shared lets other processes that also set it use the file at the
	// same time (encoderd --shared). Without it, Open refuses a file that
	// another process has open, and a process without it is refused by
	// those that share; both with an error matching ErrInUse.
	Shared bool
	// AcceptReset opens a store that Open would refuse with ErrDamaged as
	// it is now: an emptied or missing database starts over as a new,
	// empty store; another store's file is taken as this one; a lost or
	// cut WAL is given up, with the commits it held. Store.Accepted then
	// says what was accepted. Meant to be given once, on purpose, by an
	// operator who knows what was lost.
	AcceptReset bool
}

var _ store.Store = (*Store)(nil)

// Open opens the store at path with the zero Options: see OpenWith.
func Open(path string) (*Store, error) { return OpenWith(path, Options{}) }

// OpenWith opens the database file at path, creating it if it does not
// exist, and migrates its schema to the current version. It returns an
// error matching ErrNotDatabase for a file that is not SQLite, ErrCorrupt
// for one SQLite finds damaged, ErrDamaged for a store emptied, replaced
// or cut short since it was initialised (see the sidecar file,
// <path>.encoderlab, in docs/store.md), ErrInUse when another process
// has it open and they cannot share it, and a *SchemaVersionError for a
// file written by a newer encoderlab. An in-memory database (":memory:")
// is refused: it cannot run in WAL mode.
func OpenWith(path string, o Options) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlite: open: empty path")
	}
	s := &Store{path: path, shared: o.Shared}
	if err := s.open(o); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	return s, nil
}

func (s *Store) open(o Options) (err error) {
	path := s.path
	sc, err := openSidecar(path)
	if err != nil {
		return err
	}
	mode, err := sc.lock(o.Shared)
	if err != nil {
		sc.close()
		return err
	}
	defer func() {
		if err != nil {
			if s.r != nil {
				s.r.Close()
			}
			if s.w != nil {
				s.w.Close()
			}
			if s.wal != nil {
				s.wal.Close()
			}
			if s.shm != nil {
				_ = unix.Munmap(s.shm)
			}
			sc.discard()
		}
	}()
	if err := sc.read(); err != nil {
		return err
	}
	if mode == lockJoin {
		// Others have the file: the sidecar is theirs too, and an empty
		// one is being written by the first of them.
		sc.created = false
	}
	problem, err := checkFiles(path, sc, mode == lockJoin)
	if err != nil {
		return err
	}
	if err := s.accept(o, sc, problem); err != nil {
		return err
	}
	if mode == lockFirst {
		if err := sc.share(); err != nil {
			return err
		}
	}

	s.w, err = sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return err
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxLifetime(0)
	s.w.SetConnMaxIdleTime(0)
	id, err := s.init(o, sc)
	if err != nil {
		return classify(err)
	}

	s.r, err = sql.Open("sqlite", dsn(path, true))
	if err != nil {
		return err
	}
	s.r.SetMaxOpenConns(max(4, runtime.GOMAXPROCS(0)))
	s.r.SetMaxIdleConns(max(4, runtime.GOMAXPROCS(0)))
	if err := s.r.Ping(); err != nil {
		return fmt.Errorf("read connection: %w", classify(err))
	}
	s.wq, s.rq = newStmts(s.w), newStmts(s.r)
	if err := s.wq.prepare(context.Background(), insertAttemptSQL, finishAttemptSQL, putCredentialSQL, updateCredentialSQL, deleteCredentialSQL); err != nil {
		return err
	}

	rec := sc.rec
	if rec.id != id || rec.created.IsZero() {
		rec = sideRecord{id: id, created: time.Now()}
	}
	rec.state = stateOpen
	if err := sc.writeRecord(rec); err != nil {
		return err
	}
	s.side = sc
	var after func()
	if s.shared {
		// Other processes write the WAL too: no mark can bound it.
		if mode != lockJoin {
			if err := sc.writeMark(walMark{}, false); err != nil {
				return err
			}
		}
	} else {
		if err := sc.writeMark(walMark{}, false); err != nil {
			return err
		}
		sc.mapMarks()
		// SQLite made the WAL when it first read the file, and removes
		// it only when its last connection closes.
		if s.wal, err = os.OpenFile(walPath(path), os.O_RDONLY|unix.O_NOATIME, 0); err != nil {
			return fmt.Errorf("opening the WAL: %w", err)
		}
		s.shm = mapIndex(path)
		s.markWAL()
		after = s.markWAL
	}
	size := int64(ReserveSize)
	if s.shared {
		// Several processes would each need their own reserve, and one
		// that died would leave its file behind: a shared store (more
		// often PostgreSQL) keeps none.
		size = 0
	}
	s.reserve = newReserve(path, size)
	s.commits = newCommitter(s.w, after, room{spend: s.spendReserve, checkpoint: s.checkpointFull})
	return nil
}

// checkFiles looks at the files before SQLite opens them and describes
// what is wrong, if anything. live is set when other processes have the
// store open: its WAL is theirs and in use, so only the database file
// itself is looked at.
func checkFiles(path string, sc *sidecar, live bool) (string, error) {
	if sc.bad != "" {
		return fmt.Sprintf("its sidecar file %s is damaged (%s)", sc.path, sc.bad), nil
	}
	if sc.rec.id == "" {
		// A new store, or one made before sidecars: nothing to compare.
		return "", nil
	}
	was := fmt.Sprintf("%s says store %s was initialised here on %s", sc.path, sc.rec.id, sc.rec.created.UTC().Format(time.RFC3339))
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "the database file is missing, but " + was, nil
	case err != nil:
		return "", err
	case st.Size() == 0:
		return "the database file is empty (0 bytes), but " + was, nil
	}
	if live {
		return "", nil
	}
	return checkWAL(path, sc)
}

// accept returns nil when there is no problem, or when o accepts it; then
// the sidecar is forgotten, so that the store is taken as it is now.
func (s *Store) accept(o Options, sc *sidecar, problem string) error {
	if problem == "" {
		return nil
	}
	if !o.AcceptReset {
		return fmt.Errorf("%w: %s; every attempt and credential it held since may be lost. Restore %s (and its -wal file) from a backup, or open it with AcceptReset (encoderd --accept-store-reset) to go on with the store as it is now",
			ErrDamaged, problem, s.path)
	}
	s.accepted = appendProblem(s.accepted, problem)
	sc.rec.state = stateClosed
	sc.hasWAL = false
	return nil
}

func appendProblem(list, p string) string {
	if list == "" {
		return p
	}
	return list + "; " + p
}

// Accepted describes what Open found wrong and Options.AcceptReset
// accepted, or is empty. A server logs it.
func (s *Store) Accepted() string { return s.accepted }

// LimitGrowth lets the database grow by at most pages more pages (of
// 4 KiB), through SQLite's PRAGMA max_page_count; a negative pages lifts
// the limit. It simulates a full disk without one: a write that needs a
// new page fails, with an error matching store.ErrUnavailable, as on a
// full disk, while reads and writes that fit in the pages the database
// has go on. For tests of what runs above the store.
func (s *Store) LimitGrowth(pages int) error {
	ctx := context.Background()
	limit := int64(math.MaxUint32 - 1) // SQLite's largest
	if pages >= 0 {
		var n int64
		if err := s.w.QueryRowContext(ctx, "PRAGMA page_count").Scan(&n); err != nil {
			return fmt.Errorf("sqlite: limit growth: %w", err)
		}
		limit = n + int64(pages)
	}
	// PRAGMA takes no bound parameters; limit is an int we computed. The
	// writer pool's one connection keeps it.
	if _, err := s.w.ExecContext(ctx, fmt.Sprintf("PRAGMA max_page_count = %d", limit)); err != nil {
		return fmt.Errorf("sqlite: limit growth: %w", err)
	}
	return nil
}

// ID is the store's random id, kept in the database and its sidecar.
func (s *Store) ID() string { return s.side.rec.id }

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
		// Keep the WAL small: checkpoint it into the database every
		// walCheckpointPages pages, and cut the file back to walSizeLimit
		// when SQLite starts it over, so that on a small disk the data
		// lives in the database and not in copies in the WAL.
		q.Add("_pragma", fmt.Sprintf("wal_autocheckpoint(%d)", walCheckpointPages))
		q.Add("_pragma", fmt.Sprintf("journal_size_limit(%d)", walSizeLimit))
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

// init checks the journal mode and the file, checks that the database is
// the store the sidecar names, migrates the schema on the writer and
// returns the store's id.
func (s *Store) init(o Options, sc *sidecar) (string, error) {
	ctx := context.Background()
	var mode string
	if err := s.w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return "", fmt.Errorf("read journal_mode: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		// WAL is what lets readers run beside the writer; without it, and
		// on file systems that cannot share memory, the guarantees in the
		// package comment do not hold.
		return "", fmt.Errorf("journal_mode is %q after asking for WAL; the file system may not support it", mode)
	}
	if err := quickCheck(ctx, s.w); err != nil {
		return "", err
	}
	id, err := storeID(ctx, s.w)
	if err != nil {
		return "", err
	}
	if sc.rec.id != "" && id != sc.rec.id {
		problem := fmt.Sprintf("the database is store %s, not the store %s that %s says was initialised here: the file was replaced", id, sc.rec.id, sc.path)
		if id == "" {
			problem = fmt.Sprintf("the database has no store id, but %s says store %s was initialised here: the file was replaced by a new or foreign one", sc.path, sc.rec.id)
		}
		if err := s.accept(o, sc, problem); err != nil {
			return "", err
		}
	}
	if err := migrate(ctx, s.w, s.path); err != nil {
		return "", err
	}
	if id == "" {
		// A new store, or one made before store ids: give it one. Shared
		// processes starting together agree on the first one written.
		if _, err := s.w.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('store_id', ?) ON CONFLICT (key) DO NOTHING`, uuid.NewString()); err != nil {
			return "", fmt.Errorf("write store id: %w", err)
		}
		if id, err = storeID(ctx, s.w); err != nil || id == "" {
			return "", fmt.Errorf("read store id back: %q, %w", id, err)
		}
	}
	return id, nil
}

// quickCheck runs SQLite's PRAGMA quick_check (the integrity check
// without the index-content cross-checks) and returns ErrCorrupt with
// its first findings unless it says "ok".
func quickCheck(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, "PRAGMA quick_check(5)")
	if err != nil {
		return fmt.Errorf("quick_check: %w", err)
	}
	defer rows.Close()
	var found []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return fmt.Errorf("quick_check: %w", err)
		}
		found = append(found, line)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("quick_check: %w", err)
	}
	if len(found) == 1 && found[0] == "ok" {
		return nil
	}
	return fmt.Errorf("%w: SQLite's quick_check reports %q; restore it from a backup, or move it (with its -wal file) and its sidecar aside to start a new store", ErrCorrupt, found)
}

// storeID reads the store id from the meta table; "" when the file has no
// meta table (a new file, or one older than store ids) or no id.
func storeID(ctx context.Context, db *sql.DB) (string, error) {
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'meta'`).Scan(&n); err != nil {
		return "", fmt.Errorf("read store id: %w", err)
	}
	if n == 0 {
		return "", nil
	}
	var id string
	err := db.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'store_id'`).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read store id: %w", err)
	}
	return id, nil
}

// classify maps driver errors Open callers can act on to this package's
// errors, keeping the driver's error in the chain.
func classify(err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_NOTADB:
			return fmt.Errorf("%w: %w", ErrNotDatabase, err)
		case sqlite3.SQLITE_CORRUPT:
			return fmt.Errorf("%w: %w; restore it from a backup, or move it (with its -wal file) and its sidecar aside to start a new store", ErrCorrupt, err)
		}
	}
	return err
}

// unavailable marks errors that mean the store cannot write now (a full
// disk, an I/O error) with store.ErrUnavailable.
func unavailable(err error) error {
	if isUnavailable(err) {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return err
}

// isFull reports SQLITE_FULL: the disk (or max_page_count) is full.
func isFull(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_FULL
}

// checkpointFull runs after a batch failed on a full disk: a TRUNCATE
// checkpoint copies the WAL into the database and empties the WAL file,
// giving its space back, so that writes go on as soon as the database
// itself has room. It reports whether the checkpoint completed, in which
// case the batch is tried once more.
func (s *Store) checkpointFull() bool {
	// The failed transaction may still be open on the connection.
	_, _ = s.w.Exec("ROLLBACK")
	if !s.shared {
		// Before the WAL shrinks: a mark of the longer WAL would make the
		// next Open take the shorter one for a cut one.
		_ = s.side.writeMark(walMark{}, false)
		defer s.markWAL()
	}
	var busy, frames, copied int
	err := s.w.QueryRow("PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &frames, &copied)
	return err == nil && busy == 0
}

// spendReserve runs when a batch still fails on a full disk after the
// checkpoint: the reserve's room goes to what is being written now. It
// reports whether it freed anything, and done, to call once the batch was
// tried again: new work is refused until the reserve can be set aside
// again, and cannot take the room back before the retry (a race the
// explorer found: a new attempt retook the room between the spend and the
// retry, and the retried outcome found the disk full again).
func (s *Store) spendReserve() (freed bool, done func()) {
	_, _ = s.w.Exec("ROLLBACK")
	return s.reserve.spendFor()
}

func isUnavailable(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR:
		return true
	}
	return false
}

// Close closes the database. Every acknowledged write is already durable
// (synchronous=FULL); closing the last connection also checkpoints the WAL
// into the main file. Calling Close again returns the first call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.commits.close()
		serr := errors.Join(s.wq.close(), s.rq.close())
		// No write comes after this: the store is closed, whether or not
		// SQLite gets to checkpoint and remove the WAL below. Shared, only
		// the last process out says so.
		var cerr error
		if !s.shared || s.side.last() {
			rec := s.side.rec
			rec.state = stateClosed
			cerr = s.side.writeRecord(rec)
		}
		// Readers first, so the writer's connection is the last one and
		// SQLite checkpoints and removes the WAL file when it closes.
		rerr := s.r.Close()
		werr := s.w.Close()
		lerr := s.side.close()
		if s.wal != nil {
			s.wal.Close()
		}
		if s.shm != nil {
			_ = unix.Munmap(s.shm)
		}
		if err := errors.Join(serr, cerr, rerr, werr, lerr); err != nil {
			s.closeErr = fmt.Errorf("sqlite: close %s: %w", s.path, err)
		}
	})
	return s.closeErr
}

// writeTx runs fn in a write transaction and returns once it committed,
// or fn's error (fn's part rolled back). Writes from concurrent callers
// share transactions (commit.go).
func (s *Store) writeTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return unavailable(s.commits.do(ctx, fn, false))
}

// writeNew is writeTx for new work (a new attempt, a new credential),
// which takes none of the reserve's room (commit.go).
func (s *Store) writeNew(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return unavailable(s.commits.do(ctx, fn, true))
}

// markWAL keeps in the sidecar the WAL as it is after a commit (or a
// checkpoint), best effort: without a mark, Open cannot tell a WAL cut at
// a frame boundary. Only a store that is the file's one process marks.
func (s *Store) markWAL() {
	if s.shm != nil {
		if m, ok := indexMark(s.shm); ok {
			_ = s.side.writeMark(m, true)
			return
		}
	}
	w, err := statWAL(s.wal)
	if err != nil {
		return
	}
	m, ok := w.mark()
	_ = s.side.writeMark(m, ok)
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
