package acr122

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/encoderlab/encoderlab/internal/pcscd"
	"github.com/encoderlab/encoderlab/sim/card"
	"github.com/encoderlab/encoderlab/sim/device"
)

// Conn is the stream a device is served on: vpcd's socket, or one end of
// net.Pipe in tests. SetReadDeadline must wake a pending Read.
type Conn interface {
	io.ReadWriter
	SetReadDeadline(t time.Time) error
}

// vpcd's controls (a 1-byte message from pcscd).
const (
	ctrlOff   = 0x00
	ctrlOn    = 0x01
	ctrlReset = 0x02
	ctrlATR   = 0x04
)

// Status words (API 4.1, 5.x; ISO 7816-4 for the malformed).
var (
	swOK          = []byte{0x90, 0x00}
	swFailed      = []byte{0x63, 0x00}
	swUnsupported = []byte{0x6A, 0x81}
	swWrongLength = []byte{0x67, 0x00}
	swBadClass    = []byte{0x6E, 0x00}
	swEndOfUID    = []byte{0x62, 0x82}
)

// session is one Serve: the reader on one stream. The reader answers one
// message before it reads the next (vpcd sends one at a time), so it needs
// no lock of its own.
type session struct {
	d    *Device
	conn Conn
	// keys are the reader's volatile key locations 00 and 01 (API 5.1).
	keys   [2]card.Key
	loaded [2]bool
	// cs is the card pcscd has powered; nil between cards.
	cs *cardSession
	// answering are the command kinds the answer being made answers,
	// counted as answered once it is on the line (an eject answers none).
	answering []string
}

// cardSession is one card from its ATR to its eject.
type cardSession struct {
	c   *card.Card
	gen uint64
	// authed, sector and keyType are the last successful authentication.
	// halted: an authentication failed, and the card answers nothing
	// until pcscd resets or powers it again (MIFARE Classic's HALT).
	authed        bool
	halted        bool
	sector        int
	keyType       card.KeyType
	encodeCounted bool
	written       map[int]bool
	stored        bool
}

// Serve speaks vpcd's protocol on conn until ctx ends (it returns nil) or
// conn fails (it returns the error). Each call starts a freshly powered
// reader (no keys loaded, no card session); the field, the cards'
// memories and the counters persist.
func (d *Device) Serve(ctx context.Context, conn Conn) error {
	if conn == nil {
		return errors.New("acr122 device: serve: no line")
	}
	if !d.serving.CompareAndSwap(false, true) {
		return ErrServing
	}
	defer d.serving.Store(false)
	if err := device.ClearDeadlines(conn); err != nil {
		return fmt.Errorf("acr122 device: serve: %w", err)
	}
	stop := context.AfterFunc(ctx, device.Interrupter(conn))
	defer stop()
	s := &session{d: d, conn: conn}
	for {
		msg, err := pcscd.ReadMessage(conn)
		if err != nil {
			return s.ended(ctx, err)
		}
		answer, reply := s.handle(ctx, msg)
		if !reply {
			continue
		}
		sent, err := s.send(ctx, answer)
		if err != nil {
			return s.ended(ctx, err)
		}
		if sent != nil {
			for _, kind := range s.answering {
				d.commands.Answered(kind)
			}
		}
		s.answering = s.answering[:0]
	}
}

// ended is Serve's result when the stream stops: nil once ctx ended.
func (s *session) ended(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// handle is the answer to one message; reply is false for the controls
// vpcd sends unanswered. A nil answer ejects the card.
func (s *session) handle(ctx context.Context, msg []byte) (answer []byte, reply bool) {
	switch {
	case len(msg) == 0:
		return nil, false // not something pcscd sends; nothing to answer
	case len(msg) == 1:
		switch msg[0] {
		case ctrlOff, ctrlOn, ctrlReset:
			if s.cs != nil {
				s.cs.authed, s.cs.halted = false, false
			}
			return nil, false
		case ctrlATR:
			return s.atr(), true
		}
		// An unknown control: vpcd sends none, and waits for no answer.
		s.d.log.Debug("unknown control ignored", "byte", msg[0])
		return nil, false
	}
	if !s.present() {
		return nil, true
	}
	return s.apdu(ctx, msg), true
}

// send writes one answer (nil: the eject), withheld while the device is
// silent; an answer withheld until the silence ends becomes an eject. It
// returns the answer sent.
func (s *session) send(ctx context.Context, answer []byte) ([]byte, error) {
	if silent, lifted := s.d.silence(); silent {
		select {
		case <-lifted:
			answer = nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if answer == nil {
		s.cs = nil
	}
	if err := pcscd.WriteMessage(s.conn, answer); err != nil {
		return nil, err
	}
	return answer, nil
}

// present reports whether the session's card is still in the field;
// when it is not, the session ends (its answer is the eject).
func (s *session) present() bool {
	c, gen := s.d.visible()
	if s.cs == nil || s.cs.c != c || s.cs.gen != gen {
		s.cs = nil
		return false
	}
	return true
}

// atr answers pcscd's ATR request: the card's ATR, or the eject when no
// card is in the field or the session's card left (the next connection
// then meets the card there now).
func (s *session) atr() []byte {
	c, gen := s.d.visible()
	switch {
	case c == nil:
		s.cs = nil
		return nil
	case s.cs == nil:
		s.cs = &cardSession{c: c, gen: gen, written: map[int]bool{}}
		s.d.log.Debug("card session", "card", c.Name)
	case s.cs.c != c || s.cs.gen != gen:
		s.cs = nil
		return nil
	}
	return ATR(c.Tech)
}

// ATR is the reader's ATR for a card of technology t (API 3.1): the
// PC/SC part 3 ATR with the card's name for an ISO 14443-3 card,
// DESFire's part 4 ATR, nil for a card the field does not see.
func ATR(t card.Technology) []byte {
	var name [2]byte
	switch t {
	case card.MifareClassic1K:
		name = [2]byte{0x00, 0x01}
	case card.MifareClassic4K:
		name = [2]byte{0x00, 0x02}
	case card.MifareUltralight:
		name = [2]byte{0x00, 0x03}
	case card.DESFire:
		// Part 4: the ATS's historical bytes (a DESFire EV1 has one,
		// 80), then TCK.
		return []byte{0x3B, 0x81, 0x80, 0x01, 0x80, 0x80}
	default:
		return nil
	}
	atr := []byte{0x3B, 0x8F, 0x80, 0x01, 0x80, 0x4F, 0x0C, 0xA0, 0x00, 0x00, 0x03, 0x06, 0x03, name[0], name[1], 0x00, 0x00, 0x00, 0x00}
	var tck byte
	for _, b := range atr[1:] {
		tck ^= b
	}
	return append(atr, tck)
}

// apdu answers one command APDU for the session's card.
func (s *session) apdu(ctx context.Context, a []byte) []byte {
	if len(a) < 4 {
		return swWrongLength
	}
	if a[0] != 0xFF {
		return swBadClass
	}
	ins, p1, p2, body := a[1], a[2], a[3], a[4:]
	switch ins {
	case 0xCA:
		return s.getData(p1, p2, body)
	case 0x82:
		return s.loadKey(p1, p2, body)
	case 0x86:
		if len(body) != 6 || body[0] != 5 || body[1] != 0x01 || body[2] != 0x00 {
			return swFailed
		}
		return s.authenticate(body[3], body[4], body[5])
	case 0x88:
		// The obsolete form (API 5.2): FF 88 00 block type number.
		if len(body) != 2 || p1 != 0x00 {
			return swFailed
		}
		return s.authenticate(p2, body[0], body[1])
	case 0xB0:
		if p1 != 0x00 || len(body) != 1 {
			return swFailed
		}
		return s.read(ctx, int(p2), int(body[0]))
	case 0xD6:
		if p1 != 0x00 || len(body) < 1 || int(body[0]) != len(body)-1 {
			return swFailed
		}
		return s.update(ctx, int(p2), body[1:])
	}
	return swUnsupported
}

// getData answers FF CA (API 4.1): P1 00 the UID, P1 01 the ATS of an
// ISO 14443-4 card. Le 00 asks for all of it.
func (s *session) getData(p1, p2 byte, body []byte) []byte {
	if p2 != 0x00 || len(body) > 1 {
		return swFailed
	}
	var data []byte
	switch p1 {
	case 0x00:
		s.d.count(cmdRead)
		s.answering = append(s.answering, cmdRead)
		data = uidBytes(s.cs.c)
	case 0x01:
		if s.cs.c.Tech != card.DESFire {
			return swUnsupported
		}
		data = []byte{0x06, 0x75, 0x77, 0x81, 0x02, 0x80}
	default:
		return swUnsupported
	}
	le := 0
	if len(body) == 1 {
		le = int(body[0])
	}
	switch {
	case le == 0 || le == len(data):
		return append(data, swOK...)
	case le < len(data):
		return []byte{0x6C, byte(len(data))}
	}
	return append(data, swEndOfUID...)
}

// loadKey answers FF 82 (API 5.1): key structure 00 (volatile), key
// location 00 or 01, six key bytes.
func (s *session) loadKey(p1, p2 byte, body []byte) []byte {
	if p1 != 0x00 || p2 > 1 || len(body) != 7 || body[0] != 6 {
		return swFailed
	}
	copy(s.keys[p2][:], body[1:])
	s.loaded[p2] = true
	return swOK
}

// authenticate runs a MIFARE Classic authentication of block with the
// key in location n, as key A (60) or key B (61).
func (s *session) authenticate(block, keyType, n byte) []byte {
	cs := s.cs
	cs.authed = false
	var kt card.KeyType
	switch keyType {
	case 0x60:
		kt = card.KeyA
	case 0x61:
		kt = card.KeyB
	default:
		return swFailed
	}
	if n > 1 || !s.loaded[n] {
		return swFailed
	}
	mem, ok := s.classic()
	if !ok || int(block) >= mem.Len() || cs.halted {
		return swFailed
	}
	if err := mem.Authenticate(int(block), kt, s.keys[n]); err != nil {
		s.d.log.Debug("authentication refused; the card halts", "card", cs.c.Name, "block", block, "err", err)
		cs.halted = true
		return swFailed
	}
	cs.authed, cs.sector, cs.keyType = true, card.SectorOf(int(block)), kt
	// What follows an authentication is one piece of card work: its
	// first update of the credential sector is an encode, and its writes
	// are what makes a credential.
	cs.encodeCounted, cs.stored = false, false
	clear(cs.written)
	return swOK
}

// classic returns the session card's memory, if it is a Classic card.
func (s *session) classic() (*card.ClassicMemory, bool) {
	if card.ClassicBlocks(s.cs.c.Tech) == 0 {
		return nil, false
	}
	mem, err := s.d.ClassicMemory(s.cs.c)
	if err != nil {
		s.d.log.Debug("card memory", "err", err)
		return nil, false
	}
	return mem, true
}

// read answers FF B0 (API 5.3): n bytes (at most 16) of a block of an
// authenticated sector, or of four Ultralight pages from page block.
func (s *session) read(ctx context.Context, block, n int) []byte {
	if n < 1 || n > card.BlockSize {
		return swFailed
	}
	var data []byte
	switch cs := s.cs; {
	case cs.c.Tech == card.MifareUltralight:
		pages := s.d.ultralightPages(cs.c)
		if block >= len(pages)/4 {
			return swFailed
		}
		for i := range 4 {
			pg := (block + i) % (len(pages) / 4)
			data = append(data, pages[pg*4:pg*4+4]...)
		}
	default:
		mem, ok := s.classic()
		if !ok || block >= mem.Len() || cs.halted || !cs.authed || card.SectorOf(block) != cs.sector {
			return swFailed
		}
		b, err := mem.Read(block, cs.keyType)
		if err != nil {
			return swFailed
		}
		data = b[:]
	}
	if !s.takes(ctx, s.d.cfg.ReadTime) {
		return nil
	}
	return append(data[:n:n], swOK...)
}

// update answers FF D6 (API 5.4): 16 bytes to a block of an authenticated
// sector, or 4 to an Ultralight page from 4 on. The first update of the
// credential sector after an authentication is the encode command.
func (s *session) update(ctx context.Context, block int, data []byte) []byte {
	cs := s.cs
	if cs.c.Tech == card.MifareUltralight {
		pages := s.d.ultralightPages(cs.c)
		if len(data) != 4 || block < 4 || block >= len(pages)/4 {
			return swFailed
		}
		if !s.takes(ctx, s.d.cfg.WriteTime) {
			return nil
		}
		s.d.mu.Lock()
		copy(pages[block*4:], data)
		s.d.mu.Unlock()
		return swOK
	}
	if card.IsCredentialBlock(block) && !cs.encodeCounted {
		cs.encodeCounted = true
		s.d.count(cmdEncode)
		s.answering = append(s.answering, cmdEncode)
	}
	mem, ok := s.classic()
	if !ok || len(data) != card.BlockSize || block >= mem.Len() || cs.halted || !cs.authed || card.SectorOf(block) != cs.sector {
		return swFailed
	}
	if !s.takes(ctx, s.d.cfg.WriteTime) {
		return nil
	}
	if err := mem.Write(block, cs.keyType, card.Block(data)); err != nil {
		s.d.log.Debug("update refused", "card", cs.c.Name, "block", block, "err", err)
		return swFailed
	}
	s.credentialWritten(mem, block)
	return swOK
}

// takes reports whether the session's card stays in the field for dur,
// the time a block read or update takes; when it leaves, the session
// ends and the answer is the eject.
func (s *session) takes(ctx context.Context, dur time.Duration) bool {
	if dur <= 0 {
		return true
	}
	if !s.d.stays(ctx, s.cs.c, s.cs.gen, dur) {
		s.cs = nil
		return false
	}
	return true
}

// credentialWritten keeps the card's contents in step with its memory, as
// the PN532 model does (docs/protocols/acr122.md, "What a card holds"):
// once a card session has updated all three credential blocks, they hold
// a complete credential and the sector opens with the system key B, the
// card holds that credential.
func (s *session) credentialWritten(mem *card.ClassicMemory, block int) {
	cs := s.cs
	if block < card.BlockHeader || block > card.BlockKeys {
		return
	}
	cs.written[block] = true
	if cs.stored || !cs.written[card.BlockHeader] || !cs.written[card.BlockValid] || !cs.written[card.BlockLabel] {
		return
	}
	c, ok := card.CredentialIn(mem, s.d.cfg.SystemKeyB)
	if !ok {
		return
	}
	cs.stored = true
	cs.c.Write(c)
	s.d.log.Debug("card written", "card", cs.c.Name, "kind", c.Kind, "card_id", c.CardID)
}

// uidBytes is a card's UID as the reader reports it: the whole UID the
// card answered the anticollision with, as the scenario gives it, also
// the 10 bytes no real Classic card has (block 0 keeps 7 of them, but the
// reader reports the UID, not block 0; the PN532 model does the same).
func uidBytes(c *card.Card) []byte {
	uid, err := hex.DecodeString(c.UID)
	if err != nil {
		return nil
	}
	return uid
}
