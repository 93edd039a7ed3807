package acr122_test

import (
	"bytes"
	"slices"
	"testing"

	"github.com/encoderlab/encoderlab/sim/card"
	"github.com/encoderlab/encoderlab/sim/device/acr122"
	"github.com/encoderlab/encoderlab/sim/model"
)

// FuzzCommands plays arbitrary messages as pcscd's side of vpcd's
// protocol to a reader with a MIFARE Classic 1K card in its field, after
// powering it as pcscd does. The input is cut into messages at each
// 0x00 0x00 pair (a cut the fuzzer can find, with every byte value still
// allowed inside a message). Whatever a host sends, the reader goes on
// answering: a control gets no answer (the ATR request its ATR), a
// command an answer that ends with a status word (ISO 7816-4: SW1 of
// 6x or 9x), or the eject (empty) once its card left; it never panics or
// stops serving the stream.
func FuzzCommands(f *testing.F) {
	f.Add([]byte("\xFF\xCA\x00\x00\x00"))
	f.Add([]byte("\xFF\x82\x00\x00\x06\xFF\xFF\xFF\xFF\xFF\xFF\x00\x00\xFF\x86\x00\x00\x05\x01\x00\x04\x60\x00\x00\x00\xFF\xB0\x00\x04\x10"))
	f.Add([]byte("\xFF\xD6\x00\x04\x10\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0A\x0B\x0C\x0D\x0E\x0F"))
	f.Add([]byte("\xFF\x86\x00\x00\x05\x01\x00\x07\x61\x01\x00\x00\x02\x00\x00\x04"))
	f.Add([]byte("\xFF\xD6\x00\x03\x10\x00\x00\x00\x00\x00\x00\xFF\x07\x80\x69\xFF\xFF\xFF\xFF\xFF\xFF"))
	f.Add([]byte("\x00\xA4\x04\x00\x00\x00\x00\xFF"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d := acr122.New(acr122.Config{})
		if err := d.Place(newCard(t, "c", card.MifareClassic1K, "04A1B2C3", card.Contents{Kind: card.Blank})); err != nil {
			t.Fatal(err)
		}
		h := serve(t, d)
		if atr := h.power(); atr == "" {
			t.Fatal("no ATR for the card in the field")
		}
		for _, m := range bytes.Split(data, []byte{0, 0}) {
			if len(m) == 0 || len(m) > 0xFFFF {
				continue
			}
			h.send(m)
			if len(m) == 1 {
				if m[0] != 0x04 {
					continue // a control: vpcd waits for no answer
				}
				if got := h.recv(); !bytes.Equal(got, acr122.ATR(card.MifareClassic1K)) {
					t.Fatalf("ATR request answered % X; want the card's ATR", got)
				}
				continue
			}
			got := h.recv()
			if len(got) == 0 {
				t.Fatalf("% X answered with the eject, the card still in the field", m)
			}
			if len(got) < 2 || (got[len(got)-2]>>4 != 0x6 && got[len(got)-2]>>4 != 0x9) {
				t.Fatalf("% X answered % X: no status word at its end", m, got)
			}
		}
		// Still serving: the card's UID, as at the start.
		if got := h.exchange("FF CA 00 00 00"); got != "04A1B2C39000" {
			t.Fatalf("after the input, get UID answers %s; want 04A1B2C39000", got)
		}
	})
}

// FuzzDecoder feeds arbitrary bytes to the reader's line decoder, whole
// and then one byte at a time: the frames must not depend on how the
// bytes were cut into chunks, and no frame text is empty.
func FuzzDecoder(f *testing.F) {
	f.Add([]byte("\x00\x01\x04\x00\x05\xFF\xCA\x00\x00\x00\x00\x06\x04\xA1\xB2\xC3\x90\x00"))
	f.Add([]byte("\x00\x00\x00\x01\x02"))
	f.Add([]byte("\xFF\xFF\x00"))
	p, ok := model.ProtocolOf("acr122")
	if !ok || p.NewDecoder == nil {
		f.Fatal("the acr122 model registers no line decoder")
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got := p.NewDecoder().Feed(data)
		bytewise := p.NewDecoder()
		var each []string
		for i := range data {
			each = append(each, bytewise.Feed(data[i:i+1])...)
		}
		if !slices.Equal(got, each) {
			t.Fatalf("fed whole: %q; byte by byte: %q", got, each)
		}
		for i, s := range got {
			if s == "" {
				t.Fatalf("frame %d of %q has no text", i, got)
			}
		}
	})
}
