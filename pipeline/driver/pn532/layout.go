package pn532

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/encoderlab/encoderlab/pipeline/driver"
)

// The card layout (docs/protocols/pn532.md, "Card layout").
const (
	credSector  = 1
	blockHeader = 4
	blockKeys   = 7
	layoutMagic = "EL"
	layoutV1    = 0x01
	labelLen    = 16
)

// systemAccess is the trailer's access bits and general-purpose byte on
// a card of the system: data blocks read with key A or B and written
// with key B (condition 100), the trailer written with key B (011).
var systemAccess = [4]byte{0x78, 0x77, 0x88, 0x69}

// credentialBlocks lays job out in blocks 4, 5 and 6.
func credentialBlocks(job driver.Job) ([3][16]byte, error) {
	var h, v, l [16]byte
	id, err := hex.DecodeString(job.CardID)
	if err != nil || len(id) != 8 || !upperHex(job.CardID) {
		return [3][16]byte{}, fmt.Errorf("pn532: %w: card id %q is not 16 upper-case hex digits", ErrInvalidJob, job.CardID)
	}
	copy(h[0:2], layoutMagic)
	h[2] = layoutV1
	switch job.Function {
	case driver.Guest:
		h[3] = 'G'
	case driver.Staff:
		h[3] = 'S'
	default:
		return [3][16]byte{}, fmt.Errorf("pn532: %w: function %q, want %q or %q", ErrInvalidJob, job.Function, driver.Guest, driver.Staff)
	}
	copy(h[4:12], id)
	for i, t := range []time.Time{job.StartsAt, job.EndsAt} {
		b, err := bcd(t)
		if err != nil {
			return [3][16]byte{}, fmt.Errorf("pn532: %w: validity: %v", ErrInvalidJob, err)
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

// credential is what the driver needs from a card's credential blocks.
type credential struct {
	function byte
	cardID   string
}

// decodeCredential reads blocks 4–6: ok only for a complete credential
// of this layout (magic, version, function and CRC valid).
func decodeCredential(b [3][16]byte) (credential, bool) {
	h := b[0]
	if string(h[0:2]) != layoutMagic || h[2] != layoutV1 || (h[3] != 'G' && h[3] != 'S') {
		return credential{}, false
	}
	if binary.BigEndian.Uint16(h[12:14]) != crc16(h[0:12], b[1][:], b[2][:]) {
		return credential{}, false
	}
	return credential{function: h[3], cardID: fmt.Sprintf("%X", h[4:12])}, true
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
