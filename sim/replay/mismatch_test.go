package replay_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/sim/replay"
	"github.com/encoderlab/encoderlab/sim/scenario"
	"github.com/encoderlab/encoderlab/sim/trace"
	"github.com/encoderlab/encoderlab/timescale"
)

// playAgainst plays file's timeline on a replay model while the host
// writes each of host in turn, reading what the model answers in
// between (answers[i] bytes after host[i]), and returns Play's error.
func playAgainst(t *testing.T, protocol, name, file string, host [][]byte, answers []int) error {
	t.Helper()
	s, err := scenario.Load(name, []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	d := replay.New(replay.Config{Protocol: protocol})
	conn := serve(t, d)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	played := make(chan error, 1)
	go func() { played <- scenario.Play(ctx, s, nil, d, nil, timescale.Real) }()
	for i, b := range host {
		if _, err := conn.Write(b); err != nil {
			t.Fatalf("host write %d: %v", i, err)
		}
		if answers[i] > 0 {
			_ = conn.SetReadDeadline(time.Now().Add(time.Minute))
			if _, err := io.ReadFull(conn, make([]byte, answers[i])); err != nil {
				t.Fatalf("reading answer %d: %v", i, err)
			}
		}
	}
	return <-played
}

// A mismatch names the file, step, line and operation once, then what
// came and what the step wants, in hex and decoded.
func TestMismatchMessage(t *testing.T) {
	t.Run("pms", func(t *testing.T) {
		const file = `name: cx
encoder: {model: replay, protocol: pms, id: front-desk-1}
credential: {system: visionline-hotel}
steps:
  - expect: {frame: ENQ}
  - send: {frame: ACK}
  - expect: {frame: "CX 01"}
expect: {status: success}
`
		cn, err := trace.PMSFrame([]string{"CN", "01", "9F2C", "Room 101"})
		if err != nil {
			t.Fatal(err)
		}
		err = playAgainst(t, "pms", "cx.yaml", file, [][]byte{{trace.PMSENQ}, cn}, []int{1, 0})
		var me *replay.MismatchError
		if !errors.As(err, &me) || me.File != "cx.yaml" || me.Step != 3 || me.Line != 7 {
			t.Fatalf("Play = %v, want a MismatchError at cx.yaml step 3 line 7", err)
		}
		const want = `scenario "cx.yaml" step 3 (line 7, expect frame CX 01): ` +
			`got 02 43 4E B3 30 31 B3 39 46 32 43 B3 52 6F 6F 6D 20 31 30 31 03 9D (CN 01 9F2C "Room 101"), ` +
			`want 02 43 58 B3 30 31 03 AA (CX 01): 4 fields, want 2`
		if got := err.Error(); got != want {
			t.Errorf("Error() =\n%s\nwant\n%s", got, want)
		}
	})
	t.Run("pn532", func(t *testing.T) {
		const file = `name: read
encoder: {model: replay, protocol: pn532, id: nfc-desk-1}
credential: {system: visionline-hotel}
steps:
  - expect: {frame: "D4 4A 01 00"}
  - send: {frame: ACK}
  - expect: {frame: "D4 40 01 30 04"}
expect: {status: success}
`
		list, err := trace.PN532Frame([]byte{0xD4, 0x4A, 0x01, 0x00})
		if err != nil {
			t.Fatal(err)
		}
		read5, err := trace.PN532Frame([]byte{0xD4, 0x40, 0x01, 0x30, 0x05})
		if err != nil {
			t.Fatal(err)
		}
		err = playAgainst(t, "pn532", "read.yaml", file, [][]byte{list, read5}, []int{len(trace.PN532ACK), 0})
		var me *replay.MismatchError
		if !errors.As(err, &me) || me.File != "read.yaml" || me.Step != 3 || me.Line != 7 {
			t.Fatalf("Play = %v, want a MismatchError at read.yaml step 3 line 7", err)
		}
		const want = `scenario "read.yaml" step 3 (line 7, expect frame D4 40 01 30 04): ` +
			`got 00 00 FF 05 FB D4 40 01 30 05 B6 00 (D4 40 01 30 05), ` +
			`want 00 00 FF 05 FB D4 40 01 30 04 B7 00 (D4 40 01 30 04): byte 4 (PD3) is 05, want 04`
		if got := err.Error(); got != want {
			t.Errorf("Error() =\n%s\nwant\n%s", got, want)
		}
	})
}
