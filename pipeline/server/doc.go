// Package server wires the encode server together: it loads the lab,
// builds one driver per encoder, opens the store (a SQLite file, or
// PostgreSQL for several servers on one database), starts the attempt
// service (one worker per encoder) and serves the Seam-compatible API over
// HTTP. cmd/encoderd is a thin flag layer over Start; tests start a Server
// on a free port the same way.
//
// Ports. An encoder's port in the lab may contain "{links}", which stands
// for the link directory where the simulator publishes its virtual
// encoders; Config.LinkDir says where that is, by default a directory of
// the user's own ($XDG_RUNTIME_DIR/encoderlab, or $TMPDIR/encoderlab-<uid>).
// Whoever controls a link receives the card data of every encode through
// it and chooses the card a credential is issued on, so before opening one
// the server checks that the directory and the link are the effective
// user's and writable by no one else, and that a link to a pty leads to
// the user's own pty; an encode through any other fails saying what to fix.
//
// Connections. Reading a request (header and body), writing its answer
// and waiting idle between requests are each bounded (Config.ReadTimeout,
// WriteTimeout, IdleTimeout), and so is the number of open connections
// (Config.MaxConns, derived from the file limit by default). At the cap a
// new connection closes the one that has waited longest without a
// request in progress, so clients that connect and send nothing cannot
// take the descriptors the store, the ports and real clients need.
//
// Time. Config.Scale compresses every protocol duration and the attempt
// deadline alike, so a run at scale 0.01 behaves like a real desk a
// hundred times faster; only link-level waits stop at
// timescale.LinkFloor.
package server
