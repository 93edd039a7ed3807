package pms

import (
	"bytes"
	"strings"
	"testing"
)

func feedAll(p *parser, b []byte) []event {
	var out []event
	for _, c := range b {
		if ev, ok := p.feed(c); ok {
			out = append(out, ev)
		}
	}
	return out
}

// The worked CN frame of docs/protocols/pms.md ("Worked frames"), its LRC
// (60) included, written out there by hand.
func TestEncodeMatchesTheProtocolExample(t *testing.T) {
	got := encode("CN", "01", "9F2C4D1A00000001", "G", "202611251400", "202611281100", "Room 101")
	want := []byte("\x02CN\xb301\xb39F2C4D1A00000001\xb3G\xb3202611251400\xb3202611281100\xb3Room 101\x03\x60")
	if !bytes.Equal(got, want) {
		t.Fatalf("encode = % X\nwant     % X", got, want)
	}
}

func TestEncodeSanitisesFields(t *testing.T) {
	got := encode("ER", "01", "bad\x02\xb3byte")
	evs := feedAll(&parser{}, got)
	if len(evs) != 1 || evs[0].kind != evFrame {
		t.Fatalf("parse of encoded frame = %+v, want one good frame", evs)
	}
	if f := evs[0].fields; len(f) != 3 || f[2] != "bad??byte" {
		t.Fatalf("fields = %q, want the bad bytes replaced by '?'", f)
	}
	long := encode("ER", "01", strings.Repeat("x", 400))
	if len(long) > maxFrame {
		t.Fatalf("encoded frame is %d bytes, want at most %d", len(long), maxFrame)
	}
	if evs := feedAll(&parser{}, long); len(evs) != 1 || evs[0].kind != evFrame {
		t.Fatalf("over-long answer did not encode to a good frame: %+v", evs)
	}
}

func TestParser(t *testing.T) {
	good := encode("RC", "01")
	badLRC := bytes.Clone(good)
	badLRC[len(badLRC)-1] ^= 0x55
	for _, tc := range []struct {
		name  string
		in    []byte
		kinds []eventKind
	}{
		{"link bytes", []byte{enq, ack, nak}, []eventKind{evENQ, evACK, evNAK}},
		{"noise outside a frame is ignored", append([]byte("hello\r\n\x03\xb3"), good...), []eventKind{evFrame}},
		{"good frame", good, []eventKind{evFrame}},
		{"wrong LRC", badLRC, []eventKind{evBadFrame}},
		{"STX restarts a frame", append([]byte{stx, 'C', 'N', fs}, good...), []eventKind{evFrame}},
		{"control byte inside a frame", []byte{stx, 'R', enq, etx, 'R' ^ enq ^ etx}, []eventKind{evBadFrame}},
		{"over-long frame is NAKed once", append(append([]byte{stx}, bytes.Repeat([]byte{'A'}, 300)...), append([]byte{etx, stx}, good...)...), []eventKind{evBadFrame, evFrame}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evs := feedAll(&parser{}, tc.in)
			if len(evs) != len(tc.kinds) {
				t.Fatalf("got %d events %+v, want kinds %v", len(evs), evs, tc.kinds)
			}
			for i, ev := range evs {
				if ev.kind != tc.kinds[i] {
					t.Errorf("event %d: kind %d (%s), want %d", i, ev.kind, ev.reason, tc.kinds[i])
				}
			}
		})
	}
}

func TestParserFields(t *testing.T) {
	evs := feedAll(&parser{}, encode("CN", "01", "", "G", "", "", ""))
	if len(evs) != 1 || evs[0].kind != evFrame {
		t.Fatalf("events = %+v", evs)
	}
	want := []string{"CN", "01", "", "G", "", "", ""}
	if got := evs[0].fields; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("fields = %q, want %q", got, want)
	}
}

func TestParserAbort(t *testing.T) {
	var p parser
	feedAll(&p, []byte{stx, 'C', 'N'})
	if !p.inFrame() {
		t.Fatal("inFrame = false inside a frame")
	}
	ev, ok := p.abort()
	if !ok || ev.kind != evBadFrame {
		t.Fatalf("abort = %+v, %t; want a bad frame", ev, ok)
	}
	if p.inFrame() {
		t.Fatal("inFrame = true after abort")
	}
	if _, ok := p.abort(); ok {
		t.Fatal("abort outside a frame reported an event")
	}
}

func FuzzParser(f *testing.F) {
	f.Add(encode("CN", "01", "9F2C4D1A00000001", "G", "", "", "x"))
	f.Add([]byte{stx, stx, etx, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var p parser
		for _, ev := range feedAll(&p, b) {
			if ev.kind == evFrame && !bytes.Equal(encode(ev.fields...), ev.raw) {
				t.Fatalf("good frame % X does not re-encode to itself", ev.raw)
			}
			if len(ev.raw) > maxFrame {
				t.Fatalf("frame of %d bytes accepted", len(ev.raw))
			}
		}
	})
}
