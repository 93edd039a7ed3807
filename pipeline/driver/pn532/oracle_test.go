package pn532

// Oracle tests: every expected value here is a literal copied from
// docs/protocols/pn532.md (the section is named at each table; that page
// gives where each frame comes from: NXP's UM0701-02, libnfc's source,
// ISO/IEC 14443-3), never a value computed by the code under test. The
// same literals are checked against the virtual chip in
// sim/device/pn532/oracle_test.go.

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/pipeline/driver"
)

// oracleBytes turns a hex literal as the document writes it
// ("00 00 FF …") into bytes.
func oracleBytes(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex literal %q: %v", s, err)
	}
	return b
}

// oracleLong is a frame of the "Lengths at the edges" table (pn532.md,
// "Frames" → "Worked frames"): its first bytes, then zeros, then its last
// bytes, n bytes in all.
func oracleLong(t testing.TB, starts, ends string, n int) []byte {
	t.Helper()
	s, e := oracleBytes(t, starts), oracleBytes(t, ends)
	out := append([]byte(nil), s...)
	out = append(out, make([]byte, n-len(s)-len(e))...)
	return append(out, e...)
}

// TestOracleFixedFrames checks the fixed byte sequences against pn532.md,
// "Frames" → "Worked frames" (UM0701-02 6.2.1.3 and 6.2.1.4; libnfc's
// pn532_uart_wakeup).
func TestOracleFixedFrames(t *testing.T) {
	for _, c := range []struct {
		name string
		got  []byte
		want string
	}{
		{"ACK", ackFrame, "00 00 FF 00 FF 00"},
		{"NACK", nack, "00 00 FF FF 00 00"},
		{"HSU wake-up", wakeup, "55 55 00 00 00 00 00 00 00 00 00 00 00 00 00 00"},
	} {
		if want := oracleBytes(t, c.want); !bytes.Equal(c.got, want) {
			t.Errorf("%s = % X, want % X", c.name, c.got, want)
		}
	}
	if tfiHost != 0xD4 || tfiChip != 0xD5 {
		t.Errorf("TFI host %02X chip %02X, want D4 and D5 (pn532.md, Frames)", tfiHost, tfiChip)
	}
}

// TestOracleEncodeCommands builds every host frame of pn532.md, "Frames"
// → "Worked frames" and "Cards" (the Ultralight read), from its command
// code and parameters.
func TestOracleEncodeCommands(t *testing.T) {
	for _, c := range []struct {
		name string
		data string // PD0 … PDn
		want string
	}{
		// UM0701-02 7.2.2.
		{"GetFirmwareVersion", "02", "00 00 FF 02 FE D4 02 2A 00"},
		// libnfc pn532_SAMConfiguration, PSM_NORMAL.
		{"SAMConfiguration, libnfc", "14 01", "00 00 FF 03 FD D4 14 01 17 00"},
		// UM0701-02 7.2.10: the driver's parameters.
		{"SAMConfiguration, the driver's", "14 01 14 00", "00 00 FF 05 FB D4 14 01 14 00 03 00"},
		// libnfc pn53x_check_communication.
		{"Diagnose line test", "00 00 6C 69 62 6E 66 63", "00 00 FF 09 F7 D4 00 00 6C 69 62 6E 66 63 BE 00"},
		// UM0701-02 7.3.1, item 5.
		{"RFConfiguration MaxRetries", "32 05 FF 01 00", "00 00 FF 06 FA D4 32 05 FF 01 00 F5 00"},
		// UM0701-02 7.3.5.
		{"InListPassiveTarget, 1 target", "4A 01 00", "00 00 FF 04 FC D4 4A 01 00 E1 00"},
		{"InListPassiveTarget, 2 targets", "4A 02 00", "00 00 FF 04 FC D4 4A 02 00 E0 00"},
		{"InListPassiveTarget, select 4-byte UID", "4A 01 00 04 A1 B2 C3", "00 00 FF 08 F8 D4 4A 01 00 04 A1 B2 C3 C7 00"},
		{"InListPassiveTarget, select 7-byte UID", "4A 01 00 88 04 A1 B2 C3 D4 E5 F6", "00 00 FF 0C F4 D4 4A 01 00 88 04 A1 B2 C3 D4 E5 F6 90 00"},
		// UM0701-02 7.3.8.
		{"authenticate, transport key A", "40 01 60 04 FF FF FF FF FF FF 04 A1 B2 C3", "00 00 FF 0F F1 D4 40 01 60 04 FF FF FF FF FF FF 04 A1 B2 C3 73 00"},
		{"authenticate, system key B", "40 01 61 04 45 4C 41 42 4B 42 04 A1 B2 C3", "00 00 FF 0F F1 D4 40 01 61 04 45 4C 41 42 4B 42 04 A1 B2 C3 CB 00"},
		{"read block 4", "40 01 30 04", "00 00 FF 05 FB D4 40 01 30 04 B7 00"},
		// UM0701-02 7.3.11.
		{"InRelease", "52 00", "00 00 FF 03 FD D4 52 00 DA 00"},
		// pn532.md, Cards: the Ultralight read.
		{"InCommunicateThru read page 0", "42 30 00", "00 00 FF 04 FC D4 42 30 00 BA 00"},
	} {
		got := appendFrame(nil, oracleBytes(t, c.data))
		if want := oracleBytes(t, c.want); !bytes.Equal(got, want) {
			t.Errorf("%s:\n got % X\nwant % X", c.name, got, want)
		}
	}

	// "Lengths at the edges": D4 and 254, 255, 264 zeros.
	for _, c := range []struct {
		name       string
		zeros      int
		starts     string
		ends       string
		totalBytes int
	}{
		{"254 zeros: normal, LEN FF", 254, "00 00 FF FF 01 D4 00", "00 2C 00", 262},
		{"255 zeros: extended, the shortest", 255, "00 00 FF FF FF 01 00 FF D4 00", "00 2C 00", 266},
		{"264 zeros: extended, the most", 264, "00 00 FF FF FF 01 09 F6 D4 00", "00 2C 00", 275},
	} {
		got := appendFrame(nil, make([]byte, c.zeros))
		if want := oracleLong(t, c.starts, c.ends, c.totalBytes); !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes % X … % X, want %d bytes % X … % X", c.name,
				len(got), got[:min(9, len(got))], got[max(0, len(got)-3):], len(want), want[:9], want[len(want)-3:])
		}
	}
}

// oracleDecode feeds b to a fresh decoder and returns its events.
func oracleDecode(b []byte) []event {
	var d decoder
	var out []event
	for _, c := range b {
		if ev, ok := d.Feed(c); ok {
			out = append(out, ev)
		}
	}
	return out
}

// TestOracleDecodeResponses decodes every chip frame of pn532.md,
// "Frames" → "Worked frames" and "Cards", and the damaged and edge-length
// frames the "Frames" and "Link layer" rules describe.
func TestOracleDecodeResponses(t *testing.T) {
	type want struct {
		kind eventKind
		tfi  byte
		data string // after the TFI
	}
	info := func(data string) []want { return []want{{evInfo, 0xD5, data}} }
	for _, c := range []struct {
		name string
		in   []byte
		want []want
	}{
		// UM0701-02 6.2.1.3–6.2.1.5.
		{"ACK", oracleBytes(t, "00 00 FF 00 FF 00"), []want{{kind: evACK}}},
		{"NACK", oracleBytes(t, "00 00 FF FF 00 00"), []want{{kind: evNACK}}},
		{"error frame", oracleBytes(t, "00 00 FF 01 FF 7F 81 00"), []want{{kind: evError}}},
		// UM0701-02 7.2.2: PN532, v1.6, support 07.
		{"GetFirmwareVersion", oracleBytes(t, "00 00 FF 06 FA D5 03 32 01 06 07 E8 00"), info("03 32 01 06 07")},
		{"SAMConfiguration", oracleBytes(t, "00 00 FF 02 FE D5 15 16 00"), info("15")},
		{"Diagnose echo", oracleBytes(t, "00 00 FF 09 F7 D5 01 00 6C 69 62 6E 66 63 BC 00"), info("01 00 6C 69 62 6E 66 63")},
		{"RFConfiguration", oracleBytes(t, "00 00 FF 02 FE D5 33 F8 00"), info("33")},
		{"InListPassiveTarget, a Classic 1K", oracleBytes(t, "00 00 FF 0C F4 D5 4B 01 01 00 04 08 04 04 A1 B2 C3 B4 00"), info("4B 01 01 00 04 08 04 04 A1 B2 C3")},
		{"InListPassiveTarget, an Ultralight", oracleBytes(t, "00 00 FF 0F F1 D5 4B 01 01 00 44 00 07 04 A1 B2 C3 D4 E5 F6 CA 00"), info("4B 01 01 00 44 00 07 04 A1 B2 C3 D4 E5 F6")},
		{"InListPassiveTarget, no target", oracleBytes(t, "00 00 FF 03 FD D5 4B 00 E0 00"), info("4B 00")},
		{"InDataExchange status 00", oracleBytes(t, "00 00 FF 03 FD D5 41 00 EA 00"), info("41 00")},
		{"InDataExchange status 14", oracleBytes(t, "00 00 FF 03 FD D5 41 14 D6 00"), info("41 14")},
		{"InRelease", oracleBytes(t, "00 00 FF 03 FD D5 53 00 D8 00"), info("53 00")},
		// Preamble and noise before a frame are skipped.
		{"noise, then ACK", oracleBytes(t, "55 55 00 00 00 13 00 00 FF 00 FF 00"), []want{{kind: evACK}}},
		// The firmware response with DCS E9 for E8: NACKed.
		{"bad DCS", oracleBytes(t, "00 00 FF 06 FA D5 03 32 01 06 07 E9 00"), []want{{kind: evBad}}},
		// The firmware response with LCS FB for FA: no length, reported.
		{"bad LCS", oracleBytes(t, "00 00 FF 06 FB D5 03 32 01 06 07 E8 00"), []want{{kind: evBadLen}}},
		// "Lengths at the edges", from the chip: D5 and zeros.
		{"254 zeros: normal, LEN FF", oracleLong(t, "00 00 FF FF 01 D5 00", "00 2B 00", 262), info(strings.Repeat("00", 254))},
		{"255 zeros: extended", oracleLong(t, "00 00 FF FF FF 01 00 FF D5 00", "00 2B 00", 266), info(strings.Repeat("00", 255))},
		{"264 zeros: extended, the most", oracleLong(t, "00 00 FF FF FF 01 09 F6 D5 00", "00 2B 00", 275), info(strings.Repeat("00", 264))},
	} {
		t.Run(c.name, func(t *testing.T) {
			evs := oracleDecode(c.in)
			if len(evs) != len(c.want) {
				t.Fatalf("%d events %+v, want %d", len(evs), evs, len(c.want))
			}
			for i, w := range c.want {
				ev := evs[i]
				if ev.kind != w.kind {
					t.Fatalf("event %d: kind %d (%v), want %d", i, ev.kind, ev.err, w.kind)
				}
				if w.kind != evInfo {
					continue
				}
				if ev.tfi != w.tfi || !bytes.Equal(ev.data, oracleBytes(t, w.data)) {
					t.Errorf("event %d: TFI %02X data % X, want %02X %s", i, ev.tfi, ev.data, w.tfi, w.data)
				}
			}
		})
	}

	// One byte more than the chip takes (UM0701-02 6.2.1.2: 264 data
	// bytes, 265 with the TFI), the host's frame of "Lengths at the
	// edges": the decoder takes any TFI, so it shows the bound as well.
	over := oracleDecode(oracleLong(t, "00 00 FF FF FF 01 0A F5 D4 00", "00 2C 00", 276))
	if len(over) == 0 || over[0].kind != evBad {
		t.Errorf("frame of length 010A (265 data bytes): %+v, want a bad frame first", over)
	}
}

// TestOracleTargets reads the targets of the worked InListPassiveTarget
// responses (pn532.md, "Finding a card" and "Cards").
func TestOracleTargets(t *testing.T) {
	for _, c := range []struct {
		name string
		data string // after NbTg
		uid  string
		atqa [2]byte
		sak  byte
		tech string
	}{
		{"Classic 1K", "01 00 04 08 04 04 A1 B2 C3", "04 A1 B2 C3", [2]byte{0x00, 0x04}, 0x08, "mifare-classic-1k"},
		{"Ultralight", "01 00 44 00 07 04 A1 B2 C3 D4 E5 F6", "04 A1 B2 C3 D4 E5 F6", [2]byte{0x00, 0x44}, 0x00, "mifare-ultralight"},
	} {
		tg, rest, ok := parseTarget(oracleBytes(t, c.data))
		if !ok || len(rest) != 0 {
			t.Errorf("%s: parseTarget ok %t, %d bytes left", c.name, ok, len(rest))
			continue
		}
		if !bytes.Equal(tg.uid, oracleBytes(t, c.uid)) || tg.atqa != c.atqa || tg.sak != c.sak || tg.tech != c.tech {
			t.Errorf("%s: target %+v, want UID %s ATQA % X SAK %02X %s", c.name, tg, c.uid, c.atqa, c.sak, c.tech)
		}
	}
}

// TestOracleCascadedUID checks the UIDs given to select a card against
// the table of pn532.md, "Finding a card".
func TestOracleCascadedUID(t *testing.T) {
	for _, c := range []struct{ uid, want string }{
		{"04 A1 B2 C3", "04 A1 B2 C3"},
		{"04 A1 B2 C3 D4 E5 F6", "88 04 A1 B2 C3 D4 E5 F6"},
		{"04 A1 B2 C3 D4 E5 F6 07 18 29", "88 04 A1 B2 88 C3 D4 E5 F6 07 18 29"},
	} {
		if got, want := cascaded(oracleBytes(t, c.uid)), oracleBytes(t, c.want); !bytes.Equal(got, want) {
			t.Errorf("cascaded(%s) = % X, want % X", c.uid, got, want)
		}
	}
}

// oracleTrailer is the system trailer of pn532.md, "Worked credential
// sector". The layout's own oracle tests (the worked sector, the CRC, the
// labels) are package classic's, which lays the blocks out.
const oracleTrailer = "45 4C 41 42 4B 41 78 77 88 69 45 4C 41 42 4B 42"

// oracleGuestJob is the job of the worked credential sector.
var oracleGuestJob = driver.Job{
	CardID:   "9F2C4D1A00000001",
	Function: driver.Guest,
	StartsAt: time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC),
	EndsAt:   time.Date(2026, 11, 28, 11, 0, 0, 0, time.UTC),
	Label:    "Room 101",
}

// TestOracleTrailer checks the trailer a driver with the default keys
// writes on a blank card against pn532.md, "Worked credential sector".
func TestOracleTrailer(t *testing.T) {
	if tr, want := New(DefaultTiming()).trailer(), [16]byte(oracleBytes(t, oracleTrailer)); tr != want {
		t.Errorf("trailer = % X, want % X", tr, want)
	}
}

// oracleStep is one line of a documented exchange: the host sends
// (toChip) or the chip sends these bytes.
type oracleStep struct {
	toChip bool
	bytes  string
}

const oracleACK = "00 00 FF 00 FF 00"

// oracleEncode is pn532.md, "Worked encode": the driver encoding the
// worked guest credential onto a blank Classic 1K, UID 04 A1 B2 C3.
var oracleEncode = []oracleStep{
	{true, "55 55 00 00 00 00 00 00 00 00 00 00 00 00 00 00"},
	{true, "00 00 FF 05 FB D4 14 01 14 00 03 00"},
	{false, oracleACK + " 00 00 FF 02 FE D5 15 16 00"},
	{true, "00 00 FF 02 FE D4 02 2A 00"},
	{false, oracleACK + " 00 00 FF 06 FA D5 03 32 01 06 07 E8 00"},
	{true, "00 00 FF 06 FA D4 32 05 FF 01 00 F5 00"},
	{false, oracleACK + " 00 00 FF 02 FE D5 33 F8 00"},
	{true, "00 00 FF 04 FC D4 4A 02 00 E0 00"},
	{false, oracleACK + " 00 00 FF 0C F4 D5 4B 01 01 00 04 08 04 04 A1 B2 C3 B4 00"},
	{true, "00 00 FF 0F F1 D4 40 01 61 04 45 4C 41 42 4B 42 04 A1 B2 C3 CB 00"},
	{false, oracleACK + " 00 00 FF 03 FD D5 41 14 D6 00"},
	{true, "00 00 FF 08 F8 D4 4A 01 00 04 A1 B2 C3 C7 00"},
	{false, oracleACK + " 00 00 FF 0C F4 D5 4B 01 01 00 04 08 04 04 A1 B2 C3 B4 00"},
	{true, "00 00 FF 0F F1 D4 40 01 60 04 FF FF FF FF FF FF 04 A1 B2 C3 73 00"},
	{false, oracleACK + " 00 00 FF 03 FD D5 41 00 EA 00"},
	{true, "00 00 FF 15 EB D4 40 01 A0 04 45 4C 01 47 9F 2C 4D 1A 00 00 00 01 16 64 00 00 C1 00"},
	{false, oracleACK + " 00 00 FF 03 FD D5 41 00 EA 00"},
	{true, "00 00 FF 15 EB D4 40 01 A0 05 20 26 11 25 14 00 20 26 11 28 11 00 00 00 00 00 26 00"},
	{false, oracleACK + " 00 00 FF 03 FD D5 41 00 EA 00"},
	{true, "00 00 FF 15 EB D4 40 01 A0 06 52 6F 6F 6D 20 31 30 31 00 00 00 00 00 00 00 00 F6 00"},
	{false, oracleACK + " 00 00 FF 03 FD D5 41 00 EA 00"},
	{true, "00 00 FF 15 EB D4 40 01 A0 07 45 4C 41 42 4B 41 78 77 88 69 45 4C 41 42 4B 42 23 00"},
	{false, oracleACK + " 00 00 FF 03 FD D5 41 00 EA 00"},
	{true, "00 00 FF 08 F8 D4 4A 01 00 04 A1 B2 C3 C7 00"},
	{false, oracleACK + " 00 00 FF 0C F4 D5 4B 01 01 00 04 08 04 04 A1 B2 C3 B4 00"},
	{true, "00 00 FF 0F F1 D4 40 01 61 04 45 4C 41 42 4B 42 04 A1 B2 C3 CB 00"},
	{false, oracleACK + " 00 00 FF 03 FD D5 41 00 EA 00"},
	{true, "00 00 FF 05 FB D4 40 01 30 04 B7 00"},
	{false, oracleACK + " 00 00 FF 13 ED D5 41 00 45 4C 01 47 9F 2C 4D 1A 00 00 00 01 16 64 00 00 64 00"},
	{true, "00 00 FF 05 FB D4 40 01 30 05 B6 00"},
	{false, oracleACK + " 00 00 FF 13 ED D5 41 00 20 26 11 25 14 00 20 26 11 28 11 00 00 00 00 00 CA 00"},
	{true, "00 00 FF 05 FB D4 40 01 30 06 B5 00"},
	{false, oracleACK + " 00 00 FF 13 ED D5 41 00 52 6F 6F 6D 20 31 30 31 00 00 00 00 00 00 00 00 9B 00"},
	{true, "00 00 FF 03 FD D4 52 00 DA 00"},
	{false, oracleACK + " 00 00 FF 03 FD D5 53 00 D8 00"},
}

// oracleChip plays the chip side of script on conn, byte for byte: it
// reads exactly what the host must send and writes what the document has
// the chip send. It closes conn on the first difference.
func oracleChip(conn net.Conn, script []oracleStep) error {
	for i, st := range script {
		want, err := hex.DecodeString(strings.ReplaceAll(st.bytes, " ", ""))
		if err != nil {
			return err
		}
		if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
			return err
		}
		if !st.toChip {
			if _, err := conn.Write(want); err != nil {
				return fmt.Errorf("step %d: write % X: %w", i, want, err)
			}
			continue
		}
		got := make([]byte, len(want))
		if _, err := io.ReadFull(conn, got); err != nil {
			conn.Close()
			return fmt.Errorf("step %d: read (want % X): %w", i, want, err)
		}
		if !bytes.Equal(got, want) {
			conn.Close()
			return fmt.Errorf("step %d: the host sent\n % X\nwant % X", i, got, want)
		}
	}
	return nil
}

// TestOracleEncodeOnTheWire runs Encode against a chip that plays
// pn532.md, "Worked encode", byte for byte.
func TestOracleEncodeOnTheWire(t *testing.T) {
	host, dev := net.Pipe()
	defer host.Close()
	done := make(chan error, 1)
	go func() {
		defer dev.Close()
		done <- oracleChip(dev, oracleEncode)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d := New(Timing{
		Ack:      500 * time.Millisecond,
		Answer:   5 * time.Second,
		Poll:     5 * time.Millisecond,
		CardWait: 5 * time.Second,
		Busy:     10 * time.Millisecond,
		Retries:  3,
	})
	card, err := d.Encode(ctx, host, oracleGuestJob)
	if cerr := <-done; cerr != nil {
		t.Fatalf("chip: %v (Encode: %v)", cerr, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	want := driver.Card{Number: "04A1B2C3", Technology: "mifare-classic-1k", CardID: "9F2C4D1A00000001"}
	if card != want {
		t.Errorf("Encode = %+v, want %+v", card, want)
	}
}
