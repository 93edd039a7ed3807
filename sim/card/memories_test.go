package card_test

import (
	"bytes"
	"testing"

	"github.com/encoderlab/encoderlab/sim/card"
)

// TestMemoriesKeepWhatWasWritten: a card's memory is made once and kept,
// so what a host writes is there the next time the card is read; a guest
// card's sector opens with the system keys the memories were given.
func TestMemoriesKeepWhatWasWritten(t *testing.T) {
	m := card.NewMemories(card.DefaultSystemKeyA, card.DefaultSystemKeyB)
	guest, err := card.New("guest", card.MifareClassic1K, "04A1B2C3", card.Contents{Kind: card.Guest, CardID: "7E57CA2D00000001"})
	if err != nil {
		t.Fatal(err)
	}
	mem, err := m.Classic(guest)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := m.Classic(guest); again != mem {
		t.Error("a second Classic made the memory anew")
	}
	if c, ok := card.CredentialIn(mem, card.DefaultSystemKeyB); !ok || c.CardID != "7E57CA2D00000001" {
		t.Errorf("the guest card's sector holds %+v, %t; want its credential under the system key B", c, ok)
	}

	ul, err := card.New("ul", card.MifareUltralight, "04112233445566", card.Contents{})
	if err != nil {
		t.Fatal(err)
	}
	p := m.Ultralight(ul)
	// NXP MF0ICU1: BCC0 = 88 ^ 04 ^ 11 ^ 22 = BF, BCC1 = 33 ^ 44 ^ 55 ^ 66 = 44.
	if want := []byte{0x04, 0x11, 0x22, 0xBF, 0x33, 0x44, 0x55, 0x66, 0x44}; !bytes.Equal(p[:9], want) {
		t.Errorf("pages 0-2 = % X, want % X", p[:9], want)
	}
	p[16] = 0xAA
	if m.Ultralight(ul)[16] != 0xAA {
		t.Error("a write to the pages did not stay")
	}
}
