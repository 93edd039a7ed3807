package pms_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/sim/card"
	"github.com/encoderlab/encoderlab/sim/device/pms"
)

// answered reports, without waiting, whether the device has sent n
// answers to commands of that kind: AwaitAnswer on a context that has
// already ended returns nil only if they are already counted. The device
// counts an answer before it puts it on the line, so once the host has
// read a frame, its answer is counted.
func answered(d *pms.Device, kind string, n int) bool {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return d.AwaitAnswer(ctx, kind, n) == nil
}

// An encode waiting for a card has arrived but is not answered; its
// answer is awaited until the OK reaches the host.
func TestAwaitAnswerToAnEncode(t *testing.T) {
	h := newHost(t, testConfig()) // waits for a card far longer than the test takes
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	h.send(cn...)
	h.expectByte(ACK)
	if err := h.dev.Await(ctx, "encode", 1); err != nil {
		t.Fatal(err)
	}
	short, stop := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer stop()
	if err := h.dev.AwaitAnswer(short, "encode", 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("AwaitAnswer(encode, 1) while the encode waits for a card = %v, want DeadlineExceeded", err)
	}
	got := make(chan error, 1)
	go func() { got <- h.dev.AwaitAnswer(ctx, "encode", 1) }()

	place(t, h.dev, newCard(t, "c", card.MifareClassic1K, "01020304", card.Contents{}))
	wantFields(t, h.answer(), "OK", "01", "01020304", "mifare-classic-1k", "9F2C4D1A00000001")
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("AwaitAnswer(encode, 1) after the OK = %v", err)
		}
	case <-ctx.Done():
		t.Fatal("AwaitAnswer(encode, 1) still blocked after the OK arrived")
	}
	h.ping()
	if answered(h.dev, "encode", 2) || answered(h.dev, "read", 1) {
		t.Error("answers counted beyond the one OK to an encode")
	}
}

// An answer sent again (on NAK, or when its ACK is overdue) is the same
// answer: counted once.
func TestAwaitAnswerNotForARetransmission(t *testing.T) {
	cfg := testConfig()
	cfg.Ack = 20 * time.Millisecond
	cfg.Retries = 2
	h := newHost(t, cfg)
	h.send("RC", "01")
	h.expectByte(ACK)
	if f, _, _ := h.readFrame(); f[0] != "NC" {
		t.Fatalf("answer %q, want NC", f)
	}
	h.write([]byte{NAK})
	h.readFrame() // sent again on the NAK
	h.readFrame() // and again when no ACK came
	// The NAK may arrive before or after a send the overdue ACK brought
	// about: either way there are three sends, then the device gives up.
	h.trace.wait(t, pms.EventGaveUp, "after 3 sends")
	h.ping()
	if !answered(h.dev, "read", 1) {
		t.Fatal("the read's answer was not counted")
	}
	if answered(h.dev, "read", 2) {
		t.Fatal("a retransmitted answer was counted as a second answer")
	}
	// Once given up, the same bytes are a new read, with an answer of
	// its own.
	wantFields(t, h.command("RC", "01"), "NC", "01")
	if !answered(h.dev, "read", 2) || answered(h.dev, "read", 3) {
		t.Error("the second read's answer was not counted exactly once")
	}
}

// The SE answer to a malformed command and the CC answer to a CC that
// found nothing outstanding answer no counted command.
func TestAwaitAnswerNotForUncountedCommands(t *testing.T) {
	h := newHost(t, testConfig())
	wantFields(t, h.command("RC", "01", "extra")[:2], "SE", "01")
	wantFields(t, h.command("CN", "01", "9F2C4D1A00000001", "X", "", "", "")[:2], "SE", "01")
	wantFields(t, h.command("CC", "01"), "CC", "01") // a resync: nothing outstanding
	h.ping()
	for _, kind := range []string{"encode", "read", "cancel"} {
		if answered(h.dev, kind, 1) {
			t.Errorf("an answer to %s was counted; none was taken", kind)
		}
	}
}

// A cancelled encode has no answer; the cancel that cancelled it has.
func TestAwaitAnswerNoneForACancelledEncode(t *testing.T) {
	h := newHost(t, testConfig())
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	h.send(cn...)
	h.expectByte(ACK)
	if err := h.dev.Await(ctx, "encode", 1); err != nil {
		t.Fatal(err)
	}
	wantFields(t, h.command("CC", "01"), "CC", "01")
	if err := h.dev.AwaitAnswer(ctx, "cancel", 1); err != nil {
		t.Fatalf("AwaitAnswer(cancel, 1) after the CC answer = %v", err)
	}
	h.ping()
	if answered(h.dev, "encode", 1) {
		t.Error("the cancelled encode was counted as answered")
	}
}
