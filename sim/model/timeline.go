package model

// Timeline is how a timeline (sim/timeline: encodersim show) reads a
// protocol's line: the units a reader sees and the names it gives them,
// taken from the protocol's page. The timeline itself knows no
// protocol; it times the units, finds retransmissions and exchanges from
// what the units say of themselves, and draws them.
type Timeline struct {
	// Units cuts one direction's bytes, all that crossed the line that
	// way in order, into units; fromHost says the direction. Bytes in no
	// unit (a preamble, say) are left out of the timeline. redacted are
	// the fields the recording blanked (trace Header.Redacted,
	// "pn532:keys"), which a unit's Detail shows as RedactedText.
	Units func(b []byte, fromHost bool, redacted map[string]bool) []Unit
	// Replies, when set, cuts the device's direction in Units' place,
	// for a protocol whose answers say what they hold only beside their
	// command (a PN532 block read is a trailer's when the command read a
	// trailer): command(i) is the last frame unit the host sent before
	// the device's byte i crossed the line, its bytes (nil before the
	// first).
	Replies func(b []byte, command func(i int) []byte, redacted map[string]bool) []Unit
	// ControlNames names the link-control bytes of a chunk shown as text
	// when it is not cut into units (‹STX›); nil for none.
	ControlNames map[byte]string
}

// RedactedText stands in a unit's Detail for the bytes the recorder
// blanked out.
const RedactedText = "‹redacted›"

// Unit is one unit of a line as a timeline shows it.
type Unit struct {
	// Start and End are the unit's bytes in the direction's stream,
	// [Start, End).
	Start, End int
	// Kind is what it is: UnitFrame, UnitControl (an ACK, a NAK, an
	// ENQ), UnitBad (a checksum or framing error) or UnitOther (a
	// wake-up, noise).
	Kind string
	// Name is the command or answer ("InDataExchange", "CN", "ACK"),
	// Detail its decoded parameters ("Tg 1 · MIFARE Read block 4").
	Name, Detail string
	// Status is the status byte or answer code, decoded, when the unit
	// has one.
	Status string
	// Error marks an error status, an error answer, the error frame or
	// a damaged frame.
	Error bool
	// Redacted marks a unit whose Detail shows blanked fields.
	Redacted bool
	// Link is what a control unit does in the link layer (LinkACK,
	// LinkNAK, LinkEnquiry), which tells retransmissions and exchanges
	// apart; "" for other units.
	Link string
	// NoCard marks an answer that found no card, as a poll of an empty
	// field does: in an encode that failed, its exchange went wrong.
	NoCard bool
}

// Kinds of Unit.
const (
	UnitFrame   = "frame"
	UnitControl = "control"
	UnitBad     = "bad"
	UnitOther   = "other"
)

// Links of a control Unit.
const (
	// LinkACK acknowledges the other side's frame.
	LinkACK = "ack"
	// LinkNAK asks the other side to send its frame again.
	LinkNAK = "nak"
	// LinkEnquiry is a host asking whether the device is there; an ACK
	// alone answers it, and it opens an exchange as a command does.
	LinkEnquiry = "enquiry"
)
