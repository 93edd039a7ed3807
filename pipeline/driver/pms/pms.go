package pms

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/encoderlab/encoderlab/pipeline/driver"
)

// DefaultAddress is the encoder address a device answers to unless
// configured otherwise.
const DefaultAddress = "01"

// maxLabel is the longest label a CN frame carries.
const maxLabel = 32

// validityLayout is the wire form of a validity bound, always in UTC.
const validityLayout = "200601021504"

// ErrInvalidJob is wrapped by the error Encode returns for a job the
// protocol cannot carry; nothing is sent to the encoder.
var ErrInvalidJob = errors.New("invalid job")

// Driver speaks the PMS protocol as the host. One Driver may serve many
// ports, one call per port at a time. Between calls it remembers which
// ports it left with the device owing nothing; the first exchange on any
// other port (a freshly opened one, or one whose last exchange ended in
// doubt) resynchronises with CC before its command. A Driver must not be
// copied after first use.
type Driver struct {
	// Timing holds the protocol timeouts.
	Timing Timing
	// Address is the encoder's two-digit address on the line.
	Address string

	idle idleLines
}

var _ driver.Driver = (*Driver)(nil)

// New returns a driver with timing t for the encoder at DefaultAddress.
func New(t Timing) *Driver {
	return &Driver{Timing: t, Address: DefaultAddress}
}

// Encode writes job onto the card in the encoder's field with CN and
// returns the card the encoder reports. Encoder and line failures are
// *driver.Error values. When ctx ends with the command outstanding,
// Encode cancels it with CC before returning an error that wraps ctx.Err().
func (d *Driver) Encode(ctx context.Context, p driver.Port, job driver.Job) (driver.Card, error) {
	fields, err := d.cnFields(job)
	if err != nil {
		return driver.Card{}, err
	}
	var card driver.Card
	err = d.exchange(ctx, p, "CN", fields, func(answer []string) error {
		var err error
		card, err = cardWritten(answer, job.CardID)
		return err
	})
	if err != nil {
		return driver.Card{}, err
	}
	return card, nil
}

// cardWritten reads the card out of an answer to CN for cardID.
func cardWritten(answer []string, cardID string) (driver.Card, error) {
	if answer[0] != "OK" {
		return driver.Card{}, failure(answer)
	}
	if len(answer) != 5 {
		return driver.Card{}, malformed(answer, "want card number, technology and card id")
	}
	card := driver.Card{Number: answer[2], Technology: answer[3], CardID: answer[4]}
	switch {
	case !validNumber(card.Number):
		return driver.Card{}, malformed(answer, "card number is not 4, 7 or 10 bytes of upper-case hex")
	case card.Technology == "":
		return driver.Card{}, malformed(answer, "no technology")
	case card.CardID != cardID:
		// Not this command's answer (the device echoes the card id it
		// wrote): a late answer to an earlier command, or a device fault.
		// Either way the line is in doubt until the next resync.
		return driver.Card{}, malformed(answer, fmt.Sprintf("card id %q, want %q", card.CardID, cardID))
	}
	return card, nil
}

// Content says what a card held when it was read.
type Content string

const (
	Blank   Content = "B" // nothing of this system
	Guest   Content = "G" // a guest credential of this system
	Staff   Content = "S" // a staff credential of this system
	Foreign Content = "F" // a card of another system
)

// CardInfo is what the encoder reports about the card in its field.
type CardInfo struct {
	// Number is the card's UID in upper-case hex.
	Number string
	// Technology names the card type, e.g. "mifare-classic-1k".
	Technology string
	// Content says what the card holds.
	Content Content
	// CardID is the card id of a Guest or Staff card, empty otherwise.
	CardID string
}

// Read asks the encoder about the card in its field now with RC. An empty
// field is a *driver.Error of kind driver.NoCard.
func (d *Driver) Read(ctx context.Context, p driver.Port) (CardInfo, error) {
	var info CardInfo
	err := d.exchange(ctx, p, "RC", nil, func(answer []string) error {
		var err error
		info, err = cardRead(answer)
		return err
	})
	if err != nil {
		return CardInfo{}, err
	}
	return info, nil
}

// Scan reads the card in the encoder's field with RC, writing nothing:
// what it holds in the protocol-independent terms of driver.Scan.
func (d *Driver) Scan(ctx context.Context, p driver.Port) (driver.Scan, error) {
	info, err := d.Read(ctx, p)
	if err != nil {
		return driver.Scan{}, err
	}
	holds := map[Content]driver.Holding{Blank: driver.Blank, Guest: driver.GuestCredential, Staff: driver.StaffCredential, Foreign: driver.Foreign}[info.Content]
	return driver.Scan{Number: info.Number, Technology: info.Technology, Holds: holds, CardID: info.CardID}, nil
}

// cardRead reads the card out of an answer to RC.
func cardRead(answer []string) (CardInfo, error) {
	if answer[0] != "OK" {
		return CardInfo{}, failure(answer)
	}
	if len(answer) != 6 {
		return CardInfo{}, malformed(answer, "want card number, technology, content and card id")
	}
	info := CardInfo{Number: answer[2], Technology: answer[3], Content: Content(answer[4]), CardID: answer[5]}
	switch {
	case !validNumber(info.Number):
		return CardInfo{}, malformed(answer, "card number is not 4, 7 or 10 bytes of upper-case hex")
	case info.Technology == "":
		return CardInfo{}, malformed(answer, "no technology")
	}
	switch info.Content {
	case Blank, Foreign:
		if info.CardID != "" {
			return CardInfo{}, malformed(answer, "card id on a card without a credential of this system")
		}
	case Guest, Staff:
	default:
		return CardInfo{}, malformed(answer, fmt.Sprintf("content %q, want B, G, S or F", info.Content))
	}
	return info, nil
}

// exchange runs one command over p and hands its answer's fields (at
// least the code and the checked address) to interpret. It resynchronises
// first unless the driver's last exchange on p left the device owing
// nothing, and afterwards records whether this one did: the device
// answered, and the answer was one the protocol defines, read the way
// interpret expects (an OK for another card id is not), or a cancel was
// answered CC.
func (d *Driver) exchange(ctx context.Context, p driver.Port, code string, args []string, interpret func(answer []string) error) error {
	if err := d.Timing.validate(); err != nil {
		return fmt.Errorf("pms: timing: %w", err)
	}
	if !validAddress(d.Address) {
		return fmt.Errorf("pms: address %q: want two decimal digits", d.Address)
	}
	if p == nil {
		return errors.New("pms: no port")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pms: %w", err)
	}
	l := line{port: p, addr: d.Address}
	last, known := d.idle.take(l)
	s := newSession(ctx, p, d.Timing, d.Address)
	s.last = last.answer
	defer s.detach()
	cmd := appendFrame(nil, append([]string{code, d.Address}, args...)...)
	// The same command again (the same card encoded twice in a row) looks
	// like a retransmission to a device whose last answer the host's ACK
	// never reached: resynchronise so that it owes nothing first.
	resync := !known || bytes.Equal(cmd, last.command)
	answer, err := s.exchange(code, cmd, resync)
	clean := s.settled && driver.IsContextErr(err)
	if err == nil {
		err = interpret(answer)
		clean = s.settled && (err == nil || answer[0] != "OK" && documented(answer[0]))
	}
	if clean {
		d.idle.add(l, lastExchange{command: cmd, answer: s.last})
	}
	return err
}

// documented reports whether code is an answer the protocol defines for
// a failed CN or RC (BY is handled by the session; CC answers only CC).
func documented(code string) bool {
	switch code {
	case "NC", "TO", "CF", "OS", "VU", "RM", "SE", "ER":
		return true
	}
	return false
}

// cnFields returns the CN fields after the address for job.
func (d *Driver) cnFields(job driver.Job) ([]string, error) {
	if !validCardID(job.CardID) {
		return nil, fmt.Errorf("pms: %w: card id %q is not 16 upper-case hex digits", ErrInvalidJob, job.CardID)
	}
	var function string
	switch job.Function {
	case driver.Guest:
		function = "G"
	case driver.Staff:
		function = "S"
	default:
		return nil, fmt.Errorf("pms: %w: function %q, want %q or %q", ErrInvalidJob, job.Function, driver.Guest, driver.Staff)
	}
	from, err := validity(job.StartsAt)
	if err != nil {
		return nil, fmt.Errorf("pms: %w: starts at: %v", ErrInvalidJob, err)
	}
	until, err := validity(job.EndsAt)
	if err != nil {
		return nil, fmt.Errorf("pms: %w: ends at: %v", ErrInvalidJob, err)
	}
	return []string{job.CardID, function, from, until, label(job.Label)}, nil
}

// validity formats a validity bound; the zero time is no bound.
func validity(t time.Time) (string, error) {
	if t.IsZero() {
		return "", nil
	}
	t = t.UTC()
	if y := t.Year(); y < 1 || y > 9999 {
		return "", fmt.Errorf("year %d does not fit YYYYMMDDhhmm", y)
	}
	return t.Format(validityLayout), nil
}

// label makes s fit a CN label field: every character outside printable
// ASCII becomes '?', and the result is cut to maxLabel characters.
func label(s string) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == maxLabel {
			break
		}
		if r < 0x20 || r > 0x7E {
			r = '?'
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// failure maps an answer other than OK onto the driver's error kinds
// (docs/protocols/pms.md, "Outcomes").
func failure(answer []string) *driver.Error {
	kind := driver.Device
	switch answer[0] {
	case "NC", "TO":
		kind = driver.NoCard
	case "CF", "OS":
		kind = driver.IncompatibleCard
	case "VU":
		kind = driver.CannotOverwrite
	case "RM":
		kind = driver.Interrupted
	}
	return &driver.Error{Kind: kind, Detail: describe(answer)}
}

func malformed(answer []string, why string) *driver.Error {
	return driver.Errorf(driver.Device, "malformed %s: %s", describe(answer), why)
}

// describe renders an answer for error details: the code, then the fields
// after the address, quoted: answer CF "mifare-ultralight".
func describe(answer []string) string {
	var b strings.Builder
	// Fields are printable ASCII (the decoder rejects anything else), so
	// the code can stand as it is.
	b.WriteString("answer ")
	b.WriteString(answer[0])
	if len(answer) > 2 {
		for _, f := range answer[2:] {
			b.WriteByte(' ')
			b.WriteString(strconv.Quote(f))
		}
	}
	return b.String()
}

func validAddress(s string) bool {
	return len(s) == 2 && isDigit(s[0]) && isDigit(s[1])
}

func validCardID(s string) bool {
	return len(s) == 16 && upperHex(s)
}

// validNumber reports a UID of 4, 7 or 10 bytes in upper-case hex.
func validNumber(s string) bool {
	switch len(s) {
	case 8, 14, 20:
		return upperHex(s)
	}
	return false
}

func upperHex(s string) bool {
	for i := range len(s) {
		if c := s[i]; !isDigit(c) && (c < 'A' || c > 'F') {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
