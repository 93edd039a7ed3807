// Package classic is the host side of the MIFARE Classic credential
// layout that the pipeline's card drivers share (pn532, acr122): what the
// credential sector of a card of this system holds, and with which keys
// and access bits, as docs/protocols/pn532.md specifies it ("Card
// layout", "Keys", "What a card holds"). It knows nothing of how a driver
// reaches the card; each driver authenticates, reads and writes the
// blocks over its own encoder.
//
// The simulator's card models keep their own copy of the layout
// (sim/card), written from the same page: the two sides are checked
// against the page's worked sector, never against each other.
package classic

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/encoderlab/encoderlab/pipeline/driver"
)

// The card layout (docs/protocols/pn532.md, "Card layout").
const (
	// Sector is the credential sector.
	Sector = 1
	// BlockHeader is the sector's first block: the header (magic,
	// version, function, card id, CRC). Blocks BlockHeader+1 (validity)
	// and BlockHeader+2 (label) follow it.
	BlockHeader = 4
	// BlockKeys is the sector's trailer: its keys and access bits.
	BlockKeys = 7
)

const (
	layoutMagic = "EL"
	layoutV1    = 0x01
	labelLen    = 16
)

// Key is a six-byte MIFARE Classic key.
type Key [6]byte

// The system's default keys and the factory transport key
// (docs/protocols/pn532.md, "Keys").
var (
	DefaultKeyA  = Key{0x45, 0x4C, 0x41, 0x42, 0x4B, 0x41} // "ELABKA"
	DefaultKeyB  = Key{0x45, 0x4C, 0x41, 0x42, 0x4B, 0x42} // "ELABKB"
	TransportKey = Key{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}
)

// SystemAccess is the trailer's access bits and general-purpose byte on
// a card of the system: data blocks read with key A or B and written
// with key B (condition 100), the trailer written with key B (011).
var SystemAccess = [4]byte{0x78, 0x77, 0x88, 0x69}

// ErrInvalidJob is wrapped by Blocks' error for a job the layout cannot
// carry.
var ErrInvalidJob = errors.New("invalid job")

// Blocks lays job out in blocks 4, 5 and 6 of the credential sector. Its
// error wraps ErrInvalidJob and names no package: the driver that calls
// it prefixes its own name ("pn532: invalid job: ...").
func Blocks(job driver.Job) ([3][16]byte, error) {
	var h, v, l [16]byte
	id, err := hex.DecodeString(job.CardID)
	if err != nil || len(id) != 8 || !upperHex(job.CardID) {
		return [3][16]byte{}, fmt.Errorf("%w: card id %q is not 16 upper-case hex digits", ErrInvalidJob, job.CardID)
	}
	copy(h[0:2], layoutMagic)
	h[2] = layoutV1
	switch job.Function {
	case driver.Guest:
		h[3] = 'G'
	case driver.Staff:
		h[3] = 'S'
	default:
		return [3][16]byte{}, fmt.Errorf("%w: function %q, want %q or %q", ErrInvalidJob, job.Function, driver.Guest, driver.Staff)
	}
	copy(h[4:12], id)
	for i, t := range []time.Time{job.StartsAt, job.EndsAt} {
		b, err := bcd(t)
		if err != nil {
			return [3][16]byte{}, fmt.Errorf("%w: validity: %v", ErrInvalidJob, err)
		}
		copy(v[i*6:i*6+6], b)
	}
	n := 0
	for _, r := range job.Label {
		if n == labelLen {
			break
		}
		if r < 0x20 || r > 0x7E {
			r = '?'
		}
		l[n] = byte(r)
		n++
	}
	binary.BigEndian.PutUint16(h[12:14], crc16(h[0:12], v[:], l[:]))
	return [3][16]byte{h, v, l}, nil
}

// Credential is what a driver needs from a card's credential blocks.
type Credential struct {
	// Function is driver.Guest or driver.Staff.
	Function driver.Function
	// CardID is the card id, 16 upper-case hex digits.
	CardID string
}

// Holds is what a credential sector that opened with the system's key
// holds, for a scan: a guest or staff credential of this layout and its
// card id, or, with none there, a blank card (written by this system
// and cleared).
func Holds(b [3][16]byte) (driver.Holding, string) {
	c, ok := Decode(b)
	switch {
	case !ok:
		return driver.Blank, ""
	case c.Function == driver.Staff:
		return driver.StaffCredential, c.CardID
	}
	return driver.GuestCredential, c.CardID
}

// Decode reads blocks 4–6: ok only for a complete credential of this
// layout (magic, version, function and CRC valid).
func Decode(b [3][16]byte) (Credential, bool) {
	h := b[0]
	if string(h[0:2]) != layoutMagic || h[2] != layoutV1 {
		return Credential{}, false
	}
	var f driver.Function
	switch h[3] {
	case 'G':
		f = driver.Guest
	case 'S':
		f = driver.Staff
	default:
		return Credential{}, false
	}
	if binary.BigEndian.Uint16(h[12:14]) != crc16(h[0:12], b[1][:], b[2][:]) {
		return Credential{}, false
	}
	return Credential{Function: f, CardID: fmt.Sprintf("%X", h[4:12])}, true
}

// Trailer is the credential sector's trailer under the system's keys:
// key A, SystemAccess, key B.
func Trailer(keyA, keyB Key) [16]byte {
	var t [16]byte
	copy(t[0:6], keyA[:])
	copy(t[6:10], SystemAccess[:])
	copy(t[10:16], keyB[:])
	return t
}

// bcd packs t as YYYYMMDDhhmm in UTC into six BCD bytes; the zero time
// is six zero bytes (no bound).
func bcd(t time.Time) ([]byte, error) {
	out := make([]byte, 6)
	if t.IsZero() {
		return out, nil
	}
	t = t.UTC()
	if y := t.Year(); y < 1 || y > 9999 {
		return nil, fmt.Errorf("year %d does not fit YYYYMMDDhhmm", y)
	}
	s := t.Format("200601021504")
	for i := range 12 {
		out[i/2] |= (s[i] - '0') << (4 * (1 - i%2))
	}
	return out, nil
}

// crc16 is CRC-16/CCITT-FALSE (polynomial 0x1021, initial 0xFFFF).
func crc16(parts ...[]byte) uint16 {
	crc := uint16(0xFFFF)
	for _, p := range parts {
		for _, c := range p {
			crc ^= uint16(c) << 8
			for range 8 {
				if crc&0x8000 != 0 {
					crc = crc<<1 ^ 0x1021
				} else {
					crc <<= 1
				}
			}
		}
	}
	return crc
}

func upperHex(s string) bool {
	for i := range len(s) {
		if c := s[i]; (c < '0' || c > '9') && (c < 'A' || c > 'F') {
			return false
		}
	}
	return true
}
