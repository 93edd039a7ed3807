package sim_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/sim"
	"github.com/encoderlab/encoderlab/sim/trace"
)

// next returns the next traced event, failing after patience.
func next(t *testing.T, events <-chan trace.Event) trace.Event {
	t.Helper()
	select {
	case e := <-events:
		return e
	case <-time.After(patience):
		t.Fatal("no trace event within", patience)
		return trace.Event{}
	}
}

// collect reads traced events until they carry want bytes in direction d.
func collect(t *testing.T, events <-chan trace.Event, d trace.Direction, want []byte) []trace.Event {
	t.Helper()
	var got []trace.Event
	var seen []byte
	for !bytes.Equal(seen, want) {
		e := next(t, events)
		got = append(got, e)
		if e.Dir != d {
			t.Fatalf("event %+v while waiting for % X %s", e, want, d)
		}
		b, err := e.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		seen = append(seen, b...)
		if len(seen) > len(want) {
			t.Fatalf("traced % X %s, want % X", seen, d, want)
		}
	}
	return got
}

func TestTraceRecordsTheLineAcrossAHangup(t *testing.T) {
	events := make(chan trace.Event, 256)
	e := start(t, desk(), sim.Options{LinkDir: t.TempDir(), Scale: 0.01, Trace: func(ev trace.Event) { events <- ev }})

	p := open(t, e.Path())
	ping(t, p)
	var all []trace.Event
	all = append(all, collect(t, events, trace.HostToDevice, []byte{enq})...)
	all = append(all, collect(t, events, trace.DeviceToHost, []byte{ack})...)

	if err := e.Hangup(context.Background()); err != nil {
		t.Fatal(err)
	}
	hang := next(t, events)
	if hang.Note != "hangup" || hang.Hex != "" {
		t.Fatalf("event after Hangup = %+v, want a hangup note without bytes", hang)
	}
	all = append(all, hang)

	p2 := open(t, e.Path())
	write(t, p2, frame("RC", "01"))
	want := append([]byte{ack}, frame("NC", "01")...)
	readN(t, p2, len(want))
	all = append(all, collect(t, events, trace.HostToDevice, frame("RC", "01"))...)
	all = append(all, collect(t, events, trace.DeviceToHost, want)...)

	for i := 1; i < len(all); i++ {
		if all[i].T < all[i-1].T {
			t.Errorf("event %d at %dµs is before event %d at %dµs", i, all[i].T, i-1, all[i-1].T)
		}
	}
	// What was traced is a trace: it writes and reads back.
	var buf bytes.Buffer
	w, err := trace.NewWriter(&buf, trace.Header{Protocol: "pms", Started: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range all {
		if err := w.Write(ev); err != nil {
			t.Fatal(err)
		}
	}
	tr, err := trace.Read(&buf)
	if err != nil {
		t.Fatalf("reading the trace back: %v", err)
	}
	if len(tr.Events) != len(all) {
		t.Fatalf("read back %d events, want %d", len(tr.Events), len(all))
	}
}
