// Package server wires the encode server together: it loads the lab,
// builds one driver per encoder, opens the SQLite store, starts the attempt
// service (one worker per encoder) and serves the Seam-compatible API over
// HTTP. cmd/encoderd is a thin flag layer over Start; tests start a Server
// on a free port the same way.
//
// Ports. An encoder's port in the lab may contain "{links}", which stands
// for the link directory where the simulator publishes its virtual
// encoders; Config.LinkDir says where that is.
//
// Time. Config.Scale compresses every protocol duration and the attempt
// deadline alike, so a run at scale 0.01 behaves like a real desk a
// hundred times faster.
package server
