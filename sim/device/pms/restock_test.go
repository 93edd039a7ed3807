package pms_test

import (
	"sync/atomic"
	"testing"

	"github.com/encoderlab/encoderlab/sim/card"
	"github.com/encoderlab/encoderlab/sim/device/pms"
)

func TestRestockReplacesAWrittenCard(t *testing.T) {
	rec := newRecorder()
	cfg := testConfig()
	var wrote atomic.Int32
	cfg.Trace = func(e pms.Event) {
		if pms.WroteCard(e) {
			wrote.Add(1)
		}
		rec.record(e)
	}
	h := serveHost(t, pms.New(cfg), rec)

	first := newCard(t, "first", card.MifareClassic1K, "04000000000001", card.Contents{})
	if ok, err := h.dev.Restock(first); err != nil || !ok {
		t.Fatalf("Restock on an empty reader = %t, %v; want true, nil", ok, err)
	}
	second := newCard(t, "second", card.MifareClassic1K, "04000000000002", card.Contents{})
	if ok, err := h.dev.Restock(second); err != nil || ok {
		t.Fatalf("Restock over a blank card = %t, %v; want false, nil", ok, err)
	}
	wantFields(t, h.command(cn...), "OK", "01", "04000000000001", "mifare-classic-1k", "9F2C4D1A00000001")
	rec.wait(t, pms.EventCard, "wrote \"first\"")
	if ok, err := h.dev.Restock(second); err != nil || !ok {
		t.Fatalf("Restock over a written card = %t, %v; want true, nil", ok, err)
	}
	wantFields(t, h.command(cn...), "OK", "01", "04000000000002", "mifare-classic-1k", "9F2C4D1A00000001")
	rec.wait(t, pms.EventCard, "wrote \"second\"")
	if got := first.Contents().Writes; got != 1 {
		t.Fatalf("first card written %d times, want 1: the second encode must find the new card", got)
	}
	if n := wrote.Load(); n != 2 {
		t.Fatalf("WroteCard matched %d events, want 2; trace:\n%s", n, rec)
	}
}

func TestRestockLeavesAnEncodeInProgressAlone(t *testing.T) {
	cfg := testConfig()
	h := newHost(t, cfg) // empty reader: the encode waits for a card
	h.send(cn...)
	h.expectByte(ACK)
	h.trace.wait(t, pms.EventCommand, "encode #1")
	blank := newCard(t, "blank", card.MifareClassic1K, "04000000000003", card.Contents{})
	if ok, err := h.dev.Restock(blank); err != nil || ok {
		t.Fatalf("Restock during an encode = %t, %v; want false, nil", ok, err)
	}
	h.write(frame("CC", "01"))
	h.expectByte(ACK)
	wantFields(t, h.answer(), "CC", "01")
	if ok, err := h.dev.Restock(blank); err != nil || !ok {
		t.Fatalf("Restock after the encode was cancelled = %t, %v; want true, nil", ok, err)
	}
}

func TestRestockRefusesACardThatIsNotBlank(t *testing.T) {
	d := pms.New(testConfig())
	if _, err := d.Restock(nil); err == nil {
		t.Fatal("Restock(nil) returned no error")
	}
	guest := newCard(t, "guest", card.MifareClassic1K, "04000000000004", card.Contents{Kind: card.Guest, CardID: "0000000000000001"})
	if ok, err := d.Restock(guest); err == nil || ok {
		t.Fatalf("Restock with a guest card = %t, %v; want false and an error", ok, err)
	}
}
