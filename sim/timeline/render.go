package timeline

import (
	"bufio"
	"errors"
	"fmt"
	"html"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/encoderlab/encoderlab/sim/trace"
)

// Options say what the page shows besides the trace.
type Options struct {
	// Title heads the page, e.g. the trace's file name. Default "Serial trace".
	Title string
	// Outcome is the attempt's outcome, shown in the header, e.g.
	// "success" or "error/no_credential_on_encoder". Empty: not shown.
	Outcome string
	// MaxLabels is how many events get a text label; the rest keep their
	// marks and hover text. Default 2000.
	MaxLabels int
	// Break is the shortest silence drawn as a break rather than to
	// scale. Default 100 ms.
	Break time.Duration
}

// Defaults for Options.
const (
	DefaultMaxLabels = 2000
	DefaultBreak     = 100 * time.Millisecond
)

// Layout, in SVG pixels.
const (
	width      = 1240
	axisRight  = 108 // the time labels end here
	hostX      = 120 // the host lane's left edge
	deviceX    = 680 // the device lane's left edge
	laneWidth  = 540
	topY       = 34  // below the lane headings
	rowH       = 20  // a labelled event's row
	markRowH   = 3   // an unlabelled event's row
	maxSpread  = 40  // extra pixels a wait inside a burst may add
	breakH     = 30  // a break's band
	labelChars = 62  // a label's longest text, in characters
	hoverBytes = 256 // bytes shown in a mark's hover text
	tickEvery  = 80  // pixels between time labels once labels stop
)

// Render writes t as an HTML page to w.
func Render(w io.Writer, t *trace.Trace, opts Options) error {
	if t == nil {
		return errors.New("timeline: no trace")
	}
	if opts.Title == "" {
		opts.Title = "Serial trace"
	}
	if opts.MaxLabels <= 0 {
		opts.MaxLabels = DefaultMaxLabels
	}
	if opts.Break <= 0 {
		opts.Break = DefaultBreak
	}
	bw := bufio.NewWriter(w)
	p := &page{w: bw, t: t, opts: opts}
	p.head()
	p.svg()
	p.printf("</body>\n</html>\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("timeline: %w", err)
	}
	return nil
}

// page writes one page; the writer's error is checked once, at Flush.
type page struct {
	w    *bufio.Writer
	t    *trace.Trace
	opts Options
}

func (p *page) printf(format string, args ...any) { fmt.Fprintf(p.w, format, args...) }

const style = `body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#1b1b1b}
h1{font-size:1.4em;margin:0 0 .3em}
.meta{border-collapse:collapse;margin-bottom:.6em}.meta th{text-align:left;padding:.1em 1em .1em 0;color:#555;font-weight:normal}
.outcome{display:inline-block;padding:.25em .8em;border-radius:4px;font-weight:600;color:#fff;background:#57606a;margin:.3em 0}
.outcome.ok{background:#1a7f37}.outcome.bad{background:#cf222e}
.small{color:#555;font-size:12px}
svg text{font:12px ui-monospace,Menlo,Consolas,monospace}
svg .lanehead{font:600 13px system-ui,sans-serif}
svg .t{fill:#57606a;font-size:11px}
svg .host{fill:#0969da}svg .device{fill:#1a7f37}
svg .note{fill:#bc4c00}svg .brk{fill:#57606a;font-style:italic}
svg g.ev:hover rect{stroke:#000}`

func (p *page) head() {
	h, title := p.t.Header, p.opts.Title
	p.printf("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>%s</title>\n<style>\n%s\n</style>\n</head>\n<body>\n", esc(title), style)
	p.printf("<h1>%s</h1>\n", esc(title))
	if o := p.opts.Outcome; o != "" {
		class := "outcome"
		switch {
		case o == "success" || strings.HasPrefix(o, "success/"):
			class += " ok"
		case strings.HasPrefix(o, "error"):
			class += " bad"
		}
		p.printf("<p class=\"%s\">outcome: %s</p>\n", class, esc(o))
	}
	p.printf("<table class=\"meta\">\n")
	row := func(k, v string) {
		if v != "" {
			p.printf("<tr><th>%s</th><td>%s</td></tr>\n", k, esc(v))
		}
	}
	row("Protocol", h.Protocol)
	row("Device", h.Device)
	row("Link", h.Link)
	if !h.Started.IsZero() {
		row("Started", h.Started.UTC().Format(time.RFC3339Nano))
	}
	var span int64
	if n := len(p.t.Events); n > 0 {
		span = p.t.Events[n-1].T - p.t.Events[0].T
	}
	row("Events", fmt.Sprintf("%d over %s", len(p.t.Events), duration(span)))
	row("Redacted", strings.Join(h.Redacted, ", "))
	row("Note", h.Note)
	p.printf("</table>\n")
	if n := len(p.t.Events); n > p.opts.MaxLabels {
		p.printf("<p class=\"small\">%d events: the first %d are labelled; every event has its mark, and hovering it shows its bytes.</p>\n", n, p.opts.MaxLabels)
	}
	p.printf("<p class=\"small\">Time runs down. Hover a mark for its bytes in hex. Silences longer than %s are cut out and marked.</p>\n", duration(p.opts.Break.Microseconds()))
}

// row is one event's place on the page.
type row struct {
	y        int
	labelled bool
	// gap is the silence cut out before the event, 0 when none.
	gap int64
}

// layout places every event, top to bottom, and returns the places and
// the height below the last.
func (p *page) layout() ([]row, int) {
	rows := make([]row, len(p.t.Events))
	y := topY
	brk := p.opts.Break.Microseconds()
	for i, e := range p.t.Events {
		var dt int64
		if i > 0 {
			dt = e.T - p.t.Events[i-1].T
		}
		r := row{labelled: i < p.opts.MaxLabels}
		step := markRowH
		if r.labelled {
			step = rowH
		}
		switch {
		case i > 0 && dt >= brk:
			r.gap = dt
			y += breakH
		case r.labelled:
			// A wait inside a burst adds up to maxSpread pixels, in
			// proportion to its share of the break threshold.
			y += int(int64(maxSpread) * dt / brk)
		}
		y += step
		r.y = y
		rows[i] = r
	}
	return rows, y + rowH
}

func (p *page) svg() {
	rows, height := p.layout()
	p.printf("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"serial timeline\">\n", width, height, width, height)
	// Lanes.
	p.printf("<rect x=\"%d\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#f3f8ff\"/>\n", hostX, laneWidth, height)
	p.printf("<rect x=\"%d\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#f2fbf4\"/>\n", deviceX, laneWidth, height)
	p.printf("<text class=\"lanehead host\" x=\"%d\" y=\"18\">host → device</text>\n", hostX+8)
	p.printf("<text class=\"lanehead device\" x=\"%d\" y=\"18\">device → host</text>\n", deviceX+8)
	p.printf("<text class=\"lanehead\" x=\"%d\" y=\"18\" text-anchor=\"end\">time</text>\n", axisRight)
	p.printf("<line x1=\"0\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#d0d7de\"/>\n", topY-8, width, topY-8)

	lastTick := -tickEvery
	for i, e := range p.t.Events {
		r := rows[i]
		if r.gap > 0 {
			p.gapBand(r.y-rowH-breakH+8, r.gap)
			if !r.labelled {
				lastTick = -tickEvery // name the time after every break
			}
		}
		if r.labelled || r.y-lastTick >= tickEvery {
			p.printf("<text class=\"t\" x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>\n", axisRight, r.y, esc(stamp(e.T)))
			lastTick = r.y
		}
		p.event(i, e, r)
	}
	p.printf("</svg>\n")
}

// gapBand draws a cut-out silence of d µs whose band starts at y.
func (p *page) gapBand(y int, d int64) {
	p.printf("<rect x=\"0\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#eaeef2\"/>\n", y, width, breakH-8)
	p.printf("<path d=\"M0 %d %s\" fill=\"none\" stroke=\"#8c959f\"/>\n", y, zigzag(y))
	p.printf("<text class=\"brk\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">⋯ %s without traffic (not to scale) ⋯</text>\n", width/2, y+(breakH-8)/2+4, esc(duration(d)))
}

// zigzag is the break's jagged edge, as a path's continuation from (0, y).
func zigzag(y int) string {
	var b strings.Builder
	for x := 10; x <= width; x += 10 {
		dy := 0
		if x%20 == 10 {
			dy = 4
		}
		fmt.Fprintf(&b, "L%d %d ", x, y+dy)
	}
	return strings.TrimSpace(b.String())
}

// event draws one event's mark, label and note.
func (p *page) event(i int, e trace.Event, r row) {
	b, _ := e.Bytes() // trace.Read checked the hex; bad hex shows as no bytes
	lane, x := "host", hostX
	if e.Dir == trace.DeviceToHost {
		lane, x = "device", deviceX
	}
	if e.Note != "" {
		p.printf("<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#bc4c00\" stroke-dasharray=\"6 4\"/>\n", hostX, r.y+4, deviceX+laneWidth, r.y+4)
		if r.labelled || len(b) == 0 {
			// Right-aligned in the lane the event's bytes leave free.
			nx := deviceX + laneWidth - 8
			if e.Dir == trace.DeviceToHost && len(b) > 0 {
				nx = hostX + laneWidth - 8
			}
			p.printf("<text class=\"note\" x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>\n", nx, r.y, esc(clip(e.Note, 40)))
		}
	}
	if len(b) == 0 {
		return
	}
	label := strings.Join(e.Frames, "  ")
	if label == "" {
		label = Describe(b, p.t.Header.Protocol)
	}
	hover := fmt.Sprintf("#%d at %s, %s, %d bytes", i+1, stamp(e.T), e.Dir, len(b))
	if r.labelled && len([]rune(label)) > labelChars {
		hover += "\n" + label // the label is cut: the hover keeps it whole
	} else if !r.labelled {
		hover += "\n" + label
	}
	hover += "\n" + spacedHex(b, hoverBytes)

	h := rowH - 6
	if !r.labelled {
		h = markRowH
	}
	w := 6 + min(len(b), 60) // wider marks for longer chunks
	p.printf("<g class=\"ev\"><title>%s</title><rect class=\"%s\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" rx=\"1\"/>", esc(hover), lane, x+4, r.y-h+3, w, h)
	if r.labelled {
		p.printf("<text x=\"%d\" y=\"%d\">%s</text>", x+72, r.y, esc(clip(label, labelChars)))
	}
	p.printf("</g>\n")
}

// Describe is a chunk's bytes for a reader when no frames were decoded:
// text with the PMS link-control bytes named, for a chunk that is mostly
// printable, and spaced hex otherwise.
func Describe(b []byte, protocol string) string {
	printable := 0
	for _, c := range b {
		if c >= 0x20 && c < 0x7f || controlName(c, protocol) != "" {
			printable++
		}
	}
	if printable*4 < len(b)*3 { // mostly binary, as PN532 frames are
		return spacedHex(b, len(b))
	}
	var s strings.Builder
	for _, c := range b {
		switch name := controlName(c, protocol); {
		case name != "":
			s.WriteString(name)
		case c >= 0x20 && c < 0x7f:
			s.WriteByte(c)
		default:
			fmt.Fprintf(&s, "‹%02x›", c)
		}
	}
	return s.String()
}

// controlName names the PMS link-control bytes (docs/protocols/pms.md).
func controlName(c byte, protocol string) string {
	if protocol != "" && protocol != "pms" {
		return ""
	}
	switch c {
	case 0x02:
		return "‹STX›"
	case 0x03:
		return "‹ETX›"
	case 0x05:
		return "‹ENQ›"
	case 0x06:
		return "‹ACK›"
	case 0x15:
		return "‹NAK›"
	case 0xB3:
		return "│" // FS, the field separator
	}
	return ""
}

func spacedHex(b []byte, max int) string {
	var s strings.Builder
	for i, c := range b {
		if i == max {
			fmt.Fprintf(&s, " … (%d more)", len(b)-max)
			break
		}
		if i > 0 {
			s.WriteByte(' ')
		}
		fmt.Fprintf(&s, "%02x", c)
	}
	return s.String()
}

// clip cuts s to n characters, marking the cut.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// stamp is an event time for the axis.
func stamp(us int64) string {
	switch {
	case us < 1000:
		return fmt.Sprintf("%d µs", us)
	case us < 10_000_000:
		return fmt.Sprintf("%.3f ms", float64(us)/1e3)
	default:
		return fmt.Sprintf("%.3f s", float64(us)/1e6)
	}
}

// duration is a length of time for people.
func duration(us int64) string {
	switch {
	case us < 1000:
		return fmt.Sprintf("%d µs", us)
	case us < 1_000_000:
		return fmt.Sprintf("%.1f ms", float64(us)/1e3)
	default:
		return fmt.Sprintf("%.2f s", float64(us)/1e6)
	}
}

// esc makes s safe as HTML and XML text or attribute: it escapes markup
// and replaces what XML 1.0 cannot carry (control characters, invalid
// UTF-8) with U+FFFD.
func esc(s string) string {
	clean := strings.Map(func(r rune) rune {
		if r == utf8.RuneError || r < 0x20 && r != '\n' && r != '\t' || r == 0x7f || r == 0xFFFE || r == 0xFFFF {
			return '\uFFFD'
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	return html.EscapeString(clean)
}
