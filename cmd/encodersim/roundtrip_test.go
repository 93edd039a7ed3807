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
	pn532driver "github.com/encoderlab/encoderlab/pipeline/driver/pn532"
	"github.com/encoderlab/encoderlab/pipeline/serialport"
	"github.com/encoderlab/encoderlab/scenarios"
	"github.com/encoderlab/encoderlab/sim"
	"github.com/encoderlab/encoderlab/sim/replay"
	"github.com/encoderlab/encoderlab/sim/scenario"
	"github.com/encoderlab/encoderlab/sim/tap"
	"github.com/encoderlab/encoderlab/sim/trace"
	"github.com/encoderlab/encoderlab/timescale"
)

// protocolCase is one protocol's round trip: a bundled scenario plays
// the "real device", the pipeline's driver encodes through the recorder,
// the trace is converted and the scenario replayed.
type protocolCase struct {
	protocol string
	// scenario is the bundled scenario the recorded device plays; its
	// encoder id names the link.
	scenario string
	driver   driver.Driver
	// number is the card number the device reports.
	number string
	// last is text of the trace's final event: the run is recorded
	// whole once the trace holds it after the answer with the card number.
	last string
	// steps are frame steps the converted scenario must hold.
	steps []string
	// otherAnswer changes what the device answered, otherExpect and
	// otherKind are the outcome that gives.
	otherAnswer func(t *testing.T, tr *trace.Trace) *trace.Trace
	otherExpect string
	otherKind   driver.Kind
	// otherHost changes a frame the host sent; hostStep is that frame's
	// step in the converted scenario, got and want the hex the mismatch
	// must show.
	otherHost func(t *testing.T, tr *trace.Trace) *trace.Trace
	hostStep  string
	got, want string
}

// Timings keep a failing encode short; the answer waits are generous
// for a loaded machine.
var (
	testTiming  = pmsdriver.Timing{Ack: 2 * time.Second, Answer: 20 * time.Second, Busy: 100 * time.Millisecond, Retries: 1}
	pn532Timing = pn532driver.Timing{Ack: 2 * time.Second, Answer: 20 * time.Second, Poll: 50 * time.Millisecond,
		CardWait: 5 * time.Second, Busy: 100 * time.Millisecond, Retries: 1}
)

var pmsCase = protocolCase{
	protocol: "pms",
	scenario: "first-issue",
	driver:   pmsdriver.New(testTiming),
	number:   "04A1B2C3D4E5F6",
	last:     `"dir":"host>device","hex":"06","frames":["ACK"]`,
	steps:    []string{`{frame: "CN 01 $cardid G * * *"}`, `{frame: "OK 01 04A1B2C3D4E5F6 mifare-classic-1k $cardid"}`},
	otherAnswer: func(t *testing.T, tr *trace.Trace) *trace.Trace {
		return mutate(t, tr, trace.DeviceToHost, "OK ", "TO", "01")
	},
	otherExpect: "error:no_credential_on_encoder",
	otherKind:   driver.NoCard,
	otherHost: func(t *testing.T, tr *trace.Trace) *trace.Trace {
		return mutate(t, tr, trace.HostToDevice, "CN ", "CX", "01")
	},
	hostStep: `{frame: "CX 01"}`,
	got:      "got 02 43 4E",
	want:     "want 02 43 58",
}

var pn532Case = protocolCase{
	protocol: "pn532",
	scenario: "pn532-first-issue",
	driver:   pn532driver.New(pn532Timing),
	number:   "04C1A2B3C4D5E6",
	last:     `D5 53 00"]`, // InRelease answered
	steps: []string{
		`{frame: "D4 4A 02 00"}`, // the poll: two targets at most
		`{frame: "D4 40 01 A0 04 $block4:16"}`, `{frame: "D4 40 01 A0 05 $block5:16"}`, `{frame: "D4 40 01 A0 06 $block6:16"}`,
		`{frame: "D5 41 00 $block4"}`, `{frame: "D5 41 00 $block5"}`, `{frame: "D5 41 00 $block6"}`,
		`{frame: "ACK"}`,
	},
	// The chip refusing the transport key too: a card of another system.
	otherAnswer: func(t *testing.T, tr *trace.Trace) *trace.Trace {
		return mutatePN532(t, tr, trace.DeviceToHost, "D5 41 00", 1, []byte{0xD5, 0x41, 0x14}, true)
	},
	otherExpect: "error:incompatible_card_format",
	otherKind:   driver.IncompatibleCard,
	// MaxRetries with MxRtyPassiveActivation 2 instead of 0.
	otherHost: func(t *testing.T, tr *trace.Trace) *trace.Trace {
		return mutatePN532(t, tr, trace.HostToDevice, "D4 32 05 FF 01 00", 1, []byte{0xD4, 0x32, 0x05, 0xFF, 0x01, 0x02}, false)
	},
	hostStep: `{frame: "D4 32 05 FF 01 02"}`,
	got:      "got 00 00 FF 06 FA D4 32 05 FF 01 00 F5 00 (D4 32 05 FF 01 00)",
	want:     "want 00 00 FF 06 FA D4 32 05 FF 01 02 F3 00 (D4 32 05 FF 01 02)",
}

var protocolCases = []protocolCase{pmsCase, pn532Case}

func job(id string) driver.Job {
	now := time.Now().UTC().Truncate(time.Minute)
	return driver.Job{CardID: id, Function: driver.Guest, StartsAt: now, EndsAt: now.Add(72 * time.Hour), Label: "Room 101"}
}

// startEncoder runs sc on a virtual encoder and plays its timeline; the
// returned channel yields Play's error.
func startEncoder(t *testing.T, sc *scenario.Scenario) (*sim.Encoder, <-chan error) {
	t.Helper()
	return startEncoderAt(t, sc, timescale.Real)
}

// startEncoderAt is startEncoder with every device and timeline duration
// scaled.
func startEncoderAt(t *testing.T, sc *scenario.Scenario, scale timescale.Scale) (*sim.Encoder, <-chan error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	enc, err := sim.Start(ctx, sc, sim.Options{LinkDir: t.TempDir(), Scale: scale})
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

// encode runs the case's driver against the line at path.
func encode(t *testing.T, pc protocolCase, path string, j driver.Job) (driver.Card, error) {
	t.Helper()
	port, err := serialport.Open(path, serialport.Mode{})
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer port.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return pc.driver.Encode(ctx, port, j)
}

// record encodes through a tap in front of the case's bundled encoder
// and returns the trace.
func record(t *testing.T, pc protocolCase) *trace.Trace {
	t.Helper()
	sc, err := scenarios.Load(pc.scenario)
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
	link := filepath.Join(t.TempDir(), sc.Encoder.ID)
	tw, err := trace.NewWriter(&out, trace.Header{Protocol: pc.protocol, Device: enc.Path(), Link: link, Started: started})
	if err != nil {
		t.Fatal(err)
	}
	tp, err := tap.Start(dev, started, tap.Config{Link: link, Protocol: pc.protocol, Trace: tw})
	if err != nil {
		t.Fatal(err)
	}
	c, err := encode(t, pc, link, job("9F2C4D1A00000001"))
	if err != nil {
		t.Fatalf("encode through the tap: %v", err)
	}
	if c.Number != pc.number || c.CardID != "9F2C4D1A00000001" {
		t.Fatalf("encode through the tap: got %+v", c)
	}
	if err := <-played; err != nil {
		t.Fatalf("%s timeline: %v", pc.scenario, err)
	}
	// The driver's last frame may still be on its way through the tap:
	// wait until the trace holds it, after the answer that carried the
	// card number (the same text, an ACK, comes earlier too), then stop.
	recorded := func() bool {
		s := out.String()
		// The number is in a PMS frame's text, and in a PN532 event's
		// lower-case hex.
		i := max(strings.LastIndex(s, pc.number), strings.LastIndex(s, strings.ToLower(pc.number)))
		return i >= 0 && strings.Contains(s[i:], pc.last)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !recorded() {
		if time.Now().After(deadline) {
			t.Fatalf("the trace never recorded the run's last event %s after the answer:\n%s", pc.last, out.String())
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
	tr := record(t, pmsCase)
	got := frames(tr)
	// docs/protocols/pms.md, Session: on a port it has just opened the
	// host resynchronises with CC before its command.
	want := []string{
		"host>device ENQ",
		"device>host ACK",
		"host>device CC 01",
		"device>host ACK",
		"device>host CC 01",
		"host>device ACK",
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
	if !strings.HasSuffix(got[6], `"Room 101"`) {
		t.Errorf("CN frame %q: want the quoted label last", got[6])
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
	b, err := trace.PMSFrame(fields)
	if err != nil {
		t.Fatal(err)
	}
	out := &trace.Trace{Header: tr.Header, Events: append([]trace.Event(nil), tr.Events...)}
	for i, e := range out.Events {
		if e.Dir != dir {
			continue
		}
		for k, f := range e.Frames {
			if !strings.HasPrefix(f, prefix) {
				continue
			}
			// The frame's bytes in the chunk run from its STX and code to
			// its ETX and LRC; a chunk may carry other frames around it.
			raw, err := hex.DecodeString(e.Hex)
			if err != nil {
				t.Fatal(err)
			}
			code := strings.Fields(prefix)[0]
			start := bytes.Index(raw, append([]byte{0x02}, code...))
			end := bytes.IndexByte(raw[max(start, 0):], 0x03)
			if start < 0 || end < 0 || start+end+2 > len(raw) {
				t.Fatalf("event %d (%q): the %s frame's bytes are not whole in it", i, e.Frames, code)
			}
			end += start + 2
			changed := append(append(append([]byte(nil), raw[:start]...), b...), raw[end:]...)
			out.Events[i].Hex = hex.EncodeToString(changed)
			out.Events[i].Frames = append([]string(nil), e.Frames...)
			out.Events[i].Frames[k] = trace.FormatFields(fields)
			return out
		}
	}
	t.Fatalf("no %s event with a frame starting %q", dir, prefix)
	return nil
}

// mutatePN532 replaces the nth (1-based) PN532 frame whose text starts
// with prefix, in direction dir, by the frame carrying body (checksums
// recomputed), and with cut drops every event after it: a trace of a
// device that answered otherwise, up to where the host gave up.
func mutatePN532(t *testing.T, tr *trace.Trace, dir trace.Direction, prefix string, nth int, body []byte, cut bool) *trace.Trace {
	t.Helper()
	repl, err := trace.PN532Frame(body)
	if err != nil {
		t.Fatal(err)
	}
	out := &trace.Trace{Header: tr.Header, Events: append([]trace.Event(nil), tr.Events...)}
	seen := 0
	for i, e := range out.Events {
		if e.Dir != dir {
			continue
		}
		for _, f := range e.Frames {
			if !strings.HasPrefix(f, prefix) {
				continue
			}
			if seen++; seen < nth {
				continue
			}
			orig, err := hex.DecodeString(strings.ReplaceAll(f, " ", ""))
			if err != nil {
				t.Fatalf("frame %q: %v", f, err)
			}
			old, err := trace.PN532Frame(orig)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := e.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(raw, old) {
				t.Fatalf("event %d holds frame %q, but not its bytes % X whole", i, f, old)
			}
			raw = bytes.Replace(raw, old, repl, 1)
			dec, _ := trace.NewDecoder("pn532")
			out.Events[i].Hex, out.Events[i].Frames = hex.EncodeToString(raw), dec.Feed(raw)
			if cut {
				out.Events = out.Events[:i+1]
			}
			return out
		}
	}
	t.Fatalf("no %s frame %d starting %q", dir, nth, prefix)
	return nil
}

func TestRoundTrip(t *testing.T) {
	for _, pc := range protocolCases {
		t.Run(pc.protocol, func(t *testing.T) { roundTrip(t, pc) })
	}
}

func roundTrip(t *testing.T, pc protocolCase) {
	tr := record(t, pc)

	t.Run("same outcome", func(t *testing.T) {
		sc, y := convertTrace(t, tr, "success")
		for _, want := range append([]string{"model: replay", "protocol: " + pc.protocol}, pc.steps...) {
			if !strings.Contains(y, want) {
				t.Errorf("scenario lacks %q:\n%s", want, y)
			}
		}
		enc, played := startEncoder(t, sc)
		// Another run: another card id and other dates, as a new credential has.
		c, err := encode(t, pc, enc.Path(), job("0123456789ABCDEF"))
		if err != nil {
			t.Fatalf("encode against the replay: %v\n%s", err, y)
		}
		if c.Number != pc.number || c.CardID != "0123456789ABCDEF" {
			t.Fatalf("encode against the replay: got %+v", c)
		}
		if err := <-played; err != nil {
			t.Fatalf("replay: %v", err)
		}
	})

	t.Run("mutated answer gives the other outcome", func(t *testing.T) {
		sc, _ := convertTrace(t, pc.otherAnswer(t, tr), pc.otherExpect)
		enc, played := startEncoder(t, sc)
		_, err := encode(t, pc, enc.Path(), job("0123456789ABCDEF"))
		var de *driver.Error
		if !errors.As(err, &de) || de.Kind != pc.otherKind {
			t.Fatalf("encode: got %v, want a %v driver error", err, pc.otherKind)
		}
		if err := <-played; err != nil {
			t.Fatalf("replay: %v", err)
		}
	})

	t.Run("mutated host frame points at the step", func(t *testing.T) {
		sc, y := convertTrace(t, pc.otherHost(t, tr), "success")
		enc, played := startEncoder(t, sc)
		if _, err := encode(t, pc, enc.Path(), job("0123456789ABCDEF")); err == nil {
			t.Fatalf("encode against a replay expecting %s succeeded", pc.hostStep)
		}
		err := <-played
		var me *replay.MismatchError
		if !errors.As(err, &me) {
			t.Fatalf("replay: got %v, want a *replay.MismatchError", err)
		}
		line := 0
		for i, l := range strings.Split(y, "\n") {
			if strings.Contains(l, pc.hostStep) {
				line = i + 1
			}
		}
		// The converter turns long gaps into wait steps, and how long a gap
		// is depends on the machine: find the step's number by its line.
		step := 0
		for i, st := range sc.Steps {
			if st.Line == line {
				step = i + 1
			}
		}
		if step == 0 || me.Step != step || me.Line != line || me.File != "desk-replay.yaml" {
			t.Errorf("mismatch at step %d line %d of %q, want step %d line %d", me.Step, me.Line, me.File, step, line)
		}
		frame := strings.TrimSuffix(strings.TrimPrefix(pc.hostStep, `{frame: "`), `"}`)
		msg := err.Error()
		for _, want := range []string{fmt.Sprintf("step %d (line %d, expect frame %s): ", step, line, frame), pc.got, pc.want} {
			if !strings.Contains(msg, want) {
				t.Errorf("error %q lacks %q", msg, want)
			}
		}
		t.Log(msg)
	})
}
