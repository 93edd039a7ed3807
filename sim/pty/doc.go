// Package pty makes the pseudo-terminal pairs virtual encoders live on.
//
// Concepts:
//
//   - A Pair is one pseudo-terminal. The simulator plays the device on its
//     master (Pair.Master); the pipeline opens its slave (Pair.TTY, such as
//     /dev/pts/7) exactly as it would open a real serial port.
//   - The master is non-blocking and on Go's runtime poller: reads and
//     writes take deadlines, Close wakes a pending read, and an idle
//     device pins no OS thread.
//   - The slave is in raw mode from the start, so bytes pass unchanged in
//     both directions and nothing is echoed, whatever a client does.
//   - The Pair holds a slave descriptor of its own for its whole life, so a
//     client closing its port does not hang up the line: the device keeps
//     running and the next client that opens TTY() reaches it. Bytes the
//     master wrote that no client read stay queued for the next client.
//   - A Pair can publish stable names for its slave (Pair.Link): symlinks,
//     replaced atomically, that a configuration can name instead of a
//     /dev/pts number that changes from run to run.
//
// Closing a Pair closes the master, which hangs up the line: a client's
// read returns end of file and its writes fail.
//
// A pty does not pace bytes at the baud rate and rejects modem-control
// ioctls; a device model that needs either emulates it. The package
// supports Linux.
package pty
