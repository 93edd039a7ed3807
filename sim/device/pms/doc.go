// Package pms is a virtual PMS-style desk encoder: the device side of the
// framed protocol in docs/protocols/pms.md, implemented from that page and
// independently of the pipeline's driver, so that each checks the other.
//
// A Device has two halves.
//
// The model is the physical encoder: the card in its field (Place,
// Remove), what it does with a command (wait for a card, check it, write
// it), and the behaviours a scenario can switch on (Hold and Answer, Busy,
// NAK, Garble, Silence). The model lives as long as the Device: cards,
// command counters and holds survive a hangup of the line.
//
// The link is one serial line the model is reachable on. Serve speaks the
// protocol's link layer on a Conn (a pty master, or one end of net.Pipe in
// tests): it ACKs and NAKs frames, answers ENQ, spots retransmitted
// commands, and retransmits its own answers until the host ACKs them. When
// the line hangs up, Serve returns and the same Device can be served on
// the next line.
//
// Every CC is answered by one CC frame, queued behind any answer already
// due, and a frame identical to the last command is a retransmission
// until that command's answer is ACKed or given up; together they let a
// host that starts on a line in an unknown state (its predecessor died
// mid-command) resynchronise with one CC. A new command other than CC
// acknowledges the answer still being re-sent (the host read it; its ACK
// was lost), so that answer never follows the new command's ACK.
//
// Where the protocol page leaves a choice, the device takes these: a
// command that arrives while another is outstanding is answered BY; a
// command with bad fields is answered SE and not counted; a CC that finds
// nothing outstanding is invisible to a scenario (not counted as a
// cancel, never NAKed or its answer garbled on the scenario's request), so
// a host's resynchronisation leaves a scenario's counts and its nak and
// garble steps as they were; a frame NAKed on a scenario's request is
// neither acted on nor counted; an outstanding command is dropped,
// unanswered, when its line hangs up.
//
// Silence cuts the device's transmitter: frames are still received and
// acted on, but nothing (no ACK, NAK or answer) reaches the host, so an
// answer due during the silence is lost after its retransmissions, as it
// would be on a line with a broken transmit wire.
package pms
