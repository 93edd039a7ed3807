package replay_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/pipeline/serialport"
	"github.com/encoderlab/encoderlab/sim"
	"github.com/encoderlab/encoderlab/sim/model"
	"github.com/encoderlab/encoderlab/sim/scenario"
	"github.com/encoderlab/encoderlab/sim/timeline"
	"github.com/encoderlab/encoderlab/sim/trace"
)

// A vendor's protocol, registered from outside the simulator as a vendor
// would from its own module: lines of words, each ended by a newline.
// Its frame text is the words: `*` any word, `$name` a captured one.
// Neither sim/scenario nor sim/replay nor sim/timeline knows it.
const vendorProtocol = "acmeline"

func init() {
	model.Register(model.Model{
		Name: vendorProtocol,
		New: func(model.Settings) (model.Device, model.Serve) {
			return nil, func(context.Context, model.Line) error { return nil }
		},
		Protocol: &model.Protocol{
			NewDecoder: func() model.Decoder { return &lineDecoder{} },
			Frames:     lineFrames{},
			Timeline:   &model.Timeline{Units: lineUnits},
		},
	})
}

type lineFrames struct{}

func (lineFrames) Parse(text string, send bool) (model.FrameStep, error) {
	words := strings.Split(text, " ")
	for _, w := range words {
		switch {
		case w == "":
			return nil, fmt.Errorf("frame %q: words are separated by one space", text)
		case w == "*" && send:
			return nil, errors.New("'*' cannot be sent")
		}
	}
	return lineStep(words), nil
}

type lineStep []string

func (s lineStep) Captures() []string {
	var out []string
	for _, w := range s {
		if strings.HasPrefix(w, "$") {
			out = append(out, w[1:])
		}
	}
	return out
}

func (s lineStep) Exact() []byte {
	for _, w := range s {
		if w == "*" || strings.HasPrefix(w, "$") {
			return nil
		}
	}
	return []byte(strings.Join(s, " ") + "\n")
}

func (s lineStep) Render(captures map[string]string) ([]byte, error) {
	out := make([]string, len(s))
	for i, w := range s {
		out[i] = w
		if strings.HasPrefix(w, "$") {
			v, ok := captures[w[1:]]
			if !ok {
				return nil, fmt.Errorf("%s was not captured", w)
			}
			out[i] = v
		}
	}
	return []byte(strings.Join(out, " ") + "\n"), nil
}

func (s lineStep) Match(buf []byte, captures map[string]string) (model.Verdict, int, string) {
	end := bytes.IndexByte(buf, '\n')
	if end < 0 {
		return model.NeedMore, 0, ""
	}
	got := strings.Split(string(buf[:end]), " ")
	if len(got) != len(s) {
		return model.Mismatched, end + 1, fmt.Sprintf("%d words, want %d", len(got), len(s))
	}
	taken := map[string]string{}
	for i, w := range s {
		switch {
		case w == "*":
		case strings.HasPrefix(w, "$"):
			if prev, ok := captures[w[1:]]; ok && prev != got[i] {
				return model.Mismatched, end + 1, fmt.Sprintf("word %d is %q, want %s = %q", i, got[i], w, prev)
			}
			taken[w[1:]] = got[i]
		case w != got[i]:
			return model.Mismatched, end + 1, fmt.Sprintf("word %d is %q, want %q", i, got[i], w)
		}
	}
	for k, v := range taken {
		captures[k] = v
	}
	return model.Matched, end + 1, ""
}

// lineDecoder names each line that ends in a chunk.
type lineDecoder struct{ pending []byte }

func (d *lineDecoder) Feed(b []byte) []string {
	d.pending = append(d.pending, b...)
	var out []string
	for {
		end := bytes.IndexByte(d.pending, '\n')
		if end < 0 {
			return out
		}
		out = append(out, string(d.pending[:end]))
		d.pending = d.pending[end+1:]
	}
}

// lineUnits cuts a direction into its lines: NAK alone asks for the last
// line again, any other is a frame named by its first word.
func lineUnits(b []byte, _ bool, _ map[string]bool) []model.Unit {
	var out []model.Unit
	for start := 0; start < len(b); {
		end := bytes.IndexByte(b[start:], '\n')
		if end < 0 {
			return append(out, model.Unit{Start: start, End: len(b), Kind: model.UnitBad, Name: "partial line", Error: true})
		}
		end += start + 1
		name, detail, _ := strings.Cut(string(b[start:end-1]), " ")
		u := model.Unit{Start: start, End: end, Kind: model.UnitFrame, Name: name, Detail: detail}
		if name == "NAK" {
			u.Kind, u.Link = model.UnitControl, model.LinkNAK
		}
		out = append(out, u)
		start = end
	}
	return out
}

const vendorFile = `name: vendor-line
encoder: {model: replay, protocol: acmeline, id: acme-desk}
credential: {system: visionline-hotel}
steps:
  - expect: {frame: "HELLO $who"}
  - send: {frame: NAK}
  - expect: {frame: "HELLO $who"}
  - send: {frame: "WELCOME $who"}
  - expect: {frame: "BYE *"}
expect: {status: success}
`

// A replay in a vendor's protocol loads, plays on a desk, is traced and
// drawn through the protocol's descriptor alone: the loader accepts the
// protocol because its model registered frame text, the replay model
// renders and matches its frames, the line tracer decodes them and the
// timeline cuts and names them.
func TestVendorProtocolReplays(t *testing.T) {
	if !slices.Contains(scenario.ReplayProtocols(), vendorProtocol) {
		t.Fatalf("ReplayProtocols() = %v, want %s in it", scenario.ReplayProtocols(), vendorProtocol)
	}
	sc, err := scenario.Load("vendor.yaml", []byte(vendorFile))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	tr := &trace.Trace{Header: trace.Header{Trace: trace.Version, Protocol: vendorProtocol}}
	e, err := sim.Start(context.Background(), sc, sim.Options{Trace: func(ev trace.Event) {
		mu.Lock()
		defer mu.Unlock()
		tr.Events = append(tr.Events, ev)
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := e.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	host, err := serialport.Open(e.TTY(), serialport.Mode{})
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	played := make(chan error, 1)
	go func() { played <- e.Play(ctx) }()
	_ = host.SetDeadline(time.Now().Add(10 * time.Second))
	exchange := func(send, want string) {
		t.Helper()
		if _, err := host.Write([]byte(send)); err != nil {
			t.Fatal(err)
		}
		if want == "" {
			return
		}
		got := make([]byte, len(want))
		if _, err := io.ReadFull(host, got); err != nil {
			t.Fatalf("after %q: %v", send, err)
		}
		if string(got) != want {
			t.Fatalf("after %q the device sent %q, want %q", send, got, want)
		}
	}
	exchange("HELLO bob\n", "NAK\n")
	exchange("HELLO bob\n", "WELCOME bob\n")
	exchange("BYE now\n", "")
	if err := <-played; err != nil {
		t.Fatalf("Play: %v", err)
	}

	mu.Lock()
	defer mu.Unlock()
	var decoded []string
	for _, ev := range tr.Events {
		decoded = append(decoded, ev.Frames...)
	}
	if want := []string{"HELLO bob", "NAK", "HELLO bob", "WELCOME bob", "BYE now"}; !slices.Equal(decoded, want) {
		t.Errorf("the trace decodes to %q, want %q", decoded, want)
	}
	var drawn []string
	for _, f := range timeline.Decode(tr, "") {
		drawn = append(drawn, f.Text())
	}
	want := []string{"HELLO · bob", "NAK", "HELLO · bob [retransmission 1, after NAK]", "WELCOME · bob", "BYE · now"}
	if !slices.Equal(drawn, want) {
		t.Errorf("the timeline shows %q, want %q", drawn, want)
	}
}

// The loader reports a vendor's frame text problems where it reports the
// bundled protocols', and offers the vendor's protocol with theirs.
func TestVendorProtocolProblems(t *testing.T) {
	bad := strings.NewReplacer(
		`{frame: "WELCOME $who"}`, `{frame: "WELCOME *"}`,
		`{frame: "BYE *"}`, `{frame: "BYE  now"}`,
	).Replace(vendorFile)
	_, err := scenario.Load("vendor.yaml", []byte(bad))
	for _, want := range []string{
		"vendor.yaml:8:19: step 4: send: '*' cannot be sent",
		`vendor.yaml:9:21: step 5: expect: frame "BYE  now": words are separated by one space`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Load = %v, want %q in it", err, want)
		}
	}
	unknown := strings.Replace(vendorFile, "protocol: acmeline", "protocol: acmeother", 1)
	if _, err := scenario.Load("vendor.yaml", []byte(unknown)); err == nil || !strings.Contains(err.Error(), vendorProtocol) {
		t.Errorf("an unknown protocol: %v, want the registered ones offered, %s among them", err, vendorProtocol)
	}
}
