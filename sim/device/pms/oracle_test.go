package pms

// Oracle tests: every expected value here is a literal copied from
// docs/protocols/pms.md (the section is named at each table), never a
// value computed by the code under test. The same literals are checked
// against the pipeline's driver in pipeline/driver/pms/oracle_test.go.

import (
	"context"
	"encoding/hex"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/sim/card"
)

// oracleBytes turns a hex literal as the document writes it
// ("02 52 43 …") into bytes.
func oracleBytes(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex literal %q: %v", s, err)
	}
	return b
}

// pms.md, "Frames" → "Worked frames": address 01, card id
// 9F2C4D1A00000001, a MIFARE Classic 1K with UID 04A1B2C3.
const (
	oracleCN      = "02 43 4E B3 30 31 B3 39 46 32 43 34 44 31 41 30 30 30 30 30 30 30 31 B3 47 B3 32 30 32 36 31 31 32 35 31 34 30 30 B3 32 30 32 36 31 31 32 38 31 31 30 30 B3 52 6F 6F 6D 20 31 30 31 03 60"
	oracleCNStaff = "02 43 4E B3 30 31 B3 39 46 32 43 34 44 31 41 30 30 30 30 30 30 30 31 B3 53 B3 B3 B3 03 53"
	oracleRC      = "02 52 43 B3 30 31 03 A0"
	oracleCC      = "02 43 43 B3 30 31 03 B1"
	oracleOKtoCN  = "02 4F 4B B3 30 31 B3 30 34 41 31 42 32 43 33 B3 6D 69 66 61 72 65 2D 63 6C 61 73 73 69 63 2D 31 6B B3 39 46 32 43 34 44 31 41 30 30 30 30 30 30 30 31 03 57"
	oracleOKtoRC  = "02 4F 4B B3 30 31 B3 30 34 41 31 42 32 43 33 B3 6D 69 66 61 72 65 2D 63 6C 61 73 73 69 63 2D 31 6B B3 47 B3 39 46 32 43 34 44 31 41 30 30 30 30 30 30 30 31 03 A3"
	oracleNC      = "02 4E 43 B3 30 31 03 BC"
	oracleTO      = "02 54 4F B3 30 31 03 AA"
	oracleBY      = "02 42 59 B3 30 31 03 AA"
	oracleOS      = "02 4F 53 B3 30 31 03 AD"
	oracleRM      = "02 52 4D B3 30 31 03 AE"
	oracleCF      = "02 43 46 B3 30 31 B3 6D 69 66 61 72 65 2D 75 6C 74 72 61 6C 69 67 68 74 03 3E"
	oracleVU      = "02 56 55 B3 30 31 B3 39 46 32 43 34 44 31 41 30 30 30 30 30 30 30 32 03 0D"
)

const oracleID = "9F2C4D1A00000001"

// TestOracleBytes checks the link bytes against pms.md, "Bytes".
func TestOracleBytes(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want byte
	}{
		{"STX", stx, 0x02},
		{"ETX", etx, 0x03},
		{"ENQ", enq, 0x05},
		{"ACK", ack, 0x06},
		{"NAK", nak, 0x15},
		{"FS", fs, 0xB3},
	} {
		if c.got != c.want {
			t.Errorf("%s = 0x%02X, want 0x%02X (pms.md, Bytes)", c.name, c.got, c.want)
		}
	}
	if maxFrame != 255 {
		t.Errorf("maxFrame = %d, want 255 (pms.md, Frames: at most 255 bytes)", maxFrame)
	}
}

// TestOracleLRC checks the check byte of every worked frame (pms.md,
// "Frames" → "Worked frames", the LRC column).
func TestOracleLRC(t *testing.T) {
	for _, c := range []struct {
		name  string
		frame string
		want  byte
	}{
		{"CN", oracleCN, 0x60},
		{"CN staff", oracleCNStaff, 0x53},
		{"RC", oracleRC, 0xA0},
		{"CC", oracleCC, 0xB1},
		{"OK to CN", oracleOKtoCN, 0x57},
		{"OK to RC", oracleOKtoRC, 0xA3},
		{"NC", oracleNC, 0xBC},
		{"TO", oracleTO, 0xAA},
		{"BY", oracleBY, 0xAA},
		{"OS", oracleOS, 0xAD},
		{"RM", oracleRM, 0xAE},
		{"CF", oracleCF, 0x3E},
		{"VU", oracleVU, 0x0D},
	} {
		f := oracleBytes(t, c.frame)
		if got := lrc(f[1 : len(f)-1]); got != c.want {
			t.Errorf("%s: lrc = 0x%02X, want 0x%02X", c.name, got, c.want)
		}
	}
}

// oracleParse feeds b to a fresh parser and returns its events.
func oracleParse(b []byte) []event {
	var p parser
	var out []event
	for _, c := range b {
		if ev, ok := p.feed(c); ok {
			out = append(out, ev)
		}
	}
	return out
}

// TestOracleParseCommands decodes the host's worked frames (pms.md,
// "Frames" → "Worked frames") into the fields of "Commands", and the CN
// fields into the job they carry.
func TestOracleParseCommands(t *testing.T) {
	for _, c := range []struct {
		name   string
		frame  string
		fields []string
		job    *encodeJob // CN only
	}{
		{"CN", oracleCN, []string{"CN", "01", oracleID, "G", "202611251400", "202611281100", "Room 101"},
			&encodeJob{cardID: oracleID, function: "G", from: "202611251400", until: "202611281100", label: "Room 101"}},
		{"CN staff", oracleCNStaff, []string{"CN", "01", oracleID, "S", "", "", ""},
			&encodeJob{cardID: oracleID, function: "S"}},
		{"RC", oracleRC, []string{"RC", "01"}, nil},
		{"CC", oracleCC, []string{"CC", "01"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			evs := oracleParse(oracleBytes(t, c.frame))
			if len(evs) != 1 || evs[0].kind != evFrame {
				t.Fatalf("events %+v, want one good frame", evs)
			}
			f := evs[0].fields
			if !slices.Equal(f, c.fields) {
				t.Fatalf("fields %q, want %q", f, c.fields)
			}
			if c.job == nil {
				if err := noFields(f); err != nil {
					t.Errorf("noFields: %v", err)
				}
				return
			}
			job, err := parseCN(f)
			if err != nil || job != *c.job {
				t.Errorf("parseCN = %+v, %v; want %+v", job, err, *c.job)
			}
		})
	}
}

// TestOracleParseDamage checks the link-layer rules of pms.md ("Link
// layer") on the worked frames.
func TestOracleParseDamage(t *testing.T) {
	for _, c := range []struct {
		name string
		in   string
		want []eventKind
	}{
		{"ENQ ACK NAK", "05 06 15", []eventKind{evENQ, evACK, evNAK}},
		{"noise around RC", "00 41 FF " + oracleRC + " 7F", []eventKind{evFrame}},
		// RC with LRC A1 instead of A0: NAKed.
		{"RC with a wrong LRC", "02 52 43 B3 30 31 03 A1", []eventKind{evBadFrame}},
		// CC with an ACK byte inside: not printable, NAKed.
		{"control byte in a field", "02 43 06 B3 30 31 03 F4", []eventKind{evBadFrame}},
		// An STX inside a frame starts a new one.
		{"STX restarts", "02 43 4E B3 " + oracleRC, []eventKind{evFrame}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var kinds []eventKind
			for _, ev := range oracleParse(oracleBytes(t, c.in)) {
				kinds = append(kinds, ev.kind)
			}
			if !slices.Equal(kinds, c.want) {
				t.Errorf("event kinds %v, want %v", kinds, c.want)
			}
		})
	}
}

// TestOracleEncodeAnswers checks that the device builds the documented
// answer frames byte for byte (pms.md, "Frames" → "Worked frames"; the
// fields are those of "Answers").
func TestOracleEncodeAnswers(t *testing.T) {
	for _, c := range []struct {
		name   string
		fields []string
		want   string
	}{
		{"OK to CN", []string{"OK", "01", "04A1B2C3", "mifare-classic-1k", oracleID}, oracleOKtoCN},
		{"OK to RC", []string{"OK", "01", "04A1B2C3", "mifare-classic-1k", "G", oracleID}, oracleOKtoRC},
		{"NC", []string{"NC", "01"}, oracleNC},
		{"TO", []string{"TO", "01"}, oracleTO},
		{"BY", []string{"BY", "01"}, oracleBY},
		{"OS", []string{"OS", "01"}, oracleOS},
		{"RM", []string{"RM", "01"}, oracleRM},
		{"CF", []string{"CF", "01", "mifare-ultralight"}, oracleCF},
		{"VU", []string{"VU", "01", "9F2C4D1A00000002"}, oracleVU},
		{"CC", []string{"CC", "01"}, oracleCC},
	} {
		if got, want := encode(c.fields...), oracleBytes(t, c.want); !slices.Equal(got, want) {
			t.Errorf("%s: frame\n got % X\nwant % X", c.name, got, want)
		}
	}
}

func oracleCard(t *testing.T, name, uid string, tech card.Technology, c card.Contents) *card.Card {
	t.Helper()
	k, err := card.New(name, tech, uid, c)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestOracleModelAnswers checks the model's own answers, as it builds
// them from the card in its field, against the worked frames.
func TestOracleModelAnswers(t *testing.T) {
	d := New(DefaultConfig())
	frameOf := func() []byte {
		d.mu.Lock()
		defer d.mu.Unlock()
		return encode(d.readAnswerLocked()...)
	}
	// Nothing in the field: NC (pms.md, Commands: RC answers at once).
	if got, want := frameOf(), oracleBytes(t, oracleNC); !slices.Equal(got, want) {
		t.Errorf("RC, empty field:\n got % X\nwant % X", got, want)
	}
	guest := oracleCard(t, "guest", "04A1B2C3", card.MifareClassic1K, card.Contents{Kind: card.Guest, CardID: oracleID, Function: "G"})
	if err := d.Place(guest); err != nil {
		t.Fatal(err)
	}
	if got, want := frameOf(), oracleBytes(t, oracleOKtoRC); !slices.Equal(got, want) {
		t.Errorf("RC, a guest card:\n got % X\nwant % X", got, want)
	}
	if got, want := encode(d.a("CC")...), oracleBytes(t, oracleCC); !slices.Equal(got, want) {
		t.Errorf("CC answer:\n got % X\nwant % X", got, want)
	}
}

// TestOracleServeTheDocumentedExchange plays the host of pms.md, "Frames"
// → "Worked frames" (an encode on a line the host has just opened, after
// "Session") against the device on a pipe, byte for byte, then reads the
// card back with RC.
func TestOracleServeTheDocumentedExchange(t *testing.T) {
	cfg := DefaultConfig()
	cfg.WriteTime = 10 * time.Millisecond
	d := New(cfg)
	if err := d.Place(oracleCard(t, "blank", "04A1B2C3", card.MifareClassic1K, card.Contents{})); err != nil {
		t.Fatal(err)
	}
	host, dev := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- d.Serve(ctx, dev) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
		host.Close()
		dev.Close()
	}()

	send := func(what, s string) {
		t.Helper()
		if err := host.SetWriteDeadline(time.Now().Add(10 * time.Second)); err != nil {
			t.Fatal(err)
		}
		if _, err := host.Write(oracleBytes(t, s)); err != nil {
			t.Fatalf("%s: write: %v", what, err)
		}
	}
	expect := func(what, s string) {
		t.Helper()
		want := oracleBytes(t, s)
		if err := host.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(want))
		if _, err := io.ReadFull(host, got); err != nil {
			t.Fatalf("%s: read: %v (want % X)", what, err, want)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%s:\n got % X\nwant % X", what, got, want)
		}
	}

	send("ENQ", "05")
	expect("ACK to ENQ", "06")
	send("CC", oracleCC)
	expect("ACK to CC", "06")
	expect("CC answer", oracleCC)
	send("ACK", "06")
	send("CN", oracleCN)
	expect("ACK to CN", "06")
	expect("OK to CN", oracleOKtoCN)
	send("ACK", "06")
	// The card now holds the guest credential: RC reads it back.
	send("RC", oracleRC)
	expect("ACK to RC", "06")
	expect("OK to RC", oracleOKtoRC)
	send("ACK", "06")
	// A frame with a wrong LRC is NAKed (pms.md, Link layer).
	send("RC with a wrong LRC", "02 52 43 B3 30 31 03 A1")
	expect("NAK", "15")
}
