package pms

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// decodeAll feeds in to a fresh decoder and renders every event it
// reports, one string each: "ACK", "NAK", "ENQ", "frame CN|01|…" or
// "bad <reason>".
func decodeAll(in []byte) []string {
	var d decoder
	var out []string
	for _, c := range in {
		ev, ok := d.Feed(c)
		if !ok {
			continue
		}
		out = append(out, render(ev))
	}
	return out
}

func render(ev event) string {
	switch ev.kind {
	case evACK:
		return "ACK"
	case evNAK:
		return "NAK"
	case evENQ:
		return "ENQ"
	case evFrame:
		return "frame " + strings.Join(ev.fields, "|")
	case evBadFrame:
		return "bad " + ev.err.Reason
	}
	return fmt.Sprintf("event %d", ev.kind)
}

func TestAppendFrame(t *testing.T) {
	// Written out from the protocol document's example.
	want := []byte("\x02CN\xB301\xB39F2C4D1A00000001\xB3G\xB3202611251400\xB3202611281100\xB3Room 101\x03\x60")
	got := appendFrame([]byte("prefix"), "CN", "01", "9F2C4D1A00000001", "G", "202611251400", "202611281100", "Room 101")
	if !bytes.HasPrefix(got, []byte("prefix")) {
		t.Fatalf("appendFrame dropped dst: % X", got)
	}
	got = got[len("prefix"):]
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			t.Fatalf("byte %d: got 0x%02x, want 0x%02x\n got % X\nwant % X", i, got[i], want[i], got, want)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("length %d, want %d\n got % X\nwant % X", len(got), len(want), got, want)
	}
}

func TestDecoder(t *testing.T) {
	good := string(appendFrame(nil, "OK", "01", "04A1B2C3", "desfire", "9F2C4D1A00000001"))
	badLRC := good[:len(good)-1] + string(good[len(good)-1]^0x01)
	long := string(appendFrame(nil, "ER", "01", strings.Repeat("x", 250)))
	limit := string(appendFrame(nil, "ER", "01", strings.Repeat("x", 246))) // exactly 255 bytes
	over := string(appendFrame(nil, "ER", "01", strings.Repeat("x", 247)))

	for _, tc := range []struct {
		name string
		in   string
		want []string
	}{
		{"link bytes", "\x06\x15\x05", []string{"ACK", "NAK", "ENQ"}},
		{"frame", good, []string{"frame OK|01|04A1B2C3|desfire|9F2C4D1A00000001"}},
		{"empty fields", string(appendFrame(nil, "CN", "01", "", "")), []string{"frame CN|01||"}},
		{"empty frame", "\x02\x03\x03", []string{"frame "}},
		{"noise around a frame", "\x00abc\xFF" + good + "\x7F\x06", []string{"frame OK|01|04A1B2C3|desfire|9F2C4D1A00000001", "ACK"}},
		{"bad LRC", badLRC, []string{fmt.Sprintf("bad LRC 0x%02X, want 0x%02X", badLRC[len(badLRC)-1], good[len(good)-1])}},
		{"STX restarts", "\x02OK\xB30" + good, []string{"frame OK|01|04A1B2C3|desfire|9F2C4D1A00000001"}},
		{"control byte inside", "\x02OK\x06\x03" + string([]byte{'O' ^ 'K' ^ 0x06 ^ 0x03}), []string{"bad byte 0x06 at offset 3 is not printable"}},
		// The LRC byte is data, even when it has the value of STX or ACK.
		{"LRC equal to STX", "\x02@A\x03\x02", []string{"frame @A"}},
		{"LRC equal to ACK", "\x02@E\x03\x06", []string{"frame @E"}},
		{"at the limit", limit, []string{"frame ER|01|" + strings.Repeat("x", 246)}},
		{"one byte over", over, []string{"bad longer than 255 bytes"}},
		{"over-long", long + "\x06", []string{"bad longer than 255 bytes", "ACK"}},
		{"over-long then STX", "\x02" + strings.Repeat("x", 300) + good, []string{"frame OK|01|04A1B2C3|desfire|9F2C4D1A00000001"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := decodeAll([]byte(tc.in)); !slices.Equal(got, tc.want) {
				t.Errorf("decode % X\n got %q\nwant %q", tc.in, got, tc.want)
			}
		})
	}
	if len(limit) != maxFrame {
		t.Fatalf("limit frame is %d bytes, want %d", len(limit), maxFrame)
	}
}

func TestDecoderAbort(t *testing.T) {
	var d decoder
	for _, c := range []byte("\x02OK\xB301") {
		if _, ok := d.Feed(c); ok {
			t.Fatal("event before the frame ended")
		}
	}
	if !d.InFrame() {
		t.Fatal("inFrame() = false inside a frame")
	}
	ev := d.abort()
	var fe *FrameError
	if ev.kind != evBadFrame || !errors.As(error(ev.err), &fe) || fe.Reason != "missing ETX" {
		t.Fatalf("abort() = %s, want bad missing ETX", render(ev))
	}
	if !bytes.Equal(fe.Frame, []byte("\x02OK\xB301")) {
		t.Errorf("frame = % X, want the bytes received", fe.Frame)
	}
	if d.InFrame() {
		t.Error("inFrame() = true after abort")
	}
	if ev, ok := d.Feed(ack); !ok || ev.kind != evACK {
		t.Error("decoder did not resume after abort")
	}
}

func FuzzDecoder(f *testing.F) {
	f.Add(appendFrame(nil, "OK", "01", "04A1B2C3", "desfire", "9F2C4D1A00000001"))
	f.Add([]byte("\x06\x15\x05\x00\x02\x02\x03"))
	f.Add([]byte("\x02OK\x06\x03\x4F"))
	f.Add(append([]byte("\x02"), bytes.Repeat([]byte("x"), 300)...))
	f.Fuzz(func(t *testing.T, in []byte) {
		var d decoder
		for _, c := range in {
			ev, ok := d.Feed(c)
			if !ok {
				continue
			}
			switch ev.kind {
			case evACK, evNAK, evENQ:
			case evFrame:
				if len(ev.raw) > maxFrame {
					t.Fatalf("frame of %d bytes accepted", len(ev.raw))
				}
				// A frame accepted is exactly the frame its fields make.
				if re := appendFrame(nil, ev.fields...); !bytes.Equal(re, ev.raw) {
					t.Fatalf("fields %q re-encode to % X, received % X", ev.fields, re, ev.raw)
				}
				for _, f := range ev.fields {
					for i := range len(f) {
						if !printable(f[i]) {
							t.Fatalf("field %q holds byte 0x%02X", f, f[i])
						}
					}
				}
			case evBadFrame:
				if ev.err == nil || ev.err.Reason == "" || len(ev.err.Frame) > maxFrame {
					t.Fatalf("bad frame event without a reason or too long: %+v", ev.err)
				}
			default:
				t.Fatalf("unknown event kind %d", ev.kind)
			}
		}
		if d.InFrame() {
			if ev := d.abort(); ev.kind != evBadFrame {
				t.Fatalf("abort() = %s", render(ev))
			}
		}
	})
}
