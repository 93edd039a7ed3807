package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/sim/replay"
	"github.com/encoderlab/encoderlab/sim/scenario"
	"github.com/encoderlab/encoderlab/sim/trace"
	"github.com/encoderlab/encoderlab/timescale"
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

// A sector trailer written in a trace recorded with keys redacted
// converts to wildcards over both keys and the access bits as written,
// and the scenario replays against a host writing the trailer with keys
// of its own.
func TestConvertPN532RedactedTrailer(t *testing.T) {
	access := "FF 07 80 69"
	trailer := func(keyA, keyB string) []byte {
		return frame(t, "D4 40 01 A0 07 "+keyA+" "+access+" "+keyB)
	}
	red, err := trace.NewRedactor("pn532", []string{"keys"})
	if err != nil {
		t.Fatal(err)
	}
	h, d := trace.HostToDevice, trace.DeviceToHost
	p := &pn532Trace{tr: &trace.Trace{Header: trace.Header{Protocol: "pn532", Started: time.Unix(0, 0),
		Redacted: trace.RedactedNames("pn532", []string{"keys"})}}}
	recorded := func(dir trace.Direction, b ...[]byte) {
		p.add(t, dir, red.Redact(dir, bytes.Join(b, nil)))
	}
	recorded(h, trailer("A0 A1 A2 A3 A4 A5", "B0 B1 B2 B3 B4 B5"))
	recorded(d, trace.PN532ACK, frame(t, "D5 41 00"))

	out, err := Convert(p.tr, ConvertOptions{Name: "trailer", Encoder: "nfc-desk-1", Expect: "success", System: "visionline-hotel"})
	if err != nil {
		t.Fatal(err)
	}
	y := string(out)
	if want := `  - expect: {frame: "D4 40 01 A0 07 *:6 ` + access + ` *:6"}`; !strings.Contains(y, want) {
		t.Fatalf("scenario lacks %q:\n%s", want, y)
	}
	s, err := scenario.Load("trailer.yaml", out)
	if err != nil {
		t.Fatalf("converted scenario does not load: %v\n%s", err, y)
	}

	dev := replay.New(replay.Config{Protocol: "pn532"})
	host, line := net.Pipe()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- dev.Serve(ctx, line) }()
	played := make(chan error, 1)
	go func() { played <- scenario.Play(ctx, s, nil, dev, nil, timescale.Real) }()
	defer func() {
		cancel()
		host.Close()
		line.Close()
		<-served
	}()
	// net.Pipe is synchronous: the write completes as the model reads it.
	if _, err := host.Write(trailer("11 12 13 14 15 16", "21 22 23 24 25 26")); err != nil {
		t.Fatal(err)
	}
	want := slices.Concat(trace.PN532ACK, frame(t, "D5 41 00"))
	got := make([]byte, len(want))
	_ = host.SetReadDeadline(time.Now().Add(time.Minute))
	if _, err := io.ReadFull(host, got); err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("answered % X, want % X", got, want)
	}
	if err := <-played; err != nil {
		t.Errorf("replay: %v", err)
	}
	// Other access bits are another trailer: the replay refuses them.
	s2, _ := scenario.Load("trailer.yaml", out)
	dev2 := replay.New(replay.Config{Protocol: "pn532"})
	host2, line2 := net.Pipe()
	served2 := make(chan error, 1)
	go func() { served2 <- dev2.Serve(ctx, line2) }()
	defer func() { host2.Close(); line2.Close(); <-served2 }()
	go func() { _, _ = host2.Write(frame(t, "D4 40 01 A0 07 11 12 13 14 15 16 7F 07 88 40 21 22 23 24 25 26")) }()
	var me *replay.MismatchError
	if err := scenario.Play(ctx, s2, nil, dev2, nil, timescale.Real); !errors.As(err, &me) || me.Step != 1 {
		t.Errorf("replay of a trailer with other access bits: %v, want a mismatch at step 1", err)
	}
}
