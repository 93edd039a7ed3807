package driver

// Scan is what an encoder reads of the card in its field, writing
// nothing: the card's number and technology, and what it holds.
type Scan struct {
	// Number is the card's UID in upper-case hex.
	Number string
	// Technology names the card type, e.g. "mifare-classic-1k".
	Technology string
	// Holds says what is on the card.
	Holds Holding
	// CardID is the card id of a credential of this system (Holds
	// GuestCredential or StaffCredential), empty otherwise.
	CardID string
}

// Holding is what a scanned card holds.
type Holding string

const (
	// Blank: no credential; the card can be written.
	Blank Holding = "blank"
	// GuestCredential and StaffCredential: a credential of this system.
	GuestCredential Holding = "guest"
	StaffCredential Holding = "staff"
	// Foreign: a card of another system, or of a technology this
	// system's credentials do not use.
	Foreign Holding = "foreign"
)
