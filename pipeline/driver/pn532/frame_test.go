package pn532

import (
	"bytes"
	"testing"
)

func TestAppendFrame(t *testing.T) {
	// GetFirmwareVersion, as UM0701-02 writes it out.
	want := []byte{0x00, 0x00, 0xFF, 0x02, 0xFE, 0xD4, 0x02, 0x2A, 0x00}
	if got := appendFrame(nil, []byte{0x02}); !bytes.Equal(got, want) {
		t.Errorf("frame % X, want % X", got, want)
	}
	long := appendFrame(nil, make([]byte, 300))
	if !bytes.Equal(long[:8], []byte{0x00, 0x00, 0xFF, 0xFF, 0xFF, 0x01, 0x2D, 0xD2}) {
		t.Errorf("extended frame header % X", long[:8])
	}
}

func TestDecoder(t *testing.T) {
	fw := []byte{0x00, 0x00, 0xFF, 0x06, 0xFA, 0xD5, 0x03, 0x32, 0x01, 0x06, 0x07, 0xE8, 0x00}
	badDCS := bytes.Clone(fw)
	badDCS[11] ^= 0x01
	var stream []byte
	stream = append(stream, 0x55, 0x13)                                     // noise
	stream = append(stream, ackFrame...)                                    // ACK
	stream = append(stream, nack...)                                        // NACK
	stream = append(stream, 0x00, 0x00, 0xFF, 0x01, 0xFF, 0x7F, 0x81, 0x00) // error frame
	stream = append(stream, badDCS...)                                      // damaged
	stream = append(stream, 0x00, 0xFF, 0x03, 0x00, 0x01)                   // bad LCS: reported
	stream = append(stream, fw...)
	var d decoder
	var kinds []eventKind
	var last event
	for _, c := range stream {
		if ev, ok := d.Feed(c); ok {
			kinds = append(kinds, ev.kind)
			last = ev
		}
	}
	want := []eventKind{evACK, evNACK, evError, evBad, evBadLen, evInfo}
	if len(kinds) != len(want) {
		t.Fatalf("events %v, want %v", kinds, want)
	}
	for i := range want {
		if kinds[i] != want[i] {
			t.Fatalf("events %v, want %v", kinds, want)
		}
	}
	if last.tfi != 0xD5 || !bytes.Equal(last.data, []byte{0x03, 0x32, 0x01, 0x06, 0x07}) {
		t.Errorf("frame TFI %02X data % X", last.tfi, last.data)
	}
}

func FuzzDecoder(f *testing.F) {
	f.Add(appendFrame(nil, []byte{0x4A, 0x01, 0x00}))
	f.Add(append(bytes.Clone(ackFrame), nack...))
	f.Add(appendFrame(nil, make([]byte, 300)))
	f.Fuzz(func(t *testing.T, in []byte) {
		var d decoder
		for _, c := range in {
			ev, ok := d.Feed(c)
			if !ok {
				continue
			}
			switch ev.kind {
			case evInfo:
				// No frame longer than the chip's buffer is accepted.
				if len(ev.data)+1 > maxBody {
					t.Fatalf("frame of %d bytes accepted", len(ev.data)+1)
				}
			case evBad, evBadLen:
				if ev.err == nil || ev.err.Reason == "" {
					t.Fatal("bad frame without a reason")
				}
			case evACK, evNACK, evError:
			default:
				t.Fatalf("unknown event %d", ev.kind)
			}
		}
	})
}
