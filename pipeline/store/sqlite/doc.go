// Package sqlite is the pipeline's default store: store.Store on a single
// SQLite database file, through the pure-Go modernc.org/sqlite driver.
//
// Durability. The database runs in WAL mode with synchronous=FULL, so a
// write whose method has returned nil is on disk and survives a crash or a
// power loss; Open refuses to continue if the file cannot be put in WAL
// mode.
//
// Safety checks. A sidecar file next to the database, <db>.encoderlab,
// keeps the store's random id (also in the database's meta table), whether
// the last run closed cleanly, and the WAL as it was after the last
// acknowledged commit. Open compares the files with it and refuses, with
// ErrDamaged, a store whose database was emptied, removed or replaced, or
// whose WAL was lost after a crash or cut short; ErrCorrupt when SQLite's
// quick_check fails. Options.AcceptReset takes the store as it is. A store
// without a sidecar (made before them) is adopted. docs/store.md has the
// rules, and why a torn last WAL frame is not damage.
//
// One process. Open holds an flock on the sidecar, exclusive unless
// Options.Shared: a second process on the file is refused with ErrInUse
// unless every one of them opened it shared.
//
// A full disk. The WAL is checkpointed every 256 pages and cut back to
// 1 MiB, and checkpointed with TRUNCATE when a write hits a full disk, so
// that the data lives in the database and a disk that gets room back
// takes writes again. Writes that fail on a full disk or an I/O error
// return an error matching store.ErrUnavailable; reads go on.
// Store.LimitGrowth simulates a full disk for tests.
//
// Concurrency. Writes go through a pool of exactly one connection, so
// writers queue in Go instead of spinning on SQLITE_BUSY; each write is one
// transaction begun with BEGIN IMMEDIATE, which also keeps a second process
// on the same file from deadlocking with this one (it waits up to the busy
// timeout). Reads use a separate pool of read-only connections and, thanks
// to WAL, never wait for a writer.
//
// Schema. The schema version lives in PRAGMA user_version. Open applies the
// forward-only migrations the file has not seen yet, in one transaction,
// and refuses a file written by a newer version of this package with a
// *SchemaVersionError.
//
// Records. A credential is kept as its JSON body next to the columns it is
// listed by; an attempt is kept column by column, its Result as JSON.
// Times are stored as UTC text of fixed width with nanoseconds
// (2006-01-02T15:04:05.000000000Z), so text order is time order and
// CreatedAt ordering is exact.
//
// Leases. A lease is a row (name, holder, expiry) in the leases table.
// AcquireLease is one INSERT … ON CONFLICT DO UPDATE whose WHERE lets the
// row change hands only when it is the holder's own or has expired, run
// under the write lock, so it is atomic between processes sharing the
// file as well. Expiries are on this process's clock: processes sharing
// a file share a machine, and with it the clock.
package sqlite
