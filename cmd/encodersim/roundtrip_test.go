package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/pipeline/driver"
	pmsdriver "github.com/encoderlab/encoderlab/pipeline/driver/pms"
	"github.com/encoderlab/encoderlab/pipeline/serialport"
	"github.com/encoderlab/encoderlab/scenarios"
	"github.com/encoderlab/encoderlab/sim"
	"github.com/encoderlab/encoderlab/sim/replay"
	"github.com/encoderlab/encoderlab/sim/scenario"
	"github.com/encoderlab/encoderlab/sim/tap"
	"github.com/encoderlab/encoderlab/sim/trace"
)

// testTiming keeps a failing encode short; the answer wait is generous
// for a loaded machine.
var testTiming = pmsdriver.Timing{Ack: 2 * time.Second, Answer: 20 * time.Second, Busy: 100 * time.Millisecond, Retries: 1}

func job(id string) driver.Job {
	now := time.Now().UTC().Truncate(time.Minute)
	return driver.Job{CardID: id, Function: driver.Guest, StartsAt: now, EndsAt: now.Add(72 * time.Hour), Label: "Room 101"}
}

// startEncoder runs sc on a virtual encoder and plays its timeline; the
// returned channel yields Play's error.
func startEncoder(t *testing.T, sc *scenario.Scenario) (*sim.Encoder, <-chan error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	enc, err := sim.Start(ctx, sc, sim.Options{LinkDir: t.TempDir()})
	if err != nil {
		cancel()
		t.Fatalf("start %s: %v", sc.Name, err)
	}
	played := make(chan error, 1)
	go func() { played <- enc.Play(ctx) }()
	t.Cleanup(func() {
		cancel()
		enc.Close()
	})
	return enc, played
}

// encode runs the real PMS driver against the line at path.
func encode(t *testing.T, path string, j driver.Job) (driver.Card, error) {
	t.Helper()
	port, err := serialport.Open(path, serialport.Mode{})
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer port.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return pmsdriver.New(testTiming).Encode(ctx, port, j)
}

// record encodes through a tap in front of the bundled first-issue
// encoder and returns the trace.
func record(t *testing.T) *trace.Trace {
	t.Helper()
	sc, err := scenarios.Load("first-issue")
	if err != nil {
		t.Fatal(err)
	}
	enc, played := startEncoder(t, sc)
	dev, err := serialport.Open(enc.Path(), serialport.Mode{})
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	var out syncBuffer
	started := time.Now()
	link := filepath.Join(t.TempDir(), "front-desk-1")
	tw, err := trace.NewWriter(&out, trace.Header{Protocol: "pms", Device: enc.Path(), Link: link, Started: started})
	if err != nil {
		t.Fatal(err)
	}
	tp, err := tap.Start(dev, started, tap.Config{Link: link, Protocol: "pms", Trace: tw})
	if err != nil {
		t.Fatal(err)
	}
	c, err := encode(t, link, job("9F2C4D1A00000001"))
	if err != nil {
		t.Fatalf("encode through the tap: %v", err)
	}
	if c.Number != "04A1B2C3D4E5F6" || c.CardID != "9F2C4D1A00000001" {
		t.Fatalf("encode through the tap: got %+v", c)
	}
	if err := <-played; err != nil {
		t.Fatalf("first-issue timeline: %v", err)
	}
	// The driver's final ACK may still be on its way through the tap:
	// wait until the trace holds it, then stop.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), `"dir":"host>device","hex":"06","frames":["ACK"]`) {
		if time.Now().After(deadline) {
			break
		}
		select {
		case <-tp.HungUp():
			t.Fatal("the device side hung up")
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err := tp.Close(); err != nil {
		t.Fatalf("close tap: %v", err)
	}
	tr, err := trace.Read(strings.NewReader(out.String()))
	if err != nil {
		t.Fatalf("read trace: %v\n%s", err, out.String())
	}
	return tr
}

// syncBuffer is a buffer the tap writes while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// frames lists a trace's frames as "dir frame".
func frames(tr *trace.Trace) []string {
	var out []string
	for _, e := range tr.Events {
		for _, f := range e.Frames {
			out = append(out, string(e.Dir)+" "+f)
		}
	}
	return out
}

func TestRecordThroughTap(t *testing.T) {
	tr := record(t)
	got := frames(tr)
	want := []string{
		"host>device ENQ",
		"device>host ACK",
		"host>device CN 01 9F2C4D1A00000001 G",
		"device>host ACK",
		"device>host OK 01 04A1B2C3D4E5F6 mifare-classic-1k 9F2C4D1A00000001",
		"host>device ACK",
	}
	if len(got) != len(want) {
		t.Fatalf("frames:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("frame %d: got %q, want it to start %q", i, got[i], want[i])
		}
	}
	if !strings.HasSuffix(got[2], `"Room 101"`) {
		t.Errorf("CN frame %q: want the quoted label last", got[2])
	}
	// Sane times: in order (Read checks), within the run, and the answer
	// comes after the command.
	last := tr.Events[len(tr.Events)-1].T
	if last <= 0 || last > time.Minute.Microseconds() {
		t.Errorf("last event at %dµs", last)
	}
}

// convertTrace converts tr and loads the scenario.
func convertTrace(t *testing.T, tr *trace.Trace, expect string) (*scenario.Scenario, string) {
	t.Helper()
	y, err := Convert(tr, ConvertOptions{Name: "desk-replay", Encoder: "front-desk-1", Expect: expect, System: "visionline-hotel"})
	if err != nil {
		t.Fatal(err)
	}
	sc, err := scenario.Load("desk-replay.yaml", y)
	if err != nil {
		t.Fatalf("load converted scenario: %v\n%s", err, y)
	}
	return sc, string(y)
}

// mutate replaces the frame of the one event whose frames start with
// prefix, in direction dir, by fields (LRC recomputed).
func mutate(t *testing.T, tr *trace.Trace, dir trace.Direction, prefix string, fields ...string) *trace.Trace {
	t.Helper()
	out := &trace.Trace{Header: tr.Header, Events: append([]trace.Event(nil), tr.Events...)}
	for i, e := range out.Events {
		if e.Dir != dir || len(e.Frames) != 1 || !strings.HasPrefix(e.Frames[0], prefix) {
			continue
		}
		b, err := trace.PMSFrame(fields)
		if err != nil {
			t.Fatal(err)
		}
		out.Events[i].Hex = hex.EncodeToString(b)
		out.Events[i].Frames = []string{trace.FormatFields(fields)}
		return out
	}
	t.Fatalf("no %s event with one frame starting %q", dir, prefix)
	return nil
}

func TestRoundTrip(t *testing.T) {
	tr := record(t)

	t.Run("same outcome", func(t *testing.T) {
		sc, y := convertTrace(t, tr, "success")
		for _, want := range []string{"model: replay", `{frame: "CN 01 $cardid G * * *"}`, `{frame: "OK 01 04A1B2C3D4E5F6 mifare-classic-1k $cardid"}`} {
			if !strings.Contains(y, want) {
				t.Errorf("scenario lacks %q:\n%s", want, y)
			}
		}
		enc, played := startEncoder(t, sc)
		// Another run: another card id and other dates, as a new credential has.
		c, err := encode(t, enc.Path(), job("0123456789ABCDEF"))
		if err != nil {
			t.Fatalf("encode against the replay: %v", err)
		}
		if c.Number != "04A1B2C3D4E5F6" || c.CardID != "0123456789ABCDEF" {
			t.Fatalf("encode against the replay: got %+v", c)
		}
		if err := <-played; err != nil {
			t.Fatalf("replay: %v", err)
		}
	})

	t.Run("mutated answer gives the other outcome", func(t *testing.T) {
		sc, _ := convertTrace(t, mutate(t, tr, trace.DeviceToHost, "OK ", "TO", "01"), "error:no_card_presented")
		enc, played := startEncoder(t, sc)
		_, err := encode(t, enc.Path(), job("0123456789ABCDEF"))
		var de *driver.Error
		if !errors.As(err, &de) || de.Kind != driver.NoCard {
			t.Fatalf("encode: got %v, want a no-card driver error", err)
		}
		if err := <-played; err != nil {
			t.Fatalf("replay: %v", err)
		}
	})

	t.Run("mutated host frame points at the step", func(t *testing.T) {
		mutated := mutate(t, tr, trace.HostToDevice, "CN ", "CX", "01")
		sc, y := convertTrace(t, mutated, "success")
		enc, played := startEncoder(t, sc)
		if _, err := encode(t, enc.Path(), job("0123456789ABCDEF")); err == nil {
			t.Fatal("encode against a replay expecting CX succeeded")
		}
		err := <-played
		var me *replay.MismatchError
		if !errors.As(err, &me) {
			t.Fatalf("replay: got %v, want a *replay.MismatchError", err)
		}
		line := 0
		for i, l := range strings.Split(y, "\n") {
			if strings.Contains(l, `{frame: "CX 01"}`) {
				line = i + 1
			}
		}
		// The converter turns long gaps into wait steps, and how long a gap
		// is depends on the machine: find the CX step's number by its line.
		step := 0
		for i, st := range sc.Steps {
			if st.Line == line {
				step = i + 1
			}
		}
		if step == 0 || me.Step != step || me.Line != line || me.File != "desk-replay.yaml" {
			t.Errorf("mismatch at step %d line %d of %q, want step %d line %d", me.Step, me.Line, me.File, step, line)
		}
		if !bytes.HasPrefix(me.Received, []byte{0x02, 'C', 'N'}) {
			t.Errorf("received % X, want the CN frame", me.Received)
		}
		msg := err.Error()
		for _, want := range []string{fmt.Sprintf("step %d (line %d", step, line), "expect frame CX 01): got 02 43 4E", "want 02 43 58"} {
			if !strings.Contains(msg, want) {
				t.Errorf("error %q lacks %q", msg, want)
			}
		}
		t.Log(msg)
	})
}
