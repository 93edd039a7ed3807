package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/encoderlab/encoderlab/sim/trace"
)

const convertUsage = `Usage: encodersim convert [--encoder ID] [--expect OUTCOME] [--system KEY] TRACE > scenario.yaml

Turn a trace recorded by "encodersim record" into a scenario for the
replay device model: byte-level steps in the order the line carried them
(expect: what the host must send; send: what the device answered; wait:
the gaps before each answer). PMS and PN532 frames are written as frame
text, with patterns for what changes from run to run: in PMS the card id
the host sends is captured as $cardid and echoed where the device answered
with it, and the dates and label match anything; in PN532 the data the
host writes to the credential blocks 4-6 is captured as $block4:16 … and
echoed where the device answered a read of that block with it (and key
bytes and block data the trace redacted match anything). Anything else
(noise, the PN532 wake-up, damaged or extended frames) is exact hex.

The trace cannot say what the pipeline made of the encode: give it with
--expect (success, or error:TYPE such as error:no_credential_on_encoder), or fill
in the scenario's expect by hand; "encodersim lint" reports it until then.

Examples:
  encodersim convert --expect success desk.jsonl > desk-bug.yaml
  encodersim convert --expect error:no_credential_on_encoder desk.jsonl > no-card.yaml
`

func convertCmd(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("convert", convertUsage, stderr)
	id := fs.String("encoder", "", "encoder id in the scenario (default: the trace's link name, or replayed-encoder)")
	expect := fs.String("expect", "", "the encode's outcome: success, or error:TYPE")
	system := fs.String("system", "visionline-hotel", "fixture ACS system of the credential to encode")
	if code, stop := parse(fs, args); stop {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintf(stderr, "encodersim convert: want one TRACE file\n")
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
	out, err := Convert(tr, ConvertOptions{Name: scenarioName(fs.Arg(0)), Encoder: *id, Expect: *expect, System: *system})
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
	System string
}

// minGap is the shortest gap before an answer written as a wait; shorter
// ones are the recorder's own noise.
const minGap = time.Millisecond

// Convert writes tr as a replay scenario.
func Convert(tr *trace.Trace, o ConvertOptions) ([]byte, error) {
	expect, err := expectYAML(o.Expect)
	if err != nil {
		return nil, err
	}
	proto := tr.Header.Protocol
	if proto == "" {
		proto = "pms" // frames are not decoded; every step is hex, which replays on any protocol
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
	fmt.Fprintf(&b, "credential: {system: %s, ends_in: 72h}\n", strconv.Quote(o.System))
	fmt.Fprintf(&b, "steps:\n")

	c := converter{proto: tr.Header.Protocol, w: &b, redacted: map[string]bool{}}
	for _, r := range tr.Header.Redacted {
		c.redacted[r] = true
	}
	var lastHost int64 = -1
	for _, e := range tr.Events {
		raw, err := e.Bytes()
		if err != nil {
			return nil, fmt.Errorf("event at %dµs: %w", e.T, err)
		}
		if e.Note != "" {
			fmt.Fprintf(&b, "  # %s at %dµs: %s\n", e.Dir, e.T, e.Note)
		}
		if len(raw) == 0 {
			continue
		}
		if e.Dir == trace.HostToDevice {
			c.host(raw)
			lastHost = e.T
			continue
		}
		if lastHost >= 0 {
			if gap := time.Duration(e.T-lastHost) * time.Microsecond; gap >= minGap {
				fmt.Fprintf(&b, "  - wait: %s\n", gap.Round(time.Millisecond))
			}
			lastHost = -1
		}
		c.device(raw)
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
type converter struct {
	proto    string // the trace's protocol: "pms", "pn532", or "" (hex only)
	w        *bytes.Buffer
	pending  [2][]byte       // per direction, bytes of a unit not yet complete
	redacted map[string]bool // what the recorder blanked out, e.g. "pn532:keys"
	cardID   string          // pms: the card id the last CN carried, "" before one
	pn532    pn532State
}

const (
	hostSide   = 0
	deviceSide = 1
)

func (c *converter) host(b []byte)   { c.feed(hostSide, b) }
func (c *converter) device(b []byte) { c.feed(deviceSide, b) }

func (c *converter) feed(side int, b []byte) {
	unit := pmsUnit
	switch c.proto {
	case "pms":
	case "pn532":
		unit = pn532Unit
	default:
		c.step(side, b)
		return
	}
	// The other direction's partial unit cannot complete after this
	// direction spoke; write it as it was.
	c.flushSide(1 - side)
	buf := append(c.pending[side], b...)
	for len(buf) > 0 {
		n := unit(buf)
		if n == 0 {
			break
		}
		c.step(side, buf[:n])
		buf = buf[n:]
	}
	c.pending[side] = buf
}

// pmsUnit is the length of the complete unit at the start of b: a control
// or noise byte, a frame up to its LRC, or the bytes before the next STX
// (an abandoned frame); 0 when the unit is not complete yet.
func pmsUnit(b []byte) int {
	if b[0] != trace.PMSSTX {
		return 1
	}
	for i := 1; i < len(b); i++ {
		switch b[i] {
		case trace.PMSSTX:
			return i
		case trace.PMSETX:
			if i+1 < len(b) {
				return i + 2
			}
			return 0
		}
	}
	return 0
}

func (c *converter) flush() error {
	c.flushSide(hostSide)
	c.flushSide(deviceSide)
	return nil
}

func (c *converter) flushSide(side int) {
	if len(c.pending[side]) > 0 {
		c.step(side, c.pending[side])
		c.pending[side] = nil
	}
}

// step writes one unit as an expect (host) or send (device) step.
func (c *converter) step(side int, unit []byte) {
	op := "expect"
	if side == deviceSide {
		op = "send"
	}
	if text, ok := c.frameText(side, unit); ok {
		fmt.Fprintf(c.w, "  - %s: {frame: %s}\n", op, strconv.Quote(text))
		return
	}
	switch c.proto {
	case "pms":
		fmt.Fprintf(c.w, "  - %s: %s   # %s\n", op, strconv.Quote(fmt.Sprintf("%x", unit)), trace.DescribePMS(unit))
		return
	case "pn532":
		fmt.Fprintf(c.w, "  - %s: %s   # %s\n", op, strconv.Quote(fmt.Sprintf("%x", unit)), describePN532Unit(unit))
		return
	}
	fmt.Fprintf(c.w, "  - %s: %s\n", op, strconv.Quote(fmt.Sprintf("%x", unit)))
}

// frameText is unit as a frame pattern, when it is a valid unit of the
// trace's protocol.
func (c *converter) frameText(side int, unit []byte) (string, bool) {
	switch c.proto {
	case "pms":
	case "pn532":
		return c.pn532Text(side, unit)
	default:
		return "", false
	}
	if len(unit) == 1 {
		for name, b := range trace.PMSControl {
			if unit[0] == b {
				return name, true
			}
		}
		return "", false
	}
	fields, err := trace.PMSSplit(unit)
	if err != nil || len(fields) == 0 {
		return "", false
	}
	text := make([]string, len(fields))
	lit := make([]bool, len(fields))
	for i, f := range fields {
		text[i], lit[i] = f, true
	}
	vary := func(i int, pattern string) {
		if i < len(fields) {
			text[i], lit[i] = pattern, false
		}
	}
	switch code := fields[0]; {
	case side == hostSide && code == "CN":
		// card id, function, valid from, valid until, label
		if len(fields) > 2 {
			c.cardID = fields[2]
		}
		vary(2, "$cardid")
		vary(4, "*")
		vary(5, "*")
		vary(6, "*")
	case side == deviceSide && code == "OK" && len(fields) == 5:
		if c.cardID != "" && fields[4] == c.cardID {
			vary(4, "$cardid")
		}
	case side == deviceSide && code == "OK" && len(fields) == 6:
		if c.cardID != "" && fields[5] == c.cardID {
			vary(5, "$cardid")
		}
	case side == deviceSide && code == "VU" && len(fields) == 3:
		if c.cardID != "" && fields[2] == c.cardID {
			vary(2, "$cardid")
		}
	}
	var parts []string
	for i := range text {
		if lit[i] {
			parts = append(parts, trace.FormatFields([]string{text[i]}))
		} else {
			parts = append(parts, text[i])
		}
	}
	return strings.Join(parts, " "), true
}
