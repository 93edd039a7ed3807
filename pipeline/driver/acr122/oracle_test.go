package acr122

// Oracle tests: every expected byte here is a literal copied from
// docs/protocols/acr122.md ("ATR", "APDUs", "Worked APDUs": ACS's API
// V2.04) and docs/protocols/pn532.md ("Keys", "Worked credential
// sector"), never a value computed by the code under test.

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/pipeline/driver"
)

// TestOracleAPDUs builds the APDUs of acr122.md, "Worked APDUs" (API 4.1,
// 5.1–5.4), and the driver's own with the system key B.
func TestOracleAPDUs(t *testing.T) {
	var seq [16]byte
	for i := range seq {
		seq[i] = byte(i)
	}
	for _, c := range []struct {
		name string
		got  []byte
		want string
	}{
		{"get UID", getUID(), "FF CA 00 00 00"},
		{"load the transport key into 00", loadKey(0x00, [6]byte(h("FF FF FF FF FF FF"))), "FF 82 00 00 06 FF FF FF FF FF FF"},
		{"load the system key B into 01", loadKey(0x01, [6]byte(h("45 4C 41 42 4B 42"))), "FF 82 00 01 06 45 4C 41 42 4B 42"},
		{"authenticate block 4, key A, location 00", authenticate(0x04, keyTypeA, 0x00), "FF 86 00 00 05 01 00 04 60 00"},
		{"authenticate block 4, key B, location 01", authenticate(0x04, keyTypeB, 0x01), "FF 86 00 00 05 01 00 04 61 01"},
		{"read block 4", readBinary(0x04), "FF B0 00 04 10"},
		{"update block 4", updateBinary(0x04, seq), "FF D6 00 04 10 00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F"},
	} {
		if want := h(c.want); !bytes.Equal(c.got, want) {
			t.Errorf("%s = % X, want % X", c.name, c.got, want)
		}
	}
}

// TestOracleATR tells the technologies of acr122.md, "ATR".
func TestOracleATR(t *testing.T) {
	for _, c := range []struct {
		atr, want string
	}{
		{"3B 8F 80 01 80 4F 0C A0 00 00 03 06 03 00 01 00 00 00 00 6A", "mifare-classic-1k"},
		{"3B 8F 80 01 80 4F 0C A0 00 00 03 06 03 00 02 00 00 00 00 69", "mifare-classic-4k"},
		{"3B 8F 80 01 80 4F 0C A0 00 00 03 06 03 00 03 00 00 00 00 68", "mifare-ultralight"},
		{"3B 81 80 01 80 80", "desfire"},
		// A part 3 card of another name (00 26, MIFARE Mini in PC/SC
		// part 3's list): none of this system's.
		{"3B 8F 80 01 80 4F 0C A0 00 00 03 06 03 00 26 00 00 00 00 4D", "unknown (ATR 3B 8F 80 01 80 4F 0C A0 00 00 03 06 03 00 26 00 00 00 00 4D)"},
		// A contact card's ATR.
		{"3B 02 14 50", "unknown (ATR 3B 02 14 50)"},
		{"", "unknown (ATR )"},
		// As pcscd can list them after vpcd left its buffer's length
		// (33) in place: the ATR, then zeros.
		{"3B 8F 80 01 80 4F 0C A0 00 00 03 06 03 00 01 00 00 00 00 6A 00 00 00 00 00 00 00 00 00 00 00 00 00", "mifare-classic-1k"},
		{"3B 81 80 01 80 80 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00", "desfire"},
		// A contact card's ATR with T=0 only: no TCK (ISO/IEC 7816-3,
		// 8.2.5), its own length with the bytes after it cut.
		{"3B 02 14 50 00 00", "unknown (ATR 3B 02 14 50)"},
	} {
		if got := technology(h(c.atr)); got != c.want {
			t.Errorf("technology(%s) = %q, want %q", c.atr, got, c.want)
		}
	}
}

// guestJob is the job of pn532.md, "Worked credential sector".
var guestJob = driver.Job{
	CardID:   "9F2C4D1A00000001",
	Function: driver.Guest,
	StartsAt: time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC),
	EndsAt:   time.Date(2026, 11, 28, 11, 0, 0, 0, time.UTC),
	Label:    "Room 101",
}

// wantBlocks is guestJob's credential sector, copied from pn532.md,
// "Worked credential sector" (CRC 16 64).
var wantBlocks = [3][16]byte{
	[16]byte(h("45 4C 01 47 9F 2C 4D 1A 00 00 00 01 16 64 00 00")),
	[16]byte(h("20 26 11 25 14 00 20 26 11 28 11 00 00 00 00 00")),
	[16]byte(h("52 6F 6F 6D 20 31 30 31 00 00 00 00 00 00 00 00")),
}

// oldGuestBlocks is a guest credential for card id 9F2C4D1A00000003 with
// no bounds and no label, laid out by hand from pn532.md, "Card layout"
// (its CRC, 9E 71, worked out with Python's binascii.crc_hqx).
var oldGuestBlocks = [3][16]byte{[16]byte(h("45 4C 01 47 9F 2C 4D 1A 00 00 00 03 9E 71 00 00"))}

// staffBlocks is pn532.md's worked staff credential, card id
// 9F2C4D1A00000002.
var staffBlocks = [3][16]byte{[16]byte(h("45 4C 01 53 9F 2C 4D 1A 00 00 00 02 EF 04 00 00"))}

// The exchanges of an encode (API chapter 5; acr122.md, "Encoding a
// card"): "> " is an APDU, "< " the answer, "reset" the card reset
// (SCardReconnect with SCARD_RESET_CARD, vpcd's control 02).
const (
	oracleLoadKeyB = "> FF 82 00 01 06 45 4C 41 42 4B 42"
	oracleAuthB    = "> FF 86 00 00 05 01 00 04 61 01"
	oracleOK       = "< 90 00"
	oracleFailed   = "< 63 00"
)

// oracleVerify is the verification every encode of guestJob ends with.
var oracleVerify = []string{
	"reset",
	oracleLoadKeyB, oracleOK,
	oracleAuthB, oracleOK,
	"> FF B0 00 04 10", "< 45 4C 01 47 9F 2C 4D 1A 00 00 00 01 16 64 00 00 90 00",
	"> FF B0 00 05 10", "< 20 26 11 25 14 00 20 26 11 28 11 00 00 00 00 00 90 00",
	"> FF B0 00 06 10", "< 52 6F 6F 6D 20 31 30 31 00 00 00 00 00 00 00 00 90 00",
}

// oracleWrites are the updates of guestJob's blocks 4–6.
var oracleWrites = []string{
	"> FF D6 00 04 10 45 4C 01 47 9F 2C 4D 1A 00 00 00 01 16 64 00 00", oracleOK,
	"> FF D6 00 05 10 20 26 11 25 14 00 20 26 11 28 11 00 00 00 00 00", oracleOK,
	"> FF D6 00 06 10 52 6F 6F 6D 20 31 30 31 00 00 00 00 00 00 00 00", oracleOK,
}

// oracleBlankEncode is the encode of guestJob onto a blank MIFARE Classic
// 1K, UID 04 A1 B2 C3: the system key B refused, the card reset, the
// transport key A accepted, blocks 4–6 and the trailer written, verified.
var oracleBlankEncode = slices.Concat(
	[]string{
		"> FF CA 00 00 00", "< 04 A1 B2 C3 90 00",
		oracleLoadKeyB, oracleOK,
		oracleAuthB, oracleFailed,
		"reset",
		"> FF 82 00 00 06 FF FF FF FF FF FF", oracleOK,
		"> FF 86 00 00 05 01 00 04 60 00", oracleOK,
	},
	oracleWrites,
	[]string{"> FF D6 00 07 10 45 4C 41 42 4B 41 78 77 88 69 45 4C 41 42 4B 42", oracleOK},
	oracleVerify,
)

// oracleGuestEncode is the encode of guestJob onto a card of the system
// holding another guest credential, UID 04 E2 F3 A4 B5 C6 D7: the system
// key B accepted, blocks 4–6 read (a guest's: overwritten), written,
// verified; the trailer stays.
var oracleGuestEncode = slices.Concat(
	[]string{
		"> FF CA 00 00 00", "< 04 E2 F3 A4 B5 C6 D7 90 00",
		oracleLoadKeyB, oracleOK,
		oracleAuthB, oracleOK,
		"> FF B0 00 04 10", "< 45 4C 01 47 9F 2C 4D 1A 00 00 00 03 9E 71 00 00 90 00",
		"> FF B0 00 05 10", "< 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 90 00",
		"> FF B0 00 06 10", "< 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 90 00",
	},
	oracleWrites,
	oracleVerify,
)

// wantExchange compares the card's exchange with an oracle's.
func wantExchange(t *testing.T, c *testCard, want []string) {
	t.Helper()
	got := c.exchange()
	if !slices.Equal(got, want) {
		t.Errorf("exchange:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestOracleEncodeBlankCard runs Encode through a private pcscd onto a
// blank card and checks every APDU and answer, and the card after.
func TestOracleEncodeBlankCard(t *testing.T) {
	t.Parallel()
	d := daemon(t)
	c := insert(t, d, classicCard("04 A1 B2 C3"))
	p := open(t, d)
	got, err := encode(t, p, guestJob)
	if err != nil {
		t.Fatal(err)
	}
	if want := (driver.Card{Number: "04A1B2C3", Technology: "mifare-classic-1k", CardID: "9F2C4D1A00000001"}); got != want {
		t.Errorf("Encode = %+v, want %+v", got, want)
	}
	wantExchange(t, c, oracleBlankEncode)
	for i, w := range wantBlocks {
		if b := c.block(4 + i); b != w {
			t.Errorf("block %d = % X, want % X", 4+i, b, w)
		}
	}
	if b := c.block(7); b != systemTrailer {
		t.Errorf("trailer = % X, want % X (the system keys)", b, systemTrailer)
	}
	if closed(p) {
		t.Error("the port was closed after a good encode")
	}
}

// TestOracleEncodeGuestCard overwrites another guest's credential.
func TestOracleEncodeGuestCard(t *testing.T) {
	t.Parallel()
	d := daemon(t)
	c := insert(t, d, systemCard("04 E2 F3 A4 B5 C6 D7", oldGuestBlocks))
	p := open(t, d)
	got, err := encode(t, p, guestJob)
	if err != nil {
		t.Fatal(err)
	}
	if want := (driver.Card{Number: "04E2F3A4B5C6D7", Technology: "mifare-classic-1k", CardID: "9F2C4D1A00000001"}); got != want {
		t.Errorf("Encode = %+v, want %+v", got, want)
	}
	wantExchange(t, c, oracleGuestEncode)
	for i, w := range wantBlocks {
		if b := c.block(4 + i); b != w {
			t.Errorf("block %d = % X, want % X", 4+i, b, w)
		}
	}
	if b := c.block(7); b != systemTrailer {
		t.Errorf("trailer = % X, want it unchanged, % X", b, systemTrailer)
	}
}

// encode runs Encode with testTiming, bounded by a minute.
func encode(t *testing.T, p driver.Port, job driver.Job) (driver.Card, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return New(testTiming()).Encode(ctx, p, job)
}
