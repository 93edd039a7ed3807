// Package pgtest runs real PostgreSQL servers for tests: a throwaway
// cluster in a directory, and a fresh database per test.
//
// ForTest is what most tests want: the URL of a new, empty database,
// on the server named by $ENCODERLAB_POSTGRES_URL if set, else on a server
// the test binary starts on first use and stops at the end, else the test
// is skipped with the reason and what to install (make postgres). The
// package's TestMain must stop that server:
//
//	func TestMain(m *testing.M) { goleak.VerifyTestMain(pgtest.WithShutdown(m)) }
//
// Start, Stop and Crash manage a server of one's own, for tests that
// restart or crash one.
//
// # The server
//
// Start runs initdb (superuser postgres, trust authentication, UTF8, C
// locale) and then the postgres program directly, as a child process. The
// server listens on a unix socket in its directory and on no TCP port, so
// servers of parallel test binaries never collide; URLs name the socket
// directory as host=. fsync and synchronous_commit keep their defaults:
// commits are durable, as in production.
//
// The programs are found on PATH, else in the newest
// /usr/lib/postgresql/*/bin (where Debian puts them). PostgreSQL refuses
// to run as root; a test binary running as root runs them as the
// "postgres" system user, which then owns the server's directory and must
// be able to reach it.
//
// # Leftovers
//
// No server outlives its test binary: Shutdown (or Stop) ends it with a
// fast shutdown, and on Linux the kernel sends it the same signal if the
// binary dies first (a parent-death signal), so a killed or timed-out
// test binary leaves at most a directory under $TMPDIR
// (encoderlab-pg-*), which is safe to delete. Where there is no
// parent-death signal, the server shuts itself down within about a
// minute of its directory being removed, or stays until stopped.
package pgtest
