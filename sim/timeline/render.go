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

	"github.com/encoderlab/encoderlab/sim/model"
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
	labelChars = 62  // a label line's longest text, in characters
	maxLines   = 4   // a label's most lines; the hover has it whole
	lineH      = 14  // pixels between a label's lines
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
	if opts.Outcome == "" {
		opts.Outcome = t.Header.Outcome
	}
	bw := bufio.NewWriter(w)
	p := &page{w: bw, t: t, opts: opts, frames: Decode(t, opts.Outcome)}
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
	w      *bufio.Writer
	t      *trace.Trace
	opts   Options
	frames []Frame
}

func (p *page) printf(format string, args ...any) { fmt.Fprintf(p.w, format, args...) }

const style = `body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#1b1b1b}
h1{font-size:1.4em;margin:0 0 .3em}
.meta{border-collapse:collapse;margin-bottom:.6em}.meta th{text-align:left;padding:.1em 1em .1em 0;color:#555;font-weight:normal}
.outcome{display:inline-block;padding:.25em .8em;border-radius:4px;font-weight:600;color:#fff;background:#57606a;margin:.3em 0}
.outcome.ok{background:#1a7f37}.outcome.bad{background:#cf222e}
.small{color:#555;font-size:12px}
.legend{font-size:12px;margin:.4em 0;display:flex;flex-wrap:wrap;gap:.3em 1.2em}
.legend .sw{display:inline-block;width:14px;height:10px;margin-right:4px;vertical-align:middle;border:1px solid #999}
.sw.host{background:#0969da}.sw.device{background:#1a7f37}.sw.ctl{background:#8c959f}.sw.errmark{background:#cf222e}
.sw.hatch{background:repeating-linear-gradient(45deg,#fbefff 0 3px,#8250df 3px 5px)}.sw.failing{background:#ffebe9;border:2px solid #cf222e}
.sw.brk{background:#eaeef2}
.legend .err,.err{color:#cf222e}.legend .red,.red{color:#8250df}.rtx{color:#bc4c00;font-weight:600}
svg text{font:12px ui-monospace,Menlo,Consolas,monospace}
svg .lanehead{font:600 13px system-ui,sans-serif}
svg .t{fill:#57606a;font-size:11px}
svg rect.host{fill:#0969da}svg rect.device{fill:#1a7f37}svg rect.ctl{fill:#8c959f}svg rect.errmark{fill:#cf222e}
svg rect.redacted{stroke:#8250df}
svg .lanehead.host{fill:#0969da}svg .lanehead.device{fill:#1a7f37}
svg .name{font-weight:700}svg .ctl{fill:#57606a}svg .other{fill:#57606a;font-style:italic}
svg .err{fill:#cf222e;font-weight:700}svg .status.warn{fill:#9a6700;font-weight:700}svg .ok{fill:#1a7f37}
svg .red{fill:#8250df;font-weight:700}svg .rtx{fill:#bc4c00;font-weight:700}
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
	row("Frames", fmt.Sprintf("%d, one row each", len(p.frames)))
	if n := len(p.t.Events); n > 0 {
		row("Clock", fmt.Sprintf("from the first byte, %s after recording started", duration(p.t.Events[0].T)))
	}
	if len(h.Redacted) > 0 {
		row("Redacted", strings.Join(h.Redacted, ", ")+" (blanked out by the recorder, shown as "+model.RedactedText+")")
	}
	row("Note", h.Note)
	p.printf("</table>\n")
	p.legend()
	if n := len(p.frames); n > p.opts.MaxLabels {
		p.printf("<p class=\"small\">%d frames: the first %d are labelled; every frame has its mark, and hovering it shows its bytes.</p>\n", n, p.opts.MaxLabels)
	}
	p.printf("<p class=\"small\">Time runs down, counted from the first byte. One row per frame, however many chunks it came in; hover a mark for its bytes in hex. Silences longer than %s are cut out and marked.</p>\n", duration(p.opts.Break.Microseconds()))
}

// legend explains the page's marks and colours.
func (p *page) legend() {
	p.printf(`<div class="legend">
<span><i class="sw host"></i>host → device</span>
<span><i class="sw device"></i>device → host</span>
<span><i class="sw ctl"></i>ACK, NACK, ENQ, NAK</span>
<span><i class="sw errmark"></i><b class="err">error</b>: an error status or answer, the error frame, a damaged frame</span>
<span class="rtx">↻ retransmission</span>: a frame sent again after a NAK/NACK or for want of an ACK
<span><i class="sw hatch"></i><b class="red">%s</b>: blanked out by the recorder</span>
<span><i class="sw failing"></i>failing exchange: the last exchange that went wrong in an encode that failed</span>
<span><i class="sw brk"></i>silence cut out</span>
</div>
`, model.RedactedText)
}

// row is one frame's place on the page.
type row struct {
	y        int
	labelled bool
	// gap is the silence cut out before the frame, 0 when none.
	gap int64
	// lines is the label, wrapped; empty when not labelled.
	lines [][]segment
}

// segment is a run of label text with its class ("" for plain).
type segment struct{ class, text string }

// layout places every frame, top to bottom, and returns the places and
// the height below the last.
func (p *page) layout() ([]row, int) {
	rows := make([]row, len(p.frames))
	y := topY
	brk := p.opts.Break.Microseconds()
	var last int64 // the end of everything before
	extra := 0     // the previous label's lines below its first
	for i, f := range p.frames {
		dt := f.Start - last
		if i == 0 || dt < 0 {
			dt = 0
		}
		last = max(last, f.End)
		r := row{labelled: i < p.opts.MaxLabels}
		step := markRowH + extra
		if r.labelled {
			step = rowH + extra
			if f.Kind != KindNote {
				r.lines = wrap(labelSegments(f), labelChars, maxLines)
			}
		}
		extra = 0
		if len(r.lines) > 1 {
			extra = (len(r.lines) - 1) * lineH
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
	return rows, y + rowH + extra
}

func (p *page) svg() {
	rows, height := p.layout()
	p.printf("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"serial timeline\">\n", width, height, width, height)
	p.printf("<defs><pattern id=\"hatch\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#fbefff\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#8250df\" stroke-width=\"2\"/></pattern></defs>\n")
	// Lanes.
	p.printf("<rect x=\"%d\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#f3f8ff\"/>\n", hostX, laneWidth, height)
	p.printf("<rect x=\"%d\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#f2fbf4\"/>\n", deviceX, laneWidth, height)
	p.printf("<text class=\"lanehead host\" x=\"%d\" y=\"18\">host → device</text>\n", hostX+8)
	p.printf("<text class=\"lanehead device\" x=\"%d\" y=\"18\">device → host</text>\n", deviceX+8)
	p.printf("<text class=\"lanehead\" x=\"%d\" y=\"18\" text-anchor=\"end\">time</text>\n", axisRight)
	p.printf("<line x1=\"0\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#d0d7de\"/>\n", topY-8, width, topY-8)

	// The failing exchange: one band behind its rows.
	first, lastRow := -1, -1
	for i, f := range p.frames {
		if f.Failing {
			if first < 0 {
				first = i
			}
			lastRow = i
		}
	}
	if first >= 0 {
		y0, y1 := rows[first].y-rowH+4, rows[lastRow].y+6+max(len(rows[lastRow].lines)-1, 0)*lineH
		p.printf("<rect class=\"failing\" x=\"2\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#ffebe9\" fill-opacity=\"0.7\" stroke=\"#cf222e\" stroke-width=\"2\"/>\n", y0, width-4, y1-y0)
		p.printf("<text class=\"err\" x=\"%d\" y=\"%d\">failing exchange</text>\n", 6, y0+12)
	}

	lastTick := -tickEvery
	for i, f := range p.frames {
		r := rows[i]
		if r.gap > 0 {
			p.gapBand(r.y-rowH-breakH+8, r.gap)
			if !r.labelled {
				lastTick = -tickEvery // name the time after every break
			}
		}
		if r.labelled || r.y-lastTick >= tickEvery {
			p.printf("<text class=\"t\" x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>\n", axisRight, r.y, esc(stamp(f.Start)))
			lastTick = r.y
		}
		p.frame(i, f, r)
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

// frame draws one frame's mark, label and marks.
func (p *page) frame(i int, f Frame, r row) {
	lane, x := "host", hostX
	if f.Dir == trace.DeviceToHost {
		lane, x = "device", deviceX
	}
	if f.Kind == KindNote {
		p.printf("<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#bc4c00\" stroke-dasharray=\"6 4\"/>\n", hostX, r.y+4, deviceX+laneWidth, r.y+4)
		p.printf("<text class=\"note\" x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>\n", deviceX+laneWidth-8, r.y, esc(clip(f.Name, 40)))
		return
	}
	label := f.Text()
	hover := fmt.Sprintf("#%d at %s", i+1, stamp(f.Start))
	if f.End > f.Start {
		hover += " to " + stamp(f.End)
	}
	hover += fmt.Sprintf(", %s, %d bytes in %d chunk(s)\n%s\n%s", f.Dir, len(f.Bytes), len(f.Events), label, spacedHex(f.Bytes, hoverBytes))

	h := rowH - 6
	if !r.labelled {
		h = markRowH
	}
	class := lane
	switch {
	case f.Error:
		class += " errmark"
	case f.Kind == KindControl:
		class += " ctl"
	}
	fill := ""
	if f.Redacted {
		fill = ` fill="url(#hatch)"`
		class += " redacted"
	}
	w := 6 + min(len(f.Bytes), 60) // wider marks for longer frames
	p.printf("<g class=\"ev\"><title>%s</title><rect class=\"%s\"%s x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" rx=\"1\"/>", esc(hover), class, fill, x+4, r.y-h+3, w, h)
	if r.labelled {
		p.label(x+72, r.y, f, r.lines)
	}
	p.printf("</g>\n")
}

// labelSegments is a frame's label: its name in bold, a
// retransmission's badge, the status (red when an error), the detail
// with ‹redacted› highlighted.
func labelSegments(f Frame) []segment {
	segs := []segment{{"name", f.Name}}
	if f.Retransmission > 0 {
		segs = append(segs, segment{"rtx", fmt.Sprintf(" ↻ retransmission %d (%s)", f.Retransmission, f.Why)})
	}
	if f.Status != "" {
		cls := "ok"
		if f.Error {
			cls = "status err"
		} else if f.NoCard {
			cls = "status warn"
		}
		segs = append(segs, segment{"", " · "}, segment{cls, f.Status})
	}
	if f.Detail != "" {
		segs = append(segs, segment{"", " · "})
		for k, part := range strings.Split(f.Detail, model.RedactedText) {
			if k > 0 {
				segs = append(segs, segment{"red", model.RedactedText})
			}
			if part != "" {
				segs = append(segs, segment{"", part})
			}
		}
	}
	return segs
}

// wrap breaks segments into lines of at most width characters, at
// spaces where it can, keeping at most n lines (the last cut with "…").
func wrap(segs []segment, width, n int) [][]segment {
	var lines [][]segment
	var cur []segment
	used := 0
	for _, sg := range segs {
		words := strings.SplitAfter(sg.text, " ")
		for _, w := range words {
			if w == "" {
				continue
			}
			for len([]rune(w)) > 0 {
				room := width - used
				wl := len([]rune(w))
				if wl <= room {
					cur = appendSeg(cur, sg.class, w)
					used += wl
					break
				}
				if used > 0 && wl <= width {
					lines = append(lines, cur)
					cur, used = nil, 0
					continue
				}
				// A word longer than a line: cut it.
				rw := []rune(w)
				cur = appendSeg(cur, sg.class, string(rw[:room]))
				lines = append(lines, cur)
				cur, used, w = nil, 0, string(rw[room:])
			}
		}
	}
	if len(cur) > 0 {
		lines = append(lines, cur)
	}
	if len(lines) > n {
		lines = lines[:n]
		last := lines[n-1]
		lines[n-1] = append(last[:len(last):len(last)], segment{"", "…"})
	}
	return lines
}

func appendSeg(line []segment, class, text string) []segment {
	if k := len(line) - 1; k >= 0 && line[k].class == class {
		line[k].text += text
		return line
	}
	return append(line, segment{class, text})
}

// label writes a frame's wrapped label, one <text> per line.
func (p *page) label(x, y int, f Frame, lines [][]segment) {
	textClass := "lbl"
	switch {
	case f.Error:
		textClass += " err"
	case f.Kind == KindControl:
		textClass += " ctl"
	case f.Kind == KindOther:
		textClass += " other"
	}
	for k, line := range lines {
		p.printf("<text class=\"%s\" x=\"%d\" y=\"%d\">", textClass, x, y+k*lineH)
		for _, sg := range line {
			text := sg.text
			if k == 0 && sg == line[0] {
				text = strings.TrimLeft(text, " ")
			}
			if sg.class == "" {
				p.printf("%s", esc(text))
			} else {
				p.printf("<tspan class=\"%s\">%s</tspan>", sg.class, esc(text))
			}
		}
		p.printf("</text>")
	}
}

// Describe is a chunk's bytes for a reader when no frames were decoded:
// text with the protocol's link-control bytes named
// (model.Timeline.ControlNames), for a chunk that is mostly printable,
// and spaced hex otherwise.
func Describe(b []byte, protocol string) string {
	var names map[byte]string
	if p, ok := model.ProtocolOf(protocol); ok && p.Timeline != nil {
		names = p.Timeline.ControlNames
	}
	printable := 0
	for _, c := range b {
		if c >= 0x20 && c < 0x7f || names[c] != "" {
			printable++
		}
	}
	if printable*4 < len(b)*3 { // mostly binary, as PN532 frames are
		return spacedHex(b, len(b))
	}
	var s strings.Builder
	for _, c := range b {
		switch name := names[c]; {
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
