// Package scenarios is the bundled scenario library: one YAML file per
// situation at an encoder, each naming the outcome the pipeline must reach
// (docs/scenarios.md describes the format, scenario.schema.json is its
// JSON Schema). The files are embedded, so the simulator and the
// conformance suite carry them in their binaries.
//
// A scenario's name is its file name without ".yaml". Encoder ids and ACS
// system keys refer to the bundled lab (fixtures/lab.yaml); every expected
// outcome follows the Outcomes table of docs/protocols/pms.md, and each
// file says in a comment why its outcome is the right one.
package scenarios
