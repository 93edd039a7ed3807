package pn532_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/sim/card"
	"github.com/encoderlab/encoderlab/sim/device/pn532"
)

// hostFrame is a host information frame for data, written out from the
// frame format.
func hostFrame(data ...byte) []byte {
	sum := byte(0xD4)
	for _, c := range data {
		sum += c
	}
	out := []byte{0x00, 0x00, 0xFF, byte(len(data) + 1), byte(-(len(data) + 1)), 0xD4}
	out = append(out, data...)
	return append(out, -sum, 0x00)
}

// chipFrame is the chip's information frame for data.
func chipFrame(data ...byte) []byte {
	sum := byte(0xD5)
	for _, c := range data {
		sum += c
	}
	out := []byte{0x00, 0x00, 0xFF, byte(len(data) + 1), byte(-(len(data) + 1)), 0xD5}
	out = append(out, data...)
	return append(out, -sum, 0x00)
}

var (
	ack  = []byte{0x00, 0x00, 0xFF, 0x00, 0xFF, 0x00}
	nack = []byte{0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00}
)

type host struct {
	t    *testing.T
	conn net.Conn
	d    *pn532.Device
}

func newHost(t *testing.T, d *pn532.Device) *host {
	t.Helper()
	h, dev := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Serve(ctx, dev) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		h.Close()
		dev.Close()
	})
	return &host{t: t, conn: h, d: d}
}

func (h *host) send(b []byte) {
	h.t.Helper()
	if err := h.conn.SetWriteDeadline(time.Now().Add(5 * time.Second)); err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.conn.Write(b); err != nil {
		h.t.Fatalf("write % X: %v", b, err)
	}
}

// expect reads exactly len(want) bytes and compares them.
func (h *host) expect(what string, want []byte) {
	h.t.Helper()
	if err := h.conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		h.t.Fatal(err)
	}
	got := make([]byte, len(want))
	if _, err := io.ReadFull(h.conn, got); err != nil {
		h.t.Fatalf("%s: read: %v (want % X)", what, err, want)
	}
	if !bytes.Equal(got, want) {
		h.t.Fatalf("%s:\n got % X\nwant % X", what, got, want)
	}
}

// call sends a command and expects the ACK and the response data.
func (h *host) call(what string, cmd []byte, resp ...byte) {
	h.t.Helper()
	h.send(hostFrame(cmd...))
	h.expect(what+": ACK", ack)
	h.expect(what, chipFrame(resp...))
}

func newCard(t *testing.T, name string, tech card.Technology, uid string, c card.Contents) *card.Card {
	t.Helper()
	k, err := card.New(name, tech, uid, c)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestWakeAndFirmware(t *testing.T) {
	h := newHost(t, pn532.New(pn532.DefaultConfig()))
	h.send([]byte{0x55, 0x55, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	h.call("SAMConfiguration", []byte{0x14, 0x01}, 0x15)
	// A damaged frame is ignored; the good one after it is answered.
	bad := hostFrame(0x02)
	bad[len(bad)-2] ^= 0x01
	h.send(bad)
	h.call("GetFirmwareVersion", []byte{0x02}, 0x03, 0x32, 0x01, 0x06, 0x07)
	h.call("Diagnose", []byte{0x00, 0x00, 'l', 'i', 'b', 'n', 'f', 'c'}, 0x01, 0x00, 'l', 'i', 'b', 'n', 'f', 'c')
	h.send(hostFrame(0x99))
	h.expect("unknown command: ACK", ack)
	h.expect("unknown command: error frame", []byte{0x00, 0x00, 0xFF, 0x01, 0xFF, 0x7F, 0x81, 0x00})
}

func TestListPassiveTarget(t *testing.T) {
	d := pn532.New(pn532.DefaultConfig())
	h := newHost(t, d)
	h.call("MaxRetries 0", []byte{0x32, 0x05, 0xFF, 0x01, 0x00}, 0x33)
	h.call("empty field", []byte{0x4A, 0x01, 0x00}, 0x4B, 0x00)
	if err := d.Place(newCard(t, "prox", card.Prox125kHz, "0A0B0C0D", card.Contents{})); err != nil {
		t.Fatal(err)
	}
	h.call("125 kHz card only", []byte{0x4A, 0x01, 0x00}, 0x4B, 0x00)
	for _, tc := range []struct {
		tech card.Technology
		uid  []byte
		id   []byte // Tg ATQA SAK len
		ats  []byte
	}{
		{card.MifareClassic1K, []byte{0xDE, 0xAD, 0xBE, 0xEF}, []byte{1, 0x00, 0x04, 0x08, 4}, nil},
		{card.MifareClassic4K, []byte{0x04, 1, 2, 3, 4, 5, 6}, []byte{1, 0x00, 0x42, 0x18, 7}, nil},
		{card.MifareUltralight, []byte{0x04, 1, 2, 3, 4, 5, 6}, []byte{1, 0x00, 0x44, 0x00, 7}, nil},
		{card.DESFire, []byte{0x04, 1, 2, 3, 4, 5, 6}, []byte{1, 0x03, 0x44, 0x20, 7}, []byte{0x06, 0x75, 0x77, 0x81, 0x02, 0x80}},
	} {
		c := newCard(t, string(tc.tech), tc.tech, string(hexUpper(tc.uid)), card.Contents{})
		if err := d.Place(c); err != nil {
			t.Fatal(err)
		}
		want := append([]byte{0x4B, 0x01}, tc.id...)
		want = append(append(want, tc.uid...), tc.ats...)
		h.call(string(tc.tech), []byte{0x4A, 0x01, 0x00}, want...)
		if err := d.Remove(c.Name); err != nil {
			t.Fatal(err)
		}
	}
	if n := d.Count("read"); n != 6 {
		t.Errorf("Count(read) = %d, want 6", n)
	}
}

func hexUpper(b []byte) []byte {
	const digits = "0123456789ABCDEF"
	var out []byte
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&0xF])
	}
	return out
}

func TestPollAbortedByTheHost(t *testing.T) {
	d := pn532.New(pn532.DefaultConfig())
	h := newHost(t, d)
	// The chip's default MxRtyPassiveActivation (FF) waits for a card.
	h.send(hostFrame(0x4A, 0x01, 0x00))
	h.expect("ACK", ack)
	h.send(ack)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := d.Await(ctx, "cancel", 1); err != nil {
		t.Fatal(err)
	}
	// The aborted poll is never answered: the next response is the next
	// command's.
	h.call("GetFirmwareVersion", []byte{0x02}, 0x03, 0x32, 0x01, 0x06, 0x07)
}

func TestPollWaitsForACard(t *testing.T) {
	d := pn532.New(pn532.DefaultConfig())
	h := newHost(t, d)
	h.send(hostFrame(0x4A, 0x01, 0x00))
	h.expect("ACK", ack)
	if err := d.Place(newCard(t, "c", card.MifareClassic1K, "01020304", card.Contents{})); err != nil {
		t.Fatal(err)
	}
	h.expect("the card placed during the poll", chipFrame(0x4B, 0x01, 0x01, 0x00, 0x04, 0x08, 0x04, 1, 2, 3, 4))
}

var (
	transport = []byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}
	uid       = []byte{1, 2, 3, 4}
)

func auth(kt byte, block byte, key []byte) []byte {
	return append(append([]byte{0x40, 0x01, kt, block}, key...), uid...)
}

func TestClassicAuthenticationAndWrite(t *testing.T) {
	d := pn532.New(pn532.DefaultConfig())
	c := newCard(t, "c", card.MifareClassic1K, "01020304", card.Contents{})
	if err := d.Place(c); err != nil {
		t.Fatal(err)
	}
	h := newHost(t, d)
	sel := []byte{0x4B, 0x01, 0x01, 0x00, 0x04, 0x08, 0x04, 1, 2, 3, 4}
	h.call("select", []byte{0x4A, 0x01, 0x00}, sel...)
	h.call("wrong key", auth(0x60, 4, []byte{1, 2, 3, 4, 5, 6}), 0x41, 0x14)
	h.call("halted card", []byte{0x40, 0x01, 0x30, 0x04}, 0x41, 0x01)
	h.call("select again", []byte{0x4A, 0x01, 0x00, 1, 2, 3, 4}, sel...)
	h.call("transport key A", auth(0x60, 4, transport), 0x41, 0x00)
	h.call("read block 4", []byte{0x40, 0x01, 0x30, 0x04}, append([]byte{0x41, 0x00}, make([]byte, 16)...)...)

	// A guest credential, laid out as docs/protocols/pn532.md says.
	b4 := []byte{'E', 'L', 0x01, 'G', 0x9F, 0x2C, 0x4D, 0x1A, 0, 0, 0, 1, 0, 0, 0, 0}
	b5 := []byte{0x20, 0x26, 0x11, 0x25, 0x14, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	b6 := append([]byte("Room 101"), make([]byte, 8)...)
	crc := crc16(b4[:12], b5, b6)
	b4[12], b4[13] = byte(crc>>8), byte(crc)
	for i, b := range [][]byte{b4, b5, b6} {
		h.call("write", append([]byte{0x40, 0x01, 0xA0, byte(4 + i)}, b...), 0x41, 0x00)
	}
	// The sector still opens with the transport key: by the protocol
	// page's "What a card holds" the card is blank until the trailer
	// carries the system keys.
	if got := c.Contents(); got.Kind != card.Blank || got.Writes != 0 {
		t.Errorf("before the trailer: contents %+v, want a blank card never written", got)
	}
	trailer := append(append([]byte("ELABKA"), 0x78, 0x77, 0x88, 0x69), []byte("ELABKB")...)
	h.call("write the trailer", append([]byte{0x40, 0x01, 0xA0, 0x07}, trailer...), 0x41, 0x00)
	got := c.Contents()
	want := card.Contents{Kind: card.Guest, CardID: "9F2C4D1A00000001", Function: "G", ValidFrom: "202611251400", Label: "Room 101", Writes: 1}
	if got != want {
		t.Errorf("contents %+v\nwant     %+v", got, want)
	}
	if n := d.Count("encode"); n != 1 {
		t.Errorf("Count(encode) = %d, want 1", n)
	}
	h.call("write block 0", append([]byte{0x40, 0x01, 0xA0, 0x00}, make([]byte, 16)...), 0x41, 0x14)
}

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

func TestScenarioContentsBecomeMemory(t *testing.T) {
	d := pn532.New(pn532.DefaultConfig())
	for _, tc := range []struct {
		kind      card.Kind
		keyB      []byte
		wantAuthB byte
	}{
		{card.Blank, pn532.DefaultSystemKeyB[:], 0x14},
		{card.Staff, pn532.DefaultSystemKeyB[:], 0x00},
		{card.Foreign, pn532.DefaultSystemKeyB[:], 0x14},
	} {
		c := newCard(t, string(tc.kind), card.MifareClassic1K, "01020304", card.Contents{Kind: tc.kind, CardID: "00000000000000AA"})
		mem, err := d.ClassicMemory(c)
		if err != nil {
			t.Fatal(err)
		}
		err = mem.Authenticate(4, card.KeyB, card.Key(tc.keyB))
		if (err == nil) != (tc.wantAuthB == 0) {
			t.Errorf("%s card: system key B: %v", tc.kind, err)
		}
	}
}

func TestFaults(t *testing.T) {
	d := pn532.New(pn532.DefaultConfig())
	h := newHost(t, d)
	fw := []byte{0x03, 0x32, 0x01, 0x06, 0x07}

	d.NAK(1)
	h.send(hostFrame(0x02))
	h.expect("NAK", nack)
	h.call("after the NACK", []byte{0x02}, fw...)

	d.Garble(1)
	h.send(hostFrame(0x02))
	h.expect("ACK", ack)
	garbled := chipFrame(fw...)
	garbled[len(garbled)-2] ^= 0xFF
	h.expect("garbled response", garbled)
	h.send(nack)
	h.expect("response sent again", chipFrame(fw...))

	// A silenced chip still acts on a command (it counts the poll) but
	// sends nothing: not even the ACK, which it decides before counting.
	d.Silence(true)
	h.send(hostFrame(0x4A, 0x01, 0x00))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := d.Await(ctx, "read", 1); err != nil {
		t.Fatal(err)
	}
	d.Silence(false)
	// The next command supersedes the poll, still waiting for a card: the
	// first bytes back are that command's ACK and response.
	h.call("after the silence", []byte{0x02}, fw...)

	if err := d.Answer("encode", 1, "ok"); !errors.Is(err, pn532.ErrUnsupported) {
		t.Errorf("Answer: err = %v, want ErrUnsupported", err)
	}
}

func TestBusy(t *testing.T) {
	d := pn532.New(pn532.DefaultConfig())
	if err := d.Place(newCard(t, "c", card.MifareClassic1K, "01020304", card.Contents{})); err != nil {
		t.Fatal(err)
	}
	d.Busy(1)
	h := newHost(t, d)
	h.call("select", []byte{0x4A, 0x01, 0x00}, 0x4B, 0x01, 0x01, 0x00, 0x04, 0x08, 0x04, 1, 2, 3, 4)
	h.call("transport key A", auth(0x60, 4, transport), 0x41, 0x00)
	h.call("busy write", append([]byte{0x40, 0x01, 0xA0, 0x04}, make([]byte, 16)...), 0x41, 0x27)
	h.call("select", []byte{0x4A, 0x01, 0x00}, 0x4B, 0x01, 0x01, 0x00, 0x04, 0x08, 0x04, 1, 2, 3, 4)
	h.call("transport key A", auth(0x60, 4, transport), 0x41, 0x00)
	h.call("write", append([]byte{0x40, 0x01, 0xA0, 0x04}, make([]byte, 16)...), 0x41, 0x00)
	if n := d.Count("encode"); n != 2 {
		t.Errorf("Count(encode) = %d, want 2", n)
	}
}

func TestServeTwiceAndAgain(t *testing.T) {
	d := pn532.New(pn532.DefaultConfig())
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Serve(ctx, b) }()
	// Serving is exclusive: wait until the first Serve holds the device.
	h := &host{t: t, conn: a, d: d}
	h.call("first line", []byte{0x02}, 0x03, 0x32, 0x01, 0x06, 0x07)
	if err := d.Serve(ctx, b); !errors.Is(err, pn532.ErrServing) {
		t.Errorf("second Serve: err = %v, want ErrServing", err)
	}
	a.Close() // the line hangs up
	if err := <-done; err == nil {
		t.Error("Serve returned nil on a hung-up line")
	}
	cancel()
	// The device serves again on the next line.
	newHost(t, d).call("next line", []byte{0x02}, 0x03, 0x32, 0x01, 0x06, 0x07)
}

// pn532.md, Timing and the virtual chip: a block read takes T_read, and a
// card that leaves the field meanwhile is not read: status 01, as for a
// write.
func TestReadTakesReadTime(t *testing.T) {
	// opened is a host talking to a chip of that read time, with the
	// blank card c selected and sector 1 opened with the transport key.
	c := newCard(t, "c", card.MifareClassic1K, "01020304", card.Contents{})
	opened := func(readTime time.Duration) (*host, *pn532.Device) {
		cfg := pn532.DefaultConfig()
		cfg.ReadTime = readTime
		d := pn532.New(cfg)
		if err := d.Place(c); err != nil {
			t.Fatal(err)
		}
		h := newHost(t, d)
		h.call("select", []byte{0x4A, 0x01, 0x00}, 0x4B, 0x01, 0x01, 0x00, 0x04, 0x08, 0x04, 1, 2, 3, 4)
		h.call("transport key A", auth(0x60, 4, transport), 0x41, 0x00)
		return h, d
	}

	h, d := opened(10 * time.Second)
	h.send(hostFrame(0x40, 0x01, 0x30, 0x04))
	h.expect("read block 4: ACK", ack)
	if err := d.Remove("c"); err != nil {
		t.Fatal(err)
	}
	h.expect("read block 4, the card gone", chipFrame(0x41, 0x01))

	h, _ = opened(20 * time.Millisecond)
	h.call("read block 4", []byte{0x40, 0x01, 0x30, 0x04}, append([]byte{0x41, 0x00}, make([]byte, 16)...)...)
}
