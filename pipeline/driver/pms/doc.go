// Package pms is the host side of the PMS framed encoder protocol, the
// serial protocol specified in docs/protocols/pms.md: a driver.Driver that
// encodes cards on PMS-style desk encoders.
//
// # Protocol in brief
//
// Messages are frames, STX · fields separated by FS (0xB3) · ETX · LRC,
// where the LRC is the XOR of every byte after STX up to and including
// ETX and a whole frame is at most 255 bytes. Field 0 is a two-letter
// command or answer code, field 1 the encoder address ("01" by default).
// The receiver of a frame answers ACK, or NAK when the frame is damaged;
// the sender re-sends on NAK or silence, at most Retries times.
//
// An exchange, as Encode and Read run it:
//
//  1. discard stale input left on the line;
//  2. ENQ, until the device ACKs it (is it there at all?);
//  3. the command frame (CN to encode, RC to read), until it is ACKed;
//  4. wait up to Timing.Answer for the answer frame, ACKing it (or NAKing
//     a damaged one, which the device re-sends);
//  5. on BY (busy), pause Timing.Busy and go back to 3, at most Retries
//     times.
//
// Every answer and link failure becomes a *driver.Error whose Kind is the
// one the document's Outcomes table gives: TO and NC are NoCard, CF and OS
// IncompatibleCard, and so on.
//
// # Cancelling
//
// When the caller's context ends while a command is outstanding, the
// driver sends CC and reads the one answer frame the device then owes
// (CC, or the real answer if it crossed the cancel on the line), so the
// line is idle for the next exchange. This handshake runs on its own
// bounded deadlines, after the context has ended; the error returned
// wraps the context's error.
//
// # Retransmissions
//
// An answer frame identical to the one just ACKed is a retransmission (the
// device missed the ACK): it is ACKed again and ignored, until the device
// ACKs the host's next command. After that an identical frame is a new
// answer, as when a command re-sent after BY is answered BY again.
package pms
