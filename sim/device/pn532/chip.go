package pn532

import (
	"bytes"
	"context"
	"encoding/hex"
	"slices"
	"time"

	"github.com/encoderlab/encoderlab/sim/card"
	"github.com/encoderlab/encoderlab/sim/device"
)

// Command codes (UM0701-02, chapter 7). A response's code is the
// command's plus one.
const (
	cmdDiagnose            byte = 0x00
	cmdGetFirmwareVersion  byte = 0x02
	cmdGetGeneralStatus    byte = 0x04
	cmdReadRegister        byte = 0x06
	cmdWriteRegister       byte = 0x08
	cmdSetParameters       byte = 0x12
	cmdSAMConfiguration    byte = 0x14
	cmdPowerDown           byte = 0x16
	cmdRFConfiguration     byte = 0x32
	cmdInDataExchange      byte = 0x40
	cmdInCommunicateThru   byte = 0x42
	cmdInDeselect          byte = 0x44
	cmdInListPassiveTarget byte = 0x4A
	cmdInSelect            byte = 0x54
	cmdInRelease           byte = 0x52
	cmdInAutoPoll          byte = 0x60
)

// Status bytes of the In… commands.
const (
	stOK       byte = 0x00
	stTimeout  byte = 0x01 // the target did not answer
	stMifare   byte = 0x14 // MIFARE authentication error (the card NAKed)
	stBadParam byte = 0x10 // invalid parameter
	stContext  byte = 0x27 // not acceptable in the current context
)

// MIFARE commands inside InDataExchange.
const (
	mfAuthA   byte = 0x60
	mfAuthB   byte = 0x61
	mfRead    byte = 0x30
	mfWrite   byte = 0xA0
	ulWrite   byte = 0xA2
	isoRATS   byte = 0xE0
	isoHALTA0 byte = 0x50
)

// Firmware: IC PN532, version 1.6, supporting ISO 14443 A and B and
// ISO 18092 (what UM0701-02 gives for the PN532/C1).
var firmware = []byte{0x32, 0x01, 0x06, 0x07}

// desfireATS is a DESFire EV1's answer to select, length byte first.
var desfireATS = []byte{0x06, 0x75, 0x77, 0x81, 0x02, 0x80}

// target is a card the chip selected with InListPassiveTarget.
type target struct {
	c   *card.Card
	gen uint64 // the card's placement when it was selected

	authed  bool
	sector  int
	keyType card.KeyType
	// halted: the card stopped answering (failed authentication, a NAK);
	// it answers again only once selected anew.
	halted bool

	// encodeCounted: this selection's first credential write was counted.
	encodeCounted bool
	// written holds the credential blocks written in this selection.
	written map[int]bool
	stored  bool
}

// reply is what the chip does with a command: send a frame now, or wait
// (off the reading goroutine, abortable) and then compute the frame.
type reply struct {
	frame []byte
	// wait, when set, blocks until the command can be answered or ctx
	// ends; then builds the frame with the session's lock held.
	wait func(ctx context.Context)
	then func() []byte
}

func now(b []byte) reply { return reply{frame: b} }

// chip is the PN532's state for one line: registers, settings and the
// selected targets. A hangup of the line is a power cycle, so each Serve
// starts a fresh chip; the cards and counters live in the Device.
type chip struct {
	d         *Device
	registers map[uint16]byte
	// retries is MxRtyPassiveActivation; 0xFF waits for ever.
	retries byte
	targets []*target // Tg = index+1
	// noted are the command kinds the current step received, counted
	// once the step's ACK is on the line (takeNoted): a timeline that
	// acts when a command arrives (a reboot during a write) then finds
	// the command acknowledged, as on a chip that ACKs before it works.
	noted []string
}

// note records a command kind of the current step.
func (ch *chip) note(kind string) { ch.noted = append(ch.noted, kind) }

// takeNoted returns and clears the kinds noted.
func (ch *chip) takeNoted() []string {
	k := ch.noted
	ch.noted = nil
	return k
}

func newChip(d *Device) *chip {
	return &chip{d: d, registers: map[uint16]byte{}, retries: 0xFF}
}

// response builds the response frame to cmd carrying data.
func response(cmd byte, data ...byte) []byte {
	return appendFrame(nil, tfiChip, append([]byte{cmd + 1}, data...))
}

// handle acts on one command from the host.
func (ch *chip) handle(cmd byte, p []byte) reply {
	syntax := now(errorFrame)
	switch cmd {
	case cmdDiagnose:
		if len(p) < 1 {
			return syntax
		}
		switch p[0] {
		case 0x00: // communication line test: echo
			return now(response(cmd, p...))
		case 0x01, 0x02: // ROM and RAM tests pass
			return now(response(cmd, 0x00))
		}
		return syntax
	case cmdGetFirmwareVersion:
		return now(response(cmd, firmware...))
	case cmdGetGeneralStatus:
		out := []byte{0x00, 0x01, byte(len(ch.targets))}
		for i := range ch.targets {
			out = append(out, byte(i+1), 0x00, 0x00, 0x00)
		}
		return now(response(cmd, append(out, 0x00)...))
	case cmdReadRegister:
		if len(p) == 0 || len(p)%2 != 0 {
			return syntax
		}
		var out []byte
		for i := 0; i < len(p); i += 2 {
			out = append(out, ch.registers[uint16(p[i])<<8|uint16(p[i+1])])
		}
		return now(response(cmd, out...))
	case cmdWriteRegister:
		if len(p) == 0 || len(p)%3 != 0 {
			return syntax
		}
		for i := 0; i < len(p); i += 3 {
			ch.registers[uint16(p[i])<<8|uint16(p[i+1])] = p[i+2]
		}
		return now(response(cmd))
	case cmdSetParameters:
		if len(p) != 1 {
			return syntax
		}
		return now(response(cmd))
	case cmdSAMConfiguration:
		if len(p) < 1 || p[0] < 1 || p[0] > 4 {
			return syntax
		}
		return now(response(cmd))
	case cmdPowerDown:
		if len(p) < 1 {
			return syntax
		}
		ch.targets = nil
		return now(response(cmd, stOK))
	case cmdRFConfiguration:
		if len(p) < 1 {
			return syntax
		}
		switch p[0] {
		case 0x01: // RF field
			if len(p) >= 2 && p[1]&0x01 == 0 {
				ch.targets = nil // no field, no card stays selected
			}
		case 0x05: // MaxRetries: MxRtyATR, MxRtyPSL, MxRtyPassiveActivation
			if len(p) != 4 {
				return syntax
			}
			ch.retries = p[3]
		}
		return now(response(cmd))
	case cmdInListPassiveTarget:
		return ch.listPassive(p)
	case cmdInAutoPoll:
		return ch.autoPoll(p)
	case cmdInDataExchange:
		if len(p) < 1 {
			return syntax
		}
		t := ch.target(p[0] & 0x0F)
		if t == nil {
			return now(response(cmd, stContext))
		}
		return ch.exchange(cmd, t, p[1:])
	case cmdInCommunicateThru:
		if len(ch.targets) == 0 {
			return now(response(cmd, stContext))
		}
		return ch.thru(ch.targets[0], p)
	case cmdInDeselect, cmdInRelease, cmdInSelect:
		if len(p) != 1 {
			return syntax
		}
		return now(response(cmd, ch.selection(cmd, p[0])))
	}
	return syntax
}

func (ch *chip) target(tg byte) *target {
	if tg < 1 || int(tg) > len(ch.targets) {
		return nil
	}
	return ch.targets[tg-1]
}

// selection runs InDeselect, InRelease and InSelect on target tg (0: all).
func (ch *chip) selection(cmd, tg byte) byte {
	if tg != 0 && ch.target(tg) == nil {
		return stContext
	}
	switch cmd {
	case cmdInRelease:
		if tg == 0 {
			ch.targets = nil
		} else {
			ch.targets = slices.Delete(ch.targets, int(tg-1), int(tg))
		}
	case cmdInDeselect:
		for i, t := range ch.targets {
			if tg == 0 || int(tg) == i+1 {
				t.authed = false
			}
		}
	}
	return stOK
}

// listPassive runs InListPassiveTarget: MaxTg, BrTy, [initiator data].
// The chip looks for cards for (retries+1) activation attempts, for ever
// with retries 0xFF; only 106 kbps type A cards exist in this field.
func (ch *chip) listPassive(p []byte) reply {
	if len(p) < 2 || p[0] < 1 || p[0] > 2 || p[1] > 0x04 {
		return now(errorFrame)
	}
	ch.note(cmdRead)
	ch.targets = nil
	maxTg, typeA := int(p[0]), p[1] == 0x00
	var levels []byte // the UID to select, as cascade levels
	if typeA && len(p) > 2 {
		levels = p[2:]
		if len(levels)%4 != 0 || len(levels) > 12 {
			// Neither one, two nor three cascade levels.
			return now(errorFrame)
		}
	}
	match := func(c *card.Card) bool {
		if levels == nil {
			return true
		}
		uid, err := hex.DecodeString(c.UID)
		return err == nil && bytes.HasPrefix(cascadeLevels(uid), levels)
	}
	within := ch.attempts()
	return reply{
		wait: func(ctx context.Context) {
			if typeA {
				ch.waitForCard(ctx, within, match)
			} else {
				ch.waitForCard(ctx, within, func(*card.Card) bool { return false })
			}
		},
		then: func() []byte {
			out := []byte{0}
			if typeA {
				out = ch.selectCards(maxTg, match, out)
			}
			return response(cmdInListPassiveTarget, out...)
		},
	}
}

// cascadeLevels is uid as the anticollision loop of ISO/IEC 14443-3
// (6.4.4) carries it, four bytes per cascade level: each level but the
// last starts with the cascade tag 0x88 and holds three UID bytes, the
// last holds four. UM0701-02 7.3.5 has the host give InListPassiveTarget
// the UID in this form ("the UID must include the cascade tag CT if it is
// cascaded level 2 or 3"), whole levels from the first; the chip runs the
// levels given and lets the card answer the rest.
func cascadeLevels(uid []byte) []byte {
	const ct = 0x88
	var out []byte
	for len(uid) > 4 {
		out = append(out, ct, uid[0], uid[1], uid[2])
		uid = uid[3:]
	}
	return append(out, uid...)
}

// autoPoll runs InAutoPoll: PollNr, Period (150 ms units), types. Type A
// types (0x00 generic 106 kbps, 0x10 MIFARE, 0x20 ISO 14443-4A) can find
// a card; the others never do.
func (ch *chip) autoPoll(p []byte) reply {
	if len(p) < 3 || p[0] == 0 || p[1] == 0 || len(p) > 17 {
		return now(errorFrame)
	}
	ch.note(cmdRead)
	ch.targets = nil
	types := p[2:]
	var forever time.Duration
	if p[0] != 0xFF {
		forever = time.Duration(p[0]) * time.Duration(len(types)) * time.Duration(p[1]) * ch.d.cfg.Activation * 5
	}
	typeOf := func(c *card.Card) (byte, bool) {
		for _, ty := range types {
			switch {
			case ty == 0x00, ty == 0x10 && isClassic(c.Tech):
				return ty, true
			case ty == 0x20 && c.Tech == card.DESFire:
				return ty, true
			}
		}
		return 0, false
	}
	match := func(c *card.Card) bool { _, ok := typeOf(c); return ok }
	return reply{
		wait: func(ctx context.Context) { ch.waitForCard(ctx, forever, match) },
		then: func() []byte {
			sel := ch.selectCards(1, match, []byte{0})
			if sel[0] == 0 {
				return response(cmdInAutoPoll, 0)
			}
			ty, _ := typeOf(ch.targets[0].c)
			return response(cmdInAutoPoll, append([]byte{1, ty, byte(len(sel) - 1)}, sel[1:]...)...)
		},
	}
}

// attempts is how long InListPassiveTarget looks for a card under the
// current MxRtyPassiveActivation: 0 means for ever.
func (ch *chip) attempts() time.Duration {
	if ch.retries == 0xFF {
		return 0
	}
	return time.Duration(int(ch.retries)+1) * ch.d.cfg.Activation
}

// waitForCard blocks until a visible card satisfies match, for at most
// within (0: no bound), or until ctx ends. Even a card already there takes
// one activation attempt to find.
func (ch *chip) waitForCard(ctx context.Context, within time.Duration, match func(*card.Card) bool) {
	first := time.NewTimer(ch.d.cfg.Activation)
	defer first.Stop()
	select {
	case <-first.C:
	case <-ctx.Done():
		return
	}
	var limit <-chan time.Time
	if within > 0 {
		t := time.NewTimer(within - ch.d.cfg.Activation)
		defer t.Stop()
		limit = t.C
	}
	for {
		ch.d.mu.Lock()
		found := slices.ContainsFunc(ch.d.visibleLocked(), match)
		changed := ch.d.fieldChanged
		ch.d.mu.Unlock()
		if found {
			return
		}
		select {
		case <-changed:
		case <-limit:
			return
		case <-ctx.Done():
			return
		}
	}
}

// selectCards selects up to maxTg visible cards that satisfy match,
// appending NbTg and each target's data to out[0:1] (out[0] is NbTg).
func (ch *chip) selectCards(maxTg int, match func(*card.Card) bool, out []byte) []byte {
	ch.d.mu.Lock()
	defer ch.d.mu.Unlock()
	for _, c := range ch.d.visibleLocked() {
		if len(ch.targets) == maxTg || !match(c) {
			continue
		}
		uid, err := hex.DecodeString(c.UID)
		if err != nil {
			continue
		}
		ch.targets = append(ch.targets, &target{c: c, gen: ch.d.placed[c], written: map[int]bool{}})
		atqa, sak := identity(c.Tech, len(uid))
		out = append(out, byte(len(ch.targets)), atqa[0], atqa[1], sak, byte(len(uid)))
		out = append(out, uid...)
		if c.Tech == card.DESFire {
			out = append(out, desfireATS...)
		}
	}
	out[0] = byte(len(ch.targets))
	return out
}

// identity is a technology's ATQA (SENS_RES, as the PN532 sends it, MSB
// first) and SAK (SEL_RES); the ATQA's UID-size bits follow the UID.
func identity(t card.Technology, uidLen int) ([2]byte, byte) {
	var size byte
	switch uidLen {
	case 7:
		size = 0x40
	case 10:
		size = 0x80
	}
	switch t {
	case card.MifareClassic1K:
		return [2]byte{0x00, 0x04 | size}, 0x08
	case card.MifareClassic4K:
		return [2]byte{0x00, 0x02 | size}, 0x18
	case card.MifareUltralight:
		return [2]byte{0x00, 0x04 | size}, 0x00
	case card.DESFire:
		return [2]byte{0x03, 0x04 | size}, 0x20
	}
	return [2]byte{}, 0
}

func isClassic(t card.Technology) bool {
	return t == card.MifareClassic1K || t == card.MifareClassic4K
}

// present reports whether t's card is still in the field since it was
// selected, and answering.
func (ch *chip) present(t *target) bool {
	ch.d.mu.Lock()
	defer ch.d.mu.Unlock()
	return ch.d.presentLocked(t.c, t.gen) && !t.halted
}

// exchange runs InDataExchange's data on target t.
func (ch *chip) exchange(cmd byte, t *target, data []byte) reply {
	if !ch.present(t) || len(data) == 0 {
		return now(response(cmd, stTimeout))
	}
	switch {
	case isClassic(t.c.Tech):
		return ch.classic(cmd, t, data)
	case t.c.Tech == card.MifareUltralight:
		return now(response(cmd, ch.ultralight(t, data)...))
	case t.c.Tech == card.DESFire:
		// An ISO 14443-4 card: every native command this model receives
		// is one it does not know (DESFire status 0x1C, illegal command).
		return now(response(cmd, stOK, 0x1C))
	}
	return now(response(cmd, stTimeout))
}

// thru runs InCommunicateThru: raw frames, no MIFARE crypto. Only an
// Ultralight's read and write, and a DESFire's RATS, get an answer.
func (ch *chip) thru(t *target, data []byte) reply {
	const cmd = cmdInCommunicateThru
	if !ch.present(t) || len(data) == 0 {
		return now(response(cmd, stTimeout))
	}
	switch {
	case t.c.Tech == card.MifareUltralight:
		return now(response(cmd, ch.ultralight(t, data)...))
	case t.c.Tech == card.DESFire && data[0] == isoRATS:
		return now(response(cmd, append([]byte{stOK}, desfireATS...)...))
	case data[0] == isoHALTA0:
		t.halted = true
	}
	return now(response(cmd, stTimeout))
}

// nak is a MIFARE card refusing: the PN532 reports status 0x14, and the
// card halts until it is selected again.
func (ch *chip) nak(cmd byte, t *target) []byte {
	t.halted, t.authed = true, false
	return response(cmd, stMifare)
}

// classic runs a MIFARE Classic command.
func (ch *chip) classic(cmd byte, t *target, data []byte) reply {
	mem, err := ch.d.ClassicMemory(t.c)
	if err != nil {
		ch.d.log.Warn("no memory for card", "card", t.c.Name, "err", err)
		return now(response(cmd, stTimeout))
	}
	switch data[0] {
	case mfAuthA, mfAuthB:
		if len(data) != 12 {
			return now(response(cmd, stBadParam))
		}
		blk, kt := int(data[1]), card.KeyType(data[0])
		// The card's Crypto1 handshake takes four UID bytes, those of the
		// last cascade level (the UID's last four, as libnfc's
		// nfc-mfclassic sends them); with any others the reader cannot
		// make sense of the card's answer.
		if uid, err := hex.DecodeString(t.c.UID); err != nil || !bytes.Equal(data[8:12], uid[len(uid)-4:]) {
			ch.d.log.Debug("authentication with another UID", "card", t.c.Name, "uid", hex.EncodeToString(data[8:12]))
			return now(ch.nak(cmd, t))
		}
		if err := mem.Authenticate(blk, kt, card.Key(data[2:8])); err != nil {
			ch.d.log.Debug("authentication failed", "card", t.c.Name, "err", err)
			return now(ch.nak(cmd, t))
		}
		t.authed, t.sector, t.keyType = true, card.SectorOf(blk), kt
		return now(response(cmd, stOK))
	case mfRead:
		if len(data) != 2 {
			return now(response(cmd, stBadParam))
		}
		blk := int(data[1])
		if !t.authed || card.SectorOf(blk) != t.sector {
			return now(ch.nak(cmd, t))
		}
		return ch.classicRead(cmd, t, mem, blk)
	case mfWrite:
		if len(data) != 2+card.BlockSize {
			return now(response(cmd, stBadParam))
		}
		return ch.classicWrite(cmd, t, mem, int(data[1]), card.Block(data[2:]))
	}
	// Value blocks and the rest of the command set are not modelled.
	return now(response(cmd, stTimeout))
}

// classicRead reads block blk, taking ReadTime (none by default); the
// card must stay in the field meanwhile, or the read times out as a write
// does.
func (ch *chip) classicRead(cmd byte, t *target, mem *card.ClassicMemory, blk int) reply {
	read := func() []byte {
		b, err := mem.Read(blk, t.keyType)
		if err != nil {
			ch.d.log.Debug("read refused", "card", t.c.Name, "err", err)
			return ch.nak(cmd, t)
		}
		return response(cmd, append([]byte{stOK}, b[:]...)...)
	}
	if ch.d.cfg.ReadTime <= 0 {
		return now(read())
	}
	return ch.whileInField(cmd, t, ch.d.cfg.ReadTime, read)
}

// whileInField is the reply to a command that takes the card d: act's
// response once target t has stayed in the field that long, status 01
// (the card halted) when it leaves first. A block write and a block read
// with T_read both take the card's time so.
func (ch *chip) whileInField(cmd byte, t *target, d time.Duration, act func() []byte) reply {
	stayed := false
	return reply{
		wait: func(ctx context.Context) { stayed = ch.stays(ctx, t, d) },
		then: func() []byte {
			if !stayed || !ch.present(t) {
				t.halted = true
				return response(cmd, stTimeout)
			}
			return act()
		},
	}
}

// stays reports whether target t stays in the field for d (false as soon
// as it leaves, or when ctx ends first).
func (ch *chip) stays(ctx context.Context, t *target, d time.Duration) bool {
	return device.Stays(ctx, d, func() (bool, <-chan struct{}) {
		ch.d.mu.Lock()
		defer ch.d.mu.Unlock()
		return ch.d.presentLocked(t.c, t.gen), ch.d.fieldChanged
	})
}

// classicWrite writes block blk, taking WriteTime; the card must stay in
// the field. The first write to the credential sector in a selection is
// the encode command.
func (ch *chip) classicWrite(cmd byte, t *target, mem *card.ClassicMemory, blk int, v card.Block) reply {
	if card.IsCredentialBlock(blk) && !t.encodeCounted {
		t.encodeCounted = true
		ch.note(cmdEncode)
		if ch.d.take(&ch.d.busies) {
			ch.d.log.Debug("busy", "card", t.c.Name)
			return now(response(cmd, stContext))
		}
	}
	if !t.authed || card.SectorOf(blk) != t.sector {
		return now(ch.nak(cmd, t))
	}
	return ch.whileInField(cmd, t, ch.d.cfg.WriteTime, func() []byte {
		if err := mem.Write(blk, t.keyType, v); err != nil {
			ch.d.log.Debug("write refused", "card", t.c.Name, "block", blk, "err", err)
			return ch.nak(cmd, t)
		}
		ch.credentialWritten(t, mem, blk)
		return response(cmd, stOK)
	})
}

// credentialWritten keeps the card's contents in step with its memory:
// once a selection has written all three credential blocks, they hold a
// complete credential and the sector opens with the system key B, the
// card holds that credential. On a blank card the driver writes the
// trailer (the system keys) last, so a card taken away between the data
// blocks and the trailer still opens with the transport key: by the
// protocol page ("What a card holds") it is blank, a card a lock of the
// system cannot read and the next encode overwrites, and it is kept as
// it was.
func (ch *chip) credentialWritten(t *target, mem *card.ClassicMemory, blk int) {
	if blk < card.BlockHeader || blk > card.BlockKeys {
		return
	}
	t.written[blk] = true
	if t.stored || !t.written[card.BlockHeader] || !t.written[card.BlockValid] || !t.written[card.BlockLabel] {
		return
	}
	c, ok := card.CredentialIn(mem, ch.d.cfg.SystemKeyB)
	if !ok {
		return
	}
	t.stored = true
	t.c.Write(c)
	ch.d.log.Debug("card written", "card", t.c.Name, "kind", c.Kind, "card_id", c.CardID)
}

// ultralight runs an Ultralight command and returns the status and data.
func (ch *chip) ultralight(t *target, data []byte) []byte {
	ch.d.mu.Lock()
	defer ch.d.mu.Unlock()
	pages := ch.d.mems.Ultralight(t.c)
	n := len(pages) / 4
	switch {
	case data[0] == mfRead && len(data) == 2 && int(data[1]) < n:
		out := []byte{stOK}
		for i := range 4 {
			pg := (int(data[1]) + i) % n
			out = append(out, pages[pg*4:pg*4+4]...)
		}
		return out
	case (data[0] == ulWrite && len(data) == 6 || data[0] == mfWrite && len(data) == 18) && int(data[1]) < n:
		if data[1] < 4 {
			t.halted = true
			return []byte{stMifare}
		}
		copy(pages[int(data[1])*4:int(data[1])*4+4], data[2:6])
		return []byte{stOK}
	}
	return []byte{stTimeout}
}
