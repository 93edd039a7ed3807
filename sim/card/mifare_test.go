package card_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/encoderlab/encoderlab/sim/card"
)

func TestAccessBits(t *testing.T) {
	for _, tc := range []struct {
		cond [4]byte
		want [3]byte
	}{
		{[4]byte{0, 0, 0, 0b001}, [3]byte{0xFF, 0x07, 0x80}}, // transport
		{[4]byte{0b100, 0b100, 0b100, 0b011}, [3]byte{0x78, 0x77, 0x88}},
		{[4]byte{0b111, 0b111, 0b111, 0b111}, [3]byte{0x00, 0xF0, 0xFF}},
	} {
		got := card.AccessBits(tc.cond)
		if got != tc.want {
			t.Errorf("AccessBits(%v) = % X, want % X", tc.cond, got, tc.want)
		}
		back, err := card.Conditions(got)
		if err != nil || back != tc.cond {
			t.Errorf("Conditions(% X) = %v, %v; want %v", got, back, err, tc.cond)
		}
	}
	if _, err := card.Conditions([3]byte{0xFF, 0x07, 0x81}); !errors.Is(err, card.ErrAccessBits) {
		t.Errorf("Conditions of inconsistent bits: err = %v, want ErrAccessBits", err)
	}
}

func TestSectorGeometry(t *testing.T) {
	for _, tc := range []struct{ block, sector, trailer int }{
		{0, 0, 3}, {4, 1, 7}, {7, 1, 7}, {127, 31, 127}, {128, 32, 143}, {255, 39, 255},
	} {
		if s := card.SectorOf(tc.block); s != tc.sector {
			t.Errorf("SectorOf(%d) = %d, want %d", tc.block, s, tc.sector)
		}
		if tr := card.TrailerOf(tc.block); tr != tc.trailer {
			t.Errorf("TrailerOf(%d) = %d, want %d", tc.block, tr, tc.trailer)
		}
	}
}

func newMem(t *testing.T) *card.ClassicMemory {
	t.Helper()
	m, err := card.NewClassicMemory(card.MifareClassic1K, []byte{0xDE, 0xAD, 0xBE, 0xEF})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestFactoryCard(t *testing.T) {
	m := newMem(t)
	if m.Len() != 64 {
		t.Fatalf("Len() = %d, want 64", m.Len())
	}
	b0, _ := m.Raw(0)
	want := []byte{0xDE, 0xAD, 0xBE, 0xEF, 0xDE ^ 0xAD ^ 0xBE ^ 0xEF, 0x08, 0x04, 0x00}
	if !bytes.Equal(b0[:8], want) {
		t.Errorf("block 0 = % X, want prefix % X", b0, want)
	}
	if err := m.Authenticate(4, card.KeyA, card.TransportKey); err != nil {
		t.Errorf("transport key A: %v", err)
	}
	// Transport access bits make key B readable: it is data, not a key.
	if err := m.Authenticate(4, card.KeyB, card.TransportKey); !errors.Is(err, card.ErrAuth) {
		t.Errorf("transport key B: err = %v, want ErrAuth", err)
	}
	tr, err := m.Read(7, card.KeyA)
	if err != nil {
		t.Fatal(err)
	}
	wantTr := []byte{0, 0, 0, 0, 0, 0, 0xFF, 0x07, 0x80, 0x69, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}
	if !bytes.Equal(tr[:], wantTr) {
		t.Errorf("trailer as read = % X, want % X (key A hidden)", tr, wantTr)
	}
	if err := m.Write(0, card.KeyA, card.Block{}); !errors.Is(err, card.ErrDenied) {
		t.Errorf("write block 0: err = %v, want ErrDenied", err)
	}
	if _, err := m.Read(64, card.KeyA); !errors.Is(err, card.ErrNoBlock) {
		t.Errorf("read block 64: err = %v, want ErrNoBlock", err)
	}
}

func TestPersonalisedSector(t *testing.T) {
	m := newMem(t)
	keyA := card.Key{1, 2, 3, 4, 5, 6}
	keyB := card.Key{7, 8, 9, 10, 11, 12}
	access := card.AccessBits([4]byte{0b100, 0b100, 0b100, 0b011})
	// The transport configuration lets key A rewrite the whole trailer.
	if err := m.Write(7, card.KeyA, card.Trailer(keyA, access, 0x69, keyB)); err != nil {
		t.Fatal(err)
	}
	if err := m.Authenticate(4, card.KeyA, card.TransportKey); !errors.Is(err, card.ErrAuth) {
		t.Errorf("old key still works: %v", err)
	}
	if err := m.Authenticate(4, card.KeyB, keyB); err != nil {
		t.Errorf("new key B: %v", err)
	}
	data := card.Block{0xAA}
	if err := m.Write(4, card.KeyA, data); !errors.Is(err, card.ErrDenied) {
		t.Errorf("key A writes a B-only block: err = %v", err)
	}
	if err := m.Write(4, card.KeyB, data); err != nil {
		t.Fatal(err)
	}
	if got, err := m.Read(4, card.KeyA); err != nil || got != data {
		t.Errorf("read with key A = % X, %v; want % X", got, err, data)
	}
	// Key A may not touch this trailer (condition 011).
	if err := m.Write(7, card.KeyA, card.Trailer(card.TransportKey, [3]byte(card.TransportAccess[:3]), 0x69, card.TransportKey)); !errors.Is(err, card.ErrDenied) {
		t.Errorf("key A rewrites the trailer: err = %v", err)
	}
	bad := card.Trailer(keyA, [3]byte{0x78, 0x77, 0x89}, 0x69, keyB)
	if err := m.Write(7, card.KeyB, bad); !errors.Is(err, card.ErrAccessBits) {
		t.Errorf("inconsistent access bits stored: err = %v", err)
	}
}

func TestClassic4KLargeSector(t *testing.T) {
	m, err := card.NewClassicMemory(card.MifareClassic4K, []byte{1, 2, 3, 4, 5, 6, 7})
	if err != nil {
		t.Fatal(err)
	}
	if m.Len() != 256 {
		t.Fatalf("Len() = %d", m.Len())
	}
	if err := m.Write(200, card.KeyA, card.Block{1}); err != nil {
		t.Errorf("write in a 16-block sector: %v", err)
	}
	if len(m.Dump()) != 4096 {
		t.Errorf("dump of %d bytes", len(m.Dump()))
	}
	if _, err := card.NewClassicMemory(card.DESFire, []byte{1, 2, 3, 4}); err == nil {
		t.Error("Classic memory for a DESFire card")
	}
}
