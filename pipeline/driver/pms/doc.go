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
//  3. on a line the driver cannot vouch for, resynchronise (below);
//  4. the command frame (CN to encode, RC to read), until it is ACKed;
//  5. wait up to Timing.Answer for the answer frame, ACKing it (or NAKing
//     a damaged one, which the device re-sends);
//  6. on BY (busy), pause Timing.Busy and go back to 4, at most Retries
//     times.
//
// Every answer and link failure becomes a *driver.Error whose Kind is the
// one the document's Outcomes table gives: TO and NC are NoCard, CF and OS
// IncompatibleCard, and so on.
//
// # Cancelling and resynchronising
//
// Every CC is answered by exactly one CC frame, sent after any answer the
// device already had due; once it has arrived the device owes nothing.
//
// When the caller's context ends while a command is outstanding, the
// driver sends CC and reads up to that CC answer (ACKing the real answer
// if it crossed the cancel on the line), so the line is idle for the next
// exchange. This handshake runs on its own bounded deadlines, after the
// context has ended; the error returned wraps the context's error.
//
// A device does not notice a host dying: the command it was given goes on
// and its answer arrives later, into a line the next host reads. So the
// Driver remembers, per port and address, whether its last exchange there
// left the device owing nothing (it read an answer it understood, or a
// cancel's CC answer). On any other line, a freshly opened port among
// them, it first resynchronises: CC, then every frame up to the CC answer
// is ACKed and set aside. A port the driver cannot use as a map key is
// resynchronised every time.
//
// # Retransmissions
//
// An answer frame identical to the one just ACKed is a retransmission (the
// device missed the ACK): it is ACKed again and ignored, until the device
// ACKs the host's next command. After that an identical frame is a new
// answer, as when a command re-sent after BY is answered BY again. The
// answer ACKed last is remembered with a line the driver left idle, so a
// copy that crosses the next exchange's command is known too; the device
// stops re-sending it once that command arrives, before it ACKs it.
package pms
