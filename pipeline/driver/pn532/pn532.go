package pn532

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/encoderlab/encoderlab/pipeline/driver"
	"github.com/encoderlab/encoderlab/pipeline/driver/classic"
)

// Command codes (UM0701-02, chapter 7).
const (
	cmdDiagnose            byte = 0x00
	cmdGetFirmwareVersion  byte = 0x02
	cmdSAMConfiguration    byte = 0x14
	cmdRFConfiguration     byte = 0x32
	cmdInDataExchange      byte = 0x40
	cmdInListPassiveTarget byte = 0x4A
	cmdInRelease           byte = 0x52
)

func commandName(code byte) string {
	switch code {
	case cmdDiagnose:
		return "Diagnose"
	case cmdGetFirmwareVersion:
		return "GetFirmwareVersion"
	case cmdSAMConfiguration:
		return "SAMConfiguration"
	case cmdRFConfiguration:
		return "RFConfiguration"
	case cmdInDataExchange:
		return "InDataExchange"
	case cmdInListPassiveTarget:
		return "InListPassiveTarget"
	case cmdInRelease:
		return "InRelease"
	}
	return fmt.Sprintf("command 0x%02X", code)
}

// Status bytes of InDataExchange the driver tells apart.
const (
	stOK      byte = 0x00
	stMifare  byte = 0x14 // the card refused: authentication or access error
	stContext byte = 0x27 // the chip cannot take the command now (busy)
)

// MIFARE Classic commands.
const (
	mfAuthA byte = 0x60
	mfAuthB byte = 0x61
	mfRead  byte = 0x30
	mfWrite byte = 0xA0
)

// icPN532 is the IC byte of GetFirmwareVersion's response.
const icPN532 = 0x32

// ErrInvalidJob is wrapped by the error Encode returns for a job the card
// layout cannot carry; nothing is sent to the encoder. It is the layout's
// own error, classic.ErrInvalidJob.
var ErrInvalidJob = classic.ErrInvalidJob

// errBusy is a write the chip refused with status 0x27: Encode starts
// over after Timing.Busy.
var errBusy = errors.New("chip busy")

// Driver encodes credentials through a PN532 front end, doing the card
// work itself. It keeps no state between calls, so one Driver may serve
// many ports, one call per port at a time.
type Driver struct {
	Timing Timing
	// KeyA and KeyB are the system's keys for the credential sector.
	KeyA, KeyB classic.Key
}

var _ driver.Driver = (*Driver)(nil)

// New returns a driver with timing t and the default system keys.
func New(t Timing) *Driver {
	return &Driver{Timing: t, KeyA: classic.DefaultKeyA, KeyB: classic.DefaultKeyB}
}

// Encode writes job onto the MIFARE Classic card in the encoder's field
// (see the package documentation for the steps) and returns its UID as
// the card number. Encoder, card and line failures are *driver.Error
// values. When ctx ends with a command in progress, Encode aborts it
// before returning an error that wraps ctx.Err().
func (d *Driver) Encode(ctx context.Context, p driver.Port, job driver.Job) (driver.Card, error) {
	want, err := classic.Blocks(job)
	if err != nil {
		return driver.Card{}, fmt.Errorf("pn532: %w", err)
	}
	if err := d.Timing.validate(); err != nil {
		return driver.Card{}, fmt.Errorf("pn532: timing: %w", err)
	}
	if d.KeyB == classic.TransportKey || d.KeyA == classic.TransportKey {
		return driver.Card{}, fmt.Errorf("pn532: the system keys must differ from the transport key")
	}
	if err := ctx.Err(); err != nil {
		return driver.Card{}, fmt.Errorf("pn532: %w", err)
	}
	s := newSession(ctx, p, d.Timing)
	defer s.detach()
	if err := d.wake(s); err != nil {
		return driver.Card{}, err
	}
	for tries := 1; ; tries++ {
		c, err := d.encodeOnce(s, job, want)
		if !errors.Is(err, errBusy) {
			if err == nil {
				// Leave the card alone; a failure here changes nothing.
				_, _ = s.command(cmdInRelease, 0x00)
			}
			return c, err
		}
		if tries > d.Timing.Retries {
			return driver.Card{}, driver.Errorf(driver.Busy, "write answered status 0x27 on all %d tries", tries)
		}
		if err := s.pause(d.Timing.Busy); err != nil {
			return driver.Card{}, err
		}
	}
}

// Scan waits (up to CardWait) for a card in the field and reads what it
// holds, writing nothing: sector 1 opened with the system's key B and
// decoded, or found blank (the transport key opens it), or foreign (a
// technology other than MIFARE Classic, or neither key opens it).
func (d *Driver) Scan(ctx context.Context, p driver.Port) (driver.Scan, error) {
	if err := d.Timing.validate(); err != nil {
		return driver.Scan{}, fmt.Errorf("pn532: timing: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return driver.Scan{}, fmt.Errorf("pn532: %w", err)
	}
	s := newSession(ctx, p, d.Timing)
	defer s.detach()
	if err := d.wake(s); err != nil {
		return driver.Scan{}, err
	}
	t, err := d.waitForCard(s)
	if err != nil {
		return driver.Scan{}, err
	}
	out := driver.Scan{Number: strings.ToUpper(hex.EncodeToString(t.uid)), Technology: t.tech, Holds: driver.Foreign}
	defer func() { _, _ = s.command(cmdInRelease, 0x00) }()
	if t.tech != techClassic1K && t.tech != techClassic4K {
		return out, nil
	}
	st, _, err := d.mifare(s, mfAuthB, classic.BlockHeader, d.KeyB[:], t.uid)
	if err != nil {
		return driver.Scan{}, err
	}
	if st == stMifare {
		if err := d.reselect(s, t); err != nil {
			return driver.Scan{}, err
		}
		if st, _, err = d.mifare(s, mfAuthA, classic.BlockHeader, classic.TransportKey[:], t.uid); err != nil {
			return driver.Scan{}, err
		}
		switch st {
		case stMifare: // neither key opens it: another system's card
		case stOK:
			out.Holds = driver.Blank
		default:
			return driver.Scan{}, statusError("authenticate with the transport key", st)
		}
		return out, nil
	}
	if err := statusError("authenticate", st); err != nil {
		return driver.Scan{}, err
	}
	held, err := d.readCredential(s)
	if err != nil {
		return driver.Scan{}, err
	}
	out.Holds, out.CardID = classic.Holds(held)
	return out, nil
}

// wake brings the chip out of power-down and checks it is a PN532 that
// looks for a card once per InListPassiveTarget.
func (d *Driver) wake(s *session) error {
	if err := s.drain(); err != nil {
		return err
	}
	if err := s.write(wakeup, "wake-up preamble"); err != nil {
		return err
	}
	// Normal mode, no IRQ line.
	if _, err := s.command(cmdSAMConfiguration, 0x01, 0x14, 0x00); err != nil {
		return err
	}
	fw, err := s.command(cmdGetFirmwareVersion)
	if err != nil {
		return err
	}
	if len(fw) != 4 || fw[0] != icPN532 {
		return driver.Errorf(driver.Device, "GetFirmwareVersion: % X is not a PN532", fw)
	}
	// MaxRetries: MxRtyATR 0xFF, MxRtyPSL 1, MxRtyPassiveActivation 0:
	// each InListPassiveTarget looks once, and the driver polls.
	if _, err := s.command(cmdRFConfiguration, 0x05, 0xFF, 0x01, 0x00); err != nil {
		return err
	}
	return nil
}

// target is the card the chip selected.
type target struct {
	uid  []byte
	atqa [2]byte
	sak  byte
	tech string
}

// encodeOnce runs one pass: find the card, open its credential sector,
// check what it holds, write and verify.
func (d *Driver) encodeOnce(s *session, job driver.Job, want [3][16]byte) (driver.Card, error) {
	t, err := d.waitForCard(s)
	if err != nil {
		return driver.Card{}, err
	}
	if t.tech != techClassic1K && t.tech != techClassic4K {
		return driver.Card{}, driver.Errorf(driver.IncompatibleCard,
			"card %X is %s (ATQA %02X%02X, SAK %02X): only MIFARE Classic carries this system's credentials",
			t.uid, t.tech, t.atqa[0], t.atqa[1], t.sak)
	}
	number := strings.ToUpper(hex.EncodeToString(t.uid))

	// The system's key B first; a blank card still has the transport key.
	blank := false
	st, _, err := d.mifare(s, mfAuthB, classic.BlockHeader, d.KeyB[:], t.uid)
	if err != nil {
		return driver.Card{}, err
	}
	if st == stMifare {
		// A failed authentication halts the card: select it again.
		if err := d.reselect(s, t); err != nil {
			return driver.Card{}, err
		}
		st, _, err = d.mifare(s, mfAuthA, classic.BlockHeader, classic.TransportKey[:], t.uid)
		if err != nil {
			return driver.Card{}, err
		}
		if st == stMifare {
			return driver.Card{}, driver.Errorf(driver.IncompatibleCard,
				"card %s: sector %d opens with neither the system key nor the transport key: a card of another system", number, classic.Sector)
		}
		blank = true
	}
	if err := statusError("authenticate", st); err != nil {
		return driver.Card{}, err
	}

	if !blank {
		held, err := d.readCredential(s)
		if err != nil {
			return driver.Card{}, err
		}
		if c, ok := classic.Decode(held); ok && c.Function == driver.Staff {
			return driver.Card{}, driver.Errorf(driver.CannotOverwrite, "card %s holds staff credential %s", number, c.CardID)
		}
	}

	for i, b := range want {
		if err := d.writeBlock(s, classic.BlockHeader+i, b); err != nil {
			return driver.Card{}, err
		}
	}
	if blank {
		if err := d.writeBlock(s, classic.BlockKeys, d.trailer()); err != nil {
			return driver.Card{}, err
		}
	}

	// Verify as a fresh reader would: select, open with the system key,
	// read back.
	if err := d.reselect(s, t); err != nil {
		return driver.Card{}, err
	}
	st, _, err = d.mifare(s, mfAuthB, classic.BlockHeader, d.KeyB[:], t.uid)
	if err != nil {
		return driver.Card{}, err
	}
	if st == stMifare {
		return driver.Card{}, driver.Errorf(driver.Device, "verify card %s: the system key does not open sector %d after writing it", number, classic.Sector)
	}
	if err := statusError("verify: authenticate", st); err != nil {
		return driver.Card{}, err
	}
	got, err := d.readCredential(s)
	if err != nil {
		return driver.Card{}, err
	}
	for i := range want {
		if got[i] != want[i] {
			return driver.Card{}, driver.Errorf(driver.Device, "verify card %s: block %d reads % X, wrote % X", number, classic.BlockHeader+i, got[i], want[i])
		}
	}
	return driver.Card{Number: number, Technology: t.tech, CardID: job.CardID}, nil
}

// waitForCard polls for a card until one answers or CardWait passes.
func (d *Driver) waitForCard(s *session) (target, error) {
	deadline := time.Now().Add(d.Timing.CardWait)
	for {
		t, ok, err := d.list(s, nil)
		if err != nil || ok {
			return t, err
		}
		if !time.Now().Before(deadline) {
			return target{}, driver.Errorf(driver.NoCard, "no card in the field within %v", d.Timing.CardWait)
		}
		if err := s.pause(d.Timing.Poll); err != nil {
			return target{}, err
		}
	}
}

// reselect selects the card t again, after a failed authentication or to
// verify; the card gone is an interrupted encode.
func (d *Driver) reselect(s *session, t target) error {
	got, ok, err := d.list(s, cascaded(t.uid))
	if err != nil {
		return err
	}
	if !ok || !bytes.Equal(got.uid, t.uid) {
		return driver.Errorf(driver.Interrupted, "card %X left the field", t.uid)
	}
	return nil
}

// cascaded is uid as InListPassiveTarget takes it to select that card
// (UM0701-02 7.3.5, after ISO/IEC 14443-3 6.4.4): one four-byte cascade
// level per select the card answers, each but the last made of the
// cascade tag 0x88 and three UID bytes. A 7-byte UID is 88 and the UID;
// a 10-byte one 88, its first three bytes, 88, the other seven. Given
// the bare UID, the chip would look for a card whose first level is the
// UID's first four bytes, and find none.
func cascaded(uid []byte) []byte {
	const tag = 0x88
	out := make([]byte, 0, 12)
	for len(uid) > 4 {
		out = append(out, tag)
		out = append(out, uid[:3]...)
		uid = uid[3:]
	}
	return append(out, uid...)
}

// list runs InListPassiveTarget for 106 kbps type A targets. With sel
// nil it looks for any card, two at most (MaxTg 2), so that a second card
// in the field is seen: the driver writes a card only when it is alone,
// as the write could otherwise land on a card the guest did not hand
// over. With sel (a UID in cascade levels) it selects that card only.
func (d *Driver) list(s *session, sel []byte) (target, bool, error) {
	maxTg := byte(2)
	if sel != nil {
		maxTg = 1
	}
	r, err := s.command(cmdInListPassiveTarget, append([]byte{maxTg, 0x00}, sel...)...)
	if err != nil {
		return target{}, false, err
	}
	if len(r) == 0 {
		return target{}, false, driver.Errorf(driver.Device, "InListPassiveTarget: empty response")
	}
	n := int(r[0])
	if n == 0 {
		return target{}, false, nil
	}
	if n > int(maxTg) {
		return target{}, false, driver.Errorf(driver.Device, "InListPassiveTarget: %d targets, asked for %d at most", n, maxTg)
	}
	var found []target
	for rest := r[1:]; len(found) < n; {
		t, tail, ok := parseTarget(rest)
		if !ok {
			return target{}, false, driver.Errorf(driver.Device, "InListPassiveTarget: malformed response % X", r)
		}
		found, rest = append(found, t), tail
	}
	if len(found) > 1 {
		return target{}, false, driver.Errorf(driver.SeveralCards,
			"cards %X and %X are both in the field: take away all but the card to encode", found[0].uid, found[1].uid)
	}
	return found[0], true, nil
}

// parseTarget reads one target's data from an InListPassiveTarget
// response at 106 kbps type A (UM0701-02 7.3.5): Tg, ATQA (2), SAK,
// NFCIDLength, NFCID1, and the ATS (its length byte first) when the SAK
// says ISO/IEC 14443-4. It returns the bytes after it.
func parseTarget(b []byte) (target, []byte, bool) {
	if len(b) < 5 {
		return target{}, nil, false
	}
	n := int(b[4])
	if (n != 4 && n != 7 && n != 10) || len(b) < 5+n {
		return target{}, nil, false
	}
	t := target{atqa: [2]byte{b[1], b[2]}, sak: b[3], uid: append([]byte(nil), b[5:5+n]...)}
	t.tech = technology(t.sak)
	rest := b[5+n:]
	if t.sak&0x20 != 0 && len(rest) > 0 {
		ats := int(rest[0])
		if ats < 1 || len(rest) < ats {
			return target{}, nil, false
		}
		rest = rest[ats:]
	}
	return t, rest, true
}

// Technology names, as pipeline/driver reports them.
const (
	techClassic1K  = "mifare-classic-1k"
	techClassic4K  = "mifare-classic-4k"
	techUltralight = "mifare-ultralight"
	techDESFire    = "desfire"
)

// technology tells the card type from its SAK.
func technology(sak byte) string {
	switch {
	case sak&0x20 != 0:
		return techDESFire // ISO 14443-4: DESFire and kin
	case sak == 0x08 || sak == 0x88:
		return techClassic1K
	case sak == 0x18:
		return techClassic4K
	case sak == 0x00:
		return techUltralight
	}
	return fmt.Sprintf("unknown (SAK %02X)", sak)
}

// mifare runs a MIFARE command on target 1 and returns the status byte
// and the data after it.
func (d *Driver) mifare(s *session, op, block byte, data []byte, uid []byte) (byte, []byte, error) {
	params := []byte{0x01, op, block}
	params = append(params, data...)
	if op == mfAuthA || op == mfAuthB {
		// The authentication takes the UID's last four bytes (the cascade
		// level the card answers to).
		params = append(params, uid[len(uid)-4:]...)
	}
	r, err := s.command(cmdInDataExchange, params...)
	if err != nil {
		return 0, nil, err
	}
	if len(r) == 0 {
		return 0, nil, driver.Errorf(driver.Device, "InDataExchange: empty response")
	}
	return r[0] & 0x3F, r[1:], nil // bits 6 and 7 are the MI and NAD flags
}

// readCredential reads blocks 4–6.
func (d *Driver) readCredential(s *session) ([3][16]byte, error) {
	var out [3][16]byte
	for i := range out {
		st, data, err := d.mifare(s, mfRead, byte(classic.BlockHeader+i), nil, nil)
		if err != nil {
			return out, err
		}
		if err := statusError(fmt.Sprintf("read block %d", classic.BlockHeader+i), st); err != nil {
			return out, err
		}
		if len(data) != 16 {
			return out, driver.Errorf(driver.Device, "read block %d: %d bytes, want 16", classic.BlockHeader+i, len(data))
		}
		out[i] = [16]byte(data)
	}
	return out, nil
}

// writeBlock writes one block.
func (d *Driver) writeBlock(s *session, block int, v [16]byte) error {
	st, _, err := d.mifare(s, mfWrite, byte(block), v[:], nil)
	if err != nil {
		return err
	}
	if st == stContext {
		return errBusy
	}
	return statusError(fmt.Sprintf("write block %d", block), st)
}

// trailer is the credential sector's trailer under the system's keys.
func (d *Driver) trailer() [16]byte { return classic.Trailer(d.KeyA, d.KeyB) }

// statusError maps an InDataExchange status other than success onto the
// driver's kinds (docs/protocols/pn532.md, "Outcomes").
func statusError(op string, st byte) error {
	switch st {
	case stOK:
		return nil
	case stMifare:
		return driver.Errorf(driver.IncompatibleCard, "%s: the card refused (status 0x14): its access bits are not this system's", op)
	case 0x01, 0x0A, 0x2B:
		return driver.Errorf(driver.Interrupted, "%s: the card stopped answering (status 0x%02X)", op, st)
	}
	return driver.Errorf(driver.Device, "%s: status 0x%02X", op, st)
}
