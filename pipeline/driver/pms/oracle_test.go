package pms

// Oracle tests: every expected value here is a literal copied from
// docs/protocols/pms.md (the section is named at each table), never a
// value computed by the code under test. The same literals are checked
// against the device model in sim/device/pms/oracle_test.go.

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/pipeline/driver"
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

// oracleJob is the job of pms.md's "Frames" example: a guest card valid
// from 2026-11-25 14:00 to 2026-11-28 11:00 UTC, labelled Room 101.
var oracleJob = driver.Job{
	CardID:   "9F2C4D1A00000001",
	Function: driver.Guest,
	StartsAt: time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC),
	EndsAt:   time.Date(2026, 11, 28, 11, 0, 0, 0, time.UTC),
	Label:    "Room 101",
}

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
// "Frames" → "Worked frames", the LRC column): the XOR of the bytes
// after STX up to and including ETX.
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

// TestOracleEncodeCommands checks that the driver builds the documented
// command frames byte for byte (pms.md, "Frames" → "Worked frames"),
// from a job through cnFields as Encode does, and from the fields.
func TestOracleEncodeCommands(t *testing.T) {
	staff := driver.Job{CardID: "9F2C4D1A00000001", Function: driver.Staff}
	d := New(DefaultTiming())
	for _, c := range []struct {
		name string
		job  *driver.Job // nil: fields below
		code string
		args []string
		want string
	}{
		{"CN, the example", &oracleJob, "CN", nil, oracleCN},
		{"CN, staff without bounds or label", &staff, "CN", nil, oracleCNStaff},
		{"CN from its fields", nil, "CN", []string{"9F2C4D1A00000001", "G", "202611251400", "202611281100", "Room 101"}, oracleCN},
		{"RC", nil, "RC", nil, oracleRC},
		{"CC", nil, "CC", nil, oracleCC},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := c.args
			if c.job != nil {
				var err error
				if args, err = d.cnFields(*c.job); err != nil {
					t.Fatal(err)
				}
			}
			got := appendFrame(nil, append([]string{c.code, DefaultAddress}, args...)...)
			if want := oracleBytes(t, c.want); !slices.Equal(got, want) {
				t.Errorf("frame\n got % X\nwant % X", got, want)
			}
		})
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

// TestOracleDecodeFrames decodes every worked frame (pms.md, "Frames" →
// "Worked frames") into the fields the document gives, and reads the
// answers the way the "Answers" and "Outcomes" tables say.
func TestOracleDecodeFrames(t *testing.T) {
	const id = "9F2C4D1A00000001"
	for _, c := range []struct {
		name   string
		frame  string
		fields []string
		// kind is the driver result of "Outcomes" for a failed answer
		// (0: not checked).
		kind driver.Kind
	}{
		{"CN", oracleCN, []string{"CN", "01", id, "G", "202611251400", "202611281100", "Room 101"}, 0},
		{"CN staff", oracleCNStaff, []string{"CN", "01", id, "S", "", "", ""}, 0},
		{"RC", oracleRC, []string{"RC", "01"}, 0},
		{"CC", oracleCC, []string{"CC", "01"}, 0},
		{"OK to CN", oracleOKtoCN, []string{"OK", "01", "04A1B2C3", "mifare-classic-1k", id}, 0},
		{"OK to RC", oracleOKtoRC, []string{"OK", "01", "04A1B2C3", "mifare-classic-1k", "G", id}, 0},
		{"NC", oracleNC, []string{"NC", "01"}, driver.NoCard},
		{"TO", oracleTO, []string{"TO", "01"}, driver.NoCard},
		{"BY", oracleBY, []string{"BY", "01"}, 0},
		{"OS", oracleOS, []string{"OS", "01"}, driver.IncompatibleCard},
		{"RM", oracleRM, []string{"RM", "01"}, driver.Interrupted},
		{"CF", oracleCF, []string{"CF", "01", "mifare-ultralight"}, driver.IncompatibleCard},
		{"VU", oracleVU, []string{"VU", "01", "9F2C4D1A00000002"}, driver.CannotOverwrite},
	} {
		t.Run(c.name, func(t *testing.T) {
			evs := oracleDecode(oracleBytes(t, c.frame))
			if len(evs) != 1 || evs[0].kind != evFrame {
				t.Fatalf("events %v, want one good frame", oracleRender(evs))
			}
			if !slices.Equal(evs[0].fields, c.fields) {
				t.Errorf("fields %q, want %q", evs[0].fields, c.fields)
			}
			if c.kind != 0 {
				if got := failure(evs[0].fields).Kind; got != c.kind {
					t.Errorf("driver result %v, want %v (pms.md, Outcomes)", got, c.kind)
				}
			}
		})
	}

	// OK to CN: card number, technology, card id (pms.md, Answers).
	card, err := cardWritten([]string{"OK", "01", "04A1B2C3", "mifare-classic-1k", id}, id)
	if want := (driver.Card{Number: "04A1B2C3", Technology: "mifare-classic-1k", CardID: id}); err != nil || card != want {
		t.Errorf("cardWritten = %+v, %v; want %+v", card, err, want)
	}
	// OK to RC: card number, technology, content, card id.
	info, err := cardRead([]string{"OK", "01", "04A1B2C3", "mifare-classic-1k", "G", id})
	if want := (CardInfo{Number: "04A1B2C3", Technology: "mifare-classic-1k", Content: Guest, CardID: id}); err != nil || info != want {
		t.Errorf("cardRead = %+v, %v; want %+v", info, err, want)
	}
}

// TestOracleDecodeDamage checks the link-layer rules of pms.md ("Link
// layer") on the worked frames: single link bytes, a changed LRC, a
// frame with a byte out of range.
func TestOracleDecodeDamage(t *testing.T) {
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
			evs := oracleDecode(oracleBytes(t, c.in))
			var kinds []eventKind
			for _, ev := range evs {
				kinds = append(kinds, ev.kind)
			}
			if !slices.Equal(kinds, c.want) {
				t.Errorf("events %v, want kinds %v", oracleRender(evs), c.want)
			}
		})
	}
}

func oracleRender(evs []event) []string {
	var out []string
	for _, ev := range evs {
		switch ev.kind {
		case evFrame:
			out = append(out, fmt.Sprintf("frame %q", ev.fields))
		case evBadFrame:
			out = append(out, "bad "+ev.err.Reason)
		default:
			out = append(out, fmt.Sprintf("kind %d", ev.kind))
		}
	}
	return out
}

// oracleStep is one line of a documented exchange: the host sends
// (toDevice) or the device sends these bytes.
type oracleStep struct {
	toDevice bool
	bytes    string
}

// oracleDevice plays the device side of script on conn, byte for byte:
// it reads exactly what the host must send and writes what the document
// has the device send. It closes conn on the first difference.
func oracleDevice(conn net.Conn, script []oracleStep) error {
	for i, st := range script {
		want, err := hex.DecodeString(strings.ReplaceAll(st.bytes, " ", ""))
		if err != nil {
			return err
		}
		if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
			return err
		}
		if !st.toDevice {
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
		if !slices.Equal(got, want) {
			conn.Close()
			return fmt.Errorf("step %d: the host sent\n % X\nwant % X", i, got, want)
		}
	}
	return nil
}

// TestOracleEncodeOnAFreshLine runs Encode against a device that plays
// the exchange of pms.md, "Frames" → "Worked frames" (an encode on a
// line the host has just opened, after "Session"), byte for byte.
func TestOracleEncodeOnAFreshLine(t *testing.T) {
	script := []oracleStep{
		{true, "05"},              // ENQ
		{false, "06"},             // ACK
		{true, oracleCC},          // CC
		{false, "06 " + oracleCC}, // ACK, CC answer
		{true, "06"},              // ACK
		{true, oracleCN},          // CN
		{false, "06"},             // ACK
		{false, oracleOKtoCN},     // OK to CN
		{true, "06"},              // ACK
	}
	host, dev := net.Pipe()
	defer host.Close()
	done := make(chan error, 1)
	go func() {
		defer dev.Close()
		done <- oracleDevice(dev, script)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d := New(Timing{Ack: 500 * time.Millisecond, Answer: 5 * time.Second, Busy: 10 * time.Millisecond, Retries: 3})
	card, err := d.Encode(ctx, host, oracleJob)
	if derr := <-done; derr != nil {
		t.Fatalf("device: %v (Encode: %v)", derr, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	want := driver.Card{Number: "04A1B2C3", Technology: "mifare-classic-1k", CardID: "9F2C4D1A00000001"}
	if card != want {
		t.Errorf("Encode = %+v, want %+v", card, want)
	}
}
