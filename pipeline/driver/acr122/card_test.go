package acr122

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/internal/pcscd"
	"github.com/encoderlab/encoderlab/internal/pcscd/pcscdtest"
	"github.com/encoderlab/encoderlab/pipeline/driver"
)

// The test card: an ACR122U with one card in its field, as vpcd's card
// end sees it, written here from ACS's "ACR122U Application Programming
// Interface" (V2.04, chapters 3–5), docs/protocols/acr122.md ("ATR",
// "APDUs") and vsmartcard's vpcd protocol, sharing no code with the
// driver or the simulator's reader (sim/device/acr122). MIFARE Classic is
// reduced to what the driver touches: the sector's keys in its trailer,
// two sets of access bits (the factory's and the system's), and the HALT
// after a failed authentication that only a reset or power control
// lifts.

// ATRs (docs/protocols/acr122.md, "ATR"; API 3.1.1 and 3.1.2).
var (
	atrClassic1K  = h("3B 8F 80 01 80 4F 0C A0 00 00 03 06 03 00 01 00 00 00 00 6A")
	atrClassic4K  = h("3B 8F 80 01 80 4F 0C A0 00 00 03 06 03 00 02 00 00 00 00 69")
	atrUltralight = h("3B 8F 80 01 80 4F 0C A0 00 00 03 06 03 00 03 00 00 00 00 68")
	atrDESFire    = h("3B 81 80 01 80 80")
)

// Trailers (docs/protocols/pn532.md, "Keys", "Worked credential sector").
var (
	transportTrailer = [16]byte(h("FF FF FF FF FF FF FF 07 80 69 FF FF FF FF FF FF"))
	systemTrailer    = [16]byte(h("45 4C 41 42 4B 41 78 77 88 69 45 4C 41 42 4B 42"))
	// foreignTrailer: another system's keys, the system's access bits.
	foreignTrailer = [16]byte(h("01 01 01 01 01 01 78 77 88 69 02 02 02 02 02 02"))
)

// The access bits the test card knows (pn532.md, "Keys"): the factory's,
// everything with key A (key B readable, so no key); the system's, data
// read with A or B and written with B, the trailer written with B.
var (
	factoryAccess = [3]byte{0xFF, 0x07, 0x80}
	systemAccess  = [3]byte{0x78, 0x77, 0x88}
)

// h decodes hex written with spaces.
func h(s string) []byte {
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		panic(fmt.Sprintf("bad hex %q: %v", s, err))
	}
	return b
}

// testCard is the reader and its card on vpcd's protocol: every message
// is a 2-byte big-endian length and a payload; a 1-byte payload is a
// control (00 power off, 01 power on, 02 reset, none answered; 04 the
// ATR, answered with it); a longer one is an APDU, answered with its
// response. Closing the connection takes the card away.
type testCard struct {
	atr []byte
	uid []byte

	// vanishOn, when it matches an APDU, takes the card away (closes the
	// connection) instead of answering it.
	vanishOn func(apdu []byte) bool
	// vanishOnPower takes the card away when pcscd powers it on (control
	// 01): a card lifted off after pcscd saw it, before its next poll.
	vanishOnPower bool
	// withholdOn, when it matches an APDU, leaves it unanswered: the
	// reader hangs.
	withholdOn func(apdu []byte) bool
	// onAPDU sees each APDU before it is answered.
	onAPDU func(apdu []byte)
	// override, when it returns true, answers an APDU with resp in the
	// card's stead (resp is not applied to the card).
	override func(apdu []byte) (resp []byte, ok bool)
	// ignoreWrites answers every update 90 00 and keeps the block as it
	// was.
	ignoreWrites bool

	conn net.Conn
	done chan struct{}

	mu      sync.Mutex
	blocks  [64][16]byte
	keys    [2][6]byte // the reader's volatile key locations 00 and 01
	loaded  [2]bool
	authed  bool
	sector  int
	keyType byte // 0x60 key A, 0x61 key B
	halted  bool
	// log is the exchange: "> APDU", "< response", "reset" (control 02).
	log     []string
	updates []int // the blocks written
}

// classicCard is a factory-fresh MIFARE Classic 1K: zero data, the
// transport key and access bits in every trailer.
func classicCard(uid string) *testCard {
	c := &testCard{atr: atrClassic1K, uid: h(uid)}
	for s := range 16 {
		c.blocks[s*4+3] = transportTrailer
	}
	return c
}

// systemCard is a 1K card this system wrote: blocks 4–6 b, sector 1 under
// the system's keys.
func systemCard(uid string, b [3][16]byte) *testCard {
	c := classicCard(uid)
	copy(c.blocks[4:7], b[:])
	c.blocks[7] = systemTrailer
	return c
}

func (c *testCard) block(n int) [16]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.blocks[n]
}

func (c *testCard) written() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int(nil), c.updates...)
}

func (c *testCard) exchange() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.log...)
}

// sent is the APDUs the card received.
func (c *testCard) sent() [][]byte {
	var out [][]byte
	for _, l := range c.exchange() {
		if rest, ok := strings.CutPrefix(l, "> "); ok {
			out = append(out, h(rest))
		}
	}
	return out
}

// insert connects c to d's vpcd; pcscd reports it at its next poll. The
// card is taken away at the test's end.
func insert(t *testing.T, d *pcscd.Daemon, c *testCard) *testCard {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := d.DialCard(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c.conn, c.done = conn, make(chan struct{})
	go c.serve()
	t.Cleanup(c.remove)
	return c
}

// remove takes the card away and waits for its goroutine.
func (c *testCard) remove() {
	c.conn.Close()
	<-c.done
}

func (c *testCard) serve() {
	defer close(c.done)
	defer c.conn.Close()
	for {
		msg, err := pcscd.ReadMessage(c.conn)
		if err != nil {
			return
		}
		var out []byte
		switch {
		case len(msg) == 1 && msg[0] == 0x04:
			out = c.atr
		case len(msg) == 1 && msg[0] == 0x01 && c.vanishOnPower:
			return
		case len(msg) == 1:
			c.control(msg[0])
			continue
		default:
			if c.onAPDU != nil {
				c.onAPDU(msg)
			}
			c.record("> % X", msg)
			if c.vanishOn != nil && c.vanishOn(msg) {
				return
			}
			if c.withholdOn != nil && c.withholdOn(msg) {
				continue
			}
			if r, ok := c.overridden(msg); ok {
				out = r
			} else {
				out = c.apdu(msg)
			}
			c.record("< % X", out)
		}
		if err := pcscd.WriteMessage(c.conn, out); err != nil {
			return
		}
	}
}

func (c *testCard) overridden(apdu []byte) ([]byte, bool) {
	if c.override == nil {
		return nil, false
	}
	return c.override(apdu)
}

func (c *testCard) record(format string, b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.log = append(c.log, fmt.Sprintf(format, b))
}

// control: power off, power on and reset each lift a HALT and forget the
// last authentication; the reader keeps its keys (API 5.1: they are the
// reader's, lost only when it loses power).
func (c *testCard) control(b byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.authed, c.halted = false, false
	if b == 0x02 {
		c.log = append(c.log, "reset")
	}
}

// Status words (API 4.1, 5.x; ISO 7816-4).
var (
	sw9000 = []byte{0x90, 0x00}
	sw6300 = []byte{0x63, 0x00}
)

// apdu answers one APDU (API chapters 4 and 5).
func (c *testCard) apdu(a []byte) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(a) < 4 {
		return []byte{0x67, 0x00}
	}
	if a[0] != 0xFF {
		return []byte{0x6E, 0x00}
	}
	switch ins, p1, p2, body := a[1], a[2], a[3], a[4:]; {
	case ins == 0xCA && p1 == 0x00 && p2 == 0x00 && bytes.Equal(body, []byte{0x00}):
		return append(bytes.Clone(c.uid), sw9000...)
	case ins == 0x82 && p1 == 0x00 && p2 <= 1 && len(body) == 7 && body[0] == 6:
		copy(c.keys[p2][:], body[1:])
		c.loaded[p2] = true
		return sw9000
	case ins == 0x86 && p1 == 0x00 && p2 == 0x00 && len(body) == 6 && bytes.Equal(body[:3], []byte{0x05, 0x01, 0x00}):
		return c.authenticate(int(body[3]), body[4], body[5])
	case ins == 0x88 && p1 == 0x00 && len(body) == 2:
		return c.authenticate(int(p2), body[0], body[1])
	case ins == 0xB0 && p1 == 0x00 && len(body) == 1 && body[0] >= 1 && body[0] <= 16:
		if !c.classic() || !c.may(int(p2), false) {
			return sw6300
		}
		b := c.blocks[p2]
		if int(p2)%4 == 3 {
			clear(b[0:6]) // key A never reads
		}
		return append(b[:body[0]:body[0]], sw9000...)
	case ins == 0xD6 && p1 == 0x00 && len(body) == 17 && body[0] == 0x10:
		if !c.classic() || p2 == 0 || !c.may(int(p2), true) {
			return sw6300
		}
		if !c.ignoreWrites {
			c.blocks[p2] = [16]byte(body[1:])
		}
		c.updates = append(c.updates, int(p2))
		return sw9000
	case ins == 0xCA, ins == 0x82, ins == 0x86, ins == 0x88, ins == 0xB0, ins == 0xD6:
		return sw6300
	}
	return []byte{0x6A, 0x81}
}

func (c *testCard) classic() bool {
	return bytes.Equal(c.atr, atrClassic1K) || bytes.Equal(c.atr, atrClassic4K)
}

// authenticate opens block's sector with the key in location loc; a
// wrong key halts the card.
func (c *testCard) authenticate(block int, kt, loc byte) []byte {
	c.authed = false
	if !c.classic() || c.halted || block >= len(c.blocks) || loc > 1 || !c.loaded[loc] || (kt != 0x60 && kt != 0x61) {
		return sw6300
	}
	tr := c.blocks[block/4*4+3]
	key := [6]byte(tr[0:6])
	if kt == 0x61 {
		key = [6]byte(tr[10:16])
		if [3]byte(tr[6:9]) == factoryAccess {
			// Key B is readable, so it is no key (pn532.md, "Keys").
			c.halted = true
			return sw6300
		}
	}
	if c.keys[loc] != key {
		c.halted = true
		return sw6300
	}
	c.authed, c.sector, c.keyType = true, block/4, kt
	return sw9000
}

// may reports whether the last authentication lets the card read (or
// write) block.
func (c *testCard) may(block int, write bool) bool {
	if c.halted || !c.authed || block/4 != c.sector || block >= len(c.blocks) {
		return false
	}
	switch [3]byte(c.blocks[block/4*4+3][6:9]) {
	case factoryAccess:
		return c.keyType == 0x60
	case systemAccess:
		return !write || c.keyType == 0x61
	}
	return false
}

// daemon starts a private pcscd with one vpcd reader: the driver has no
// other check against the real daemon.
func daemon(t *testing.T) *pcscd.Daemon {
	t.Helper()
	return pcscdtest.Start(t, pcscd.Options{})
}

// testTiming keeps every wait generous for a loaded machine: pcscd polls
// for a card every 400 ms, unscaled.
func testTiming() Timing {
	return Timing{Answer: 5 * time.Second, CardWait: 5 * time.Second}
}

// open connects a port to d through the driver's Open; it is closed at
// the test's end.
func open(t *testing.T, d *pcscd.Daemon) driver.Port {
	t.Helper()
	p, err := New(testTiming()).Open(d.Socket())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// closed reports whether p was closed (by the driver).
func closed(p driver.Port) bool { return p.SetReadDeadline(time.Time{}) != nil }
