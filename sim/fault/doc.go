// Package fault runs the serial fault catalogue (docs/faults.md) between
// a virtual encoder's line and its device model.
//
// A fault is a value: a name from scenario.Faults with its parameters, a
// direction and a window, as a scenario's faults list gives them
// (scenario.FaultSpec). Stream faults (latency, jitter, silence, drop,
// corrupt, chunk, duplicate, baud) change the bytes travelling in their
// direction while their window is open; they compose in the order the
// scenario lists them, each acting on what the previous one produced.
// Event faults (hangup, reboot, card-removed, nak-storm) happen once, when
// their window opens, through a Target: the encoder they run on.
//
// A Chain holds a run's faults and their state (counters, seeded random
// sources), so a run is deterministic and spans the lines a Hangup opens.
// Wrap puts the chain on one line. Windows follow the timeline: Step
// reports the step being played (the encoder forwards scenario.Play's
// StepStarted), and "after" counts from the timeline's start. Lift ends
// every fault at once, for a runner that wants a clean line back.
//
// Every duration, a fault's own and the byte time of a baud rate, is
// multiplied by the run's time scale, like the device's timings.
package fault
