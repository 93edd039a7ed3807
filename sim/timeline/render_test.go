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

// sample is a short PMS exchange with a long card wait, a hangup and a
// frame label carrying markup.
func sample() *trace.Trace {
	ev := func(t int64, d trace.Direction, b []byte, frames ...string) trace.Event {
		e := trace.NewEvent(t, d, b)
		e.Frames = frames
		return e
	}
	hang := trace.Event{T: 3_400_000, Dir: trace.DeviceToHost, Note: "hangup"}
	return &trace.Trace{
		Header: trace.Header{Trace: trace.Version, Protocol: "pms", Device: "/dev/ttyUSB0",
			Started: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC), Redacted: []string{"pms:label"}},
		Events: []trace.Event{
			ev(0, trace.HostToDevice, []byte{0x05}, "ENQ"),
			ev(812, trace.DeviceToHost, []byte{0x06}, "ACK"),
			ev(1500, trace.HostToDevice, []byte("\x02CN\xb301\x03\x7f"), "CN 01 9F2C4D1A00000001 G 101"),
			ev(2300, trace.DeviceToHost, []byte{0x06}, "ACK #2"),
			ev(3_000_000, trace.DeviceToHost, []byte("\x02OK\x03\x4b"), "OK <script>alert(1)</script>"),
			ev(3_000_900, trace.HostToDevice, []byte{0x06}),
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
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) == 0 {
				continue
			}
			switch stack[len(stack)-1] {
			case "text":
				text = append(text, string(v))
			case "title":
				titles = append(titles, string(v))
			}
		}
	}
	if len(stack) != 0 {
		t.Fatalf("unclosed SVG elements %v", stack)
	}
	return text, titles
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

func TestRenderShowsEveryEventOnceInItsLane(t *testing.T) {
	tr := sample()
	page := render(t, tr, Options{Title: "field report 17", Outcome: "error/no_credential_on_encoder"})
	text, titles := texts(t, svgPart(t, page))

	for _, want := range []string{"ENQ", "ACK", "CN 01 9F2C4D1A00000001 G 101", "ACK #2", "OK <script>alert(1)</script>", "‹ACK›", "hangup"} {
		if n := count(text, want); n != 1 {
			t.Errorf("label %q appears %d times in the SVG text, want once; texts: %q", want, n, text)
		}
	}
	for _, lane := range []string{"host → device", "device → host"} {
		if count(text, lane) != 1 {
			t.Errorf("no lane heading %q", lane)
		}
	}
	// Each chunk with bytes has one mark with its hex on hover.
	if len(titles) != 6 {
		t.Errorf("%d hover titles, want one per chunk (6): %q", len(titles), titles)
	}
	if !strings.Contains(strings.Join(titles, "\n"), "02 43 4e b3 30 31 03 7f") {
		t.Errorf("no hover text carries the CN frame's hex: %q", titles)
	}
	for _, lane := range []string{`class="host"`, `class="device"`} {
		if strings.Count(page, lane) != 3 {
			t.Errorf("%d marks with %s, want 3", strings.Count(page, lane), lane)
		}
	}
	// The 3 s card wait is a break, named with its length.
	if !strings.Contains(strings.Join(text, "\n"), "3.00 s without traffic") {
		t.Errorf("no break for the 3 s silence: %q", text)
	}
	if !strings.Contains(page, "outcome: error/no_credential_on_encoder") || !strings.Contains(page, "pms:label") {
		t.Error("the header lacks the outcome or the redaction")
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
	text, titles := texts(t, svgPart(t, page))
	if len(titles) != n {
		t.Errorf("%d marks with hover text, want %d", len(titles), n)
	}
	if count(text, "frame 499") != 1 || count(text, "frame 500") != 0 {
		t.Error("labels do not stop after the first 500 events")
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
