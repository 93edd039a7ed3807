package pn532_test

import (
	"bytes"
	"context"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/pipeline/serialport"
	"github.com/encoderlab/encoderlab/sim/device/pn532"
	"github.com/encoderlab/encoderlab/sim/pty"
)

// The benchmarks time round trips over a real pty pair, the host on the
// slave opened as the pipeline opens a port: (a device benchmark) −
// BenchmarkPtyEcho, a bare echo on the same kind of pair, is the time the
// chip model adds. p50-ns is the median round trip.

func openLine(b *testing.B) (*pty.Pair, *serialport.Port) {
	b.Helper()
	pair, err := pty.Open()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { pair.Close() })
	port, err := serialport.Open(pair.TTY(), serialport.Mode{Baud: 115200})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { port.Close() })
	return pair, port
}

func rounds(b *testing.B, round func()) {
	b.Helper()
	took := make([]time.Duration, 0, 1024)
	for b.Loop() {
		t0 := time.Now()
		round()
		took = append(took, time.Since(t0))
	}
	slices.Sort(took)
	if len(took) > 0 {
		b.ReportMetric(float64(took[len(took)/2].Nanoseconds()), "p50-ns")
	}
}

func roundTrip(b *testing.B, port *serialport.Port, out, want, got []byte) {
	if err := port.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		b.Fatal(err)
	}
	if _, err := port.Write(out); err != nil {
		b.Fatal(err)
	}
	if _, err := io.ReadFull(port, got); err != nil {
		b.Fatalf("after % X: %v", out, err)
	}
	if !bytes.Equal(got, want) {
		b.Fatalf("after % X: got % X, want % X", out, got, want)
	}
}

// BenchmarkPtyEcho is the floor: a 16-byte message echoed by a bare loop
// on the master.
func BenchmarkPtyEcho(b *testing.B) {
	pair, port := openLine(b)
	echoed := make(chan struct{})
	go func() {
		defer close(echoed)
		buf := make([]byte, 64)
		for {
			n, err := pair.Master().Read(buf)
			if err != nil {
				return
			}
			if _, err := pair.Master().Write(buf[:n]); err != nil {
				return
			}
		}
	}()
	b.Cleanup(func() { pair.Close(); <-echoed })
	msg := []byte("0123456789abcdef")
	got := make([]byte, len(msg))
	rounds(b, func() { roundTrip(b, port, msg, msg, got) })
}

// BenchmarkGetFirmwareVersion times a command the chip answers at once:
// the frame out, the ACK frame and the response back.
func BenchmarkGetFirmwareVersion(b *testing.B) {
	pair, port := openLine(b)
	d := pn532.New(pn532.DefaultConfig())
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- d.Serve(ctx, pair.Master()) }()
	b.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			b.Errorf("Serve: %v", err)
		}
	})
	cmd := hostFrame(0x02)
	want := append(slices.Clone(ack), chipFrame(0x03, 0x32, 0x01, 0x06, 0x07)...)
	got := make([]byte, len(want))
	rounds(b, func() { roundTrip(b, port, cmd, want, got) })
}
