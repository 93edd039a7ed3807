package timeline

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/sim/trace"
)

// sample is a short PMS exchange with a long card wait, a hangup, a
// label carrying markup and card ids the recorder blanked out.
func sample() *trace.Trace {
	frame := func(fields ...string) []byte {
		b, err := trace.PMSFrame(fields)
		if err != nil {
			panic(err)
		}
		return b
	}
	hang := trace.Event{T: 3_400_000, Dir: trace.DeviceToHost, Note: "hangup"}
	return &trace.Trace{
		Header: trace.Header{Trace: trace.Version, Protocol: "pms", Device: "/dev/ttyUSB0",
			Started: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC), Redacted: []string{"pms:card-id"}},
		Events: []trace.Event{
			trace.NewEvent(0, trace.HostToDevice, []byte{0x05}),
			trace.NewEvent(812, trace.DeviceToHost, []byte{0x06}),
			trace.NewEvent(1500, trace.HostToDevice, frame("CN", "01", "0000000000000000", "G", "", "", "<script>alert(1)</script>")),
			trace.NewEvent(2300, trace.DeviceToHost, []byte{0x06}),
			trace.NewEvent(3_000_000, trace.DeviceToHost, frame("OK", "01", "04A1B2C3", "mifare-classic-1k", "0000000000000000")),
			trace.NewEvent(3_000_900, trace.HostToDevice, []byte{0x06}),
			hang,
		},
	}
}

func render(t *testing.T, tr *trace.Trace, opts Options) string {
	t.Helper()
	var buf bytes.Buffer
	if err := Render(&buf, tr, opts); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// svgPart is the page's <svg> element, which must be well-formed XML.
func svgPart(t *testing.T, page string) string {
	t.Helper()
	i, j := strings.Index(page, "<svg"), strings.LastIndex(page, "</svg>")
	if i < 0 || j < i {
		t.Fatalf("page has no <svg> element:\n%s", page)
	}
	return page[i : j+len("</svg>")]
}

// texts decodes the SVG and returns the character data of its <text>
// and <title> elements, failing on any XML error.
func texts(t *testing.T, svg string) (text, titles []string) {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(svg))
	var stack []string
	var cur strings.Builder
	inText := 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
		switch v := tok.(type) {
		case xml.StartElement:
			stack = append(stack, v.Name.Local)
			if v.Name.Local == "text" {
				inText++
				cur.Reset()
			}
		case xml.EndElement:
			stack = stack[:len(stack)-1]
			if v.Name.Local == "text" {
				inText--
				text = append(text, cur.String())
			}
		case xml.CharData:
			switch {
			case len(stack) == 0:
			case inText > 0:
				cur.Write(v)
			case stack[len(stack)-1] == "title":
				titles = append(titles, string(v))
			}
		}
	}
	if len(stack) != 0 {
		t.Fatalf("unclosed SVG elements %v", stack)
	}
	return text, titles
}

// frameLabels is the label of every frame mark (<g class="ev">), its
// wrapped lines joined.
func frameLabels(t *testing.T, svg string) []string {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(svg))
	var out []string
	var cur strings.Builder
	inG, inText := false, false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
		switch v := tok.(type) {
		case xml.StartElement:
			switch v.Name.Local {
			case "g":
				inG = true
				cur.Reset()
			case "text":
				inText = true
			}
		case xml.EndElement:
			switch v.Name.Local {
			case "g":
				inG = false
				out = append(out, cur.String())
			case "text":
				inText = false
			}
		case xml.CharData:
			if inG && inText {
				cur.Write(v)
			}
		}
	}
	return out
}

func count(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

func TestRenderShowsEveryFrameOnceInItsLane(t *testing.T) {
	tr := sample()
	page := render(t, tr, Options{Title: "field report 17", Outcome: "error/no_credential_on_encoder"})
	text, titles := texts(t, svgPart(t, page))

	cn := "CN · encode a new card · address 01 · card id ‹redacted› · guest · from none · until none · label \"<script>alert(1)</script>\""
	ok := "OK · done · address 01 · card 04A1B2C3 · technology mifare-classic-1k · card id ‹redacted›"
	labels := frameLabels(t, svgPart(t, page))
	for want, n := range map[string]int{"ENQ": 1, "ACK": 3, cn: 1, ok: 1} {
		if got := count(labels, want); got != n {
			t.Errorf("label %q appears %d times, want %d; labels: %q", want, got, n, labels)
		}
	}
	if count(text, "hangup") != 1 {
		t.Errorf("no hangup note: %q", text)
	}
	for _, lane := range []string{"host → device", "device → host"} {
		if count(text, lane) != 1 {
			t.Errorf("no lane heading %q", lane)
		}
	}
	// Each frame has one mark with its hex on hover.
	if len(titles) != 6 {
		t.Errorf("%d hover titles, want one per frame (6): %q", len(titles), titles)
	}
	if !strings.Contains(strings.Join(titles, "\n"), "02 43 4e b3 30 31 b3") {
		t.Errorf("no hover text carries the CN frame's hex: %q", titles)
	}
	for _, lane := range []string{`rect class="host`, `rect class="device`} {
		if strings.Count(page, lane) != 3 {
			t.Errorf("%d marks with %s, want 3", strings.Count(page, lane), lane)
		}
	}
	// The 3 s card wait is a break, named with its length.
	if !strings.Contains(strings.Join(text, "\n"), "3.00 s without traffic") {
		t.Errorf("no break for the 3 s silence: %q", text)
	}
	if !strings.Contains(page, "outcome: error/no_credential_on_encoder") || !strings.Contains(page, "pms:card-id") {
		t.Error("the header lacks the outcome or the redaction")
	}
	// Redacted fields are marked: their text and their frame's mark.
	if !strings.Contains(page, `<tspan class="red">‹redacted›</tspan>`) || strings.Count(page, `fill="url(#hatch)"`) != 2 {
		t.Error("the redacted card ids are not marked")
	}
	// The legend explains the marks.
	for _, want := range []string{`class="legend"`, "retransmission", "failing exchange", "blanked out by the recorder"} {
		if !strings.Contains(page, want) {
			t.Errorf("the legend lacks %q", want)
		}
	}
}

// TestRenderOneRowPerFrame: a frame that arrives a byte at a time is one
// row with one mark, labelled with its decoded command; the clock starts
// at the first byte; an error status is highlighted, a retransmission
// badged, and the failing exchange drawn.
func TestRenderOneRowPerFrame(t *testing.T) {
	tr := build("pn532", pn532Encode[:25])
	page := render(t, tr, Options{Outcome: "error/uncategorized_error"})
	text, titles := texts(t, svgPart(t, page))
	frames := Decode(tr, "error/uncategorized_error")
	if len(titles) != len(frames) || len(frames) != 25 {
		t.Errorf("%d marks for %d frames of 25 steps (%d events): want one per frame", len(titles), len(frames), len(tr.Events))
	}
	if count(text, "0 µs") != 1 || strings.Contains(strings.Join(text, "\n"), "2000.000 ms") {
		t.Error("the clock does not start at the first byte")
	}
	labels := frameLabels(t, svgPart(t, page))
	for want, n := range map[string]int{
		"InListPassiveTarget answer · NbTg 1 · Tg 1 ATQA 00 04 SAK 08 UID 04 A1 B2 C3":                                                    2, // the poll and the select
		"InDataExchange answer · status 14: MIFARE authentication error":                                                                  1,
		"InDataExchange ↻ retransmission 1 (no ACK) · Tg 1 · MIFARE Write block 4 · data 45 4C 01 47 9F 2C 4D 1A 00 00 00 01 16 64 00 00": 1,
	} {
		if got := count(labels, want); got != n {
			t.Errorf("label %q %d times, want %d; labels: %q", want, got, n, labels)
		}
	}
	if count(text, "failing exchange") != 1 {
		t.Error("the failing exchange is not named")
	}
	if !strings.Contains(page, `<tspan class="status err">status 14: MIFARE authentication error</tspan>`) {
		t.Error("the error status is not highlighted")
	}
	if strings.Count(page, `class="failing"`) != 1 {
		t.Error("the failing exchange is not drawn once")
	}
}

func TestRenderEscapesMarkup(t *testing.T) {
	tr := sample()
	page := render(t, tr, Options{Title: "<b>x</b>", Outcome: `"><script>`})
	if strings.Contains(page, "<script>") || strings.Contains(page, "<b>x") {
		t.Errorf("unescaped markup in the page:\n%s", page)
	}
	if !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("the frame label's markup is not shown escaped")
	}
	// Bytes XML cannot carry, in a label, still give well-formed XML.
	tr.Header.Protocol = ""
	tr.Events[0].Frames = []string{"bad \x00\x01 \xff utf-8"}
	texts(t, svgPart(t, render(t, tr, Options{})))
}

func TestRenderLabelsFallBackToTheBytes(t *testing.T) {
	for _, c := range []struct {
		b        []byte
		protocol string
		want     string
	}{
		{[]byte("\x02OK\xb3x\x03\x4b"), "pms", "‹STX›OK│x‹ETX›K"},
		{[]byte{0x00, 0x00, 0xff, 0x02, 0xfe, 0xd4, 0x02, 0x2a, 0x00}, "pn532", "00 00 ff 02 fe d4 02 2a 00"},
		{[]byte("ATI\x01"), "", "ATI‹01›"},
	} {
		if got := Describe(c.b, c.protocol); got != c.want {
			t.Errorf("Describe(% x, %q) = %q, want %q", c.b, c.protocol, got, c.want)
		}
	}
}

func TestRenderCapsLabelsButKeepsEveryMark(t *testing.T) {
	tr := &trace.Trace{Header: trace.Header{Trace: trace.Version, Protocol: "pms"}}
	const n = 10_000
	for i := range n {
		d := trace.HostToDevice
		if i%2 == 1 {
			d = trace.DeviceToHost
		}
		e := trace.NewEvent(int64(i)*700, d, []byte{0x05})
		e.Frames = []string{fmt.Sprintf("frame %d", i)}
		tr.Events = append(tr.Events, e)
	}
	page := render(t, tr, Options{MaxLabels: 500})
	_, titles := texts(t, svgPart(t, page))
	if len(titles) != n {
		t.Errorf("%d marks with hover text, want %d", len(titles), n)
	}
	if n := count(frameLabels(t, svgPart(t, page)), "ENQ"); n != 500 {
		t.Errorf("%d labels, want them to stop after the first 500 frames", n)
	}
	if len(page) > 5<<20 {
		t.Errorf("page is %d bytes for %d events, want under 5 MiB", len(page), n)
	}
}

func TestRenderNeedsATrace(t *testing.T) {
	if err := Render(io.Discard, nil, Options{}); err == nil {
		t.Error("Render(nil) = nil, want an error")
	}
	// An empty trace is a page saying so, not a failure.
	page := render(t, &trace.Trace{}, Options{})
	texts(t, svgPart(t, page))
	if !strings.Contains(page, "0 over 0 µs") {
		t.Error("an empty trace's page does not say it has no events")
	}
}
