// Package faultmatrix runs the fault matrix of docs/faults.md: every
// fault of the catalogue in every encode phase, for each device model,
// through the in-process pipeline. Its test reads the expected outcomes
// from the document's table, so the document is the specification and
// the code under test cannot define its own expectations.
package faultmatrix
