// Package storetest checks that an implementation of store.Store keeps the
// promises written in that package's doc comments.
//
// Run is the conformance check, a plain test function in the manner of
// testing/fstest.TestFS and x/net/nettest.TestConn: it runs one named
// subtest per promise, each on a fresh store from the caller's factory,
// and reports each broken promise as operation, got and want, e.g.
//
//	GetCredential("ws-a", "cred-1") after Put = {...}, want {...}
//
// The lease checks wait out leases of 200 ms by asking again every 10 ms,
// for up to a minute, and tell when a lease changed hands from the
// expiries the store returns, so they hold whatever the store's clock is
// (the database server's, for a store that has one).
//
// RunDurable adds the checks that need a store to be closed and opened
// again on the same directory: what was acknowledged survives, and
// attempts still pending are found again.
//
// Benchmark measures the write paths (create and finish an attempt,
// renew a lease) the same way on any store, so that figures compare.
//
// An implementation's own tests call them:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store {
//			s, err := sqlite.Open(filepath.Join(t.TempDir(), "store.db"))
//			if err != nil {
//				t.Fatal(err)
//			}
//			return s
//		})
//	}
package storetest
