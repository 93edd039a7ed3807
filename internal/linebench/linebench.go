// Package linebench is what the device models' benchmarks share: a real
// pty pair with the host on its slave, opened as the pipeline opens a
// port; a round trip on it; the median of many; and the floor they are
// read against, a bare echo on the master. (A device benchmark) − Echo is
// the time the device model adds per frame.
package linebench

import (
	"bytes"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/pipeline/serialport"
	"github.com/encoderlab/encoderlab/sim/pty"
)

// patience bounds one round trip; a loaded machine must not fail a run.
const patience = 10 * time.Second

// Open opens a pty pair and the host's port on its slave at baud; both
// close when b ends.
func Open(b *testing.B, baud int) (*pty.Pair, *serialport.Port) {
	b.Helper()
	pair, err := pty.Open()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { pair.Close() })
	port, err := serialport.Open(pair.TTY(), serialport.Mode{Baud: baud})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { port.Close() })
	return pair, port
}

// Rounds runs round for each iteration of b and reports, beside the mean,
// the median round trip as p50-ns: the figure issue targets are set in,
// and steadier than the mean on a loaded machine.
func Rounds(b *testing.B, round func()) {
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

// RoundTrip writes out and reads exactly len(want) bytes into got, which
// must then be want.
func RoundTrip(b *testing.B, port *serialport.Port, out, want, got []byte) {
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

// Echo is the floor: a 16-byte message echoed by a bare loop on the
// master of a pair opened at baud.
func Echo(b *testing.B, baud int) {
	pair, port := Open(b, baud)
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
	Rounds(b, func() { RoundTrip(b, port, msg, msg, got) })
}
