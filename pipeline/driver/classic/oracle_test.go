package classic

// Oracle tests: every expected value here is a literal copied from
// docs/protocols/pn532.md ("Card layout", "Keys", "Worked credential
// sector"), never a value computed by the code under test.

import (
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/pipeline/driver"
)

// oracleBytes turns a hex literal as the document writes it
// ("45 4C …") into bytes.
func oracleBytes(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex literal %q: %v", s, err)
	}
	return b
}

// TestOracleCRC16 checks the card layout's CRC against the published
// values of CRC-16/CCITT-FALSE (pn532.md, "Worked credential sector").
func TestOracleCRC16(t *testing.T) {
	for _, c := range []struct {
		in   string
		want uint16
	}{
		{"123456789", 0x29B1}, // the catalogued check value
		{"A", 0xB915},
		{"", 0xFFFF}, // nothing: the initial value
	} {
		if got := crc16([]byte(c.in)); got != c.want {
			t.Errorf("crc16(%q) = %04X, want %04X", c.in, got, c.want)
		}
	}
	// The CRC is over its parts in order, as if they were one.
	if got := crc16([]byte("1234"), []byte("56789")); got != 0x29B1 {
		t.Errorf("crc16(1234, 56789) = %04X, want 29B1", got)
	}
}

// pn532.md, "Worked credential sector".
const (
	oracleBlock4      = "45 4C 01 47 9F 2C 4D 1A 00 00 00 01 16 64 00 00"
	oracleBlock5      = "20 26 11 25 14 00 20 26 11 28 11 00 00 00 00 00"
	oracleBlock6      = "52 6F 6F 6D 20 31 30 31 00 00 00 00 00 00 00 00"
	oracleTrailer     = "45 4C 41 42 4B 41 78 77 88 69 45 4C 41 42 4B 42"
	oracleStaffBlock4 = "45 4C 01 53 9F 2C 4D 1A 00 00 00 02 EF 04 00 00"
)

// oracleGuestJob is the job of the worked credential sector.
var oracleGuestJob = driver.Job{
	CardID:   "9F2C4D1A00000001",
	Function: driver.Guest,
	StartsAt: time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC),
	EndsAt:   time.Date(2026, 11, 28, 11, 0, 0, 0, time.UTC),
	Label:    "Room 101",
}

func oracleBlock(t testing.TB, s string) [16]byte {
	t.Helper()
	return [16]byte(oracleBytes(t, s))
}

// TestOracleKeys checks the keys and the system trailer against pn532.md,
// "Keys" and "Worked credential sector".
func TestOracleKeys(t *testing.T) {
	for _, c := range []struct {
		name string
		got  Key
		want string
	}{
		{"system key A", DefaultKeyA, "45 4C 41 42 4B 41"},
		{"system key B", DefaultKeyB, "45 4C 41 42 4B 42"},
		{"transport key", TransportKey, "FF FF FF FF FF FF"},
	} {
		if want := Key(oracleBytes(t, c.want)); c.got != want {
			t.Errorf("%s = % X, want % X", c.name, c.got, want)
		}
	}
	if tr := Trailer(DefaultKeyA, DefaultKeyB); tr != oracleBlock(t, oracleTrailer) {
		t.Errorf("Trailer = % X, want % X", tr, oracleBlock(t, oracleTrailer))
	}
	if Sector != 1 || BlockHeader != 4 || BlockKeys != 7 {
		t.Errorf("sector %d, header block %d, trailer %d; want 1, 4, 7 (pn532.md, Card layout)", Sector, BlockHeader, BlockKeys)
	}
}

// TestOracleCredentialLayout lays out and reads back the worked
// credential sector of pn532.md.
func TestOracleCredentialLayout(t *testing.T) {
	got, err := Blocks(oracleGuestJob)
	if err != nil {
		t.Fatal(err)
	}
	want := [3][16]byte{oracleBlock(t, oracleBlock4), oracleBlock(t, oracleBlock5), oracleBlock(t, oracleBlock6)}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("block %d = % X, want % X", 4+i, got[i], want[i])
		}
	}

	staff, err := Blocks(driver.Job{CardID: "9F2C4D1A00000002", Function: driver.Staff})
	if err != nil {
		t.Fatal(err)
	}
	if wantStaff := [3][16]byte{oracleBlock(t, oracleStaffBlock4)}; staff != wantStaff {
		t.Errorf("staff blocks = % X, want % X", staff, wantStaff)
	}

	for _, c := range []struct {
		name     string
		blocks   [3][16]byte
		ok       bool
		function driver.Function
		cardID   string
	}{
		{"guest", want, true, driver.Guest, "9F2C4D1A00000001"},
		{"staff", [3][16]byte{oracleBlock(t, oracleStaffBlock4)}, true, driver.Staff, "9F2C4D1A00000002"},
		// The guest sector with CRC 1665 for 1664.
		{"bad CRC", [3][16]byte{oracleBlock(t, "45 4C 01 47 9F 2C 4D 1A 00 00 00 01 16 65 00 00"), want[1], want[2]}, false, "", ""},
		// The guest sector with label Room 102: the CRC no longer fits.
		{"changed label", [3][16]byte{want[0], want[1], oracleBlock(t, "52 6F 6F 6D 20 31 30 32 00 00 00 00 00 00 00 00")}, false, "", ""},
		// The guest sector with function X (58) for G: no credential of
		// this layout, whatever the CRC.
		{"unknown function", [3][16]byte{oracleBlock(t, "45 4C 01 58 9F 2C 4D 1A 00 00 00 01 16 64 00 00"), want[1], want[2]}, false, "", ""},
		// A factory-fresh sector: zeros.
		{"blank", [3][16]byte{}, false, "", ""},
	} {
		cred, ok := Decode(c.blocks)
		if ok != c.ok || cred.Function != c.function || cred.CardID != c.cardID {
			t.Errorf("%s: Decode = %+v, %t; want %s %s, %t", c.name, cred, ok, c.function, c.cardID, c.ok)
		}
		// What a scan says the card holds (pn532.md, "What a card
		// holds"): no credential of this layout is a blank card.
		wantHolds := map[driver.Function]driver.Holding{driver.Guest: driver.GuestCredential, driver.Staff: driver.StaffCredential, "": driver.Blank}[c.function]
		if holds, id := Holds(c.blocks); holds != wantHolds || id != c.cardID {
			t.Errorf("%s: Holds = %s %q, want %s %q", c.name, holds, id, wantHolds, c.cardID)
		}
	}

	// Labels: printable ASCII, cut to 16 characters, others '?'.
	for _, c := range []struct{ label, block6 string }{
		{"Zimmer 1ü", "5A 69 6D 6D 65 72 20 31 3F 00 00 00 00 00 00 00"},
		{"Room 101, sea view", "52 6F 6F 6D 20 31 30 31 2C 20 73 65 61 20 76 69"},
	} {
		job := oracleGuestJob
		job.Label = c.label
		b, err := Blocks(job)
		if err != nil {
			t.Fatal(err)
		}
		if b[2] != oracleBlock(t, c.block6) {
			t.Errorf("label %q: block 6 = % X, want %s", c.label, b[2], c.block6)
		}
	}
}
