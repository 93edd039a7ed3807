package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/fixtures"
	"github.com/encoderlab/encoderlab/pipeline/driver"
	pmsdriver "github.com/encoderlab/encoderlab/pipeline/driver/pms"
	"github.com/encoderlab/encoderlab/pipeline/serialport"
	"github.com/encoderlab/encoderlab/scenarios"
	"github.com/encoderlab/encoderlab/sim/scenario"
	"github.com/encoderlab/encoderlab/sim/tap"
	"github.com/encoderlab/encoderlab/sim/trace"
	"github.com/encoderlab/encoderlab/timescale"
)

// chunk is one trace event: at µs, dir, bytes.
type chunk struct {
	at  int64
	dir trace.Direction
	b   []byte
}

func traceOf(protocol string, chunks ...chunk) *trace.Trace {
	tr := &trace.Trace{Header: trace.Header{Trace: trace.Version, Protocol: protocol, Started: time.Unix(0, 0)}}
	for _, c := range chunks {
		tr.Events = append(tr.Events, trace.NewEvent(c.at, c.dir, c.b))
	}
	return tr
}

func pmsFrame(t *testing.T, fields ...string) []byte {
	t.Helper()
	b, err := trace.PMSFrame(fields)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// stepLines are a scenario's step lines without their comments.
func stepLines(y string) []string {
	var out []string
	for l := range strings.SplitSeq(y, "\n") {
		if !strings.HasPrefix(l, "  - ") {
			continue
		}
		if i := strings.Index(l, "   # "); i >= 0 {
			l = l[:i]
		}
		out = append(out, strings.TrimPrefix(l, "  - "))
	}
	return out
}

// The wait before a device unit counts from the previous unit either side
// completed, in device time, and a unit split across chunks is written
// whole, after the wait to its last chunk.
func TestConvertWaits(t *testing.T) {
	h, d := trace.HostToDevice, trace.DeviceToHost
	enq, ack, nak := []byte{0x05}, []byte{0x06}, []byte{0x15}
	cn := pmsFrame(t, "CN", "01", "9F2C4D1A00000001", "G")
	to := pmsFrame(t, "TO", "01")
	sam, samOK := frame(t, "D4 14 01 14 00"), frame(t, "D5 15")
	emptyReader := []string{
		`expect: {frame: "ENQ"}`,
		`send: {frame: "ACK"}`,
		`expect: {frame: "CN 01 $cardid G"}`,
		`send: {frame: "ACK"}`,
		`wait: 20s`,
		`send: {frame: "TO 01"}`,
		`expect: {frame: "ACK"}`,
	}
	for _, tc := range []struct {
		name  string
		tr    *trace.Trace
		scale timescale.Scale
		want  []string
	}{{
		// The device ACKs CN at once and answers TO after its 20 s wait
		// for a card; gaps under 1 ms are the recorder's noise.
		name: "ack at once, answer after the card wait",
		tr: traceOf("pms",
			chunk{0, h, enq}, chunk{800, d, ack},
			chunk{5_000, h, cn}, chunk{5_900, d, ack},
			chunk{20_005_900, d, to}, chunk{20_006_400, h, ack}),
		want: emptyReader,
	}, {
		name: "recorded at scale 0.1",
		tr: traceOf("pms",
			chunk{0, h, enq}, chunk{80, d, ack},
			chunk{500, h, cn}, chunk{590, d, ack},
			chunk{2_000_590, d, to}, chunk{2_000_640, h, ack}),
		scale: 0.1,
		want:  emptyReader,
	}, {
		// An ENQ while the device waits for a card: the answer's wait
		// counts from the ACK to it.
		name: "host speaks during the wait",
		tr: traceOf("pms",
			chunk{0, h, cn}, chunk{300, d, ack},
			chunk{5_000_300, h, enq}, chunk{5_000_700, d, ack},
			chunk{20_000_300, d, to}),
		want: []string{
			`expect: {frame: "CN 01 $cardid G"}`, `send: {frame: "ACK"}`,
			`expect: {frame: "ENQ"}`, `send: {frame: "ACK"}`,
			`wait: 15s`, `send: {frame: "TO 01"}`,
		},
	}, {
		// ACK and the answer's first bytes in one chunk, the rest 3 s
		// later: the wait goes before the frame, never inside it.
		name: "pms frame split across chunks",
		tr: traceOf("pms",
			chunk{0, h, cn}, chunk{2_000, d, slices.Concat(ack, to[:3])},
			chunk{1_002_000, d, to[3:5]}, chunk{3_002_000, d, to[5:]}),
		want: []string{
			`expect: {frame: "CN 01 $cardid G"}`,
			`wait: 2ms`, `send: {frame: "ACK"}`,
			`wait: 3s`, `send: {frame: "TO 01"}`,
		},
	}, {
		name: "pn532 frame split across chunks",
		tr: traceOf("pn532",
			chunk{0, h, sam[:4]}, chunk{40_000, h, sam[4:]},
			chunk{42_000, d, slices.Concat(trace.PN532ACK, samOK[:4])},
			chunk{540_000, d, samOK[4:]}),
		want: []string{
			`expect: {frame: "D4 14 01 14 00"}`,
			`wait: 2ms`, `send: {frame: "ACK"}`,
			`wait: 498ms`, `send: {frame: "D5 15"}`,
		},
	}, {
		// A frame the device abandoned is written as it was, at its last
		// bytes, when the host speaks.
		name: "abandoned frame",
		tr: traceOf("pms",
			chunk{0, h, cn}, chunk{1_000, d, to[:2]}, chunk{2_001_000, h, nak}),
		want: []string{
			`expect: {frame: "CN 01 $cardid G"}`,
			`wait: 1ms`, `send: "0254"`,
			`expect: {frame: "NAK"}`,
		},
	}, {
		name: "no protocol: every chunk",
		tr: traceOf("",
			chunk{0, h, []byte{1, 2}}, chunk{1_500, d, []byte{3}}, chunk{1_001_500, d, []byte{4}}),
		want: []string{`expect: "0102"`, `wait: 2ms`, `send: "03"`, `wait: 1s`, `send: "04"`},
	}, {
		// Slowed down tenfold, a 2 ms gap was 200 µs of device time.
		name: "recorded at scale 10",
		tr: traceOf("pms",
			chunk{0, h, enq}, chunk{2_000, d, ack}),
		scale: 10,
		want:  []string{`expect: {frame: "ENQ"}`, `wait: 200µs`, `send: {frame: "ACK"}`},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			y, err := Convert(tc.tr, ConvertOptions{Name: "waits", Encoder: "front-desk-1", Expect: "success",
				System: "visionline-hotel", Scale: tc.scale})
			if err != nil {
				t.Fatal(err)
			}
			if got := stepLines(string(y)); !slices.Equal(got, tc.want) {
				t.Errorf("steps:\n%s\nwant:\n%s\n\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"), y)
			}
			if _, err := scenario.Load("waits.yaml", y); err != nil {
				t.Errorf("converted scenario does not load: %v\n%s", err, y)
			}
		})
	}
}

func TestConvertRefusesBadScalesAndGaps(t *testing.T) {
	tr := traceOf("pms", chunk{0, trace.HostToDevice, []byte{0x05}}, chunk{1_000, trace.DeviceToHost, []byte{0x06}})
	for _, s := range []float64{-1, 1001, math.NaN(), math.Inf(1)} {
		_, err := Convert(tr, ConvertOptions{Name: "x", Expect: "success", Scale: timescale.Scale(s)})
		if !errors.Is(err, ErrBadScale) {
			t.Errorf("scale %v: got %v, want ErrBadScale", s, err)
		}
	}
	// A gap no scenario can wait, rather than an overflowed duration.
	long := traceOf("pms", chunk{0, trace.HostToDevice, []byte{0x05}}, chunk{math.MaxInt64, trace.DeviceToHost, []byte{0x06}})
	if y, err := Convert(long, ConvertOptions{Name: "x", Expect: "success"}); err == nil {
		t.Errorf("converted a gap of %dµs:\n%s", int64(math.MaxInt64), y)
	}
}

func TestConvertScaleFlag(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sim-run.jsonl")
	var b bytes.Buffer
	w, err := trace.NewWriter(&b, trace.Header{Protocol: "pms", Started: time.Unix(0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range traceOf("pms", chunk{0, trace.HostToDevice, []byte{0x05}}, chunk{50_000, trace.DeviceToHost, []byte{0x06}}).Events {
		if err := w.Write(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"convert", "--scale", "0.1", "--expect", "success", path}, &out, &errOut); code != exitOK {
		t.Fatalf("convert --scale 0.1: exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "  - wait: 500ms\n") {
		t.Errorf("a 50 ms gap at scale 0.1 is not a 500 ms wait:\n%s", out.String())
	}

	// A trace that says its scale needs no flag.
	b.Reset()
	w, err = trace.NewWriter(&b, trace.Header{Protocol: "pms", Started: time.Unix(0, 0), Scale: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range traceOf("pms", chunk{0, trace.HostToDevice, []byte{0x05}}, chunk{50_000, trace.DeviceToHost, []byte{0x06}}).Events {
		if err := w.Write(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if code := run(context.Background(), []string{"convert", "--expect", "success", path}, &out, &errOut); code != exitOK {
		t.Fatalf("convert of a trace recorded at scale 0.1: exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "  - wait: 500ms\n") {
		t.Errorf("the header's scale 0.1 was not applied to a 50 ms gap:\n%s", out.String())
	}
	for _, s := range []string{"-0.5", "NaN", "2000"} {
		if code := run(context.Background(), []string{"convert", "--scale", s, path}, io.Discard, io.Discard); code != exitUsage {
			t.Errorf("convert --scale %s: exit %d, want %d", s, code, exitUsage)
		}
	}
}

// The card wait of docs/protocols/pms.md (T_card), the virtual PMS
// encoder's default.
const cardWait = 20 * time.Second

// A PMS empty reader, recorded for real through the tap at a scale,
// converts to a scenario that answers TO after the device's card wait,
// and a pipeline reaches the same outcome against the replay as against
// the device: a patient one no_credential_on_encoder, one that stops
// waiting for the answer before the device gives up on the card a
// timeout, whichever it is.
func TestConvertEmptyReaderKeepsTheCardWait(t *testing.T) {
	const scale = timescale.Scale(0.1) // the device waits 2 s for a card
	patient := protocolCase{protocol: "pms", driver: pmsdriver.New(testTiming)}
	impatient := protocolCase{protocol: "pms", driver: pmsdriver.New(pmsdriver.Timing{
		Ack: 2 * time.Second, Answer: scale.Of(cardWait) / 8, Busy: 100 * time.Millisecond, Retries: 1})}

	tr, err := recordEmptyReader(t, scale, patient)
	if got := kindOf(t, err); got != driver.NoCard {
		t.Fatalf("recorded encode: %v, want a %v driver error", err, driver.NoCard)
	}
	y, err := Convert(tr, ConvertOptions{Name: "empty-reader-replay", Encoder: "front-desk-1",
		Expect: "error:no_credential_on_encoder", System: "visionline-hotel", Scale: scale})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("converted:\n%s", y)
	// The recorded gap is the scaled card wait plus scheduling on a busy
	// machine, divided by the scale: generous bounds.
	w := waitBefore(t, string(y), `send: {frame: "TO 01"}`)
	if w < cardWait-2*time.Second || w > cardWait+15*time.Second {
		t.Errorf("wait before TO 01 is %v, want about %v", w, cardWait)
	}
	sc, err := scenario.Load("empty-reader-replay.yaml", y)
	if err != nil {
		t.Fatalf("load converted scenario: %v\n%s", err, y)
	}

	t.Run("patient pipeline", func(t *testing.T) {
		enc, played := startEncoderAt(t, sc, scale)
		_, err := encode(t, patient, enc.Path(), job("0123456789ABCDEF"))
		if got := kindOf(t, err); got != driver.NoCard {
			t.Fatalf("encode against the replay: %v, want a %v driver error as recorded", err, driver.NoCard)
		}
		if err := <-played; err != nil {
			t.Fatalf("replay: %v", err)
		}
	})
	t.Run("pipeline that stops waiting first", func(t *testing.T) {
		device, err := scenarios.Load("empty-reader")
		if err != nil {
			t.Fatal(err)
		}
		enc, _ := startEncoderAt(t, device, scale)
		_, err = encode(t, impatient, enc.Path(), job("0123456789ABCDEF"))
		field := kindOf(t, err)
		if field != driver.NotAnswering {
			t.Fatalf("encode against the device: %v, want a %v driver error", err, driver.NotAnswering)
		}
		replayed, _ := startEncoderAt(t, sc, scale)
		_, err = encode(t, impatient, replayed.Path(), job("0123456789ABCDEF"))
		if got := kindOf(t, err); got != field {
			t.Fatalf("encode against the replay: %v, want a %v driver error as against the device", err, field)
		}
	})
}

// recordEmptyReader encodes once with pc's driver through a tap in front
// of the bundled empty-reader encoder run at scale, and returns the trace
// and the encode's error.
func recordEmptyReader(t *testing.T, scale timescale.Scale, pc protocolCase) (*trace.Trace, error) {
	t.Helper()
	sc, err := scenarios.Load("empty-reader")
	if err != nil {
		t.Fatal(err)
	}
	enc, played := startEncoderAt(t, sc, scale)
	dev, err := serialport.Open(enc.Path(), serialport.Mode{})
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	var out syncBuffer
	started := time.Now()
	link := filepath.Join(t.TempDir(), sc.Encoder.ID)
	tw, err := trace.NewWriter(&out, trace.Header{Protocol: "pms", Device: enc.Path(), Link: link, Started: started})
	if err != nil {
		t.Fatal(err)
	}
	tp, err := tap.Start(dev, started, tap.Config{Link: link, Protocol: "pms", Trace: tw})
	if err != nil {
		t.Fatal(err)
	}
	_, encErr := encode(t, pc, link, job("9F2C4D1A00000001"))
	if err := <-played; err != nil {
		t.Fatalf("empty-reader timeline: %v", err)
	}
	// The host's ACK of the answer may still be on its way through the
	// tap: wait until the trace holds it, then stop.
	recorded := func() bool {
		s := out.String()
		i := strings.Index(s, `"TO 01"`)
		return i >= 0 && strings.Contains(s[i:], `"dir":"host>device","hex":"06"`)
	}
	for deadline := time.Now().Add(30 * time.Second); !recorded() && time.Now().Before(deadline); {
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
	return tr, encErr
}

// kindOf is the driver error kind of an encode's error, 0 for success.
func kindOf(t *testing.T, err error) driver.Kind {
	t.Helper()
	if err == nil {
		return 0
	}
	var de *driver.Error
	if !errors.As(err, &de) {
		t.Fatalf("encode: %v, not a *driver.Error", err)
	}
	return de.Kind
}

// waitBefore is the wait directly before the step line step.
func waitBefore(t *testing.T, y, step string) time.Duration {
	t.Helper()
	lines := stepLines(y)
	i := slices.Index(lines, step)
	if i < 1 || !strings.HasPrefix(lines[i-1], "wait: ") {
		t.Fatalf("no wait directly before %q:\n%s", step, y)
	}
	d, err := time.ParseDuration(strings.TrimPrefix(lines[i-1], "wait: "))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestConvertSystemIsTheEncoders: without a system given, a converted
// scenario's credential is of the encoder's own ACS system in the lab,
// so it fits the lab (encodersim lint passes it); an encoder the lab
// lacks gets visionline-hotel.
func TestConvertSystemIsTheEncoders(t *testing.T) {
	tr := traceOf("pms", chunk{0, trace.HostToDevice, []byte{0x05}}, chunk{1_000, trace.DeviceToHost, []byte{0x06}})
	for _, tc := range []struct{ encoder, system string }{
		{"station-desk", "salto-space-hotel"},
		{"front-desk-2", "vostio-hotel"},
		{"replayed-encoder", "visionline-hotel"},
	} {
		y, err := Convert(tr, ConvertOptions{Name: "x", Encoder: tc.encoder, Expect: "success"})
		if err != nil {
			t.Fatal(err)
		}
		s, err := scenario.Load("x.yaml", y)
		if err != nil {
			t.Fatalf("%s: converted scenario does not load: %v\n%s", tc.encoder, err, y)
		}
		if s.Credential.System != tc.system {
			t.Errorf("%s: credential system %q, want %q", tc.encoder, s.Credential.System, tc.system)
		}
		if err := scenario.CheckLab(s, fixtures.Bundled()); (err == nil) != (tc.encoder != "replayed-encoder") {
			t.Errorf("%s: CheckLab = %v", tc.encoder, err)
		}
	}
}

// A line that went in the trace goes in the replay too: a hangup the
// device may come back from, or an unplug for good, at its time.
func TestConvertHangupAndUnplug(t *testing.T) {
	h, d := trace.HostToDevice, trace.DeviceToHost
	enq, ack := []byte{0x05}, []byte{0x06}
	tr := traceOf("pms", chunk{0, h, enq}, chunk{1_000, d, ack})
	tr.Events = append(tr.Events, trace.Event{T: 501_000, Dir: d, Note: "hangup"})
	tr.Events = append(tr.Events, trace.NewEvent(600_000, h, enq), trace.NewEvent(601_000, d, ack))
	tr.Events = append(tr.Events, trace.Event{T: 2_601_000, Dir: d, Note: "unplug"})
	y, err := Convert(tr, ConvertOptions{Name: "gone", Encoder: "front-desk-1", Expect: "error:uncategorized_error", System: "visionline-hotel"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`expect: {frame: "ENQ"}`, `wait: 1ms`, `send: {frame: "ACK"}`,
		`wait: 500ms`, `hangup: true`,
		`expect: {frame: "ENQ"}`, `wait: 1ms`, `send: {frame: "ACK"}`,
		`wait: 2s`, `unplug: true`,
	}
	if got := stepLines(string(y)); !slices.Equal(got, want) {
		t.Errorf("steps:\n%s\nwant:\n%s\n\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), y)
	}
	sc, err := scenario.Load("gone.yaml", y)
	if err != nil {
		t.Fatalf("converted scenario does not load: %v\n%s", err, y)
	}
	if last := sc.Steps[len(sc.Steps)-1]; last.Op != scenario.OpUnplug {
		t.Errorf("last step %s, want unplug", last)
	}
}

// A trace of a protocol a replay cannot speak (the ACR122U's vpcd line:
// its model gives no frame text) is refused, saying which replays do,
// rather than written as a scenario that does not load.
func TestConvertRefusesAProtocolNoReplaySpeaks(t *testing.T) {
	tr := traceOf("acr122", chunk{0, trace.HostToDevice, []byte{0, 1, 4}})
	_, err := Convert(tr, ConvertOptions{Name: "reader", Encoder: "pcsc-desk-1", Expect: "success", System: "visionline-hotel"})
	if err == nil || !strings.Contains(err.Error(), "does not convert") || !strings.Contains(err.Error(), "pms, pn532") {
		t.Errorf("Convert of an acr122 trace: %v, want a refusal naming the protocols a replay speaks", err)
	}
}
