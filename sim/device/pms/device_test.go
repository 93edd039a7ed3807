package pms_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/sim/card"
	"github.com/encoderlab/encoderlab/sim/device/pms"
	"github.com/encoderlab/encoderlab/timescale"
)

func TestDefaultConfigAndScaled(t *testing.T) {
	c := pms.DefaultConfig()
	if c.Address != "01" || c.CardWait != 20*time.Second || c.WriteTime != 300*time.Millisecond ||
		c.Ack != 500*time.Millisecond || c.Retries != 3 || len(c.Writable) != 3 {
		t.Fatalf("DefaultConfig = %+v", c)
	}
	s := c.Scaled(timescale.Scale(0.01))
	if s.CardWait != 200*time.Millisecond || s.WriteTime != 3*time.Millisecond || s.Ack != 100*time.Millisecond || s.Retries != 3 {
		t.Fatalf("Scaled(0.01) = %+v", s)
	}
	s.Writable[0] = card.Prox125kHz
	if c.Writable[0] != card.MifareClassic1K {
		t.Fatal("Scaled shares its Writable slice with the original")
	}
}

func TestEncodeModel(t *testing.T) {
	const uid = "04A1B2C3D4E5F6"
	for _, tc := range []struct {
		name     string
		tech     card.Technology
		holds    card.Contents
		want     []string
		written  card.Kind
		writes   int
		cardWait time.Duration
	}{
		{name: "blank is written", tech: card.MifareClassic1K, want: []string{"OK", "01", uid, "mifare-classic-1k", "9F2C4D1A00000001"}, written: card.Guest, writes: 1},
		{name: "guest is overwritten", tech: card.DESFire, holds: card.Contents{Kind: card.Guest, CardID: "0000000000000001"},
			want: []string{"OK", "01", uid, "desfire", "9F2C4D1A00000001"}, written: card.Guest, writes: 1},
		{name: "staff is refused", tech: card.MifareClassic4K, holds: card.Contents{Kind: card.Staff, CardID: "5555555555555555"},
			want: []string{"VU", "01", "5555555555555555"}, written: card.Staff},
		{name: "foreign is refused", tech: card.MifareClassic1K, holds: card.Contents{Kind: card.Foreign},
			want: []string{"OS", "01"}, written: card.Foreign},
		{name: "ultralight is not writable", tech: card.MifareUltralight,
			want: []string{"CF", "01", "mifare-ultralight"}, written: card.Blank},
		{name: "prox is invisible", tech: card.Prox125kHz, cardWait: 50 * time.Millisecond,
			want: []string{"TO", "01"}, written: card.Blank},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			if tc.cardWait > 0 {
				cfg.CardWait = tc.cardWait
			}
			h := newHost(t, cfg)
			c := newCard(t, "c", tc.tech, uid, tc.holds)
			place(t, h.dev, c)
			wantFields(t, h.command(cn...), tc.want...)
			got := c.Contents()
			if got.Kind != tc.written || got.Writes != tc.writes {
				t.Fatalf("card holds %s after %d writes, want %s after %d", got.Kind, got.Writes, tc.written, tc.writes)
			}
			if tc.writes > 0 {
				want := card.Contents{Kind: card.Guest, CardID: "9F2C4D1A00000001", Function: "G",
					ValidFrom: "202611251400", ValidUntil: "202611281100", Label: "Room 101", Writes: 1}
				if got != want {
					t.Fatalf("card holds %+v, want %+v", got, want)
				}
			}
			if n := h.dev.Count("encode"); n != 1 {
				t.Fatalf("Count(encode) = %d, want 1", n)
			}
		})
	}
}

func TestEncodeStaffCard(t *testing.T) {
	h := newHost(t, testConfig())
	c := newCard(t, "c", card.MifareClassic1K, "01020304", card.Contents{})
	place(t, h.dev, c)
	wantFields(t, h.command("CN", "01", "00000000000000AB", "S", "", "", ""), "OK", "01", "01020304", "mifare-classic-1k", "00000000000000AB")
	if got := c.Contents(); got.Kind != card.Staff || got.Function != "S" || got.CardID != "00000000000000AB" {
		t.Fatalf("card holds %+v, want a staff card 00000000000000AB", got)
	}
}

func TestEncodeEmptyFieldTimesOut(t *testing.T) {
	cfg := testConfig()
	cfg.CardWait = 50 * time.Millisecond
	h := newHost(t, cfg)
	wantFields(t, h.command(cn...), "TO", "01")
}

func TestEncodeCardPlacedDuringWait(t *testing.T) {
	h := newHost(t, testConfig()) // waits far longer than the test takes
	h.send(cn...)
	h.expectByte(ACK)
	if err := h.dev.Await(context.Background(), "encode", 1); err != nil {
		t.Fatal(err)
	}
	c := newCard(t, "c", card.MifareClassic1K, "01020304", card.Contents{})
	place(t, h.dev, c)
	wantFields(t, h.answer(), "OK", "01", "01020304", "mifare-classic-1k", "9F2C4D1A00000001")
}

func TestEncodeCardRemovedDuringWrite(t *testing.T) {
	cfg := testConfig()
	cfg.WriteTime = patience
	h := newHost(t, cfg)
	c := newCard(t, "c", card.MifareClassic1K, "01020304", card.Contents{})
	place(t, h.dev, c)
	h.send(cn...)
	h.expectByte(ACK)
	h.trace.wait(t, pms.EventCard, `writing "c"`)
	if err := h.dev.Remove("c"); err != nil {
		t.Fatal(err)
	}
	wantFields(t, h.answer(), "RM", "01")
	if got := c.Contents(); got.Kind != card.Blank || got.Writes != 0 {
		t.Fatalf("card holds %+v after an interrupted write, want it unchanged", got)
	}
}

// pms.md, Commands and Timing: with T_read set, RC answers once the card
// has stayed in the field for T_read, RM when it leaves first, and NC at
// once for an empty field.
func TestReadTakesReadTime(t *testing.T) {
	cfg := testConfig()
	cfg.ReadTime = patience
	h := newHost(t, cfg)
	wantFields(t, h.command("RC", "01"), "NC", "01")

	c := newCard(t, "c", card.MifareClassic1K, "01020304", card.Contents{Kind: card.Guest, CardID: "1111111111111111"})
	place(t, h.dev, c)
	h.send("RC", "01")
	h.expectByte(ACK)
	if err := h.dev.Await(context.Background(), "read", 2); err != nil {
		t.Fatal(err)
	}
	if err := h.dev.Remove("c"); err != nil {
		t.Fatal(err)
	}
	wantFields(t, h.answer(), "RM", "01")
	if got := c.Contents(); got.Kind != card.Guest || got.Writes != 0 {
		t.Fatalf("card holds %+v after a read, want it unchanged", got)
	}

	cfg.ReadTime = 20 * time.Millisecond
	h = newHost(t, cfg)
	place(t, h.dev, c)
	wantFields(t, h.command("RC", "01"), "OK", "01", "01020304", "mifare-classic-1k", "G", "1111111111111111")
}

func TestSyntaxErrors(t *testing.T) {
	h := newHost(t, testConfig())
	for _, f := range [][]string{
		{"XX", "01"},
		{"CN", "01", "9F2C4D1A00000001", "G", "", ""},
		{"CN", "01", "9f2c4d1a00000001", "G", "", "", ""},
		{"CN", "01", "9F2C4D1A00000001", "X", "", "", ""},
		{"CN", "01", "9F2C4D1A00000001", "G", "2026112514", "", ""},
		{"CN", "01", "9F2C4D1A00000001", "G", "", "202613011200", ""},
		{"CN", "01", "9F2C4D1A00000001", "G", "", "", "a label that is much longer than 32 characters"},
		{"RC", "01", "extra"},
	} {
		got := h.command(f...)
		if len(got) != 3 || got[0] != "SE" || got[1] != "01" || got[2] == "" {
			t.Errorf("answer to %q = %q, want SE 01 <message>", f, got)
		}
	}
	if n := h.dev.Count("encode") + h.dev.Count("read"); n != 0 {
		t.Fatalf("commands answered SE were counted: %d", n)
	}
}

func TestRead(t *testing.T) {
	h := newHost(t, testConfig())
	wantFields(t, h.command("RC", "01"), "NC", "01")

	prox := newCard(t, "prox", card.Prox125kHz, "0A0B0C0D", card.Contents{})
	place(t, h.dev, prox)
	wantFields(t, h.command("RC", "01"), "NC", "01")
	if err := h.dev.Remove("prox"); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		holds card.Contents
		want  []string
	}{
		{card.Contents{}, []string{"OK", "01", "01020304", "desfire", "B", ""}},
		{card.Contents{Kind: card.Guest, CardID: "1111111111111111"}, []string{"OK", "01", "01020304", "desfire", "G", "1111111111111111"}},
		{card.Contents{Kind: card.Staff, CardID: "2222222222222222"}, []string{"OK", "01", "01020304", "desfire", "S", "2222222222222222"}},
		{card.Contents{Kind: card.Foreign}, []string{"OK", "01", "01020304", "desfire", "F", ""}},
	} {
		c := newCard(t, "c", card.DESFire, "01020304", tc.holds)
		place(t, h.dev, c)
		wantFields(t, h.command("RC", "01"), tc.want...)
		if err := h.dev.Remove("c"); err != nil {
			t.Fatal(err)
		}
	}
	if n := h.dev.Count("read"); n != 6 {
		t.Fatalf("Count(read) = %d, want 6", n)
	}
}

func TestCancelDuringCardWait(t *testing.T) {
	h := newHost(t, testConfig())
	h.send(cn...)
	h.expectByte(ACK)
	if err := h.dev.Await(context.Background(), "encode", 1); err != nil {
		t.Fatal(err)
	}
	wantFields(t, h.command("CC", "01"), "CC", "01")
	// Nothing is outstanding now: a card placed later is not written.
	c := newCard(t, "c", card.MifareClassic1K, "01020304", card.Contents{})
	place(t, h.dev, c)
	wantFields(t, h.command("CC", "01", "")[:2], "SE", "01") // malformed: answered SE, not counted
	h.ping()
	if got := c.Contents(); got.Writes != 0 {
		t.Fatalf("a cancelled encode wrote the card: %+v", got)
	}
	if n := h.dev.Count("cancel"); n != 1 {
		t.Fatalf("Count(cancel) = %d, want 1 (the malformed CC is not counted)", n)
	}
}

func TestCancelWithNothingOutstanding(t *testing.T) {
	h := newHost(t, testConfig())
	// Answered CC all the same, so a host can tell when the device owes
	// it nothing more; not counted, since it cancelled nothing.
	wantFields(t, h.command("CC", "01"), "CC", "01")
	h.ping() // nothing followed the CC answer
	if n := h.dev.Count("cancel"); n != 0 {
		t.Fatalf("Count(cancel) = %d, want 0: nothing was cancelled", n)
	}
	// Once its answer is ACKed, an identical CC is a new command, and is
	// answered again.
	wantFields(t, h.command("CC", "01"), "CC", "01")
	h.ping()
}

func TestCancelAnswerComesAfterTheAnswerDue(t *testing.T) {
	h := newHost(t, testConfig())
	h.send("RC", "01")
	h.expectByte(ACK)
	f, _, ok := h.readFrame() // NC, left unACKed for now
	if !ok {
		t.Fatal("NC has a wrong LRC")
	}
	wantFields(t, f, "NC", "01")
	h.send("CC", "01")
	h.expectByte(ACK)
	h.write([]byte{ACK}) // the ACK to NC, late
	wantFields(t, h.answer(), "CC", "01")
	h.ping()
	if n := h.dev.Count("cancel"); n != 0 {
		t.Fatalf("Count(cancel) = %d, want 0: the read was answered before the CC came", n)
	}
}

func TestResyncAfterHostRestart(t *testing.T) {
	// A host sends CN and dies while the device writes; the device does
	// not notice. The next host on the same line resynchronises with CC:
	// it reads (and ACKs) whatever comes before the CC answer, after
	// which the device owes nothing and the next answer is its own.
	cfg := testConfig()
	cfg.WriteTime = patience // the first host's write is still under way
	h := newHost(t, cfg)
	c := newCard(t, "c", card.MifareClassic1K, "01020304", card.Contents{})
	place(t, h.dev, c)
	h.send(cn...)
	h.expectByte(ACK)
	h.trace.wait(t, pms.EventCard, "writing")

	// The new host.
	h.ping()
	wantFields(t, h.command("CC", "01"), "CC", "01")
	if got := c.Contents(); got.Writes != 0 {
		t.Fatalf("the cancelled write went ahead: %+v", got)
	}
	if n := h.dev.Count("cancel"); n != 1 {
		t.Fatalf("Count(cancel) = %d, want 1: the resync CC cancelled the orphaned encode", n)
	}
	h.ping() // nothing else was owed
}

func TestResyncReadsAnAnswerStillBeingSent(t *testing.T) {
	// The first host died after the device sent its answer and before
	// it ACKed it: the answer is still being re-sent when the next host
	// resynchronises. It comes first, then the CC answer.
	h := newHost(t, testConfig())
	c := newCard(t, "c", card.MifareClassic1K, "01020304", card.Contents{})
	place(t, h.dev, c)
	h.send(cn...)
	h.expectByte(ACK)
	if f, _, ok := h.readFrame(); !ok || f[0] != "OK" {
		t.Fatalf("answer %q (LRC good %t), want OK", f, ok)
	}

	h.send("CC", "01")
	h.expectByte(ACK)
	h.write([]byte{ACK}) // the new host ACKs the stale OK as it discards it
	wantFields(t, h.answer(), "CC", "01")
	h.ping()
	// The new host's own command, with the same bytes as the old one: a
	// new command, since a CC came between.
	wantFields(t, h.command(cn...)[:2], "OK", "01")
	if n, w := h.dev.Count("encode"), c.Contents().Writes; n != 2 || w != 2 {
		t.Fatalf("Count(encode) = %d, writes = %d; want 2 and 2", n, w)
	}
}

func TestResyncPassesScenarioRequestsBy(t *testing.T) {
	// A scenario's "nak: 1" and "garble: 1" before an encode are about
	// the encode: a host's resynchronising CC on the way is neither NAKed
	// nor answered garbled.
	h := newHost(t, testConfig())
	place(t, h.dev, newCard(t, "c", card.MifareClassic1K, "01020304", card.Contents{}))
	h.dev.NAK(1)
	h.dev.Garble(1)
	h.ping()
	wantFields(t, h.command("CC", "01"), "CC", "01") // ACKed, and its answer's LRC is good
	h.send(cn...)
	h.expectByte(NAK)
	h.send(cn...)
	h.expectByte(ACK)
	if _, raw, ok := h.readFrame(); ok {
		t.Fatalf("answer % X has a good LRC, want it garbled", raw)
	}
	h.write([]byte{NAK})
	wantFields(t, h.answer()[:2], "OK", "01")
	h.ping()

	// A CC that cancels something is a frame like any other. (The field
	// is empty, so the encode it cancels is still waiting for a card.)
	if err := h.dev.Remove("c"); err != nil {
		t.Fatal(err)
	}
	h.send(cn...)
	h.expectByte(ACK)
	if err := h.dev.Await(context.Background(), "encode", 2); err != nil {
		t.Fatal(err)
	}
	h.dev.NAK(1)
	h.send("CC", "01")
	h.expectByte(NAK)
}

func TestHoldAndAnswer(t *testing.T) {
	h := newHost(t, testConfig())
	c := newCard(t, "c", card.MifareClassic1K, "01020304", card.Contents{})
	place(t, h.dev, c)
	h.dev.Hold("encode", 1)
	h.dev.Hold("encode", 2)
	h.dev.Hold("read", 1)

	if err := h.dev.Answer("encode", 3, "ok"); !errors.Is(err, pms.ErrNotHeld) {
		t.Fatalf("Answer of a command not held = %v, want ErrNotHeld", err)
	}
	if err := h.dev.Answer("encode", 1, "ok"); !errors.Is(err, pms.ErrNotArrived) {
		t.Fatalf("Answer before the command arrived = %v, want ErrNotArrived", err)
	}

	h.send(cn...)
	h.expectByte(ACK)
	if err := h.dev.Await(context.Background(), "encode", 1); err != nil {
		t.Fatal(err)
	}
	if err := h.dev.Answer("encode", 1, "no-such-answer"); err == nil {
		t.Fatal("Answer with an unknown answer name succeeded")
	}
	if err := h.dev.Answer("encode", 1, "timeout"); err != nil {
		t.Fatal(err)
	}
	wantFields(t, h.answer(), "TO", "01")
	if err := h.dev.Answer("encode", 1, "ok"); !errors.Is(err, pms.ErrNotOutstanding) {
		t.Fatalf("second Answer = %v, want ErrNotOutstanding", err)
	}
	if got := c.Contents(); got.Writes != 0 {
		t.Fatalf("held encode answered TO wrote the card: %+v", got)
	}

	// Identical bytes after the answer was sent: a new command.
	h.send(cn...)
	h.expectByte(ACK)
	if err := h.dev.Await(context.Background(), "encode", 2); err != nil {
		t.Fatal(err)
	}
	if err := h.dev.Answer("encode", 2, "ok"); err != nil {
		t.Fatal(err)
	}
	wantFields(t, h.answer(), "OK", "01", "01020304", "mifare-classic-1k", "9F2C4D1A00000001")
	if got := c.Contents(); got.Kind != card.Guest || got.Writes != 1 {
		t.Fatalf("held encode answered ok left the card %+v, want it written once", got)
	}

	h.send("RC", "01")
	h.expectByte(ACK)
	if err := h.dev.Await(context.Background(), "read", 1); err != nil {
		t.Fatal(err)
	}
	if err := h.dev.Answer("read", 1, "general-error"); err != nil {
		t.Fatal(err)
	}
	wantFields(t, h.answer(), "ER", "01", "general error")
}

func TestEveryAnswerName(t *testing.T) {
	h := newHost(t, testConfig())
	c := newCard(t, "c", card.MifareUltralight, "01020304", card.Contents{Kind: card.Staff, CardID: "ABABABABABABABAB"})
	place(t, h.dev, c)
	for i, tc := range []struct {
		name string
		want []string
	}{
		{"no-card", []string{"NC", "01"}},
		{"timeout", []string{"TO", "01"}},
		{"card-format-error", []string{"CF", "01", "mifare-ultralight"}},
		{"other-system", []string{"OS", "01"}},
		{"valid-user", []string{"VU", "01", "ABABABABABABABAB"}},
		{"card-removed", []string{"RM", "01"}},
		{"busy", []string{"BY", "01"}},
		{"general-error", []string{"ER", "01", "general error"}},
		{"syntax-error", []string{"SE", "01", "syntax error"}},
	} {
		n := i + 1
		h.dev.Hold("encode", n)
		h.send(cn...)
		h.expectByte(ACK)
		if err := h.dev.Await(context.Background(), "encode", n); err != nil {
			t.Fatal(err)
		}
		if err := h.dev.Answer("encode", n, tc.name); err != nil {
			t.Fatalf("Answer %q: %v", tc.name, err)
		}
		wantFields(t, h.answer(), tc.want...)
	}
}

func TestHeldCancelLetsTheAnswerCross(t *testing.T) {
	h := newHost(t, testConfig())
	c := newCard(t, "c", card.MifareClassic1K, "01020304", card.Contents{})
	h.dev.Hold("encode", 1)
	h.dev.Hold("cancel", 1)
	h.send(cn...)
	h.expectByte(ACK)
	h.send("CC", "01")
	h.expectByte(ACK)
	if err := h.dev.Await(context.Background(), "cancel", 1); err != nil {
		t.Fatal(err)
	}
	place(t, h.dev, c)
	if err := h.dev.Answer("cancel", 1, "ok"); err != nil {
		t.Fatal(err)
	}
	wantFields(t, h.answer(), "OK", "01", "01020304", "mifare-classic-1k", "9F2C4D1A00000001")
	wantFields(t, h.answer(), "CC", "01") // the cancel's own answer follows
	h.ping()
	if err := h.dev.Answer("encode", 1, "ok"); !errors.Is(err, pms.ErrNotOutstanding) {
		t.Fatalf("Answer of an encode already answered = %v, want ErrNotOutstanding", err)
	}
	if err := h.dev.Answer("cancel", 1, "ok"); !errors.Is(err, pms.ErrNotOutstanding) {
		t.Fatalf("second Answer of the cancel = %v, want ErrNotOutstanding", err)
	}
}

func TestHeldCancelOfACommandThatFinishes(t *testing.T) {
	// The encode the held cancel targets finishes on its own: its answer
	// goes out, and the CC answer after it.
	h := newHost(t, testConfig())
	h.dev.Hold("cancel", 1)
	h.send(cn...)
	h.expectByte(ACK)
	h.send("CC", "01")
	h.expectByte(ACK)
	if err := h.dev.Await(context.Background(), "cancel", 1); err != nil {
		t.Fatal(err)
	}
	place(t, h.dev, newCard(t, "c", card.MifareClassic1K, "01020304", card.Contents{}))
	wantFields(t, h.answer()[:2], "OK", "01")
	wantFields(t, h.answer(), "CC", "01")
	h.ping()
	if err := h.dev.Answer("cancel", 1, "timeout"); !errors.Is(err, pms.ErrNotOutstanding) {
		t.Fatalf("Answer of a cancel whose command finished = %v, want ErrNotOutstanding", err)
	}
}

func TestBusy(t *testing.T) {
	h := newHost(t, testConfig())
	place(t, h.dev, newCard(t, "c", card.MifareClassic1K, "01020304", card.Contents{}))
	h.dev.Busy(2)
	wantFields(t, h.command(cn...), "BY", "01")
	wantFields(t, h.command(cn...), "BY", "01")
	wantFields(t, h.command("RC", "01")[:2], "OK", "01") // busy applies to encodes only
	wantFields(t, h.command(cn...)[:2], "OK", "01")
	if n := h.dev.Count("encode"); n != 3 {
		t.Fatalf("Count(encode) = %d, want 3", n)
	}
}

func TestNAK(t *testing.T) {
	h := newHost(t, testConfig())
	h.dev.NAK(2)
	h.ping() // ENQ is not a frame: it is ACKed
	h.send("RC", "01")
	h.expectByte(NAK)
	h.send("RC", "01")
	h.expectByte(NAK)
	if n := h.dev.Count("read"); n != 0 {
		t.Fatalf("NAKed frames were acted on: Count(read) = %d", n)
	}
	wantFields(t, h.command("RC", "01"), "NC", "01")
	if n := h.dev.Count("read"); n != 1 {
		t.Fatalf("Count(read) = %d, want 1", n)
	}
}

func TestBadFramesAreNAKed(t *testing.T) {
	h := newHost(t, testConfig())
	bad := frame("RC", "01")
	bad[len(bad)-1] ^= 0x01
	h.write(bad)
	h.expectByte(NAK)

	h.write([]byte{STX, 'R', 'C', 0x01, ETX, 'R' ^ 'C' ^ 0x01 ^ ETX})
	h.expectByte(NAK)

	// A frame that stops before ETX is NAKed once the line stays quiet.
	cfg := testConfig()
	cfg.Ack = 20 * time.Millisecond
	h2 := newHost(t, cfg)
	h2.write([]byte{STX, 'R', 'C', FS, '0'})
	h2.expectByte(NAK)
	if n := h.dev.Count("read") + h2.dev.Count("read"); n != 0 {
		t.Fatalf("bad frames were acted on: %d", n)
	}
}

func TestWrongAddressIsIgnored(t *testing.T) {
	h := newHost(t, testConfig())
	h.send("RC", "02")
	h.send("RC")
	h.ping() // the first byte back answers the ENQ: the frames got neither ACK nor NAK
	if n := h.dev.Count("read"); n != 0 {
		t.Fatalf("Count(read) = %d after frames for another address, want 0", n)
	}
	if got := h.trace.count(pms.EventIgnored, "not addressed"); got != 2 {
		t.Fatalf("%d frames ignored, want 2", got)
	}
}

func TestCommandRetransmission(t *testing.T) {
	h := newHost(t, testConfig())
	h.send(cn...)
	h.expectByte(ACK)
	h.send(cn...) // the host missed the ACK and sends again
	h.expectByte(ACK)
	if err := h.dev.Await(context.Background(), "encode", 1); err != nil {
		t.Fatal(err)
	}
	place(t, h.dev, newCard(t, "c", card.MifareClassic1K, "01020304", card.Contents{}))
	wantFields(t, h.answer()[:2], "OK", "01")
	h.ping()
	if n := h.dev.Count("encode"); n != 1 {
		t.Fatalf("Count(encode) = %d after a retransmission, want 1", n)
	}
}

func TestRetransmissionWhileTheAnswerIsUnacknowledged(t *testing.T) {
	// The host re-sends CN (its ACK was lost) and the answer crosses the
	// re-send: the device has sent OK but has no ACK for it yet. The
	// re-send is the same command, not a second write.
	h := newHost(t, testConfig())
	c := newCard(t, "c", card.MifareClassic1K, "01020304", card.Contents{})
	place(t, h.dev, c)
	h.send(cn...)
	h.expectByte(ACK)
	f, _, ok := h.readFrame()
	if !ok || f[0] != "OK" {
		t.Fatalf("answer %q (LRC good %t), want OK", f, ok)
	}
	h.send(cn...)
	h.expectByte(ACK)
	h.write([]byte{ACK}) // now the OK is ACKed
	h.ping()             // and nothing more comes: no second answer
	if n, w := h.dev.Count("encode"), c.Contents().Writes; n != 1 || w != 1 {
		t.Fatalf("Count(encode) = %d, writes = %d after a re-send crossed by the answer; want 1 and 1", n, w)
	}
	if got := h.trace.count(pms.EventIgnored, "retransmission of CN"); got != 1 {
		t.Fatalf("%d retransmissions noted, want 1; trace:\n%s", got, h.trace)
	}
	// After the ACK, the same bytes are a new command (a host re-sending
	// after BY sends the same bytes).
	wantFields(t, h.command(cn...)[:2], "OK", "01")
	if n, w := h.dev.Count("encode"), c.Contents().Writes; n != 2 || w != 2 {
		t.Fatalf("Count(encode) = %d, writes = %d; want 2 and 2", n, w)
	}
}

func TestRetransmissionAfterTheAnswerWasGivenUp(t *testing.T) {
	cfg := testConfig()
	cfg.Ack = 20 * time.Millisecond
	cfg.Retries = 0
	h := newHost(t, cfg)
	h.send("RC", "01")
	h.expectByte(ACK)
	h.readFrame() // never ACKed
	h.trace.wait(t, pms.EventGaveUp, "no ACK after 1 sends")
	wantFields(t, h.command("RC", "01"), "NC", "01")
	if n := h.dev.Count("read"); n != 2 {
		t.Fatalf("Count(read) = %d, want 2: once the device gave up the answer, identical bytes are a new command", n)
	}
}

func TestGarble(t *testing.T) {
	h := newHost(t, testConfig())
	h.dev.Garble(2)
	h.send("RC", "01")
	h.expectByte(ACK) // ACK is a byte, not a frame: never garbled
	for i := 0; i < 2; i++ {
		if _, raw, ok := h.readFrame(); ok {
			t.Fatalf("send %d: frame % X has a good LRC, want it garbled", i+1, raw)
		}
		h.write([]byte{NAK})
	}
	wantFields(t, h.answer(), "NC", "01")
}

func TestAnswerGivenUpWithoutACK(t *testing.T) {
	cfg := testConfig()
	cfg.Ack = 20 * time.Millisecond
	cfg.Retries = 2
	h := newHost(t, cfg)
	h.send("RC", "01")
	h.expectByte(ACK)
	var first []byte
	for i := 0; i < 1+cfg.Retries; i++ {
		_, raw, ok := h.readFrame()
		if !ok {
			t.Fatalf("send %d has a wrong LRC", i+1)
		}
		if first == nil {
			first = raw
		} else if string(raw) != string(first) {
			t.Fatalf("retransmission % X differs from the first send % X", raw, first)
		}
	}
	h.trace.wait(t, pms.EventGaveUp, "no ACK after 3 sends")
	h.ping() // nothing more was sent, and the device still answers
}

func TestAnswerResentOnNAK(t *testing.T) {
	h := newHost(t, testConfig())
	h.send("RC", "01")
	h.expectByte(ACK)
	_, first, _ := h.readFrame()
	h.write([]byte{NAK})
	_, again, _ := h.readFrame()
	if string(first) != string(again) {
		t.Fatalf("resend % X differs from % X", again, first)
	}
	h.write([]byte{ACK})
	h.ping()
}

func TestSilence(t *testing.T) {
	h := newHost(t, testConfig())
	h.dev.Silence(true)
	h.write([]byte{ENQ})
	h.trace.wait(t, pms.EventSuppressed, "ACK to ENQ")
	h.send("RC", "01")
	h.trace.wait(t, pms.EventSuppressed, "answer NC")
	h.dev.Silence(false)
	h.ping() // the first byte after the silence: nothing leaked out during it
	if n := h.dev.Count("read"); n != 1 {
		t.Fatalf("Count(read) = %d, want 1: a silenced device still receives", n)
	}
}

func TestAwait(t *testing.T) {
	h := newHost(t, testConfig())
	if err := h.dev.Await(context.Background(), "scan", 1); err == nil {
		t.Fatal("Await of an unknown command succeeded")
	}

	short, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := h.dev.Await(short, "read", 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Await of a command that never comes = %v, want DeadlineExceeded", err)
	}

	done := make(chan error, 1)
	go func() { done <- h.dev.Await(context.Background(), "read", 1) }()
	select {
	case err := <-done:
		t.Fatalf("Await returned %v before the command arrived", err)
	default:
	}
	h.command("RC", "01")
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(patience):
		t.Fatal("Await did not return after the command arrived")
	}

	// Already received: returns at once, even with a context that ended.
	ended, cancelEnded := context.WithCancel(context.Background())
	cancelEnded()
	if err := h.dev.Await(ended, "read", 1); err != nil {
		t.Fatalf("Await of a command already received = %v, want nil", err)
	}
}

func TestPlaceAndRemove(t *testing.T) {
	d := pms.New(pms.DefaultConfig())
	a := newCard(t, "a", card.MifareClassic1K, "01020304", card.Contents{})
	b := newCard(t, "b", card.MifareClassic1K, "05060708", card.Contents{})
	if err := d.Place(nil); err == nil {
		t.Fatal("Place(nil) succeeded")
	}
	if err := d.Remove("a"); err == nil {
		t.Fatal("Remove from an empty reader succeeded")
	}
	place(t, d, a)
	if err := d.Place(b); err == nil {
		t.Fatal("Place on an occupied reader succeeded")
	}
	if err := d.Remove("b"); err == nil {
		t.Fatal("Remove of a card not on the reader succeeded")
	}
	if err := d.Remove("a"); err != nil {
		t.Fatal(err)
	}
}

func TestServeAgainAfterHangup(t *testing.T) {
	rec := newRecorder()
	cfg := testConfig()
	cfg.Trace = rec.record
	d := pms.New(cfg)
	d.Hold("encode", 1)

	h := serveHost(t, d, rec)
	h.send(cn...)
	h.expectByte(ACK)
	if err := d.Await(context.Background(), "encode", 1); err != nil {
		t.Fatal(err)
	}
	other, _ := net.Pipe()
	defer other.Close()
	if err := d.Serve(context.Background(), other); !errors.Is(err, pms.ErrServing) {
		t.Fatalf("a second Serve at once = %v, want ErrServing", err)
	}
	if err := pms.New(cfg).Serve(context.Background(), nil); err == nil {
		t.Fatal("Serve on no line succeeded")
	}

	// The host hangs up: Serve reports the line's end.
	h.conn.Close()
	select {
	case err := <-h.served:
		if err == nil || !isEOF(err) {
			t.Fatalf("Serve after hangup = %v, want EOF", err)
		}
		close(h.served)
	case <-time.After(patience):
		t.Fatal("Serve did not return after the line closed")
	}
	if err := d.Answer("encode", 1, "ok"); !errors.Is(err, pms.ErrNotOutstanding) {
		t.Fatalf("Answer of a command dropped with its line = %v, want ErrNotOutstanding", err)
	}

	h2 := serveHost(t, d, rec)
	wantFields(t, h2.command("RC", "01"), "NC", "01")
	if got := d.Count("encode"); got != 1 {
		t.Fatalf("Count(encode) = %d on the new line, want 1 carried over", got)
	}
}

// A command sent while another is outstanding breaks pms.md's "at most one
// command is outstanding at a time" ("Session"): it is answered BY and
// counted, so a suite can tell a host that broke the rule; a cancel is
// the one command the rule allows.
func TestOverlappingCommandIsCounted(t *testing.T) {
	h := newHost(t, testConfig())
	h.send("CN", "01", "00000000000000AB", "S", "", "", "") // an empty reader: it waits for a card
	h.expectByte(ACK)
	if n := h.dev.Overlaps(); n != 0 {
		t.Fatalf("Overlaps = %d with one command outstanding, want 0", n)
	}
	wantFields(t, h.command("RC", "01"), "BY", "01")
	if n := h.dev.Overlaps(); n != 1 {
		t.Fatalf("Overlaps = %d after a read sent while the encode was outstanding, want 1", n)
	}
	h.send("CC", "01")
	h.expectByte(ACK)
	for f := h.answer(); f[0] != "CC"; f = h.answer() {
	}
	if n := h.dev.Overlaps(); n != 1 {
		t.Errorf("Overlaps = %d after the cancel, want 1: a cancel is allowed", n)
	}
}
