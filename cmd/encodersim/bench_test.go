package main

import (
	"context"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/pipeline/serialport"
	"github.com/encoderlab/encoderlab/sim/pty"
	"github.com/encoderlab/encoderlab/sim/tap"
	"github.com/encoderlab/encoderlab/sim/trace"
)

// BenchmarkTapRoundTrip measures one PMS-sized exchange (a 64-byte frame
// out, the same back) with an echoing device, directly on the device's
// pty and through the tap; the difference is what the tap adds.
func BenchmarkTapRoundTrip(b *testing.B) {
	pair, err := pty.Open()
	if err != nil {
		b.Fatal(err)
	}
	defer pair.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // the device: echo everything
		buf := make([]byte, 256)
		m := pair.Master()
		for ctx.Err() == nil {
			n, err := m.Read(buf)
			if err != nil {
				return
			}
			if _, err := m.Write(buf[:n]); err != nil {
				return
			}
		}
	}()
	frame := make([]byte, 64)
	for i := range frame {
		frame[i] = 'A' + byte(i%26)
	}
	exchange := func(b *testing.B, path string) {
		port, err := serialport.Open(path, serialport.Mode{})
		if err != nil {
			b.Fatal(err)
		}
		defer port.Close()
		got := make([]byte, len(frame))
		b.ResetTimer()
		for b.Loop() {
			if _, err := port.Write(frame); err != nil {
				b.Fatal(err)
			}
			_ = port.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.ReadFull(port, got); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("direct", func(b *testing.B) { exchange(b, pair.TTY()) })
	b.Run("tap", func(b *testing.B) {
		dev, err := serialport.Open(pair.TTY(), serialport.Mode{})
		if err != nil {
			b.Fatal(err)
		}
		defer dev.Close()
		started := time.Now()
		tw, err := trace.NewWriter(io.Discard, trace.Header{Protocol: "pms", Started: started})
		if err != nil {
			b.Fatal(err)
		}
		link := filepath.Join(b.TempDir(), "enc")
		tp, err := tap.Start(dev, started, tap.Config{Link: link, Protocol: "pms", Trace: tw})
		if err != nil {
			b.Fatal(err)
		}
		defer tp.Close()
		exchange(b, link)
	})
}
