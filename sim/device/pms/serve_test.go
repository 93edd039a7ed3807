package pms_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/pipeline/serialport"
	"github.com/encoderlab/encoderlab/sim/card"
	"github.com/encoderlab/encoderlab/sim/device/pms"
	"github.com/encoderlab/encoderlab/sim/pty"
)

// readExactly reads len(want) bytes from r and compares them.
func readExactly(t *testing.T, what string, r *serialport.Port, want []byte) {
	t.Helper()
	if err := r.SetReadDeadline(time.Now().Add(patience)); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(want))
	if _, err := io.ReadFull(r, got); err != nil {
		t.Fatalf("%s: %v (want % X)", what, err, want)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: got % X, want % X", what, got, want)
	}
}

// On a real pty, a command answered at once and one answered later (an
// encode waiting for its card) both reach the host, ACK first; the host's
// missing ACK brings the answer again; and closing the line ends Serve.
func TestServeOnAPty(t *testing.T) {
	pair, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer pair.Close()
	cfg := testConfig()
	cfg.Ack = time.Second
	d := pms.New(cfg)
	served := make(chan error, 1)
	go func() { served <- d.Serve(context.Background(), pair.Master()) }()
	port, err := serialport.Open(pair.TTY(), serialport.Mode{Baud: 9600})
	if err != nil {
		t.Fatal(err)
	}
	defer port.Close()
	write := func(b []byte) {
		t.Helper()
		if _, err := port.Write(b); err != nil {
			t.Fatal(err)
		}
	}

	write([]byte{ENQ})
	readExactly(t, "ENQ", port, []byte{ACK})
	write(frame("RC", "01"))
	readExactly(t, "RC", port, append([]byte{ACK}, frame("NC", "01")...))
	write([]byte{ACK})

	write(frame(cn...))
	readExactly(t, "CN", port, []byte{ACK})
	if n := d.Count("encode"); n != 1 {
		t.Fatalf("Count(encode) = %d once CN is ACKed, want 1", n)
	}
	place(t, d, newCard(t, "c", card.MifareClassic1K, "01020304", card.Contents{}))
	ok := frame("OK", "01", "01020304", "mifare-classic-1k", cn[2])
	readExactly(t, "answer to CN", port, ok)
	// No ACK from the host: the answer comes again after T_ack.
	readExactly(t, "answer to CN, sent again", port, ok)
	write([]byte{ACK})
	write([]byte{ENQ})
	readExactly(t, "ENQ after the answer", port, []byte{ACK})

	pair.Close()
	select {
	case err := <-served:
		if err == nil {
			t.Fatal("Serve returned nil when its line closed")
		}
	case <-time.After(patience):
		t.Fatal("Serve did not return after its line closed")
	}
}

// On a real pty, a host whose ACK to an answer is lost reads that answer
// and moves on to its next command: the new command acknowledges the old
// answer, so the first frame after the new command's ACK is the new
// command's answer, never the old one again.
func TestServeNextCommandAcknowledgesTheAnswer(t *testing.T) {
	pair, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer pair.Close()
	cfg := testConfig()
	cfg.Ack = time.Second
	d := pms.New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- d.Serve(ctx, pair.Master()) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	port, err := serialport.Open(pair.TTY(), serialport.Mode{Baud: 9600})
	if err != nil {
		t.Fatal(err)
	}
	defer port.Close()
	write := func(b []byte) {
		t.Helper()
		if _, err := port.Write(b); err != nil {
			t.Fatal(err)
		}
	}

	c := newCard(t, "c", card.MifareClassic1K, "01020304", card.Contents{})
	place(t, d, c)
	ok := frame("OK", "01", "01020304", "mifare-classic-1k", cn[2])
	write(frame(cn...))
	readExactly(t, "ACK to CN", port, []byte{ACK})
	readExactly(t, "answer to CN", port, ok)
	// The host's ACK to the OK is lost. The read it sends next is held,
	// so its answer is decided only once the ACK to it has arrived: had
	// the OK still been in flight, the NC would queue behind it and the
	// OK come first.
	d.Hold("read", 1)
	write(frame("RC", "01"))
	// Copies of the OK the device re-sent before the RC reached it may
	// come ahead of the ACK; the host ignores them as retransmissions.
	for {
		if err := port.SetReadDeadline(time.Now().Add(patience)); err != nil {
			t.Fatal(err)
		}
		first := make([]byte, 1)
		if _, err := io.ReadFull(port, first); err != nil {
			t.Fatalf("ACK to RC: %v", err)
		}
		if first[0] == ACK {
			break
		}
		if first[0] != STX {
			t.Fatalf("read %02X before the ACK to RC, want ACK or a copy of the OK", first[0])
		}
		readExactly(t, "copy of the OK before the ACK to RC", port, ok[1:])
	}
	if err := d.Answer("read", 1, "no-card"); err != nil {
		t.Fatal(err)
	}
	readExactly(t, "answer to RC", port, frame("NC", "01"))
	write([]byte{ACK})
	write([]byte{ENQ})
	readExactly(t, "ENQ after the answer", port, []byte{ACK}) // nothing else was owed
	if n, w := d.Count("encode"), c.Contents().Writes; n != 1 || w != 1 {
		t.Fatalf("Count(encode) = %d, writes = %d; want 1 and 1", n, w)
	}
}

// Serve returns when its context ends even while a write of its own is
// blocked on a host that stopped reading, and a scenario's Answer never
// waits for the line.
func TestServeEndsWhileAWriteIsBlocked(t *testing.T) {
	for _, tc := range []struct {
		name string
		// jam leaves the device in the middle of a write the host will
		// not finish reading.
		jam func(t *testing.T, d *pms.Device, host net.Conn)
	}{
		{name: "reply to a frame", jam: func(t *testing.T, d *pms.Device, host net.Conn) {
			writeTo(t, host, frame("RC", "01"))
			// net.Pipe: a write lasts until its last byte is read, so
			// the device's ACK and answer, written together, are now
			// stuck half way.
			readFrom(t, host, ACK)
		}},
		{name: "answer decided later", jam: func(t *testing.T, d *pms.Device, host net.Conn) {
			d.Hold("read", 1)
			writeTo(t, host, frame("RC", "01"))
			readFrom(t, host, ACK)
			answered := make(chan error, 1)
			go func() { answered <- d.Answer("read", 1, "no-card") }()
			select {
			case err := <-answered:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(patience):
				t.Fatal("Answer waited for the line")
			}
			readFrom(t, host, STX)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			near, far := net.Pipe()
			defer near.Close()
			defer far.Close()
			d := pms.New(testConfig())
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			served := make(chan error, 1)
			go func() { served <- d.Serve(ctx, near) }()
			tc.jam(t, d, far)
			cancel()
			select {
			case err := <-served:
				if err != nil {
					t.Fatalf("Serve = %v after its context ended, want nil", err)
				}
			case <-time.After(patience):
				t.Fatal("Serve did not return after its context ended")
			}
		})
	}
}

// readFrom reads one byte from c, which must be want.
func readFrom(t *testing.T, c net.Conn, want byte) {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(patience)); err != nil {
		t.Fatal(err)
	}
	one := make([]byte, 1)
	if _, err := io.ReadFull(c, one); err != nil || one[0] != want {
		t.Fatalf("host read % X, %v; want %02X", one, err, want)
	}
}

func writeTo(t *testing.T, c net.Conn, b []byte) {
	t.Helper()
	if err := c.SetWriteDeadline(time.Now().Add(patience)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(b); err != nil {
		t.Fatalf("host write % X: %v", b, err)
	}
}
