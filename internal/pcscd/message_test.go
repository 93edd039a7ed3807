package pcscd_test

import (
	"bytes"
	"net"
	"strings"
	"testing"

	"github.com/encoderlab/encoderlab/internal/pcscd"
)

// TestMessages: vpcd's framing (vpcd.c: a 2-byte big-endian length, then
// the payload), an APDU, a control and the empty eject, read back a byte
// at a time as TCP may deliver them.
func TestMessages(t *testing.T) {
	var buf bytes.Buffer
	for _, m := range [][]byte{{0xFF, 0xCA, 0x00, 0x00, 0x00}, {0x04}, {}} {
		if err := pcscd.WriteMessage(&buf, m); err != nil {
			t.Fatal(err)
		}
	}
	if want := []byte{0, 5, 0xFF, 0xCA, 0, 0, 0, 0, 1, 4, 0, 0}; !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("written % X, want % X", buf.Bytes(), want)
	}
	host, card := net.Pipe()
	defer host.Close()
	go func() {
		for _, b := range buf.Bytes() {
			if _, err := host.Write([]byte{b}); err != nil {
				return
			}
		}
	}()
	for _, want := range [][]byte{{0xFF, 0xCA, 0x00, 0x00, 0x00}, {0x04}, {}} {
		got, err := pcscd.ReadMessage(card)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("ReadMessage = % X, %v; want % X", got, err, want)
		}
	}
	card.Close()
	if err := pcscd.WriteMessage(&buf, make([]byte, 0x10000)); err == nil || !strings.Contains(err.Error(), "65535") {
		t.Errorf("a 64 KiB message: %v, want refused", err)
	}
}
