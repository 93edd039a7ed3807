package sim_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/sim"
	"github.com/encoderlab/encoderlab/sim/card"
	"github.com/encoderlab/encoderlab/sim/scenario"
	"github.com/encoderlab/encoderlab/timescale"
)

// Unplug closes the line for good: the host's port ends, the link goes,
// nothing can hang the encoder up again, and its cards and counts stay
// readable until Close, which then releases the link's name.
func TestUnplug(t *testing.T) {
	dir := t.TempDir()
	e, err := sim.Start(context.Background(), desk(), sim.Options{LinkDir: dir, Scale: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	p := open(t, e.Path())
	ping(t, p)
	write(t, p, frame("RC", "01"))
	readN(t, p, 1+len(frame("NC", "01")))

	if err := e.Unplug(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := p.SetReadDeadline(time.Now().Add(patience)); err != nil {
		t.Fatal(err)
	}
	if n, err := p.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("read on the unplugged line = %d, %v; want EOF", n, err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "desk-1")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the link is still there after Unplug: %v", err)
	}
	for name, f := range map[string]func(context.Context) error{"Hangup": e.Hangup, "Reboot": e.Reboot, "Unplug": e.Unplug} {
		if err := f(context.Background()); !errors.Is(err, sim.ErrUnplugged) {
			t.Errorf("%s after Unplug = %v, want ErrUnplugged", name, err)
		}
	}
	if n := e.Device().Count("read"); n != 1 {
		t.Errorf("Count(read) after Unplug = %d, want the 1 read before it", n)
	}
	if e.Card("blank") == nil {
		t.Error("the card is gone with the line")
	}
	if err := e.Close(); err != nil {
		t.Fatalf("Close after Unplug: %v", err)
	}
	// The name is free again: another encoder takes it.
	again := start(t, desk(), sim.Options{LinkDir: dir, Scale: 0.01})
	ping(t, open(t, again.Path()))
}

// twoDesks is a scenario of two PMS encoders sharing one card: written on
// the first, then moved to the second.
const twoDesks = `name: two
encoders:
  - {model: pms, id: desk-a, commands: {encode: 1}}
  - {model: pms, id: desk-b}
cards:
  a: {tech: mifare-classic-1k, uid: 04A1B2C3D4E5F6}
credential: {system: visionline-hotel}
steps:
  - place: a
  - await: {written: a}
  - remove: a
  - {place: a, on: desk-b}
  - {await: {answer: read}, on: desk-b}
expect: {status: success}
`

// A desk runs each encoder on a line of its own, on shared cards: a card
// written on one and moved to the other is read there as written, and
// each encoder's commands are counted and checked on its own.
func TestDeskSharesCardsBetweenEncoders(t *testing.T) {
	sc, err := scenario.Load("two.yaml", []byte(twoDesks))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	d, err := sim.StartDesk(context.Background(), sc, sim.Options{LinkDir: dir, Scale: timescale.Scale(0.01)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if len(d.Encoders()) != 2 || d.Encoder("desk-a") == nil || d.Encoder("desk-b") == nil {
		t.Fatalf("desk encoders %v, want desk-a and desk-b", d.Encoders())
	}
	played := make(chan error, 1)
	go func() { played <- d.Play(context.Background()) }()

	a := open(t, filepath.Join(dir, "desk-a"))
	write(t, a, frame("CN", "01", "9F2C4D1A00000001", "G", "", "", "Room 101"))
	want := append([]byte{ack}, frame("OK", "01", "04A1B2C3D4E5F6", "mifare-classic-1k", "9F2C4D1A00000001")...)
	if got := readN(t, a, len(want)); string(got) != string(want) {
		t.Fatalf("desk-a answered % X, want % X", got, want)
	}
	write(t, a, []byte{ack})

	// The timeline moves the card once it is written; desk-b reads it
	// once it is there (NC before that: read again).
	b := open(t, filepath.Join(dir, "desk-b"))
	okRead := "OK"
	var got []byte
	for deadline := time.Now().Add(patience); ; {
		write(t, b, frame("RC", "01"))
		got = readN(t, b, 1)
		head := readN(t, b, 3)
		rest := readUntilFrameEnd(t, b)
		got = append(append(got, head...), rest...)
		write(t, b, []byte{ack})
		if string(head[1:]) == okRead {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("desk-b never saw the card: last answer % X", got)
		}
	}
	if !strings.Contains(string(got), "9F2C4D1A00000001") {
		t.Errorf("desk-b read % X, want the card id desk-a wrote", got)
	}
	// desk-b's timeline waited for its first answer to a read; desk-a's
	// commands ({encode: 1}) are checked on desk-a alone, though desk-b
	// took reads too.
	select {
	case err := <-played:
		if err != nil {
			t.Fatalf("Play: %v", err)
		}
	case <-time.After(patience):
		t.Fatal("Play did not end")
	}
	if n := d.Encoder("desk-a").Device().Count("read"); n != 0 {
		t.Errorf("desk-a counted %d reads, want none: desk-b's reads are desk-b's", n)
	}
	if c := d.Card("a"); c != d.Encoder("desk-a").Card("a") || c != d.Encoder("desk-b").Card("a") {
		t.Error("the encoders do not share the desk's card")
	}
	if c := d.Card("a").Contents(); c.Kind != card.Guest || c.Writes != 1 {
		t.Errorf("card a holds %+v, want the guest credential written once", c)
	}
}

// readUntilFrameEnd reads the rest of a PMS answer frame: up to ETX and
// its LRC.
func readUntilFrameEnd(t *testing.T, p interface {
	Read([]byte) (int, error)
}) []byte {
	t.Helper()
	var out []byte
	one := make([]byte, 1)
	for {
		if _, err := io.ReadFull(p, one); err != nil {
			t.Fatalf("reading an answer: %v", err)
		}
		out = append(out, one[0])
		if one[0] == etx {
			if _, err := io.ReadFull(p, one); err != nil {
				t.Fatalf("reading an answer's LRC: %v", err)
			}
			return append(out, one[0])
		}
	}
}

// A desk that cannot start every encoder starts none: the one it started
// is closed and its link removed.
func TestStartDeskAllOrNothing(t *testing.T) {
	sc, err := scenario.Load("two.yaml", []byte(twoDesks))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	holder := start(t, &scenario.Scenario{File: "x", Name: "x", Encoder: scenario.Encoder{Model: "pms", ID: "desk-b"}}, sim.Options{LinkDir: dir, Scale: 0.01})
	if _, err := sim.StartDesk(context.Background(), sc, sim.Options{LinkDir: dir, Scale: 0.01}); err == nil {
		t.Fatal("StartDesk took a link another encoder holds")
	}
	if _, err := os.Lstat(filepath.Join(dir, "desk-a")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("desk-a's link was left behind: %v", err)
	}
	ping(t, open(t, holder.Path()))
	if _, err := sim.Start(context.Background(), sc, sim.Options{LinkDir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "StartDesk") {
		t.Errorf("Start of a two-encoder scenario = %v, want an error pointing at StartDesk", err)
	}
}
