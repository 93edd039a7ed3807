package acr122

import (
	"encoding/hex"
	"slices"
	"strings"
	"testing"
)

// msg is a vpcd message: the 2-byte length, then the payload given in hex.
func msg(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte{byte(len(b) >> 8), byte(len(b))}, b...)
}

// TestDecoderNamesTheAPIsAPDUs: the worked APDUs of docs/protocols/acr122.md
// (after the ACR122U API's examples) and their answers, fed a byte at a
// time, come out one name each, in order.
func TestDecoderNamesTheAPIsAPDUs(t *testing.T) {
	var line []byte
	for _, m := range []string{
		"04",
		"3B 8F 80 01 80 4F 0C A0 00 00 03 06 03 00 01 00 00 00 00 6A",
		"FF CA 00 00 00",
		"04 A1 B2 C3 90 00",
		"FF 82 00 00 06 FF FF FF FF FF FF",
		"90 00",
		"FF 86 00 00 05 01 00 04 60 00",
		"FF 88 00 08 61 01",
		"FF B0 00 04 10",
		"00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 90 00",
		"FF D6 00 04 10 00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F",
		"63 00",
		"",
		"02",
	} {
		line = append(line, msg(t, m)...)
	}
	d := newDecoder()
	var got []string
	for _, b := range line {
		got = append(got, d.Feed([]byte{b})...)
	}
	want := []string{
		"ATR?",
		"ATR 3B 8F 80 01 80 4F 0C A0 00 00 03 06 03 00 01 00 00 00 00 6A",
		"get UID (Le 00)",
		"04 A1 B2 C3, SW 90 00",
		"load key FF FF FF FF FF FF into location 00",
		"SW 90 00",
		"authenticate block 4 with key A, location 00",
		"authenticate block 8 with key B, location 01 (obsolete form)",
		"read binary block 4 (Le 16)",
		"00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00, SW 90 00",
		"update binary block 4: 00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F",
		"SW 63 00",
		"eject (empty answer: the card left)",
		"reset",
	}
	if !slices.Equal(got, want) {
		t.Errorf("decoded\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// TestDecoderAnswerStartingFF: a block of FF bytes read back (a trailer's
// key B) is an answer, not a command.
func TestDecoderAnswerStartingFF(t *testing.T) {
	got := newDecoder().Feed(msg(t, "FF FF FF FF FF FF FF 07 80 69 FF FF FF FF FF FF 90 00"))
	want := []string{"FF FF FF FF FF FF FF 07 80 69 FF FF FF FF FF FF, SW 90 00"}
	if !slices.Equal(got, want) {
		t.Errorf("decoded %q, want %q", got, want)
	}
}
