// Package replay is the device model that plays a recorded line back: a
// scenario's byte-level steps, in order, strictly. An expect step is what
// the host must send next, exactly (hex) or as a frame of the encoder's
// protocol whose fields may be patterns; a send step is what the device
// answers; waits between them are its delays.
//
// The steps are scenario timeline steps: scenario.Play runs them and
// calls the model's Expect and Send (scenario.ByteDevice), so a mismatch
// or a step left unplayed surfaces where every other timeline failure
// does, as a *scenario.StepError naming the step and its line. On the
// first mismatch the model stops: it answers nothing more.
//
// Frame patterns (PMS): fields are separated by single spaces; `*`
// matches any field, `$name` takes the field's text the first time and
// must match it after, and in a send writes it back (a card id the host
// chose, echoed in the answer). A quoted field ("Room 101", "") is
// literal. The LRC of every expected frame must be right; the LRC of a
// sent frame is computed.
//
// Frame patterns (PN532): the TFI and data bytes of a normal information
// frame in hex (`D4 4A 01 00`), or ACK or NACK alone; preamble, start
// code, LEN, LCS, DCS and postamble are implied. `*` is any byte, `*:N`
// any N bytes; `$name` (`$name:N`) takes one (N) bytes the first time,
// must match them after, and in a send writes them back (the block data
// a host wrote, echoed when it reads the block back). An expected frame
// must be whole, with right checksums; a sent frame gets its own.
// Extended frames are written as hex.
package replay
