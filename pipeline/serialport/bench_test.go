package serialport_test

import (
	"io"
	"testing"

	"github.com/encoderlab/encoderlab/pipeline/serialport"
)

// BenchmarkRoundTrip16 measures a 16-byte write on the port echoed back by
// the pty master, both ends on the runtime poller.
func BenchmarkRoundTrip16(b *testing.B) {
	master, slave := ptyPair(b)
	p := openPort(b, slave.Name(), serialport.Mode{Baud: 115200})
	go func() {
		buf := make([]byte, 64)
		for {
			n, err := master.Read(buf)
			if err != nil {
				return
			}
			if _, err := master.Write(buf[:n]); err != nil {
				return
			}
		}
	}()
	msg := []byte("0123456789abcdef")
	got := make([]byte, len(msg))
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Write(msg); err != nil {
			b.Fatalf("Write: %v", err)
		}
		if _, err := io.ReadFull(p, got); err != nil {
			b.Fatalf("Read: %v", err)
		}
	}
}
