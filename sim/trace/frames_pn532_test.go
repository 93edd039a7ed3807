package trace

import (
	"bytes"
	"testing"
)

func TestPN532Frame(t *testing.T) {
	f, err := PN532Frame([]byte{0xD4, 0x4A, 0x01, 0x00})
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{0x00, 0x00, 0xFF, 0x04, 0xFC, 0xD4, 0x4A, 0x01, 0x00, 0xE1, 0x00}; !bytes.Equal(f, want) {
		t.Fatalf("PN532Frame = % X, want % X", f, want)
	}
	body, err := PN532Body(f)
	if err != nil || !bytes.Equal(body, f[5:9]) {
		t.Errorf("PN532Body = % X, %v", body, err)
	}
	if got := DescribePN532(f); got != "D4 4A 01 00" {
		t.Errorf("DescribePN532 = %q", got)
	}
	for _, b := range [][]byte{PN532ACK, PN532NACK} {
		if _, err := PN532Body(b); err == nil {
			t.Errorf("PN532Body(% X) accepted a link frame", b)
		}
	}
	bad := append([]byte(nil), f...)
	bad[9] ^= 1
	if got := DescribePN532(bad); got != "bad frame (DCS E0, want E1)" {
		t.Errorf("DescribePN532(bad DCS) = %q", got)
	}
	if _, err := PN532Frame(make([]byte, 256)); err == nil {
		t.Error("PN532Frame accepted 256 bytes, more than a normal frame carries")
	}
	// 255 bytes fit a normal frame: LEN FF, LCS 01 (docs/protocols/pn532.md,
	// after UM0701-02 6.2.1.1; libnfc sends such frames).
	full := append([]byte{0xD5}, make([]byte, 254)...)
	f255, err := PN532Frame(full)
	if err != nil {
		t.Fatalf("PN532Frame(255 bytes): %v", err)
	}
	if !bytes.Equal(f255[:5], []byte{0x00, 0x00, 0xFF, 0xFF, 0x01}) || len(f255) != 262 || f255[260] != 0x2B {
		t.Errorf("PN532Frame(D5 and 254 zeros) = % X … % X (%d bytes), want 00 00 FF FF 01 … 2B 00 (262 bytes)", f255[:5], f255[len(f255)-2:], len(f255))
	}
	if body, err := PN532Body(f255); err != nil || !bytes.Equal(body, full) {
		t.Errorf("PN532Body(its own 255-byte frame) = %d bytes, %v", len(body), err)
	}
	if _, err := PN532Frame(nil); err == nil {
		t.Error("PN532Frame accepted no TFI")
	}
}
