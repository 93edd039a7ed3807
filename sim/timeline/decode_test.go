package timeline

import (
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/encoderlab/encoderlab/sim/model"
	"github.com/encoderlab/encoderlab/sim/trace"
)

// The frames below are the worked frames of docs/protocols/pn532.md
// ("Worked frames", "Worked encode") and pms.md ("Worked frames",
// "Session"), byte for byte; the expected lines are written from those
// pages (the command and status names from their tables), not from the
// decoder.

// line is one step of a hand-made trace: a direction ('>' host to
// device, '<' device to host), the bytes in hex, and how to send them.
type line struct {
	dir         byte
	hex         string
	byteAtATime bool
	chunks      int // split in this many chunks (0: one)
}

// build makes a trace: step k at 2 s + k ms (the clock of the page starts
// at the first byte, so 2 s must not show), a byte-at-a-time step's bytes
// 10 µs apart.
func build(protocol string, steps []line) *trace.Trace {
	tr := &trace.Trace{Header: trace.Header{Trace: trace.Version, Protocol: protocol}}
	for k, s := range steps {
		d := trace.HostToDevice
		if s.dir == '<' {
			d = trace.DeviceToHost
		}
		b, err := hex.DecodeString(strings.ReplaceAll(s.hex, " ", ""))
		if err != nil {
			panic(fmt.Sprintf("step %d: %v", k, err))
		}
		t := int64(2_000_000 + k*1000)
		switch {
		case s.byteAtATime:
			for i, c := range b {
				tr.Events = append(tr.Events, trace.NewEvent(t+int64(i)*10, d, []byte{c}))
			}
		case s.chunks > 1:
			n := (len(b) + s.chunks - 1) / s.chunks
			for i := 0; i < len(b); i += n {
				tr.Events = append(tr.Events, trace.NewEvent(t+int64(i), d, b[i:min(i+n, len(b))]))
			}
		default:
			tr.Events = append(tr.Events, trace.NewEvent(t, d, b))
		}
	}
	return tr
}

// redact passes every event through sim/trace's redactor, as encodersim
// record --redact does, and notes it in the header.
func redact(t *testing.T, tr *trace.Trace, fields ...string) *trace.Trace {
	t.Helper()
	r, err := trace.NewRedactor(tr.Header.Protocol, fields)
	if err != nil {
		t.Fatal(err)
	}
	out := &trace.Trace{Header: tr.Header}
	out.Header.Redacted = trace.RedactedNames(tr.Header.Protocol, fields)
	for _, e := range tr.Events {
		b, _ := e.Bytes()
		out.Events = append(out.Events, trace.NewEvent(e.T, e.Dir, r.Redact(e.Dir, b)))
	}
	return out
}

const (
	pn532ACK  = "00 00 FF 00 FF 00"
	pn532NACK = "00 00 FF FF 00 00"
	oneCard   = "00 00 FF 0C F4 D5 4B 01 01 00 04 08 04 04 A1 B2 C3 B4 00"
	status00  = "00 00 FF 03 FD D5 41 00 EA 00"
	block4    = "45 4C 01 47 9F 2C 4D 1A 00 00 00 01 16 64 00 00"
)

// pn532Encode is the worked encode of a blank card (pn532.md), with the
// link layer's retries: the write of block 4 goes out first with a bad
// DCS (C0 for C1), which the chip ignores, so the host sends it again;
// the answer to the read of block 4 comes with a bad DCS (63 for 64), so
// the host NACKs it and the chip sends it again.
var pn532Encode = []line{
	{dir: '>', hex: "55 55 00 00 00 00 00 00 00 00 00 00 00 00 00 00"},
	{dir: '>', hex: "00 00 FF 05 FB D4 14 01 14 00 03 00"},
	{dir: '<', hex: pn532ACK},
	{dir: '<', hex: "00 00 FF 02 FE D5 15 16 00"},
	{dir: '>', hex: "00 00 FF 02 FE D4 02 2A 00"},
	{dir: '<', hex: pn532ACK},
	{dir: '<', hex: "00 00 FF 06 FA D5 03 32 01 06 07 E8 00"},
	{dir: '>', hex: "00 00 FF 04 FC D4 4A 02 00 E0 00"},
	{dir: '<', hex: pn532ACK},
	{dir: '<', hex: oneCard, byteAtATime: true},
	{dir: '>', hex: "00 00 FF 0F F1 D4 40 01 61 04 45 4C 41 42 4B 42 04 A1 B2 C3 CB 00"},
	{dir: '<', hex: pn532ACK},
	{dir: '<', hex: "00 00 FF 03 FD D5 41 14 D6 00"},
	{dir: '>', hex: "00 00 FF 08 F8 D4 4A 01 00 04 A1 B2 C3 C7 00"},
	{dir: '<', hex: pn532ACK},
	{dir: '<', hex: oneCard},
	{dir: '>', hex: "00 00 FF 0F F1 D4 40 01 60 04 FF FF FF FF FF FF 04 A1 B2 C3 73 00"},
	{dir: '<', hex: pn532ACK},
	{dir: '<', hex: status00},
	{dir: '>', hex: "00 00 FF 15 EB D4 40 01 A0 04 " + block4 + " C0 00"},
	{dir: '>', hex: "00 00 FF 15 EB D4 40 01 A0 04 " + block4 + " C1 00"},
	{dir: '<', hex: pn532ACK},
	{dir: '<', hex: status00},
	{dir: '>', hex: "00 00 FF 05 FB D4 40 01 30 04 B7 00"},
	{dir: '<', hex: pn532ACK},
	{dir: '<', hex: "00 00 FF 13 ED D5 41 00 " + block4 + " 63 00"},
	{dir: '>', hex: pn532NACK},
	{dir: '<', hex: "00 00 FF 13 ED D5 41 00 " + block4 + " 64 00"},
	{dir: '>', hex: "00 00 FF 03 FD D4 52 00 DA 00"},
	{dir: '<', hex: pn532ACK},
	{dir: '<', hex: "00 00 FF 03 FD D5 53 00 D8 00"},
}

var pn532EncodeText = []string{
	"        0 µs → HSU wake-up · 55 55 00 00 00 00 00 00 00 00 00 00 00 00 00 00",
	"    1.000 ms → SAMConfiguration · normal mode · time-out 14 · no IRQ",
	"    2.000 ms ← ACK",
	"    3.000 ms ← SAMConfiguration answer",
	"    4.000 ms → GetFirmwareVersion",
	"    5.000 ms ← ACK",
	"    6.000 ms ← GetFirmwareVersion answer · PN532 v1.6, support 07",
	"    7.000 ms → InListPassiveTarget · MaxTg 2 · 106 kbps type A",
	"    8.000 ms ← ACK",
	"    9.000 ms ← InListPassiveTarget answer · NbTg 1 · Tg 1 ATQA 00 04 SAK 08 UID 04 A1 B2 C3",
	"   10.000 ms → InDataExchange · Tg 1 · MIFARE Authenticate key B block 4 · key 45 4C 41 42 4B 42 · UID 04 A1 B2 C3",
	"   11.000 ms ← ACK",
	"   12.000 ms ← InDataExchange answer · status 14: MIFARE authentication error  [error]",
	"   13.000 ms → InListPassiveTarget · MaxTg 1 · 106 kbps type A · UID 04 A1 B2 C3",
	"   14.000 ms ← ACK",
	"   15.000 ms ← InListPassiveTarget answer · NbTg 1 · Tg 1 ATQA 00 04 SAK 08 UID 04 A1 B2 C3",
	"   16.000 ms → InDataExchange · Tg 1 · MIFARE Authenticate key A block 4 · key FF FF FF FF FF FF · UID 04 A1 B2 C3",
	"   17.000 ms ← ACK",
	"   18.000 ms ← InDataExchange answer · status 00: success",
	"   19.000 ms → bad frame · DCS C0, want C1: D4 40 01 A0 04 " + block4 + "  [error]",
	"   20.000 ms → InDataExchange · Tg 1 · MIFARE Write block 4 · data " + block4 + " [retransmission 1, no ACK]",
	"   21.000 ms ← ACK",
	"   22.000 ms ← InDataExchange answer · status 00: success",
	"   23.000 ms → InDataExchange · Tg 1 · MIFARE Read block 4",
	"   24.000 ms ← ACK",
	"   25.000 ms ← bad frame · DCS 63, want 64: D5 41 00 " + block4 + "  [error]",
	"   26.000 ms → NACK",
	"   27.000 ms ← InDataExchange answer · status 00: success · data " + block4 + " [retransmission 1, after NACK]",
	"   28.000 ms → InRelease · Tg 0 (all)",
	"   29.000 ms ← ACK",
	"   30.000 ms ← InRelease answer · status 00: success",
}

func textOf(t *testing.T, tr *trace.Trace, outcome string) []string {
	t.Helper()
	var b strings.Builder
	if err := WriteText(&b, tr, outcome); err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
}

func compareLines(t *testing.T, got, want []string) {
	t.Helper()
	for i := range max(len(got), len(want)) {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			t.Errorf("line %d:\n got %q\nwant %q", i+1, g, w)
		}
	}
}

func TestPN532FramesByName(t *testing.T) {
	tr := build("pn532", pn532Encode)
	compareLines(t, textOf(t, tr, "success"), pn532EncodeText)

	// One row per frame: the answer sent a byte at a time is one frame
	// made of 19 events.
	for _, f := range Decode(tr, "success") {
		if f.Failing {
			t.Errorf("a successful encode has a failing exchange: %s", f.Text())
		}
		if strings.HasPrefix(f.Name, "InListPassiveTarget answer") && f.Start == 9000 && len(f.Events) != 19 {
			t.Errorf("the byte-at-a-time answer spans %d events, want 19", len(f.Events))
		}
	}
}

func TestPN532RedactedKeysAreMarked(t *testing.T) {
	tr := redact(t, build("pn532", pn532Encode), "keys")
	got := textOf(t, tr, "success")
	want := map[int]string{
		10: "   10.000 ms → InDataExchange · Tg 1 · MIFARE Authenticate key B block 4 · key ‹redacted› · UID 04 A1 B2 C3",
		16: "   16.000 ms → InDataExchange · Tg 1 · MIFARE Authenticate key A block 4 · key ‹redacted› · UID 04 A1 B2 C3",
	}
	for i, w := range want {
		if got[i] != w {
			t.Errorf("line %d:\n got %q\nwant %q", i+1, got[i], w)
		}
	}
	var marked int
	for _, f := range Decode(tr, "") {
		if f.Redacted {
			marked++
		}
	}
	if marked != 2 {
		t.Errorf("%d frames marked redacted, want the 2 authentications", marked)
	}
}

// pn532Frame is a normal information frame around body (UM0701-02
// 6.2.1.1): preamble, start code, LEN, LCS, body, DCS, postamble.
func pn532Frame(body ...byte) string {
	f := []byte{0x00, 0x00, 0xFF, byte(len(body)), byte(-len(body))}
	var sum byte
	for _, c := range body {
		sum += c
	}
	f = append(append(f, body...), -sum, 0x00)
	return hex.EncodeToString(f)
}

// A trailer read back carries the sector's keys (pn532.md, What a card
// holds: key A, access bits, key B); recorded with --redact keys, its
// answer is marked redacted and shows the access bits only. The answer
// says it is a trailer only beside its command (a read of block 7), which
// crossed the other way.
func TestPN532RedactedTrailerReadIsMarked(t *testing.T) {
	trailer := []byte{0, 0, 0, 0, 0, 0, 0xFF, 0x07, 0x80, 0x69, 0xA1, 0xB2, 0xC3, 0xD4, 0xE5, 0xF6}
	answer := append([]byte{0xD5, 0x41, 0x00}, trailer...)
	tr := redact(t, build("pn532", []line{
		{dir: '>', hex: pn532Frame(0xD4, 0x40, 0x01, 0x30, 0x07)},
		{dir: '<', hex: pn532ACK},
		{dir: '<', hex: pn532Frame(answer...)},
		// A block that is no trailer, read the same way, is data.
		{dir: '>', hex: pn532Frame(0xD4, 0x40, 0x01, 0x30, 0x04)},
		{dir: '<', hex: pn532ACK},
		{dir: '<', hex: pn532Frame(append([]byte{0xD5, 0x41, 0x00}, trailer...)...)},
	}), "keys")
	frames := Decode(tr, "")
	var answers []Frame
	for _, f := range frames {
		if f.Dir == trace.DeviceToHost && f.Kind == model.UnitFrame {
			answers = append(answers, f)
		}
	}
	if len(answers) != 2 {
		t.Fatalf("%d answers in the timeline, want 2: %+v", len(answers), frames)
	}
	got := answers[0]
	if !got.Redacted || !strings.Contains(got.Detail, "access bits FF 07 80 69") || !strings.Contains(got.Detail, model.RedactedText) || strings.Contains(got.Detail, "A1 B2") {
		t.Errorf("the trailer read's answer: redacted %v, %q; want it marked redacted, its access bits shown and no key", got.Redacted, got.Detail)
	}
	if answers[1].Redacted || strings.Contains(answers[1].Detail, model.RedactedText) {
		t.Errorf("block 4's answer is marked redacted (%q); it is data", answers[1].Detail)
	}
}

func TestPN532FailingExchange(t *testing.T) {
	// The encode stops after the chip ACKed the read of block 4: no
	// answer came. That exchange fails; the refused key B earlier is an
	// error status but not the failing exchange.
	tr := build("pn532", pn532Encode[:25])
	got := textOf(t, tr, "error/uncategorized_error")
	compareLines(t, got[len(got)-2:], []string{
		"   23.000 ms → InDataExchange · Tg 1 · MIFARE Read block 4  [failing exchange]",
		"   24.000 ms ← ACK  [failing exchange]",
	})
	if strings.Contains(strings.Join(got[:len(got)-2], "\n"), "failing") {
		t.Errorf("an exchange before the last is marked failing:\n%s", strings.Join(got, "\n"))
	}
	// The error frame (pn532.md, Frames) is an error of its own.
	tr = build("pn532", []line{{dir: '>', hex: "00 00 FF 02 FE D4 02 2A 00"}, {dir: '<', hex: pn532ACK}, {dir: '<', hex: "00 00 FF 01 FF 7F 81 00"}})
	compareLines(t, textOf(t, tr, "error/uncategorized_error"), []string{
		"        0 µs → GetFirmwareVersion  [failing exchange]",
		"    1.000 ms ← ACK  [failing exchange]",
		"    2.000 ms ← error frame · the chip could not take the command (syntax error)  [error, failing exchange]",
	})
}

// The PMS session of pms.md: ENQ, the resynchronising CC, then CN,
// NAKed once and sent again, answered OK; then RC answered NC.
var pmsSession = []line{
	{dir: '>', hex: "05"},
	{dir: '<', hex: "06"},
	{dir: '>', hex: "02 43 43 B3 30 31 03 B1"},
	{dir: '<', hex: "06"},
	{dir: '<', hex: "02 43 43 B3 30 31 03 B1"},
	{dir: '>', hex: "06"},
	{dir: '>', hex: pmsCN, chunks: 3},
	{dir: '<', hex: "15"},
	{dir: '>', hex: pmsCN},
	{dir: '<', hex: "06"},
	{dir: '<', hex: "02 4F 4B B3 30 31 B3 30 34 41 31 42 32 43 33 B3 6D 69 66 61 72 65 2D 63 6C 61 73 73 69 63 2D 31 6B B3 39 46 32 43 34 44 31 41 30 30 30 30 30 30 30 31 03 57"},
	{dir: '>', hex: "06"},
	{dir: '>', hex: "02 52 43 B3 30 31 03 A0"},
	{dir: '<', hex: "06"},
	{dir: '<', hex: "02 4E 43 B3 30 31 03 BC"},
	{dir: '>', hex: "06"},
}

const pmsCN = "02 43 4E B3 30 31 B3 39 46 32 43 34 44 31 41 30 30 30 30 30 30 30 31 B3 47 B3 32 30 32 36 31 31 32 35 31 34 30 30 B3 32 30 32 36 31 31 32 38 31 31 30 30 B3 52 6F 6F 6D 20 31 30 31 03 60"

func TestPMSFramesByName(t *testing.T) {
	const cn = "CN · encode a new card · address 01 · card id 9F2C4D1A00000001 · guest · from 202611251400 · until 202611281100 · label \"Room 101\""
	want := []string{
		"        0 µs → ENQ",
		"    1.000 ms ← ACK",
		"    2.000 ms → CC · cancel · address 01",
		"    3.000 ms ← ACK",
		"    4.000 ms ← CC · cancelled · address 01",
		"    5.000 ms → ACK",
		"    6.000 ms → " + cn,
		"    7.000 ms ← NAK",
		"    8.000 ms → " + cn + " [retransmission 1, after NAK]",
		"    9.000 ms ← ACK",
		"   10.000 ms ← OK · done · address 01 · card 04A1B2C3 · technology mifare-classic-1k · card id 9F2C4D1A00000001",
		"   11.000 ms → ACK",
		"   12.000 ms → RC · read the card · address 01  [failing exchange]",
		"   13.000 ms ← ACK  [failing exchange]",
		"   14.000 ms ← NC · no card in the field · address 01  [error, failing exchange]",
		"   15.000 ms → ACK  [failing exchange]",
	}
	tr := build("pms", pmsSession)
	compareLines(t, textOf(t, tr, "success, error/no_credential_on_encoder"), want)

	got := textOf(t, redact(t, tr, "label", "card-id"), "")
	compareLines(t, []string{got[6], got[10]}, []string{
		"    6.000 ms → CN · encode a new card · address 01 · card id ‹redacted› · guest · from 202611251400 · until 202611281100 · label ‹redacted›",
		"   10.000 ms ← OK · done · address 01 · card 04A1B2C3 · technology mifare-classic-1k · card id ‹redacted›",
	})
}

// An OK to RC has the card's content before its card id (pms.md,
// Answers: "For OK to RC: card number, technology, content …, card id");
// the answer is cut in its own direction, where the host's RC is not.
// The guest card is the page's worked example (Frames, OK to RC), with
// its LRC A3; the blank card's id is empty.
func TestPMSReadCardAnswerNamesItsFields(t *testing.T) {
	blank := "OK 01 04A1B2C3 mifare-classic-1k B "
	frame := []byte{0x02}
	for i, f := range strings.Split(blank, " ") {
		if i > 0 {
			frame = append(frame, 0xB3)
		}
		frame = append(frame, f...)
	}
	frame = append(frame, 0x03)
	var lrc byte
	for _, c := range frame[1:] {
		lrc ^= c
	}
	frame = append(frame, lrc)
	tr := build("pms", []line{
		{dir: '>', hex: "02 52 43 B3 30 31 03 A0"},
		{dir: '<', hex: "06"},
		{dir: '<', hex: "02 4F 4B B3 30 31 B3 30 34 41 31 42 32 43 33 B3 6D 69 66 61 72 65 2D 63 6C 61 73 73 69 63 2D 31 6B B3 47 B3 39 46 32 43 34 44 31 41 30 30 30 30 30 30 30 31 03 A3"},
		{dir: '>', hex: "06"},
		{dir: '>', hex: "02 52 43 B3 30 31 03 A0"},
		{dir: '<', hex: "06"},
		{dir: '<', hex: hex.EncodeToString(frame)},
		{dir: '>', hex: "06"},
	})
	got := textOf(t, tr, "")
	for i, want := range map[int]string{
		2: "card 04A1B2C3 · technology mifare-classic-1k · content guest · card id 9F2C4D1A00000001",
		6: "card 04A1B2C3 · technology mifare-classic-1k · content blank",
	} {
		if i >= len(got) || !strings.Contains(got[i], want) {
			t.Errorf("line %d: want it to say %q; the timeline:\n%s", i, want, strings.Join(got, "\n"))
		}
	}
	if len(got) > 6 && strings.Contains(got[6], "card id B") {
		t.Errorf("line 6 takes the content for the card id: %s", got[6])
	}
}

func TestPMSBadFramesAndNoise(t *testing.T) {
	tr := build("pms", []line{
		{dir: '>', hex: "02 52 43 B3 30 31 03 A1"}, // RC with LRC A1 for A0
		{dir: '<', hex: "15"},
		{dir: '>', hex: "02 52 43 B3 30 31 03 A0"},
		{dir: '<', hex: "7F 06"},
		{dir: '<', hex: "02 54 4F B3 30"}, // a TO cut short by a new frame
		{dir: '<', hex: "02 54 4F B3 30 31 03 AA"},
	})
	compareLines(t, textOf(t, tr, "error/no_credential_on_encoder"), []string{
		"        0 µs → bad frame · LRC A1, want A0  [error, failing exchange]",
		"    1.000 ms ← NAK  [failing exchange]",
		"    2.000 ms → RC · read the card · address 01 [retransmission 1, after NAK]  [failing exchange]",
		"    3.000 ms ← noise 7F  [failing exchange]",
		"    3.000 ms ← ACK  [failing exchange]",
		"    4.000 ms ← partial frame · no ETX and LRC  [error, failing exchange]",
		"    5.000 ms ← TO · no card arrived in time · address 01  [error, failing exchange]",
	})
}

// TestDecodeTakesAnyBytes: whatever crossed the line, Decode returns
// frames covering every byte once, and never panics.
func TestDecodeTakesAnyBytes(t *testing.T) {
	seed := uint32(1)
	next := func() byte { seed = seed*1664525 + 1013904223; return byte(seed >> 24) }
	alphabet := []byte{0x00, 0xFF, 0x00, 0xD4, 0xD5, 0x40, 0x41, 0x4A, 0x4B, 0x02, 0x03, 0x05, 0x06, 0x15, 0xB3, 0x7F, 0x01, 'O', 'K'}
	for _, protocol := range []string{"pn532", "pms", ""} {
		for round := range 300 {
			tr := &trace.Trace{Header: trace.Header{Protocol: protocol, Redacted: []string{"pn532:keys", "pn532:all-data", "pms:label", "pms:card-id"}}}
			total := 0
			for k := range 1 + int(next()%20) {
				b := make([]byte, 1+int(next()%12))
				for i := range b {
					if next()%3 == 0 {
						b[i] = next()
					} else {
						b[i] = alphabet[int(next())%len(alphabet)]
					}
				}
				total += len(b)
				d := trace.HostToDevice
				if next()%2 == 0 {
					d = trace.DeviceToHost
				}
				tr.Events = append(tr.Events, trace.NewEvent(int64(k*100), d, b))
			}
			covered := 0
			for _, f := range Decode(tr, "error/x") {
				covered += len(f.Bytes)
			}
			// Preambles, postambles and zero padding between PN532 frames
			// are not drawn; nothing else is lost or drawn twice.
			if covered > total || protocol != "pn532" && covered != total {
				t.Fatalf("%s round %d: frames cover %d of %d bytes", protocol, round, covered, total)
			}
			var b strings.Builder
			if err := Render(&b, tr, Options{}); err != nil {
				t.Fatal(err)
			}
		}
	}
}
