// Package serialport opens a terminal device (a USB serial adapter, a
// built-in UART, or the slave side of a pseudo-terminal) as a raw byte
// stream with deadlines, the form the encoder drivers expect.
//
// Concepts:
//
//   - A Port is one open tty in raw mode: every byte written arrives
//     unchanged, nothing is echoed, translated or held back for a line.
//     It satisfies driver.Port.
//   - A Mode holds the line settings; its zero value means 9600 baud,
//     8 data bits, no parity, one stop bit (8N1), no flow control.
//   - Reads and writes go through Go's runtime poller, so deadlines work,
//     Close wakes a pending Read, and an idle port pins no OS thread.
//
// Errors follow the conventions of net.Pipe, so protocol code tested over
// net.Pipe behaves the same on a tty:
//
//   - a read past its deadline fails with an error for which os.IsTimeout
//     is true (os.ErrDeadlineExceeded), never (0, nil);
//   - when the line hangs up (the device or the pty master went away),
//     Read returns io.EOF and Write an error wrapping io.ErrClosedPipe;
//   - after Close, Read and Write fail with errors wrapping os.ErrClosed.
//
// Open's errors are *OpenError values that say what to fix, such as
// "open /dev/ttyUSB0: permission denied: add the user to the dialout
// group". The package supports Linux.
package serialport
