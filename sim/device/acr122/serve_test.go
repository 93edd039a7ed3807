package acr122_test

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/sim/card"
	"github.com/encoderlab/encoderlab/sim/device/acr122"
)

// host is pcscd's side of vpcd's protocol, written from the protocol
// (doc.go, docs/protocols/acr122.md "Transport"), not from the model.
type host struct {
	t    *testing.T
	conn net.Conn
}

// serve starts d on one end of a pipe and returns the host's end.
func serve(t *testing.T, d *acr122.Device) *host {
	t.Helper()
	dev, h := net.Pipe()
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
	return &host{t: t, conn: h}
}

func (h *host) send(msg []byte) {
	h.t.Helper()
	out := binary.BigEndian.AppendUint16(nil, uint16(len(msg)))
	if err := h.conn.SetWriteDeadline(time.Now().Add(10 * time.Second)); err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.conn.Write(append(out, msg...)); err != nil {
		h.t.Fatalf("send % X: %v", msg, err)
	}
}

func (h *host) recv() []byte {
	h.t.Helper()
	if err := h.conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		h.t.Fatal(err)
	}
	var n [2]byte
	if _, err := io.ReadFull(h.conn, n[:]); err != nil {
		h.t.Fatalf("read answer length: %v", err)
	}
	b := make([]byte, binary.BigEndian.Uint16(n[:]))
	if _, err := io.ReadFull(h.conn, b); err != nil {
		h.t.Fatalf("read answer: %v", err)
	}
	return b
}

// exchange sends a hex message and returns the answer as hex.
func (h *host) exchange(msg string) string {
	h.t.Helper()
	h.send(unhex(h.t, msg))
	return strings.ToUpper(hex.EncodeToString(h.recv()))
}

// power does what pcscd does when a client connects: power on, then ask
// for the ATR.
func (h *host) power() string {
	h.t.Helper()
	h.send([]byte{0x01})
	return h.exchange("04")
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func newCard(t *testing.T, name string, tech card.Technology, uid string, c card.Contents) *card.Card {
	t.Helper()
	k, err := card.New(name, tech, uid, c)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func hexOf(s string) string { return strings.ToUpper(strings.ReplaceAll(s, " ", "")) }

// TestOracleAPDUs runs the ACR122U API's worked examples (V2.04: 3.1.1
// the MIFARE 1K ATR, 4.1 get data, 5.1 load key, 5.2 authenticate, 5.3
// read binary, 5.4 update binary) against a factory-fresh MIFARE Classic
// 1K card. Expected bytes are the document's.
func TestOracleAPDUs(t *testing.T) {
	d := acr122.New(acr122.Config{})
	if err := d.Place(newCard(t, "blank", card.MifareClassic1K, "04A1B2C3", card.Contents{Kind: card.Blank})); err != nil {
		t.Fatal(err)
	}
	h := serve(t, d)
	for _, c := range []struct{ name, apdu, want string }{
		{"ATR (API 3.1.1, MIFARE 1K)", "", "3B 8F 80 01 80 4F 0C A0 00 00 03 06 03 00 01 00 00 00 00 6A"},
		{"get UID (API 4.1)", "FF CA 00 00 00", "04 A1 B2 C3 90 00"},
		{"get UID, Le too short: 6C with the UID's length (API 4.1)", "FF CA 00 00 02", "6C 04"},
		{"get UID, Le too long: the UID and 62 82 (API 4.1)", "FF CA 00 00 08", "04 A1 B2 C3 62 82"},
		{"get ATS of a part 3 card: not supported (API 4.1)", "FF CA 01 00 00", "6A 81"},
		{"load key FF..FF into location 00 (API 5.1)", "FF 82 00 00 06 FF FF FF FF FF FF", "90 00"},
		{"load key into a non-volatile structure: failed (API 5.1)", "FF 82 20 00 06 FF FF FF FF FF FF", "63 00"},
		{"authenticate block 04 with key A in location 00 (API 5.2)", "FF 86 00 00 05 01 00 04 60 00", "90 00"},
		{"read 16 bytes of block 04 (API 5.3)", "FF B0 00 04 10", strings.Repeat("00", 16) + "9000"},
		{"update block 04 (API 5.4)", "FF D6 00 04 10 00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F", "90 00"},
		{"read it back", "FF B0 00 04 10", "00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F 90 00"},
		{"read a block of another sector: not authenticated", "FF B0 00 08 10", "63 00"},
		{"authenticate with the obsolete FF 88 (API 5.2)", "FF 88 00 08 60 00", "90 00"},
		{"read the trailer of sector 2: key A hidden (transport access bits)", "FF B0 00 0B 10", "00 00 00 00 00 00 FF 07 80 69 FF FF FF FF FF FF 90 00"},
		{"authenticate with an empty key location", "FF 86 00 00 05 01 00 04 60 01", "63 00"},
		{"load a wrong key into location 01", "FF 82 00 01 06 00 00 00 00 00 00", "90 00"},
		{"authenticate with the wrong key: refused, the card halts", "FF 86 00 00 05 01 00 04 60 01", "63 00"},
		{"the right key on a halted card: refused", "FF 86 00 00 05 01 00 04 60 00", "63 00"},
		{"reset (pcscd's SCardReconnect), then the right key", "reset", "90 00"},
		{"an instruction the reader lacks", "FF 00 00 00 00", "6A 81"},
		{"a class other than FF", "00 A4 04 00 00", "6E 00"},
	} {
		var got string
		switch c.apdu {
		case "":
			got = h.power()
		case "reset":
			h.send([]byte{0x02})
			if atr := h.exchange("04"); atr == "" {
				t.Fatal("no ATR after the reset")
			}
			got = h.exchange("FF 86 00 00 05 01 00 04 60 00")
		default:
			got = h.exchange(c.apdu)
		}
		if got != hexOf(c.want) {
			t.Errorf("%s: %s answers %s, want %s", c.name, c.apdu, got, hexOf(c.want))
		}
	}
	if n := d.Count("read"); n != 3 {
		t.Errorf("read counted %d times, want 3 (the get-UIDs)", n)
	}
}

// TestATRs checks the ATR the reader builds for each technology against
// the API's table (3.1.1 card names 00 01, 00 02, 00 03; 3.1.2 the
// DESFire example), TCK worked by hand.
func TestATRs(t *testing.T) {
	for _, c := range []struct {
		tech card.Technology
		want string
	}{
		{card.MifareClassic1K, "3B8F8001804F0CA000000306030001000000006A"},
		{card.MifareClassic4K, "3B8F8001804F0CA0000003060300020000000069"},
		{card.MifareUltralight, "3B8F8001804F0CA0000003060300030000000068"},
		{card.DESFire, "3B8180018080"},
		{card.Prox125kHz, ""},
	} {
		if got := strings.ToUpper(hex.EncodeToString(acr122.ATR(c.tech))); got != c.want {
			t.Errorf("ATR(%s) = %s, want %s", c.tech, got, c.want)
		}
	}
}

// TestEjects checks vpcd's "no card" and "card gone": an empty answer to
// the ATR request when the field is empty or holds a 125 kHz card, and to
// a command once the card has left.
func TestEjects(t *testing.T) {
	d := acr122.New(acr122.Config{})
	h := serve(t, d)
	if got := h.exchange("04"); got != "" {
		t.Errorf("empty field: ATR %s, want the eject", got)
	}
	prox := newCard(t, "prox", card.Prox125kHz, "00112233", card.Contents{})
	if err := d.Place(prox); err != nil {
		t.Fatal(err)
	}
	if got := h.exchange("04"); got != "" {
		t.Errorf("125 kHz card: ATR %s, want the eject", got)
	}
	if err := d.Remove("prox"); err != nil {
		t.Fatal(err)
	}
	blank := newCard(t, "blank", card.MifareClassic1K, "04A1B2C3", card.Contents{Kind: card.Blank})
	if err := d.Place(blank); err != nil {
		t.Fatal(err)
	}
	if got := h.power(); got == "" {
		t.Fatal("card in the field: ATR empty")
	}
	if err := d.Remove("blank"); err != nil {
		t.Fatal(err)
	}
	if got := h.exchange("FF CA 00 00 00"); got != "" {
		t.Errorf("card gone: get UID %s, want the eject", got)
	}
	// Back in the field: a new card session, whose first ATR request is
	// answered.
	if err := d.Place(blank); err != nil {
		t.Fatal(err)
	}
	if got := h.power(); got == "" {
		t.Error("card back: ATR empty")
	}
}

// TestRemovedMidUpdate takes the card away while a block update takes its
// write time: the answer is the eject and the block keeps what it held.
func TestRemovedMidUpdate(t *testing.T) {
	d := acr122.New(acr122.Config{WriteTime: time.Hour})
	blank := newCard(t, "blank", card.MifareClassic1K, "04A1B2C3", card.Contents{Kind: card.Blank})
	if err := d.Place(blank); err != nil {
		t.Fatal(err)
	}
	h := serve(t, d)
	h.power()
	for _, a := range []string{"FF 82 00 00 06 FF FF FF FF FF FF", "FF 86 00 00 05 01 00 04 60 00"} {
		if got := h.exchange(a); got != "9000" {
			t.Fatalf("%s: %s", a, got)
		}
	}
	h.send(unhex(t, "FF D6 00 04 10"+strings.Repeat("AB", 16)))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.Await(ctx, "encode", 1); err != nil {
		t.Fatal(err)
	}
	if err := d.Remove("blank"); err != nil {
		t.Fatal(err)
	}
	if got := h.recv(); len(got) != 0 {
		t.Errorf("update with the card gone: % X, want the eject", got)
	}
	mem, err := d.ClassicMemory(blank)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := mem.Raw(4); b != (card.Block{}) {
		t.Errorf("block 4 after the interrupted update: % X, want zeros", b)
	}
	if c := blank.Contents(); c.Kind != card.Blank || c.Writes != 0 {
		t.Errorf("card contents %+v, want blank and unwritten", c)
	}
}

// TestWritesCredential writes the three credential blocks and the system
// trailer as docs/protocols/pn532.md's "Card layout" lays them out: the
// card then holds the credential.
func TestWritesCredential(t *testing.T) {
	d := acr122.New(acr122.Config{})
	blank := newCard(t, "blank", card.MifareClassic1K, "04A1B2C3", card.Contents{Kind: card.Blank})
	if err := d.Place(blank); err != nil {
		t.Fatal(err)
	}
	h := serve(t, d)
	h.power()
	want := card.Contents{Kind: card.Guest, CardID: "0123456789ABCDEF", Function: "G", ValidFrom: "202612070000", ValidUntil: "202612100000", Label: "room 12"}
	blocks := card.CredentialBlocks(want)
	keyB := card.DefaultSystemKeyB
	trailer := card.Trailer(card.DefaultSystemKeyA, card.SystemAccess, 0x69, keyB)
	steps := []string{"FF 82 00 00 06 FF FF FF FF FF FF", "FF 86 00 00 05 01 00 04 60 00"}
	for i, b := range blocks {
		steps = append(steps, "FF D6 00 "+hex.EncodeToString([]byte{byte(4 + i)})+" 10 "+hex.EncodeToString(b[:]))
	}
	steps = append(steps, "FF D6 00 07 10 "+hex.EncodeToString(trailer[:]))
	for _, a := range steps {
		if got := h.exchange(a); got != "9000" {
			t.Fatalf("%s: %s", a, got)
		}
	}
	got := blank.Contents()
	want.Writes = 1
	if got != want {
		t.Errorf("card holds %+v, want %+v", got, want)
	}
	// The sector now opens with the system key B only.
	if got := h.exchange("FF 82 00 01 06 " + hex.EncodeToString(keyB[:])); got != "9000" {
		t.Fatal(got)
	}
	if got := h.exchange("FF 86 00 00 05 01 00 04 60 00"); got != "6300" {
		t.Errorf("transport key after personalisation: %s, want 63 00", got)
	}
	h.send([]byte{0x02}) // the refusal halted the card: reset it
	h.exchange("04")
	if got := h.exchange("FF 86 00 00 05 01 00 04 61 01"); got != "9000" {
		t.Errorf("system key B: %s, want 90 00", got)
	}
	if d.Count("encode") != 1 {
		t.Errorf("encode counted %d times, want 1", d.Count("encode"))
	}
	// A second piece of card work on the same card (a reissue): its
	// first update after the authentication is the second encode.
	if got := h.exchange("FF D6 00 04 10 " + hex.EncodeToString(blocks[0][:])); got != "9000" {
		t.Fatal(got)
	}
	if d.Count("encode") != 2 {
		t.Errorf("after a reissue's update: encode counted %d times, want 2", d.Count("encode"))
	}
}

// TestSilence withholds the answer while silent; lifting the silence
// sends the eject in its place.
func TestSilence(t *testing.T) {
	d := acr122.New(acr122.Config{})
	blank := newCard(t, "blank", card.MifareClassic1K, "04A1B2C3", card.Contents{Kind: card.Blank})
	if err := d.Place(blank); err != nil {
		t.Fatal(err)
	}
	h := serve(t, d)
	h.power()
	d.Silence(true)
	h.send(unhex(t, "FF CA 00 00 00"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.Await(ctx, "read", 1); err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte, 1)
	go func() {
		var n [2]byte
		if _, err := io.ReadFull(h.conn, n[:]); err != nil {
			got <- nil
			return
		}
		b := make([]byte, binary.BigEndian.Uint16(n[:]))
		_, _ = io.ReadFull(h.conn, b)
		got <- b
	}()
	// Nothing may come while silent: the answer is only released by
	// lifting the silence, so the check is that what comes after is the
	// eject, not the UID.
	d.Silence(false)
	select {
	case b := <-got:
		if len(b) != 0 {
			t.Errorf("after the silence: % X, want the eject", b)
		}
	case <-ctx.Done():
		t.Fatal("no answer after the silence was lifted")
	}
	// An eject answers nothing.
	actx, acancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer acancel()
	if err := d.AwaitAnswer(actx, "read", 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("AwaitAnswer after an eject: %v, want no answer", err)
	}
}

// TestOneCardAtATime: the reader's single slot refuses a second card.
func TestOneCardAtATime(t *testing.T) {
	d := acr122.New(acr122.Config{})
	if err := d.Place(newCard(t, "a", card.MifareClassic1K, "04A1B2C3", card.Contents{})); err != nil {
		t.Fatal(err)
	}
	if err := d.Place(newCard(t, "b", card.MifareClassic1K, "04A1B2C4", card.Contents{})); err == nil {
		t.Error("a second card was placed")
	}
}

// TestServeEndsWithTheLine: a closed stream ends Serve with its error.
func TestServeEndsWithTheLine(t *testing.T) {
	d := acr122.New(acr122.Config{})
	dev, h := net.Pipe()
	done := make(chan error, 1)
	go func() { done <- d.Serve(context.Background(), dev) }()
	h.Close()
	if err := <-done; !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("Serve after the host closed: %v, want EOF", err)
	}
}
