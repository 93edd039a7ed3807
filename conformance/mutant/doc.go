// Package mutant holds deliberately broken encode pipelines, to show that
// the conformance suite can fail.
//
// A Mutant is the real in-process pipeline (pipeline/server) behind a
// reverse proxy on loopback that breaks exactly one documented promise:
// it rewrites an answer (a wrong error type, a missing field, a datetime
// with an offset, an attempt that never ends) or a request (a bad token
// replaced by a good one, so authentication is never refused). Because
// the break is made on the wire, the product code stays as it is and
// every mutant is a conformance.Target like any other system under test.
//
// Control is the same proxy breaking nothing: the suite must pass against
// it, or a kill says nothing (a proxy that dropped a header would "kill"
// every mutant).
//
// The kill test (kill_test.go) runs the whole suite against Control and
// each mutant in All, in separate processes selected with
// ENCODERLAB_MUTANT, and fails unless the control passes and every
// mutant fails at least one requirement check. It prints the kill table,
// mutant → requirements that caught it, and writes it to
// $ENCODERLAB_KILL_TABLE when that is set (make mutants).
package mutant
