package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/encoderlab/encoderlab/pipeline/store"
)

// ConnectError is returned by Open when the server cannot be reached or
// refuses the connection. Its message names the server as host:port/db
// and never the password.
type ConnectError struct {
	// Addr is where Open tried to connect: host:port/database (the host
	// of a unix socket is its directory).
	Addr string
	Err  error
}

func (e *ConnectError) Error() string {
	return fmt.Sprintf("cannot connect to PostgreSQL at %s: %v", e.Addr, e.Err)
}

func (e *ConnectError) Unwrap() error { return e.Err }

// SchemaVersionError is returned by Open when the database was written by
// a newer version of this package: its schema version is higher than any
// this code knows, and using it could silently lose data.
type SchemaVersionError struct {
	Database  string // host:port/database
	Found     int    // the database's schema version
	Supported int    // the newest version this code can migrate to
}

func (e *SchemaVersionError) Error() string {
	return fmt.Sprintf("database %s has schema version %d, newer than the %d this program supports; use a newer encoderlab or another database",
		e.Database, e.Found, e.Supported)
}

// Store is a store.Store backed by a PostgreSQL database. Its methods are
// safe for concurrent use, and any number of Stores, in any number of
// processes, may share one database.
type Store struct {
	addr string
	pool *pgxpool.Pool

	closeOnce sync.Once
}

var _ store.Store = (*Store)(nil)

// Open connects to the database at url, a postgres:// URL or a
// keyword/value connection string as libpq takes them (pgxpool's pool_*
// parameters size the pool), and migrates its schema to the current
// version. It waits for the server as long as ctx allows, unless url sets
// connect_timeout. It returns a *ConnectError when the server cannot be
// reached or refuses the connection, and a *SchemaVersionError for a
// database written by a newer encoderlab.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgconn's parse error shows the string with the password
		// masked, as far as it can tell where the password is; say less.
		return nil, errors.New("postgres: open: cannot parse the connection URL (check its form; the URL is not repeated here as it may hold a password)")
	}
	s := &Store{addr: address(cfg.ConnConfig)}
	s.pool, err = pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", &ConnectError{Addr: s.addr, Err: err})
	}
	if err := s.init(ctx); err != nil {
		s.pool.Close()
		return nil, fmt.Errorf("postgres: open %s: %w", s.addr, err)
	}
	return s, nil
}

// address renders where cfg connects as host:port/database.
func address(cfg *pgx.ConnConfig) string {
	return fmt.Sprintf("%s:%d/%s", cfg.Host, cfg.Port, cfg.Database)
}

// init connects once, which tells an unreachable server from the rest,
// and migrates the schema on that connection.
func (s *Store) init(ctx context.Context) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return &ConnectError{Addr: s.addr, Err: err}
	}
	defer conn.Release()
	return migrate(ctx, conn.Conn(), s.addr)
}

// Close closes the pool's connections, waiting for the calls in flight.
// Every acknowledged write is already durable on the server. Calling
// Close again does nothing; the methods then return errors.
func (s *Store) Close() error {
	s.closeOnce.Do(s.pool.Close)
	return nil
}

// writeTx runs fn in one transaction and commits it, or rolls it back
// when fn or the commit fails.
func (s *Store) writeTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		// The rollback's own failure (a broken connection, say) leaves
		// nothing committed either, and the pool discards the connection.
		if rerr := tx.Rollback(context.Background()); rerr != nil && !errors.Is(rerr, pgx.ErrTxClosed) {
			return errors.Join(err, fmt.Errorf("rollback: %w", rerr))
		}
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// truncMicro drops what is below a microsecond, which the database does not
// keep, so that what is stored is exactly what was given, truncated rather
// than rounded; the time must have passed record.CheckTime.
func truncMicro(t time.Time) time.Time { return t.Truncate(time.Microsecond) }
