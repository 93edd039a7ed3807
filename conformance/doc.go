// Package conformance checks an encode pipeline against the documented
// behaviour of Seam's encode_credential: for every scenario it starts a
// virtual encoder on a pseudo-terminal, points the system under test at
// it, creates a card credential, encodes it, follows the action attempt
// to its terminal status and checks the outcome and every documented
// field of the attempt and of the result credential.
//
// It is a Ginkgo suite shipped as a library, in the manner of
// kubernetes-csi's sanity package:
//
//   - Test(t, cfg) runs the whole suite from a go test;
//   - Register(&cfg) only declares the specs, for embedding in another suite;
//   - NewConfig() gives the documented defaults (every bundled scenario,
//     the in-process pipeline, compressed time).
//
// The field checks are plain functions (CheckActionAttempt,
// CheckCredential) over raw JSON, so they can be used without Ginkgo and
// are themselves tested against hand-written documents from the seeds.
// Their JSON Schema, in schema/, is written from the seeds, never
// generated from the implementation.
package conformance
