package pms_test

import (
	"context"
	"testing"

	"github.com/encoderlab/encoderlab/internal/linebench"
	"github.com/encoderlab/encoderlab/pipeline/serialport"
	"github.com/encoderlab/encoderlab/sim/device/pms"
)

// The benchmarks time round trips over a real pty pair, the host on the
// slave opened as the pipeline opens a port, so that what the device adds
// per frame can be read against BenchmarkPtyEcho, the same pair with a
// bare echo on the master: (ns/op of a device benchmark) − (ns/op of the
// echo) is the time the device model adds.

// serveBench serves a device with the default configuration on a fresh
// line and returns the host's port.
func serveBench(b *testing.B) *serialport.Port {
	b.Helper()
	pair, port := linebench.Open(b, 9600)
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

// BenchmarkPtyEcho is the floor: a bare echo on the same kind of pair.
func BenchmarkPtyEcho(b *testing.B) { linebench.Echo(b, 9600) }

// BenchmarkENQ times ENQ → ACK.
func BenchmarkENQ(b *testing.B) {
	port := serveBench(b)
	got := make([]byte, 1)
	linebench.Rounds(b, func() { linebench.RoundTrip(b, port, []byte{ENQ}, []byte{ACK}, got) })
}

// BenchmarkRC times a read command on an empty reader: the frame out, its
// ACK and the NC answer frame back, then the host's ACK to the answer, as
// a host writes it before its next command.
func BenchmarkRC(b *testing.B) {
	port := serveBench(b)
	cmd := frame("RC", "01")
	want := append([]byte{ACK}, frame("NC", "01")...)
	got := make([]byte, len(want))
	linebench.Rounds(b, func() {
		linebench.RoundTrip(b, port, cmd, want, got)
		if _, err := port.Write([]byte{ACK}); err != nil {
			b.Fatal(err)
		}
	})
}
