package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/encoderlab/encoderlab/fixtures"
	"github.com/encoderlab/encoderlab/sim/model"
	"github.com/encoderlab/encoderlab/sim/scenario"
	"github.com/encoderlab/encoderlab/sim/trace"
	"github.com/encoderlab/encoderlab/timescale"
)

const convertUsage = `Usage: encodersim convert [--encoder ID] [--expect OUTCOME] [--system KEY] [--scale F] TRACE > scenario.yaml

Turn a trace recorded by "encodersim record" into a scenario for the
replay device model: byte-level steps in the order the line carried them
(expect: what the host must send; send: what the device answered; wait:
how long the device took before each thing it sent, counted from the
last bytes either side sent before it, when 1 ms or more). PMS and PN532
frames are written as frame text, with patterns for what changes from
run to run: in PMS the card id the host sends is captured as $cardid and
echoed where the device answered with it, and the dates and label match
anything; in PN532 the data the host writes to the credential blocks 4-6
is captured as $block4:16 … and echoed where the device answered a read
of that block with it (and key bytes and block data the trace redacted
match anything). Anything else (noise, the PN532 wake-up, damaged or
extended frames) is exact hex.

The trace cannot say what the pipeline made of the encode: give it with
--expect (success, or error:TYPE such as error:no_credential_on_encoder), or fill
in the scenario's expect by hand; "encodersim lint" reports it until then.

Waits are written in device time, unscaled, like every duration of a
scenario: a trace of a real device is in real time (the default, --scale
1); for a trace of a virtual encoder run with "--scale 0.1", give
--scale 0.1 and a recorded gap of 2 s is written as the 20 s the device
meant. The replay scales them again with its own --scale.

Examples:
  encodersim convert --expect success desk.jsonl > desk-bug.yaml
  encodersim convert --expect error:no_credential_on_encoder desk.jsonl > no-card.yaml
  encodersim convert --scale 0.1 --expect success sim-run.jsonl > sim-run.yaml
`

func convertCmd(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("convert", convertUsage, stdout, stderr)
	id := fs.String("encoder", "", "encoder id in the scenario (default: the trace's link name, or replayed-encoder)")
	expect := fs.String("expect", "", "the encode's outcome: success, or error:TYPE")
	system := fs.String("system", "", "fixture ACS system `KEY` of the credential to encode (default: the encoder's own in the bundled lab, else visionline-hotel)")
	scale := fs.Float64("scale", 0, "time scale `F` the trace was recorded at (default: the scale in the trace's header, else 1, a real device)")
	if code, stop := parse(fs, args); stop {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintf(stderr, "encodersim convert: want one TRACE file\n")
		return exitUsage
	}
	if err := validScale(timescale.Scale(*scale)); err != nil || *scale < 0 {
		fmt.Fprintf(stderr, "encodersim convert: --scale %v: want a factor in (0, 1000]\n", *scale)
		return exitUsage
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(stderr, "encodersim convert: %v\n", err)
		return exitFail
	}
	defer f.Close()
	tr, err := trace.Read(f)
	if err != nil {
		fmt.Fprintf(stderr, "encodersim convert: %s: %v\n", fs.Arg(0), err)
		return exitFail
	}
	if *scale == 0 {
		*scale = tr.Header.Scale // 0 too for a real device: real time
	}
	out, err := Convert(tr, ConvertOptions{Name: scenarioName(fs.Arg(0)), Encoder: *id, Expect: *expect, System: *system,
		Scale: timescale.Scale(*scale)})
	if err != nil {
		fmt.Fprintf(stderr, "encodersim convert: %s: %v\n", fs.Arg(0), err)
		return exitUsage
	}
	if _, err := stdout.Write(out); err != nil {
		fmt.Fprintf(stderr, "encodersim convert: %v\n", err)
		return exitFail
	}
	return exitOK
}

// scenarioName derives a scenario name from a trace's file name.
func scenarioName(path string) string {
	base := strings.ToLower(strings.TrimSuffix(filepathBase(path), ".jsonl"))
	var b strings.Builder
	dash := false
	for _, r := range base {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	s := strings.TrimSuffix(b.String(), "-")
	if s == "" {
		return "replayed-trace"
	}
	return s
}

func filepathBase(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}

// ConvertOptions say what a trace cannot: the scenario's name, encoder id
// and the encode's outcome.
type ConvertOptions struct {
	Name    string
	Encoder string
	// Expect is "success" or "error:TYPE"; "" leaves the expect for the
	// user to fill in (the scenario does not load until then).
	Expect string
	// System is the credential's ACS system key; "" takes the encoder's
	// own system in the bundled lab (fixtures/lab.yaml), or
	// visionline-hotel for an encoder the lab lacks.
	System string
	// Scale is the time scale the trace was recorded at (0: real time).
	// The trace's gaps are divided by it, so waits are written in device
	// time, as every scenario duration is, and a replay at the same scale
	// keeps the recorded timing.
	Scale timescale.Scale
}

// minGap is the shortest recorded gap before a device unit written as a
// wait; shorter ones are the recorder's own noise. It applies to the gap
// as recorded, in wall-clock time, where that noise is, whatever the
// trace's scale.
const minGap = time.Millisecond

// maxWait bounds a wait: a longer one (a trace with absurd times) is
// refused rather than overflowing a time.Duration.
const maxWait = 100 * 365 * 24 * time.Hour

// ErrBadScale is a ConvertOptions.Scale that is not a factor in (0, 1000].
var ErrBadScale = errors.New("time scale out of range: want a factor in (0, 1000]")

// validScale reports a scale Convert cannot divide by; 0 is real time.
func validScale(s timescale.Scale) error {
	if s != 0 && (s.Validate() != nil || !(s > 0)) { // !(s > 0) catches NaN too
		return fmt.Errorf("%v: %w", float64(s), ErrBadScale)
	}
	return nil
}

// Convert writes tr as a replay scenario.
func Convert(tr *trace.Trace, o ConvertOptions) ([]byte, error) {
	expect, err := expectYAML(o.Expect)
	if err != nil {
		return nil, err
	}
	if err := validScale(o.Scale); err != nil {
		return nil, err
	}
	scale := o.Scale
	if scale == 0 {
		scale = timescale.Real
	}
	proto := tr.Header.Protocol
	replayable := scenario.ReplayProtocols()
	switch {
	case proto == "" && len(replayable) > 0:
		// Frames are not decoded; every step is hex, which replays on
		// any protocol a replay takes: the first will do.
		proto = replayable[0]
	case proto != "" && !slices.Contains(replayable, proto):
		if _, known := model.ProtocolOf(proto); known {
			return nil, fmt.Errorf("a trace of %s does not convert: a replay cannot speak it (its model gives no frame text; replays speak %s)", proto, strings.Join(replayable, ", "))
		}
	}
	id := o.Encoder
	if id == "" {
		id = filepathBase(tr.Header.Link)
	}
	if id == "" || id == "." || id == "/" {
		id = "replayed-encoder"
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# yaml-language-server: $schema=scenario.schema.json\n")
	fmt.Fprintf(&b, "name: %s\n", o.Name)
	desc := fmt.Sprintf("Replay of a trace recorded %s", tr.Header.Started.UTC().Format(time.RFC3339))
	if tr.Header.Device != "" {
		desc += " at " + tr.Header.Device
	}
	if tr.Header.Note != "" {
		desc += ": " + tr.Header.Note
	}
	fmt.Fprintf(&b, "description: %s\n", strconv.Quote(desc))
	if len(tr.Header.Redacted) > 0 {
		fmt.Fprintf(&b, "# redacted when recorded: %s\n", strings.Join(tr.Header.Redacted, ", "))
	}
	fmt.Fprintf(&b, "encoder: {model: replay, protocol: %s, id: %s}\n", proto, strconv.Quote(id))
	system := o.System
	if system == "" {
		system = "visionline-hotel"
		if _, e := scenario.LabEncoder(fixtures.Bundled(), id); e != nil {
			system = e.System
		}
	}
	fmt.Fprintf(&b, "credential: {system: %s, ends_in: 72h}\n", strconv.Quote(system))
	if scale != timescale.Real {
		fmt.Fprintf(&b, "# waits: the recorded gaps divided by %v, the time scale of the recording\n", float64(scale))
	}
	fmt.Fprintf(&b, "steps:\n")

	c := converter{w: &b, scale: scale, last: -1}
	if p, ok := model.ProtocolOf(tr.Header.Protocol); ok && p.NewConverter != nil {
		redacted := map[string]bool{}
		for _, r := range tr.Header.Redacted {
			redacted[r] = true
		}
		c.conv = p.NewConverter(redacted)
	}
	for _, e := range tr.Events {
		raw, err := e.Bytes()
		if err != nil {
			return nil, fmt.Errorf("event at %dµs: %w", e.T, err)
		}
		if e.Note != "" {
			fmt.Fprintf(&b, "  # %s at %dµs: %s\n", e.Dir, e.T, e.Note)
			// The line going is part of what the replay plays: hung up
			// (a path the device may come back under), or unplugged for
			// good.
			switch op, _, _ := strings.Cut(e.Note, " "); op {
			case "hangup", "unplug":
				c.flush()
				c.wait(e.T)
				c.last = e.T
				fmt.Fprintf(&b, "  - %s: true\n", op)
			}
		}
		if len(raw) == 0 {
			continue
		}
		side := hostSide
		if e.Dir == trace.DeviceToHost {
			side = deviceSide
		}
		c.feed(side, raw, e.T)
	}
	if err := c.flush(); err != nil {
		return nil, err
	}
	b.WriteString(expect)
	return b.Bytes(), nil
}

func expectYAML(x string) (string, error) {
	switch {
	case x == "success":
		return "expect: {status: success}\n", nil
	case strings.HasPrefix(x, "error:") && len(x) > len("error:"):
		return fmt.Sprintf("expect: {status: error, error: {type: %s}}\n", x[len("error:"):]), nil
	case x == "":
		return "# The outcome the pipeline reached in the field: status success, or\n" +
			"# status error with error.type. The scenario does not load without it.\n" +
			"expect: {}\n", nil
	}
	return "", fmt.Errorf("--expect %q: want success or error:TYPE", x)
}

// converter splits each direction's stream into units of the trace's
// protocol (or keeps raw hex) and writes one step per unit.
//
// Timing: a step is placed at the time of the chunk that completed its
// unit (a unit split across chunks is whole only then: a wait can never
// fall inside it). A device unit gets a wait for the time since the
// previous step in either direction, so a device that ACKs a command at
// once and answers 20 s later replays both delays; host units get none,
// the host keeps its own time.
type converter struct {
	w         *bytes.Buffer
	pending   [2][]byte       // per direction, bytes of a unit not yet complete
	pendingAt [2]int64        // per direction, when pending's last bytes arrived (µs)
	last      int64           // when the previous step's unit was complete (µs); -1 before any
	scale     timescale.Scale // the trace's time scale: waits are gaps divided by it
	err       error           // the first wait that cannot be written
	// conv is the trace's protocol's converter (model.Protocol), nil for
	// a trace of no known protocol, whose steps are all hex.
	conv model.Converter
}

const (
	hostSide   = 0
	deviceSide = 1
)

// feed takes a chunk of side's bytes that arrived at µs and writes the
// units it completes.
func (c *converter) feed(side int, b []byte, at int64) {
	if c.conv == nil {
		c.step(side, b, at)
		return
	}
	// The other direction's partial unit cannot complete after this
	// direction spoke; write it as it was.
	c.flushSide(1 - side)
	buf := append(c.pending[side], b...)
	for len(buf) > 0 {
		n := c.conv.Unit(buf)
		if n == 0 {
			break
		}
		c.step(side, buf[:n], at)
		buf = buf[n:]
	}
	c.pending[side] = buf
	c.pendingAt[side] = at
}

func (c *converter) flush() error {
	c.flushSide(hostSide)
	c.flushSide(deviceSide)
	return c.err
}

func (c *converter) flushSide(side int) {
	if len(c.pending[side]) > 0 {
		c.step(side, c.pending[side], c.pendingAt[side])
		c.pending[side] = nil
	}
}

// step writes one unit, complete at µs, as an expect (host) or send
// (device) step; a send after a significant gap gets a wait first.
func (c *converter) step(side int, unit []byte, at int64) {
	op := "expect"
	if side == deviceSide {
		op = "send"
		c.wait(at)
	}
	c.last = at
	hex := strconv.Quote(fmt.Sprintf("%x", unit))
	if c.conv == nil {
		fmt.Fprintf(c.w, "  - %s: %s\n", op, hex)
		return
	}
	if text, ok := c.conv.Text(side == hostSide, unit); ok {
		fmt.Fprintf(c.w, "  - %s: {frame: %s}\n", op, strconv.Quote(text))
		return
	}
	fmt.Fprintf(c.w, "  - %s: %s   # %s\n", op, hex, c.conv.Describe(unit))
}

// wait writes the gap between the previous step and a device unit
// complete at µs, in device time, when it is significant.
func (c *converter) wait(at int64) {
	if c.last < 0 || at-c.last < minGap.Microseconds() {
		return
	}
	gap := at - c.last
	d := float64(gap) * float64(time.Microsecond) / float64(c.scale)
	if d > float64(maxWait) {
		if c.err == nil {
			c.err = fmt.Errorf("event at %dµs: a gap of %dµs at time scale %v is longer than a scenario waits (%v)",
				at, gap, float64(c.scale), maxWait)
		}
		return
	}
	w := time.Duration(d)
	// Milliseconds read best; at a scale above 1 a significant gap can
	// be shorter than that in device time.
	if r := w.Round(time.Millisecond); r > 0 {
		w = r
	} else {
		w = max(w.Round(time.Microsecond), time.Microsecond)
	}
	fmt.Fprintf(c.w, "  - wait: %s\n", w)
}
