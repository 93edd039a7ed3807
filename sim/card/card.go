// Package card models the physical cards a virtual encoder can find in its
// field: their technology, UID and what they already hold. Device models
// (sim/device/...) read and write them; scenarios create them.
package card

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Technology is a card type, named as in the scenario format.
type Technology string

const (
	MifareClassic1K  Technology = "mifare-classic-1k"
	MifareClassic4K  Technology = "mifare-classic-4k"
	MifareUltralight Technology = "mifare-ultralight"
	DESFire          Technology = "desfire"
	Prox125kHz       Technology = "prox-125khz"
)

// Technologies lists every known technology.
var Technologies = []Technology{MifareClassic1K, MifareClassic4K, MifareUltralight, DESFire, Prox125kHz}

// Valid reports whether t is a known technology.
func (t Technology) Valid() bool {
	for _, k := range Technologies {
		if t == k {
			return true
		}
	}
	return false
}

// Kind is what a card holds.
type Kind string

const (
	Blank   Kind = "blank"   // nothing written yet
	Guest   Kind = "guest"   // a guest credential of the encoder's system
	Staff   Kind = "staff"   // a valid staff credential of the encoder's system: must not be overwritten
	Foreign Kind = "foreign" // a card of another system
)

// Kinds lists every known content kind.
var Kinds = []Kind{Blank, Guest, Staff, Foreign}

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool {
	for _, v := range Kinds {
		if k == v {
			return true
		}
	}
	return false
}

// Contents is what is written on a card.
type Contents struct {
	Kind Kind
	// CardID is the lock system's id for the credential on the card
	// (16 upper-case hex digits), empty for Blank and Foreign.
	CardID string
	// Function is "G" or "S" as written by an encoder, empty if blank.
	Function string
	// ValidFrom and ValidUntil are as written (YYYYMMDDhhmm), may be empty.
	ValidFrom, ValidUntil string
	// Label is as written.
	Label string
	// Writes counts how many times an encoder wrote this card.
	Writes int
}

// Card is one physical card. Its contents change when an encoder writes
// it, so every access goes through its methods.
type Card struct {
	Name string
	Tech Technology
	// UID is the card's unique id as upper-case hex: 4, 7 or 10 bytes.
	UID string

	mu       sync.Mutex
	contents Contents
	// writtenAt is when the last write completed.
	writtenAt time.Time
	// wrote is closed (and replaced) at every write, waking AwaitWrites.
	wrote chan struct{}
}

// WrittenAt is when an encoder last finished writing the card (zero:
// never), so a check can tell what happened before the write.
func (c *Card) WrittenAt() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writtenAt
}

// New returns a card holding c. It checks the UID.
func New(name string, tech Technology, uid string, c Contents) (*Card, error) {
	uid = strings.ToUpper(uid)
	b, err := hex.DecodeString(uid)
	if err != nil || (len(b) != 4 && len(b) != 7 && len(b) != 10) {
		return nil, fmt.Errorf("card %q: uid %q must be 4, 7 or 10 bytes of hex", name, uid)
	}
	if !tech.Valid() {
		return nil, fmt.Errorf("card %q: unknown technology %q", name, tech)
	}
	if c.Kind == "" {
		c.Kind = Blank
	}
	if !c.Kind.Valid() {
		return nil, fmt.Errorf("card %q: unknown contents %q", name, c.Kind)
	}
	return &Card{Name: name, Tech: tech, UID: uid, contents: c}, nil
}

// Contents returns a copy of what the card holds.
func (c *Card) Contents() Contents {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.contents
}

// Write replaces what the card holds and counts the write.
func (c *Card) Write(v Contents) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v.Writes = c.contents.Writes + 1
	c.contents = v
	c.writtenAt = time.Now()
	if c.wrote != nil {
		close(c.wrote)
		c.wrote = nil
	}
}

// AwaitWrites blocks until an encoder has written the card n times in
// all, or ctx ends. It returns at once if it already has.
func (c *Card) AwaitWrites(ctx context.Context, n int) error {
	for {
		c.mu.Lock()
		got := c.contents.Writes
		if c.wrote == nil {
			c.wrote = make(chan struct{})
		}
		ch := c.wrote
		c.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("card %q: await write #%d (written %d times): %w", c.Name, n, got, ctx.Err())
		}
	}
}
