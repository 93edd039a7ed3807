// Package tap is a transparent recorder for a serial line. It sits between
// a real encoder and the pipeline: it offers the pipeline a pty (published
// at a path, like a virtual encoder's), forwards every byte both ways
// unchanged and as soon as it is read, and writes each chunk to a trace
// with its direction, its time and, for a known protocol, the frames it
// completes.
//
// The tap adds no behaviour of its own: it never answers, delays on
// purpose, splits or merges what it forwards. When the pipeline closes
// its port and opens it again, the pty stays up and forwarding goes on.
// When the device side ends (the encoder is unplugged), the tap notes it
// in the trace and stops.
package tap
