package pn532_test

import (
	"context"
	"slices"
	"testing"

	"github.com/encoderlab/encoderlab/internal/linebench"
	"github.com/encoderlab/encoderlab/sim/device/pn532"
)

// The benchmarks time round trips over a real pty pair, the host on the
// slave opened as the pipeline opens a port: (a device benchmark) −
// BenchmarkPtyEcho, a bare echo on the same kind of pair, is the time the
// chip model adds. p50-ns is the median round trip.

// BenchmarkPtyEcho is the floor: a bare echo on the same kind of pair.
func BenchmarkPtyEcho(b *testing.B) { linebench.Echo(b, 115200) }

// BenchmarkGetFirmwareVersion times a command the chip answers at once:
// the frame out, the ACK frame and the response back.
func BenchmarkGetFirmwareVersion(b *testing.B) {
	pair, port := linebench.Open(b, 115200)
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
	linebench.Rounds(b, func() { linebench.RoundTrip(b, port, cmd, want, got) })
}
