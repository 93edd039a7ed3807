package card

import (
	"encoding/hex"
	"fmt"
)

// Memories keeps the memory of each card a device model has touched, made
// from what the scenario says the card holds the first time it is
// needed and kept for the card's life, so a card written and taken away
// holds what was written when it comes back. It is not safe for
// concurrent use: a device keeps it under its own lock.
type Memories struct {
	keyA, keyB Key
	classic    map[*Card]*ClassicMemory
	pages      map[*Card][]byte
}

// NewMemories returns the memories of a device whose system keys are
// keyA and keyB (a guest or staff card's credential sector opens with
// them).
func NewMemories(keyA, keyB Key) *Memories {
	return &Memories{keyA: keyA, keyB: keyB, classic: map[*Card]*ClassicMemory{}, pages: map[*Card][]byte{}}
}

// Classic returns MIFARE Classic card c's memory (ClassicMemoryFor the
// first time).
func (m *Memories) Classic(c *Card) (*ClassicMemory, error) {
	if mem, ok := m.classic[c]; ok {
		return mem, nil
	}
	mem, err := ClassicMemoryFor(c, m.keyA, m.keyB)
	if err != nil {
		return nil, fmt.Errorf("card %q: %w", c.Name, err)
	}
	m.classic[c] = mem
	return mem, nil
}

// Ultralight returns Ultralight card c's 16 pages (UltralightPages of its
// UID the first time); a write to them stays.
func (m *Memories) Ultralight(c *Card) []byte {
	if p, ok := m.pages[c]; ok {
		return p
	}
	uid, _ := hex.DecodeString(c.UID) // a loaded card's UID is hex
	p := UltralightPages(uid)
	m.pages[c] = p
	return p
}
