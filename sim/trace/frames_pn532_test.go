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
	if _, err := PN532Frame(make([]byte, PN532MaxBody+1)); err == nil {
		t.Error("PN532Frame accepted a body longer than a normal frame")
	}
	if _, err := PN532Frame(nil); err == nil {
		t.Error("PN532Frame accepted no TFI")
	}
}
