package pn532_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/sim/card"
	"github.com/encoderlab/encoderlab/sim/device/pn532"
)

// answered reports, without waiting, whether the device has sent n
// answers to commands of that kind: AwaitAnswer on a context that has
// already ended returns nil only if the answer is already counted.
func answered(d *pn532.Device, kind string, n int) bool {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return d.AwaitAnswer(ctx, kind, n) == nil
}

// poll is InListPassiveTarget for one 106 kbps type A target; with the
// chip's default MxRtyPassiveActivation it waits for a card.
var poll = hostFrame(0x4A, 0x01, 0x00)

var firmware = []byte{0x03, 0x32, 0x01, 0x06, 0x07}

// A poll on an empty field is a read as soon as it is ACKed, but it is
// answered only when its response goes out, once a card is placed.
func TestAwaitAnswerWaitsForTheResponse(t *testing.T) {
	d := pn532.New(pn532.DefaultConfig())
	h := newHost(t, d)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	h.send(poll)
	h.expect("ACK", ack)
	if err := d.Await(ctx, "read", 1); err != nil {
		t.Fatal(err)
	}
	short, stop := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer stop()
	if err := d.AwaitAnswer(short, "read", 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("AwaitAnswer(read, 1) while the poll waits for a card = %v, want DeadlineExceeded", err)
	}
	got := make(chan error, 1)
	go func() { got <- d.AwaitAnswer(ctx, "read", 1) }()

	if err := d.Place(newCard(t, "c", card.MifareClassic1K, "01020304", card.Contents{})); err != nil {
		t.Fatal(err)
	}
	h.expect("the card placed during the poll", chipFrame(0x4B, 0x01, 0x01, 0x00, 0x04, 0x08, 0x04, 1, 2, 3, 4))
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("AwaitAnswer(read, 1) after the response = %v", err)
		}
	case <-ctx.Done():
		t.Fatal("AwaitAnswer(read, 1) still blocked after the response arrived")
	}
	if n := d.Count("read"); n != 1 {
		t.Errorf("Count(read) = %d, want 1", n)
	}
	// GetFirmwareVersion counts as no command kind: no answer to one.
	h.call("GetFirmwareVersion", []byte{0x02}, firmware...)
	if answered(d, "read", 2) || answered(d, "encode", 1) || answered(d, "cancel", 1) {
		t.Error("answers counted beyond the one response to a read")
	}
}

// A poll the host aborts with an ACK frame is a read and a cancel, and
// neither is answered: the chip drops the poll without a response.
func TestAwaitAnswerNoneForAnAbortedCommand(t *testing.T) {
	d := pn532.New(pn532.DefaultConfig())
	h := newHost(t, d)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	h.send(poll)
	h.expect("ACK", ack)
	h.send(ack)
	if err := d.Await(ctx, "cancel", 1); err != nil {
		t.Fatal(err)
	}
	// The next command's response comes after anything the chip did for
	// the aborted one.
	h.call("GetFirmwareVersion", []byte{0x02}, firmware...)
	if answered(d, "read", 1) || answered(d, "cancel", 1) {
		t.Fatal("the aborted poll or its abort was counted as answered")
	}

	// The next poll, with a card there, is the first read answered.
	if err := d.Place(newCard(t, "c", card.MifareClassic1K, "01020304", card.Contents{})); err != nil {
		t.Fatal(err)
	}
	h.call("poll with a card", []byte{0x4A, 0x01, 0x00}, 0x4B, 0x01, 0x01, 0x00, 0x04, 0x08, 0x04, 1, 2, 3, 4)
	if err := d.AwaitAnswer(ctx, "read", 1); err != nil {
		t.Fatalf("AwaitAnswer(read, 1) after the second poll's response = %v", err)
	}
	h.call("GetFirmwareVersion", []byte{0x02}, firmware...)
	if n := d.Count("read"); n != 2 {
		t.Errorf("Count(read) = %d, want 2", n)
	}
	if answered(d, "read", 2) {
		t.Error("two reads answered, but the first was aborted")
	}
}

// Two polls that reach the chip in one read (a host's re-send arriving
// with the first copy) are two reads; the second supersedes the first,
// so only one is answered. The kinds a frame answers are its own, not
// every kind noted earlier in the same read.
func TestAwaitAnswerCountsEachFrameOnce(t *testing.T) {
	d := pn532.New(pn532.DefaultConfig())
	h := newHost(t, d)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// net.Pipe hands the whole write to the chip's one read.
	h.send(append(append([]byte(nil), poll...), poll...))
	h.expect("ACK to each copy", append(append([]byte(nil), ack...), ack...))
	if err := d.Await(ctx, "read", 2); err != nil {
		t.Fatal(err)
	}
	if err := d.Place(newCard(t, "c", card.MifareClassic1K, "01020304", card.Contents{})); err != nil {
		t.Fatal(err)
	}
	h.expect("the second poll's response", chipFrame(0x4B, 0x01, 0x01, 0x00, 0x04, 0x08, 0x04, 1, 2, 3, 4))
	h.call("GetFirmwareVersion", []byte{0x02}, firmware...)
	if err := d.AwaitAnswer(ctx, "read", 1); err != nil {
		t.Fatalf("AwaitAnswer(read, 1) = %v", err)
	}
	if answered(d, "read", 2) {
		t.Error("one response counted as two answers to reads")
	}
}

// An encode answered at once (busy) is answered when its response goes
// out.
func TestAwaitAnswerToAnEncode(t *testing.T) {
	d := pn532.New(pn532.DefaultConfig())
	if err := d.Place(newCard(t, "c", card.MifareClassic1K, "01020304", card.Contents{})); err != nil {
		t.Fatal(err)
	}
	d.Busy(1)
	h := newHost(t, d)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h.call("select", []byte{0x4A, 0x01, 0x00}, 0x4B, 0x01, 0x01, 0x00, 0x04, 0x08, 0x04, 1, 2, 3, 4)
	h.call("transport key A", auth(0x60, 4, transport), 0x41, 0x00)
	if answered(d, "encode", 1) {
		t.Fatal("an encode answered before any write")
	}
	h.call("busy write", append([]byte{0x40, 0x01, 0xA0, 0x04}, make([]byte, 16)...), 0x41, 0x27)
	if err := d.AwaitAnswer(ctx, "encode", 1); err != nil {
		t.Fatalf("AwaitAnswer(encode, 1) after the busy answer = %v", err)
	}
	if err := d.AwaitAnswer(ctx, "teleport", 1); err == nil {
		t.Error("AwaitAnswer of an unknown command kind succeeded")
	}
}
