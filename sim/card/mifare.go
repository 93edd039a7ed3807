package card

import (
	"errors"
	"fmt"
	"sync"
)

// MIFARE Classic memory.
//
// A Classic card is a list of 16-byte blocks grouped in sectors. Sectors
// 0–31 have 4 blocks; a 4K card adds sectors 32–39 of 16 blocks. The last
// block of each sector is its trailer: key A (bytes 0–5), the access bits
// (6–8), a general-purpose byte (9) and key B (10–15). Block 0 is the
// manufacturer block, fixed at the factory. The access bits give each
// block (or, in a 16-block sector, each group of five blocks) a
// three-bit condition C1C2C3 that says which key may read and write it;
// the tables are NXP's (MF1S50yyX, "Memory access").

// BlockSize is the size of a MIFARE Classic block.
const BlockSize = 16

// Block is one MIFARE Classic block.
type Block [BlockSize]byte

// Key is a six-byte MIFARE Classic key.
type Key [6]byte

// KeyType says which of a sector's keys authenticated a transaction.
type KeyType byte

// MIFARE Classic authentication commands double as the key types.
const (
	KeyA KeyType = 0x60
	KeyB KeyType = 0x61
)

func (k KeyType) String() string {
	switch k {
	case KeyA:
		return "key A"
	case KeyB:
		return "key B"
	}
	return fmt.Sprintf("KeyType(0x%02X)", byte(k))
}

// TransportKey is the key A and key B of a card fresh from the factory.
var TransportKey = Key{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}

// TransportAccess is the factory's access bits and general-purpose byte:
// data blocks read and written with either key, the trailer managed with
// key A (condition 001), key B readable.
var TransportAccess = [4]byte{0xFF, 0x07, 0x80, 0x69}

// Errors of ClassicMemory; match them with errors.Is.
var (
	// ErrNoBlock: the block number is outside the card's memory.
	ErrNoBlock = errors.New("no such block")
	// ErrDenied: the access bits do not let that key do that to the block.
	ErrDenied = errors.New("access denied by the access bits")
	// ErrAuth: the key does not match the sector's key of that type, or
	// that key may not be used for authentication.
	ErrAuth = errors.New("authentication failed")
	// ErrAccessBits: access bits whose inverted copies do not match.
	ErrAccessBits = errors.New("inconsistent access bits")
)

// ClassicBlocks returns how many blocks a Classic card of technology t
// has, or 0 for a technology that is not MIFARE Classic.
func ClassicBlocks(t Technology) int {
	switch t {
	case MifareClassic1K:
		return 64
	case MifareClassic4K:
		return 256
	}
	return 0
}

// SectorOf returns the sector that holds block b.
func SectorOf(b int) int {
	if b < 128 {
		return b / 4
	}
	return 32 + (b-128)/16
}

// SectorBlocks returns the first block of sector s and how many blocks it
// has, trailer included.
func SectorBlocks(s int) (first, n int) {
	if s < 32 {
		return s * 4, 4
	}
	return 128 + (s-32)*16, 16
}

// TrailerOf returns the trailer block of the sector holding block b.
func TrailerOf(b int) int {
	first, n := SectorBlocks(SectorOf(b))
	return first + n - 1
}

// IsTrailer reports whether block b is a sector trailer.
func IsTrailer(b int) bool { return TrailerOf(b) == b }

// AccessBits encodes the conditions C1C2C3 (each 0–7, as the three bits
// C1<<2|C2<<1|C3) of block groups 0–2 and the trailer (3) into the three
// access bytes of a trailer, with their inverted copies.
func AccessBits(cond [4]byte) [3]byte {
	var c1, c2, c3 byte
	for i, c := range cond {
		c1 |= (c >> 2 & 1) << i
		c2 |= (c >> 1 & 1) << i
		c3 |= (c & 1) << i
	}
	return [3]byte{
		(^c2&0xF)<<4 | ^c1&0xF,
		c1<<4 | ^c3&0xF,
		c3<<4 | c2,
	}
}

// Conditions decodes three access bytes into the conditions of block
// groups 0–2 and the trailer; ErrAccessBits if the inverted copies do not
// match.
func Conditions(b [3]byte) ([4]byte, error) {
	c1, c2, c3 := b[1]>>4, b[2]&0xF, b[2]>>4
	if b[0]&0xF != ^c1&0xF || b[0]>>4 != ^c2&0xF || b[1]&0xF != ^c3&0xF {
		return [4]byte{}, fmt.Errorf("% X: %w", b[:], ErrAccessBits)
	}
	var cond [4]byte
	for i := range cond {
		cond[i] = (c1>>i&1)<<2 | (c2>>i&1)<<1 | c3>>i&1
	}
	return cond, nil
}

// Trailer builds a sector trailer from its keys, access bits and
// general-purpose byte.
func Trailer(a Key, access [3]byte, gpb byte, b Key) Block {
	var t Block
	copy(t[0:6], a[:])
	copy(t[6:9], access[:])
	t[9] = gpb
	copy(t[10:16], b[:])
	return t
}

// ClassicMemory is the memory of a MIFARE Classic card, with the access
// rules the card enforces. It holds no transaction state: who is
// authenticated with which key is the reader's business, and is passed to
// every read and write. Methods are safe for concurrent use.
type ClassicMemory struct {
	mu     sync.Mutex
	blocks []Block
}

// NewClassicMemory returns the memory of a factory-fresh card of
// technology t with that UID: a manufacturer block, zero data, transport
// keys and access bits in every trailer.
func NewClassicMemory(t Technology, uid []byte) (*ClassicMemory, error) {
	n := ClassicBlocks(t)
	if n == 0 {
		return nil, fmt.Errorf("classic memory: %q is not a MIFARE Classic technology", t)
	}
	if len(uid) != 4 && len(uid) != 7 {
		return nil, fmt.Errorf("classic memory: uid of %d bytes, want 4 or 7", len(uid))
	}
	m := &ClassicMemory{blocks: make([]Block, n)}
	m.blocks[0] = manufacturerBlock(t, uid)
	trailer := Trailer(TransportKey, [3]byte(TransportAccess[:3]), TransportAccess[3], TransportKey)
	for b := range m.blocks {
		if IsTrailer(b) {
			m.blocks[b] = trailer
		}
	}
	return m, nil
}

// manufacturerBlock is block 0 as NXP lays it out: a 4-byte UID, its BCC,
// SAK and ATQA (LSB first); a 7-byte UID followed by SAK and ATQA.
func manufacturerBlock(t Technology, uid []byte) Block {
	sak, atqa := byte(0x08), [2]byte{0x04, 0x00}
	if t == MifareClassic4K {
		sak, atqa = 0x18, [2]byte{0x02, 0x00}
	}
	if len(uid) == 7 {
		atqa[0] |= 0x40 // double-size UID
	}
	var b Block
	n := copy(b[:], uid)
	if len(uid) == 4 {
		b[4] = uid[0] ^ uid[1] ^ uid[2] ^ uid[3]
		n++
	}
	b[n], b[n+1], b[n+2] = sak, atqa[0], atqa[1]
	return b
}

// Len is the number of blocks.
func (m *ClassicMemory) Len() int { return len(m.blocks) }

// Raw returns block b as stored, keys included, for setting up and
// checking a card from outside any transaction.
func (m *ClassicMemory) Raw(b int) (Block, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if b < 0 || b >= len(m.blocks) {
		return Block{}, fmt.Errorf("block %d: %w", b, ErrNoBlock)
	}
	return m.blocks[b], nil
}

// SetRaw stores v as block b without any access check, as a card
// personalised at the factory would be.
func (m *ClassicMemory) SetRaw(b int, v Block) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if b < 0 || b >= len(m.blocks) {
		return fmt.Errorf("block %d: %w", b, ErrNoBlock)
	}
	m.blocks[b] = v
	return nil
}

// Dump returns the whole memory as stored, keys included (the layout of a
// libnfc .mfd file).
func (m *ClassicMemory) Dump() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]byte, 0, len(m.blocks)*BlockSize)
	for _, b := range m.blocks {
		out = append(out, b[:]...)
	}
	return out
}

// conditionsLocked returns the conditions of the sector holding block b.
func (m *ClassicMemory) conditionsLocked(b int) ([4]byte, error) {
	t := m.blocks[TrailerOf(b)]
	return Conditions([3]byte(t[6:9]))
}

// group is the index into the conditions for block b: its position in a
// 4-block sector, or its group of five in a 16-block sector; 3 is the
// trailer.
func group(b int) int {
	if IsTrailer(b) {
		return 3
	}
	first, n := SectorBlocks(SectorOf(b))
	if n == 4 {
		return b - first
	}
	return (b - first) / 5
}

// keyBReadable reports trailer conditions under which key B is readable
// and so serves as data, not as a key (000, 010, 001).
func keyBReadable(c byte) bool { return c == 0b000 || c == 0b010 || c == 0b001 }

// Authenticate checks key as the sector's key of type kt for block b. Key
// B cannot authenticate while the access bits make it readable.
func (m *ClassicMemory) Authenticate(b int, kt KeyType, key Key) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if b < 0 || b >= len(m.blocks) {
		return fmt.Errorf("authenticate block %d: %w", b, ErrNoBlock)
	}
	t := m.blocks[TrailerOf(b)]
	var want []byte
	switch kt {
	case KeyA:
		want = t[0:6]
	case KeyB:
		cond, err := m.conditionsLocked(b)
		if err != nil {
			return fmt.Errorf("authenticate block %d: %w", b, ErrAuth)
		}
		if keyBReadable(cond[3]) {
			return fmt.Errorf("authenticate block %d with key B, which the access bits make readable: %w", b, ErrAuth)
		}
		want = t[10:16]
	default:
		return fmt.Errorf("authenticate block %d with %v: %w", b, kt, ErrAuth)
	}
	if string(want) != string(key[:]) {
		return fmt.Errorf("authenticate block %d with %v: %w", b, kt, ErrAuth)
	}
	return nil
}

// dataRule is who may read and write a data block under each condition.
type rule struct{ read, write keys }

type keys byte

const (
	never  keys = 0
	withA  keys = 1
	withB  keys = 2
	either      = withA | withB
)

func (k keys) allows(kt KeyType) bool {
	return (kt == KeyA && k&withA != 0) || (kt == KeyB && k&withB != 0)
}

var dataRules = [8]rule{
	0b000: {either, either},
	0b010: {either, never},
	0b100: {either, withB},
	0b110: {either, withB},
	0b001: {either, never},
	0b011: {withB, withB},
	0b101: {withB, never},
	0b111: {never, never},
}

// trailerRule is who may read and write each part of a trailer.
type trailerRule struct {
	keyAWrite, accessRead, accessWrite, keyBRead, keyBWrite keys
}

var trailerRules = [8]trailerRule{
	0b000: {withA, withA, never, withA, withA},
	0b010: {never, withA, never, withA, never},
	0b100: {withB, either, never, never, withB},
	0b110: {never, either, never, never, never},
	0b001: {withA, withA, withA, withA, withA},
	0b011: {withB, either, withB, never, withB},
	0b101: {never, either, withB, never, never},
	0b111: {never, either, never, never, never},
}

// Read returns block b as the card answers a reader authenticated for
// its sector with a key of type kt: key A always reads as zeros, and key
// B and the access bits read as zeros where the access bits hide them.
func (m *ClassicMemory) Read(b int, kt KeyType) (Block, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if b < 0 || b >= len(m.blocks) {
		return Block{}, fmt.Errorf("read block %d: %w", b, ErrNoBlock)
	}
	cond, err := m.conditionsLocked(b)
	if err != nil {
		return Block{}, fmt.Errorf("read block %d: %w", b, err)
	}
	c := cond[group(b)]
	v := m.blocks[b]
	if !IsTrailer(b) {
		r := dataRules[c]
		if kt == KeyB && keyBReadable(cond[3]) || !r.read.allows(kt) {
			return Block{}, fmt.Errorf("read block %d with %v (condition %03b): %w", b, kt, c, ErrDenied)
		}
		return v, nil
	}
	r := trailerRules[c]
	clear(v[0:6])
	if !r.accessRead.allows(kt) {
		clear(v[6:10])
	}
	if !r.keyBRead.allows(kt) {
		clear(v[10:16])
	}
	return v, nil
}

// Write stores v as block b for a reader authenticated with a key of type
// kt. Block 0 is read-only. A trailer write changes only the parts (key
// A, access bits with the general-purpose byte, key B) the access bits
// let kt write, and is refused if that is none of them; access bits whose
// copies do not match are refused rather than stored, so the model never
// locks a sector by accident.
func (m *ClassicMemory) Write(b int, kt KeyType, v Block) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if b < 0 || b >= len(m.blocks) {
		return fmt.Errorf("write block %d: %w", b, ErrNoBlock)
	}
	if b == 0 {
		return fmt.Errorf("write block 0 (manufacturer block): %w", ErrDenied)
	}
	cond, err := m.conditionsLocked(b)
	if err != nil {
		return fmt.Errorf("write block %d: %w", b, err)
	}
	c := cond[group(b)]
	if !IsTrailer(b) {
		if kt == KeyB && keyBReadable(cond[3]) || !dataRules[c].write.allows(kt) {
			return fmt.Errorf("write block %d with %v (condition %03b): %w", b, kt, c, ErrDenied)
		}
		m.blocks[b] = v
		return nil
	}
	r := trailerRules[c]
	if !r.keyAWrite.allows(kt) && !r.accessWrite.allows(kt) && !r.keyBWrite.allows(kt) {
		return fmt.Errorf("write trailer %d with %v (condition %03b): %w", b, kt, c, ErrDenied)
	}
	if r.accessWrite.allows(kt) {
		if _, err := Conditions([3]byte(v[6:9])); err != nil {
			return fmt.Errorf("write trailer %d: %w", b, err)
		}
	}
	t := m.blocks[b]
	if r.keyAWrite.allows(kt) {
		copy(t[0:6], v[0:6])
	}
	if r.accessWrite.allows(kt) {
		copy(t[6:10], v[6:10])
	}
	if r.keyBWrite.allows(kt) {
		copy(t[10:16], v[10:16])
	}
	m.blocks[b] = t
	return nil
}
