package main

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/sim/scenario"
	"github.com/encoderlab/encoderlab/sim/trace"
)

// pn532Trace builds a trace of chunks, each direction's given as hex or
// as frames; redacted goes into the header.
type pn532Trace struct {
	tr *trace.Trace
	t  int64
}

func (p *pn532Trace) add(t *testing.T, dir trace.Direction, chunk ...[]byte) {
	t.Helper()
	p.t += 5000
	p.tr.Events = append(p.tr.Events, trace.NewEvent(p.t, dir, bytes.Join(chunk, nil)))
}

func frame(t *testing.T, h string) []byte {
	t.Helper()
	body, err := hex.DecodeString(strings.ReplaceAll(h, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	f, err := trace.PN532Frame(body)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestConvertPN532(t *testing.T) {
	block := strings.Repeat("11 ", 15) + "11"
	other := strings.Repeat("22 ", 15) + "22"
	p := &pn532Trace{tr: &trace.Trace{Header: trace.Header{Protocol: "pn532", Started: time.Unix(0, 0),
		Redacted: []string{"pn532:keys", "pn532:all-data"}}}}
	h, d := trace.HostToDevice, trace.DeviceToHost
	wake, _ := hex.DecodeString("55550000000000000000000000000000")
	sam := frame(t, "D4 14 01 14 00")
	p.add(t, h, wake, sam[:4]) // the wake-up, and a frame split over two chunks
	p.add(t, h, sam[4:])
	p.add(t, d, trace.PN532ACK, frame(t, "D5 15"))
	p.add(t, h, frame(t, "D4 40 01 60 04 00 00 00 00 00 00 B3 C4 D5 E6"))
	p.add(t, d, trace.PN532ACK, frame(t, "D5 41 00"))
	p.add(t, h, frame(t, "D4 40 01 A0 04 "+block))
	p.add(t, d, trace.PN532ACK, frame(t, "D5 41 27")) // busy: written again
	p.add(t, h, frame(t, "D4 40 01 A0 04 "+other))
	p.add(t, d, trace.PN532ACK, frame(t, "D5 41 00"))
	p.add(t, h, frame(t, "D4 40 01 A0 07 "+block))
	p.add(t, d, trace.PN532ACK, frame(t, "D5 41 00"))
	p.add(t, h, frame(t, "D4 40 01 30 04"))
	p.add(t, d, trace.PN532ACK, frame(t, "D5 41 00 "+other))
	p.add(t, h, frame(t, "D4 40 01 30 05"))
	p.add(t, d, trace.PN532ACK, frame(t, "D5 41 00 "+other)) // not block 5's data
	bad := frame(t, "D5 03 32 01 06 07")
	bad[len(bad)-2] ^= 0xFF
	p.add(t, d, []byte{0x00, 0x00, 0xFF, 0xFF, 0xFF, 0x00, 0x01, 0xFF, 0xD5, 0x2B, 0x00}, bad, trace.PN532NACK)

	out, err := Convert(p.tr, ConvertOptions{Name: "pn532-units", Encoder: "nfc-desk-1", Expect: "success", System: "visionline-hotel"})
	if err != nil {
		t.Fatal(err)
	}
	y := string(out)
	want := []string{
		`  - expect: "55550000000000000000000000000000"   # wake-up`,
		`  - expect: {frame: "D4 14 01 14 00"}`,
		`  - send: {frame: "ACK"}`,
		`  - send: {frame: "D5 15"}`,
		`  - expect: {frame: "D4 40 01 60 04 *:6 B3 C4 D5 E6"}`,
		`  - expect: {frame: "D4 40 01 A0 04 $block4:16"}`,
		`  - send: {frame: "D5 41 27"}`,
		`  - expect: {frame: "D4 40 01 A0 04 $block4_2:16"}`,
		`  - expect: {frame: "D4 40 01 A0 07 *:16"}`,
		`  - send: {frame: "D5 41 00 $block4_2"}`,
		`  - send: {frame: "D5 41 00 ` + strings.ToUpper(other) + `"}`,
		`  - send: "0000ffffff0001ffd52b00"   # bad frame (an extended frame)`,
		`  - send: "0000ff06fad50332010607`,
		`  - send: {frame: "NACK"}`,
	}
	at := 0
	for _, w := range want {
		i := strings.Index(y[at:], w)
		if i < 0 {
			t.Fatalf("scenario lacks %q after byte %d:\n%s", w, at, y)
		}
		at += i + len(w)
	}
	if _, err := scenario.Load("pn532-units.yaml", out); err != nil {
		t.Fatalf("converted scenario does not load: %v\n%s", err, y)
	}
}
