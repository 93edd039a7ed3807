// Package stalltest tests the suite's re-runs after a machine stall
// (conformance.Config.StallReruns) by running the suite, in a process of
// its own, against a pipeline that is broken on its first start only,
// with the machine's stall measure replaced by one the test controls.
package stalltest
