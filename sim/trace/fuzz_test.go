package trace_test

import (
	"bufio"
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/encoderlab/encoderlab/sim/trace"
)

// FuzzRead reads arbitrary bytes as a trace. A rejection is a
// *trace.FormatError (or a line too long for the reader); a trace
// accepted has only events Read promises (hex bytes, a direction, time
// in order) and reads back the same once written again.
func FuzzRead(f *testing.F) {
	f.Add([]byte(`{"trace":1,"protocol":"pms","started":"2026-11-25T10:00:00Z"}
{"t_us":0,"dir":"host>device","hex":"05"}
{"t_us":812,"dir":"device>host","hex":"06","frames":["ACK"]}
`))
	f.Add([]byte(`{"trace":1,"started":"2026-11-25T10:00:00Z","redacted":["pms:label"],"note":"desk 3"}` + "\n\n" +
		`{"t_us":5,"dir":"device>host","hex":"","note":"hangup"}`))
	f.Add([]byte(`{"trace":2,"started":"2026-11-25T10:00:00Z"}`))
	f.Add([]byte(`{"trace":1,"started":"2026-11-25T10:00:00Z"}
{"t_us":9,"dir":"host>device","hex":"0"}
{"t_us":1,"dir":"sideways","hex":"zz"}`))
	f.Add([]byte(`{"trace":1,"started":"2026-11-25T10:00:00Z","extra":true}`))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, err := trace.Read(bytes.NewReader(data))
		if err != nil {
			if tr != nil {
				t.Fatalf("Read returned a trace and %v", err)
			}
			if _, ok := errors.AsType[*trace.FormatError](err); !ok && !errors.Is(err, bufio.ErrTooLong) {
				t.Fatalf("rejection %v (%T) is not a *trace.FormatError", err, err)
			}
			return
		}
		if tr.Header.Trace != trace.Version {
			t.Fatalf("accepted a trace of version %d", tr.Header.Trace)
		}
		var last int64
		for i, e := range tr.Events {
			if e.Dir != trace.HostToDevice && e.Dir != trace.DeviceToHost {
				t.Fatalf("event %d: direction %q accepted", i, e.Dir)
			}
			if _, err := e.Bytes(); err != nil {
				t.Fatalf("event %d: hex %q accepted: %v", i, e.Hex, err)
			}
			if e.T < last {
				t.Fatalf("event %d at %dµs is before %dµs", i, e.T, last)
			}
			last = e.T
		}

		var buf bytes.Buffer
		w, err := trace.NewWriter(&buf, tr.Header)
		if err != nil {
			t.Fatalf("writing the header back: %v", err)
		}
		for _, e := range tr.Events {
			if err := w.Write(e); err != nil {
				t.Fatalf("writing an event back: %v", err)
			}
		}
		again, err := trace.Read(&buf)
		if err != nil {
			t.Fatalf("a trace written back does not read: %v\n%s", err, buf.Bytes())
		}
		if len(again.Events) != len(tr.Events) {
			t.Fatalf("written back: %d events, read %d", len(again.Events), len(tr.Events))
		}
		for i, e := range again.Events {
			o := tr.Events[i]
			if e.T != o.T || e.Dir != o.Dir || e.Hex != o.Hex || e.Note != o.Note || !slices.Equal(e.Frames, o.Frames) {
				t.Fatalf("event %d written back as %+v, was %+v", i, e, o)
			}
		}
	})
}

// FuzzDecoder feeds arbitrary bytes to a protocol's frame decoder, whole
// and then one byte at a time: the frames must not depend on how the
// bytes were cut into chunks, and no frame text is empty.
func FuzzDecoder(f *testing.F) {
	f.Add(false, []byte("\x05\x02OK\xb301\x03\x4f\x06\x15"))
	f.Add(false, append([]byte("\x02"), bytes.Repeat([]byte("x"), 300)...))
	f.Add(false, []byte("\x02AB\x02CD\x03\x07"))
	f.Add(true, []byte{0x55, 0x55, 0x00, 0x00, 0x00, 0xFF, 0x02, 0xFE, 0xD4, 0x02, 0x2A, 0x00})
	f.Add(true, []byte{0x00, 0xFF, 0x00, 0xFF, 0x00, 0xFF, 0xFF, 0x00})
	f.Add(true, []byte{0x00, 0xFF, 0xFF, 0xFF, 0x01, 0x00, 0xFF, 0xD5})
	f.Add(true, []byte{0x00, 0xFF, 0x03, 0x01, 0xD4, 0x02, 0x2A})
	f.Fuzz(func(t *testing.T, pn532 bool, data []byte) {
		proto := "pms"
		if pn532 {
			proto = "pn532"
		}
		whole, err := trace.NewDecoder(proto)
		if err != nil {
			t.Fatal(err)
		}
		bytewise, err := trace.NewDecoder(proto)
		if err != nil {
			t.Fatal(err)
		}
		got := whole.Feed(data)
		var each []string
		for i := range data {
			each = append(each, bytewise.Feed(data[i:i+1])...)
		}
		if !slices.Equal(got, each) {
			t.Fatalf("%s: fed whole: %q; byte by byte: %q", proto, got, each)
		}
		for i, s := range got {
			if s == "" {
				t.Fatalf("%s: frame %d of %q has no text", proto, i, got)
			}
		}
	})
}
