package pms_test

import (
	"bytes"
	"context"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/pipeline/serialport"
	"github.com/encoderlab/encoderlab/sim/device/pms"
	"github.com/encoderlab/encoderlab/sim/pty"
)

// The benchmarks time round trips over a real pty pair, the host on the
// slave opened as the pipeline opens a port, so that what the device adds
// per frame can be read against BenchmarkPtyEcho, the same pair with a
// bare echo on the master: (ns/op of a device benchmark) − (ns/op of the
// echo) is the time the device model adds.

// openLine opens a pty pair and the host's port on its slave.
func openLine(b *testing.B) (*pty.Pair, *serialport.Port) {
	b.Helper()
	pair, err := pty.Open()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { pair.Close() })
	port, err := serialport.Open(pair.TTY(), serialport.Mode{Baud: 9600})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { port.Close() })
	return pair, port
}

// serveBench serves a device with the default configuration on a fresh
// line and returns the host's port.
func serveBench(b *testing.B) *serialport.Port {
	b.Helper()
	pair, port := openLine(b)
	dev := pms.New(pms.DefaultConfig())
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- dev.Serve(ctx, pair.Master()) }()
	b.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			b.Errorf("Serve: %v", err)
		}
	})
	return port
}

// rounds runs round for each iteration of b and reports, beside the
// mean, the median round trip as p50-ns: the figure issue targets are
// set in, and steadier than the mean on a loaded machine.
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

// roundTrip writes out and reads exactly len(want) bytes, which must be
// want.
func roundTrip(b *testing.B, port *serialport.Port, out, want, got []byte) {
	if err := port.SetReadDeadline(time.Now().Add(patience)); err != nil {
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

// BenchmarkENQ times ENQ → ACK.
func BenchmarkENQ(b *testing.B) {
	port := serveBench(b)
	got := make([]byte, 1)
	rounds(b, func() { roundTrip(b, port, []byte{ENQ}, []byte{ACK}, got) })
}

// BenchmarkRC times a read command on an empty reader: the frame out, its
// ACK and the NC answer frame back, then the host's ACK to the answer, as
// a host writes it before its next command.
func BenchmarkRC(b *testing.B) {
	port := serveBench(b)
	cmd := frame("RC", "01")
	want := append([]byte{ACK}, frame("NC", "01")...)
	got := make([]byte, len(want))
	rounds(b, func() {
		roundTrip(b, port, cmd, want, got)
		if _, err := port.Write([]byte{ACK}); err != nil {
			b.Fatal(err)
		}
	})
}
