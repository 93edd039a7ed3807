package pn532_test

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/sim/card"
	"github.com/encoderlab/encoderlab/sim/device/pn532"
)

// Serve returns when its context ends even while a write of its own is
// blocked on a host that stopped reading: a reply written by the reading
// side, or a response sent when a command's wait ends.
func TestServeEndsWhileAWriteIsBlocked(t *testing.T) {
	for _, tc := range []struct {
		name string
		// jam leaves the device in the middle of a write the host will
		// not finish reading.
		jam func(t *testing.T, d *pn532.Device, h *host)
	}{
		{name: "reply to a frame", jam: func(t *testing.T, d *pn532.Device, h *host) {
			h.send(hostFrame(0x02))
			// net.Pipe: a write lasts until its last byte is read, so
			// the ACK and response, written together, are now stuck.
			h.expect("first byte of the ACK", ack[:1])
		}},
		{name: "response after a wait", jam: func(t *testing.T, d *pn532.Device, h *host) {
			h.send(hostFrame(0x4A, 0x01, 0x00))
			h.expect("ACK", ack)
			if err := d.Place(newCard(t, "c", card.MifareClassic1K, "01020304", card.Contents{})); err != nil {
				t.Fatal(err)
			}
			h.expect("first byte of the response", []byte{0x00})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			near, far := net.Pipe()
			defer near.Close()
			defer far.Close()
			d := pn532.New(pn532.DefaultConfig())
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			served := make(chan error, 1)
			go func() { served <- d.Serve(ctx, near) }()
			tc.jam(t, d, &host{t: t, conn: far, d: d})
			cancel()
			select {
			case err := <-served:
				if err != nil {
					t.Fatalf("Serve = %v after its context ended, want nil", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Serve did not return after its context ended")
			}
		})
	}
}

// A hangup ends Serve with the line's error, and the chip on the next
// line answers at once.
func TestServeReportsTheHangup(t *testing.T) {
	d := pn532.New(pn532.DefaultConfig())
	near, far := net.Pipe()
	defer near.Close()
	served := make(chan error, 1)
	go func() { served <- d.Serve(context.Background(), near) }()
	h := &host{t: t, conn: far, d: d}
	h.call("firmware", []byte{0x02}, 0x03, 0x32, 0x01, 0x06, 0x07)
	far.Close()
	select {
	case err := <-served:
		if !errors.Is(err, io.EOF) {
			t.Fatalf("Serve = %v after the host hung up, want io.EOF", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after the host hung up")
	}
	newHost(t, d).call("firmware on the next line", []byte{0x02}, 0x03, 0x32, 0x01, 0x06, 0x07)
}
