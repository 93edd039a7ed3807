package sim_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/internal/linkdir"
	"github.com/encoderlab/encoderlab/pipeline/serialport"
	"github.com/encoderlab/encoderlab/sim"
	"github.com/encoderlab/encoderlab/sim/card"
	"github.com/encoderlab/encoderlab/sim/device/pms"
	"github.com/encoderlab/encoderlab/sim/model"
	"github.com/encoderlab/encoderlab/sim/scenario"
	"github.com/encoderlab/encoderlab/timescale"
)

// patience bounds every wait for something that must happen; generous,
// so a loaded machine does not fail the tests.
const patience = 10 * time.Second

const (
	stx = 0x02
	etx = 0x03
	enq = 0x05
	ack = 0x06
)

func frame(fields ...string) []byte {
	b := append([]byte{stx}, strings.Join(fields, "\xb3")...)
	b = append(b, etx)
	var x byte
	for _, c := range b[1:] {
		x ^= c
	}
	return append(b, x)
}

func desk(steps ...scenario.Step) *scenario.Scenario {
	for i := range steps {
		steps[i].Index = i
	}
	return &scenario.Scenario{
		File:    "desk.yaml",
		Name:    "desk",
		Encoder: scenario.Encoder{Model: "pms", ID: "desk-1"},
		Cards:   []scenario.CardSpec{{Name: "blank", Tech: card.MifareClassic1K, UID: "04A1B2C3D4E5F6"}},
		Steps:   steps,
	}
}

func start(t *testing.T, sc *scenario.Scenario, opts sim.Options) *sim.Encoder {
	t.Helper()
	e, err := sim.Start(context.Background(), sc, opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return e
}

func open(t *testing.T, path string) *serialport.Port {
	t.Helper()
	p, err := serialport.Open(path, serialport.Mode{})
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// readN reads exactly n bytes within patience.
func readN(t *testing.T, p *serialport.Port, n int) []byte {
	t.Helper()
	if err := p.SetReadDeadline(time.Now().Add(patience)); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(p, b); err != nil {
		t.Fatalf("read %d bytes from %s: %v", n, p.Path(), err)
	}
	return b
}

func write(t *testing.T, p *serialport.Port, b []byte) {
	t.Helper()
	if err := p.SetWriteDeadline(time.Now().Add(patience)); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Write(b); err != nil {
		t.Fatalf("write to %s: %v", p.Path(), err)
	}
}

// ping sends ENQ and expects ACK.
func ping(t *testing.T, p *serialport.Port) {
	t.Helper()
	write(t, p, []byte{enq})
	if got := readN(t, p, 1); got[0] != ack {
		t.Fatalf("answer to ENQ = 0x%02X, want ACK", got[0])
	}
}

func TestStartPublishesAndAnswers(t *testing.T) {
	dir := t.TempDir()
	e := start(t, desk(), sim.Options{LinkDir: dir, Scale: 0.01})
	link := filepath.Join(dir, "desk-1")
	if e.Path() != link || e.Link() != link {
		t.Fatalf("Path = %q, Link = %q, want %q", e.Path(), e.Link(), link)
	}
	if target, err := os.Readlink(link); err != nil || target != e.TTY() {
		t.Fatalf("link %s -> %q (%v), want %q", link, target, err, e.TTY())
	}
	if e.ID() != "desk-1" || e.Model() != "pms" || e.Card("blank") == nil || e.Card("nope") != nil {
		t.Fatalf("ID %q, Model %q, Card(blank) %v", e.ID(), e.Model(), e.Card("blank"))
	}
	ping(t, open(t, e.Path()))
}

func TestStartWithoutLinkDir(t *testing.T) {
	e := start(t, desk(), sim.Options{Scale: 0.01})
	if e.Path() != e.TTY() || e.Link() != "" {
		t.Fatalf("Path = %q, Link = %q; want the tty %q and no link", e.Path(), e.Link(), e.TTY())
	}
	ping(t, open(t, e.Path()))
}

func TestStartRejects(t *testing.T) {
	bad := func(f func(*scenario.Scenario)) *scenario.Scenario { s := desk(); f(s); return s }
	for name, sc := range map[string]*scenario.Scenario{
		"unknown model": bad(func(s *scenario.Scenario) { s.Encoder.Model = "no-such-model" }),
		"id with slash": bad(func(s *scenario.Scenario) { s.Encoder.ID = "../x" }),
		"empty id":      bad(func(s *scenario.Scenario) { s.Encoder.ID = "" }),
		"bad card":      bad(func(s *scenario.Scenario) { s.Cards[0].UID = "zz" }),
	} {
		if e, err := sim.Start(context.Background(), sc, sim.Options{LinkDir: t.TempDir()}); err == nil {
			e.Close()
			t.Errorf("%s: Start succeeded", name)
		}
	}
	if _, err := sim.Start(context.Background(), desk(), sim.Options{Scale: -1}); err == nil {
		t.Error("Start with a negative scale succeeded")
	}
	if _, err := sim.Start(context.Background(), nil, sim.Options{}); err == nil {
		t.Error("Start without a scenario succeeded")
	}
}

func TestPlayEncodesOverThePty(t *testing.T) {
	sc := desk(
		scenario.Step{Op: scenario.OpPlace, Card: "blank"},
		scenario.Step{Op: scenario.OpAwait, Command: "encode"},
	)
	sc.Encoder.Commands = map[string]int{"encode": 1}
	e := start(t, sc, sim.Options{LinkDir: t.TempDir(), Scale: timescale.Scale(0.01)})
	played := make(chan error, 1)
	go func() { played <- e.Play(context.Background()) }()

	p := open(t, e.Path())
	write(t, p, frame("CN", "01", "9F2C4D1A00000001", "G", "", "", "Room 101"))
	if got := readN(t, p, 1); got[0] != ack {
		t.Fatalf("answer to CN = 0x%02X, want ACK", got[0])
	}
	want := frame("OK", "01", "04A1B2C3D4E5F6", "mifare-classic-1k", "9F2C4D1A00000001")
	if got := readN(t, p, len(want)); string(got) != string(want) {
		t.Fatalf("answer % X, want % X", got, want)
	}
	write(t, p, []byte{ack})
	select {
	case err := <-played:
		if err != nil {
			t.Fatalf("Play: %v", err)
		}
	case <-time.After(patience):
		t.Fatal("Play did not end")
	}
	if c := e.Card("blank").Contents(); c.Kind != card.Guest || c.CardID != "9F2C4D1A00000001" {
		t.Fatalf("card holds %+v, want the guest credential", c)
	}
}

func TestHangup(t *testing.T) {
	dir := t.TempDir()
	e := start(t, desk(), sim.Options{LinkDir: dir, Scale: 0.01})
	p := open(t, e.Path())
	ping(t, p)
	oldTTY := e.TTY()

	if err := e.Hangup(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := p.SetReadDeadline(time.Now().Add(patience)); err != nil {
		t.Fatal(err)
	}
	if n, err := p.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("read on the hung-up line = %d, %v; want EOF", n, err)
	}
	if e.TTY() == oldTTY {
		t.Fatalf("TTY %q did not change on Hangup", oldTTY)
	}
	if target, err := os.Readlink(e.Path()); err != nil || target != e.TTY() {
		t.Fatalf("link -> %q (%v), want the new tty %q", target, err, e.TTY())
	}
	p2 := open(t, e.Path())
	ping(t, p2)
	write(t, p2, frame("RC", "01"))
	want := append([]byte{ack}, frame("NC", "01")...)
	if got := readN(t, p2, len(want)); string(got) != string(want) {
		t.Fatalf("answer to RC on the new line % X, want % X", got, want)
	}
	if n := e.Device().Count("read"); n != 1 {
		t.Fatalf("Count(read) = %d on the new line, want 1", n)
	}
}

func TestCloseReleasesEverything(t *testing.T) {
	before := runtime.NumGoroutine()
	dir := t.TempDir()
	e, err := sim.Start(context.Background(), desk(), sim.Options{LinkDir: dir, Scale: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	p := open(t, e.Path())
	ping(t, p)
	if err := e.Hangup(context.Background()); err != nil {
		t.Fatal(err)
	}
	p.Close()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "desk-1")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("link still there after Close: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("Close left %s in the links directory (the link's lock file?)", entries[0].Name())
	}
	if err := e.Hangup(context.Background()); !errors.Is(err, sim.ErrClosed) {
		t.Fatalf("Hangup after Close = %v, want ErrClosed", err)
	}
	// Goroutines of the runtime and of the closed port may take a moment
	// to finish: poll, within a bound.
	deadline := time.After(patience)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for runtime.NumGoroutine() > before {
		select {
		case <-tick.C:
		case <-deadline:
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines after Close, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
	}
}

// TestSecondEncoderOfANameIsRefused: an encoder never takes over the link
// another running encoder publishes under the same directory and id, and
// never removes it on its way out; it names the holder instead.
func TestSecondEncoderOfANameIsRefused(t *testing.T) {
	dir := t.TempDir()
	first := start(t, desk(), sim.Options{LinkDir: dir, Scale: 0.01})
	link := first.Link()

	second, err := sim.Start(context.Background(), desk(), sim.Options{LinkDir: dir, Scale: 0.01})
	if err == nil {
		second.Close()
		t.Fatal("a second encoder desk-1 started under the same links directory")
	}
	var held *linkdir.HeldError
	if !errors.As(err, &held) || held.Link != link {
		t.Fatalf("second Start: %v, want a *linkdir.HeldError for %s", err, link)
	}
	if want := fmt.Sprintf("pid %d", os.Getpid()); !strings.Contains(err.Error(), want) {
		t.Errorf("the refusal %q should name the holder (%s)", err, want)
	}
	if target, err := os.Readlink(link); err != nil || target != first.TTY() {
		t.Fatalf("after the refusal %s -> %q (%v), want the first encoder's %q", link, target, err, first.TTY())
	}
	ping(t, open(t, link))

	// Once the first has gone, the name is free.
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	next := start(t, desk(), sim.Options{LinkDir: dir, Scale: 0.01})
	if target, err := os.Readlink(link); err != nil || target != next.TTY() {
		t.Fatalf("%s -> %q (%v), want the new encoder's %q", link, target, err, next.TTY())
	}
}

func TestStartRefusesALinksDirectoryOthersControl(t *testing.T) {
	for name, spoil := range map[string]func(t *testing.T, dir string){
		"owned by another user": func(t *testing.T, dir string) {
			if os.Geteuid() != 0 {
				t.Skip("giving a directory to another user (os.Lchown) takes root")
			}
			if err := os.Lchown(dir, 65534, 65534); err != nil {
				t.Fatal(err)
			}
		},
		"writable by others": func(t *testing.T, dir string) {
			if err := os.Chmod(dir, 0o777); err != nil {
				t.Fatal(err)
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "links")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			spoil(t, dir)
			e, err := sim.Start(context.Background(), desk(), sim.Options{LinkDir: dir, Scale: 0.01})
			if err == nil {
				e.Close()
				t.Fatalf("Start published a link in a directory %s", name)
			}
			if !errors.Is(err, linkdir.ErrUnsafe) || !strings.Contains(err.Error(), dir) {
				t.Errorf("Start: %v, want a refusal (linkdir.ErrUnsafe) naming %s", err, dir)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("Start left %d entries in the refused directory", len(entries))
			}
		})
	}
}

func TestStartCreatesAPrivateLinksDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "encoderlab-0")
	start(t, desk(), sim.Options{LinkDir: dir, Scale: 0.01})
	fi, err := os.Lstat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("links directory created with mode %04o, want 0700", fi.Mode().Perm())
	}
}

// A device model registered from outside the simulator runs on a desk as
// the bundled ones do: here the PMS model again, under a vendor's name.
func TestRegisteredModelRuns(t *testing.T) {
	model.Register(model.Model{Name: "vendor-pms", New: pms.Model.New, Takes: pms.Model.Takes})
	if !slices.Contains(sim.Models(), "vendor-pms") || !slices.Contains(scenario.Models(), "vendor-pms") {
		t.Fatalf("sim.Models() = %v, scenario.Models() = %v; want vendor-pms in both", sim.Models(), scenario.Models())
	}
	sc := desk()
	sc.Encoder.Model = "vendor-pms"
	e := start(t, sc, sim.Options{LinkDir: t.TempDir()})
	if _, ok := e.Device().(*pms.Device); !ok {
		t.Fatalf("the desk runs a %T, want the device the vendor's model built", e.Device())
	}
}

// A desk started below its model's scale floor (model.Model.MinScale)
// runs, and says in its log that the model's own waits do not shrink.
func TestBelowTheScaleFloorIsSaid(t *testing.T) {
	model.Register(model.Model{Name: "floored-pms", New: pms.Model.New, Takes: pms.Model.Takes, MinScale: 0.5})
	var log bytes.Buffer
	sc := desk()
	sc.Encoder.Model = "floored-pms"
	start(t, sc, sim.Options{LinkDir: t.TempDir(), Scale: 0.1, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if !strings.Contains(log.String(), "below the model's floor") || !strings.Contains(log.String(), "floor=0.5") {
		t.Errorf("the log does not say the scale is below the floor:\n%s", log.String())
	}
	log.Reset()
	sc.Encoder.ID += "-2"
	start(t, sc, sim.Options{LinkDir: t.TempDir(), Scale: 0.5, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if strings.Contains(log.String(), "below the model's floor") {
		t.Errorf("warned at the floor itself:\n%s", log.String())
	}
}
