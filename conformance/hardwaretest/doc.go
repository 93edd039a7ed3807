// Package hardwaretest runs the conformance suite's hardware path with a
// pseudo-terminal standing in for each real encoder: a virtual encoder
// plays the device, and a scripted operator performs every place and
// remove instruction on it, as a person at the desk would on real
// hardware. It holds tests only.
package hardwaretest
