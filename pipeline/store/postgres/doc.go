// Package postgres is store.Store on a PostgreSQL database, through
// github.com/jackc/pgx/v5's connection pool, for running several encoderd
// instances on one store.
//
// # Connecting
//
// Open takes a URL or a keyword/value connection string, as libpq does:
//
//	postgres://encoderlab:secret@db.example:5432/encoderlab?sslmode=verify-full
//	postgres://encoderlab@/encoderlab?host=/run/postgresql     (unix socket)
//	host=db.example dbname=encoderlab user=encoderlab
//
// The role needs to create tables in the database's current schema (the
// first of search_path; options=-csearch_path=NAME picks another) the
// first time, and to read and write them after. PG* environment variables
// and ~/.pgpass fill in what the string leaves out; pool_max_conns and the
// other pool_* parameters size the pool (by default the larger of 4 and
// the number of CPUs). A server that cannot be reached is a *ConnectError
// whose message names host:port/database, never the password.
//
// # What is stored where
//
// Four tables, in the current schema:
//
//   - credentials: one row per credential, the whole record as its JSON
//     body (type json, which keeps the text as written) next to the
//     columns it is looked up and listed by (workspace, system, user,
//     created_at);
//   - attempts: one row per action attempt, column by column, its Result
//     as JSON;
//   - leases: one row per lease taken: name, holder, expiry;
//   - encoderlab_schema: the schema version, one row.
//
// Ids are text COLLATE "C", so that listing in id order compares bytes,
// as the SQLite store does, whatever the database's collation. Times are
// timestamptz, which keeps microseconds: the store truncates the
// nanoseconds of the times it is given, and returns times in UTC.
// Strings must be valid UTF-8 without NUL bytes; PostgreSQL's text refuses
// the rest, and the call returns its error.
//
// # Schema
//
// Open brings the schema to SchemaVersion with the forward-only
// migrations the database has not seen yet, in one transaction that holds
// a transaction-scoped advisory lock (pg_advisory_xact_lock), so that
// processes opening one new database at the same time migrate it once. It
// refuses a database written by a newer version of this package with a
// *SchemaVersionError.
//
// # Concurrency and durability
//
// Every method is one statement, or one transaction at the default READ
// COMMITTED isolation, and is safe from any number of goroutines and
// processes. FinishAttempt's conditional update (WHERE status =
// 'pending') takes the attempt's row lock, so of several finishers,
// wherever they run, one wins and the others find the attempt finished;
// the credential a success brings is written in the same transaction.
// AcquireLease is one INSERT … ON CONFLICT DO UPDATE whose WHERE lets a
// lease change hands only when it is the holder's own or has expired, on
// the database server's clock (now()), so instances with skewed clocks
// agree. A write is durable once the server has committed it, as the
// server's synchronous_commit setting defines (on by default).
//
// The package pgtest starts a throwaway server for tests.
package postgres
