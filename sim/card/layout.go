package card

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"strings"
)

// The credential sector of a MIFARE Classic card, as
// docs/protocols/pn532.md ("Card layout") specifies it for every model
// that writes MIFARE Classic cards itself (the PN532 front end, the PC/SC
// reader). This is the device side's own reading of that page.
const (
	CredentialSector = 1
	BlockHeader      = 4 // magic, version, function, card id, CRC
	BlockValid       = 5 // valid from, valid until (BCD)
	BlockLabel       = 6 // label
	BlockKeys        = 7 // the sector trailer
	layoutMagic      = "EL"
	layoutV1         = 0x01
	labelLen         = BlockSize
)

// Default keys of the system the model's cards belong to, and of the
// "other system" a foreign card belongs to.
var (
	DefaultSystemKeyA = Key{0x45, 0x4C, 0x41, 0x42, 0x4B, 0x41} // "ELABKA"
	DefaultSystemKeyB = Key{0x45, 0x4C, 0x41, 0x42, 0x4B, 0x42} // "ELABKB"
	ForeignKey        = Key{0x0F, 0x0E, 0x0D, 0x0C, 0x0B, 0x0A}
)

// SystemAccess is the credential sector's access bits on a card of the
// system: data read with key A or B, written with key B; the trailer
// managed with key B (conditions 100, 100, 100, 011).
var SystemAccess = AccessBits([4]byte{0b100, 0b100, 0b100, 0b011})

// IsCredentialBlock reports a block of the credential sector, trailer
// included.
func IsCredentialBlock(b int) bool { return SectorOf(b) == CredentialSector }

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

// CredentialBlocks lays out c in blocks 4, 5 and 6. Fields that do not
// parse (a card id that is not hex, a validity that is not YYYYMMDDhhmm)
// are written as zeros.
func CredentialBlocks(c Contents) [3]Block {
	var h, v, l Block
	copy(h[0:2], layoutMagic)
	h[2] = layoutV1
	h[3] = 'G'
	if c.Function == "S" || c.Kind == Staff {
		h[3] = 'S'
	}
	if id, err := hex.DecodeString(c.CardID); err == nil && len(id) == 8 {
		copy(h[4:12], id)
	}
	copy(v[0:6], toBCD(c.ValidFrom))
	copy(v[6:12], toBCD(c.ValidUntil))
	// Printable ASCII, cut to 16 characters; any other character is '?'.
	n := 0
	for _, r := range c.Label {
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
	return [3]Block{h, v, l}
}

// DecodeCredential reads blocks 4, 5 and 6 back into contents: ok is
// false unless they hold a complete credential (magic, version, function
// and CRC all valid).
func DecodeCredential(b [3]Block) (Contents, bool) {
	h, v, l := b[0], b[1], b[2]
	if string(h[0:2]) != layoutMagic || h[2] != layoutV1 {
		return Contents{}, false
	}
	if binary.BigEndian.Uint16(h[12:14]) != crc16(h[0:12], v[:], l[:]) {
		return Contents{}, false
	}
	c := Contents{
		CardID:     strings.ToUpper(hex.EncodeToString(h[4:12])),
		Function:   string(h[3]),
		ValidFrom:  fromBCD(v[0:6]),
		ValidUntil: fromBCD(v[6:12]),
		Label:      string(bytes.TrimRight(l[:], "\x00")),
	}
	switch h[3] {
	case 'G':
		c.Kind = Guest
	case 'S':
		c.Kind = Staff
	default:
		return Contents{}, false
	}
	return c, true
}

// toBCD packs twelve decimal digits into six bytes; anything else is
// zeros (no bound).
func toBCD(s string) []byte {
	out := make([]byte, 6)
	if len(s) != 12 {
		return out
	}
	for i := range 12 {
		if s[i] < '0' || s[i] > '9' {
			return make([]byte, 6)
		}
		out[i/2] |= (s[i] - '0') << (4 * (1 - i%2))
	}
	return out
}

// fromBCD unpacks six BCD bytes; all zeros (or a nibble above 9) is "".
func fromBCD(b []byte) string {
	var sb strings.Builder
	zero := true
	for _, c := range b {
		hi, lo := c>>4, c&0xF
		if hi > 9 || lo > 9 {
			return ""
		}
		if c != 0 {
			zero = false
		}
		sb.WriteByte('0' + hi)
		sb.WriteByte('0' + lo)
	}
	if zero {
		return ""
	}
	return sb.String()
}

// ClassicMemoryFor builds the memory of a Classic card from what the
// scenario says it holds: a blank card is factory-fresh; a guest or staff
// card carries its credential in the credential sector under the system's
// keys; a foreign card has that sector locked with another system's keys.
func ClassicMemoryFor(c *Card, keyA, keyB Key) (*ClassicMemory, error) {
	uid, err := hex.DecodeString(c.UID)
	if err != nil {
		return nil, err
	}
	if len(uid) == 10 {
		uid = uid[:7] // a Classic card carries at most 7 UID bytes in block 0
	}
	m, err := NewClassicMemory(c.Tech, uid)
	if err != nil {
		return nil, err
	}
	ct := c.Contents()
	switch ct.Kind {
	case Guest, Staff:
		for i, b := range CredentialBlocks(ct) {
			if err := m.SetRaw(BlockHeader+i, b); err != nil {
				return nil, err
			}
		}
		err = m.SetRaw(BlockKeys, Trailer(keyA, SystemAccess, 0x69, keyB))
	case Foreign:
		if err := m.SetRaw(BlockHeader, Block{'O', 'T', 'H', 'E', 'R'}); err != nil {
			return nil, err
		}
		err = m.SetRaw(BlockKeys, Trailer(ForeignKey, SystemAccess, 0x69, ForeignKey))
	}
	return m, err
}

// CredentialIn reads the credential the credential sector of m holds, as
// a lock of the system would: the sector must open with the system key B
// and blocks 4–6 decode to a complete credential (DecodeCredential).
// Device models call it once a host has written the three blocks, to keep
// a card's contents in step with its memory.
func CredentialIn(m *ClassicMemory, keyB Key) (Contents, bool) {
	if m.Authenticate(BlockHeader, KeyB, keyB) != nil {
		return Contents{}, false
	}
	var blocks [3]Block
	for i := range blocks {
		b, err := m.Raw(BlockHeader + i)
		if err != nil {
			return Contents{}, false
		}
		blocks[i] = b
	}
	return DecodeCredential(blocks)
}

// UltralightPages returns the 16 pages of a fresh Ultralight card with
// that UID: UID and check bytes in pages 0–2 (NXP MF0ICU1, "UID/serial
// number": BCC0 = 88 ⊕ UID0 ⊕ UID1 ⊕ UID2, BCC1 = UID3 ⊕ … ⊕ UID6), the
// rest zero.
func UltralightPages(uid []byte) []byte {
	p := make([]byte, 64)
	if len(uid) >= 7 {
		copy(p[0:3], uid[0:3])
		p[3] = 0x88 ^ uid[0] ^ uid[1] ^ uid[2]
		copy(p[4:8], uid[3:7])
		p[8] = uid[3] ^ uid[4] ^ uid[5] ^ uid[6]
	}
	return p
}
