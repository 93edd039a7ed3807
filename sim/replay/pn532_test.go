package replay_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/sim/replay"
	"github.com/encoderlab/encoderlab/sim/scenario"
	"github.com/encoderlab/encoderlab/sim/trace"
)

const pn532File = `name: echo
encoder: {model: replay, protocol: pn532, id: nfc-desk-1}
credential: {system: visionline-hotel}
steps:
  - expect: {frame: "D4 40 01 A0 04 $block4:16"}
  - send: {frame: ACK}
  - expect: {frame: "D4 40 01 30 04"}
  - send: {frame: "D5 41 00 $block4"}
  - expect: {frame: "D4 40 01 A0 04 $block4"}
expect: {status: success}
`

// serve runs d on one end of a pipe and returns the host's end.
func serve(t *testing.T, d *replay.Device) net.Conn {
	t.Helper()
	host, dev := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Serve(ctx, dev) }()
	t.Cleanup(func() { cancel(); <-done; host.Close(); dev.Close() })
	return host
}

func frame(t *testing.T, body ...byte) []byte {
	t.Helper()
	f, err := trace.PN532Frame(body)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// A PN532 capture echoes what the host wrote, and a later expect of it
// must match it: a mismatch names the step and shows both frames.
func TestPN532Captures(t *testing.T) {
	s, err := scenario.Load("echo.yaml", []byte(pn532File))
	if err != nil {
		t.Fatal(err)
	}
	d := replay.New(replay.Config{Protocol: "pn532"})
	host := serve(t, d)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	data := bytes.Repeat([]byte{0x5A}, 16)
	write := frame(t, append([]byte{0xD4, 0x40, 0x01, 0xA0, 0x04}, data...)...)
	// net.Pipe is synchronous: each host write goes in its own goroutine.
	send := func(b []byte) <-chan error {
		c := make(chan error, 1)
		go func() { _, err := host.Write(b); c <- err }()
		return c
	}
	read := func(n int) []byte {
		b := make([]byte, n)
		_ = host.SetReadDeadline(time.Now().Add(30 * time.Second))
		if _, err := io.ReadFull(host, b); err != nil {
			t.Fatal(err)
		}
		return b
	}
	sent := send(write)
	if err := d.Expect(ctx, s.File, s.Steps[0]); err != nil {
		t.Fatal(err)
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	go func() { _ = d.Send(ctx, s.File, s.Steps[1]) }()
	if got := read(6); !bytes.Equal(got, trace.PN532ACK) {
		t.Fatalf("sent % X, want ACK", got)
	}
	sent = send(frame(t, 0xD4, 0x40, 0x01, 0x30, 0x04))
	if err := d.Expect(ctx, s.File, s.Steps[2]); err != nil {
		t.Fatal(err)
	}
	<-sent
	want := frame(t, append([]byte{0xD5, 0x41, 0x00}, data...)...)
	go func() { _ = d.Send(ctx, s.File, s.Steps[3]) }()
	if got := read(len(want)); !bytes.Equal(got, want) {
		t.Fatalf("sent % X, want the written block echoed: % X", got, want)
	}
	other := bytes.Repeat([]byte{0x11}, 16)
	sent = send(frame(t, append([]byte{0xD4, 0x40, 0x01, 0xA0, 0x04}, other...)...))
	err = d.Expect(ctx, s.File, s.Steps[4])
	<-sent
	var me *replay.MismatchError
	if !errors.As(err, &me) || me.Step != 5 || me.Line != 9 {
		t.Fatalf("got %v, want a mismatch at step 5 line 9", err)
	}
	// The position is in the error's fields; scenario.Play's StepError
	// prints it, so the message starts with what came.
	if me.File != "echo.yaml" || strings.Contains(err.Error(), "step") {
		t.Errorf("mismatch in %q: %q repeats the position a StepError prints", me.File, err)
	}
	for _, w := range []string{"got 00 00 FF 15 EB D4 40 01 A0 04 11",
		"(D4 40 01 A0 04 11 11", "bytes 5–20 are 11 11", "want $block4 = 5A 5A"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
}
