package pn532

import (
	"bytes"
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/sim/card"
)

// FuzzParser feeds arbitrary bytes from the host to the frame parser.
// Every information frame it accepts fits the chip's buffer and is
// exactly the frame its TFI and data make; a bad frame says why.
func FuzzParser(f *testing.F) {
	f.Add([]byte{0x55, 0x55, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0x03, 0xFD, 0xD4, 0x14, 0x01, 0x17, 0x00})
	f.Add([]byte{0x00, 0x00, 0xFF, 0x00, 0xFF, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00})
	f.Add(appendFrame(nil, tfiHost, bytes.Repeat([]byte{0xAB}, 300)))
	f.Add([]byte{0x00, 0xFF, 0xFF, 0xFF, 0x01, 0x09, 0xF6, 0xD4})
	f.Add([]byte{0x00, 0xFF, 0x02, 0xFE, 0xD4, 0x02, 0x00})
	f.Add([]byte{0x00, 0xFF, 0x01, 0xFF, 0x7F, 0x81})
	f.Fuzz(func(t *testing.T, data []byte) {
		var p parser
		for i, c := range data {
			fr, ok := p.feed(c)
			if !ok {
				continue
			}
			switch fr.kind {
			case fkACK, fkNACK, fkError:
			case fkBad:
				if fr.reason == "" {
					t.Fatalf("byte %d: a bad frame without a reason", i)
				}
			case fkInfo:
				if n := 1 + len(fr.data); n > maxData {
					t.Fatalf("byte %d: frame of %d bytes accepted, the chip holds %d", i, n, maxData)
				}
				var again parser
				var got []frame
				for _, c := range appendFrame(nil, fr.tfi, fr.data) {
					if g, ok := again.feed(c); ok {
						got = append(got, g)
					}
				}
				if len(got) != 1 || got[0].kind != fkInfo || got[0].tfi != fr.tfi || !bytes.Equal(got[0].data, fr.data) {
					t.Fatalf("byte %d: frame TFI %02X data % X re-encodes to %+v", i, fr.tfi, fr.data, got)
				}
			default:
				t.Fatalf("byte %d: frame of kind %d", i, fr.kind)
			}
		}
	})
}

// FuzzCommands runs arbitrary command sequences on a chip with a MIFARE
// Classic card in the field. Each command is a length byte, then the
// command code and its parameters. Every answer is one well-formed
// frame: the response to that command, or the syntax error frame.
func FuzzCommands(f *testing.F) {
	seq := func(cmds ...[]byte) []byte {
		var out []byte
		for _, c := range cmds {
			out = append(append(out, byte(len(c))), c...)
		}
		return out
	}
	uid := []byte{1, 2, 3, 4}
	transport := []byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}
	f.Add(seq([]byte{0x02}, []byte{0x14, 0x01}, []byte{0x32, 0x05, 0xFF, 0x01, 0x00}))
	f.Add(seq([]byte{0x4A, 0x01, 0x00}, append(append([]byte{0x40, 0x01, 0x60, 0x04}, transport...), uid...),
		[]byte{0x40, 0x01, 0x30, 0x04}, append([]byte{0x40, 0x01, 0xA0, 0x04}, bytes.Repeat([]byte{0x42}, 16)...)))
	f.Add(seq([]byte{0x4A, 0x02, 0x00}, []byte{0x44, 0x00}, []byte{0x54, 0x01}, []byte{0x52, 0x00}, []byte{0x04}))
	f.Add(seq([]byte{0x60, 0x01, 0x01, 0x10}, []byte{0x42, 0x30, 0x00}, []byte{0x06, 0x63, 0x05}, []byte{0x08, 0x63, 0x05, 0x01}))
	f.Add(seq([]byte{0x00, 0x00, 0xAA}, []byte{0x16, 0x20}, []byte{0x4A, 0x01, 0x03, 0x00}))
	f.Fuzz(func(t *testing.T, data []byte) {
		// A command that never returns is a hang of the serving loop:
		// fail with every goroutine's stack instead of stalling the fuzzer.
		done := make(chan struct{})
		go func() {
			defer close(done)
			runCommands(t, data)
		}()
		select {
		case <-done:
		case <-time.After(hangBound):
			buf := make([]byte, 1<<20)
			t.Fatalf("commands % X still running after %v:\n%s", data, hangBound, buf[:runtime.Stack(buf, true)])
		}
	})
}

// hangBound is how long a fuzzed command sequence may run: far beyond
// what any takes, as nothing in it waits on time.
const hangBound = 10 * time.Second

func runCommands(t *testing.T, data []byte) {
	c, err := card.New("fuzzed", card.MifareClassic1K, "01020304", card.Contents{})
	if err != nil {
		t.Error(err)
		return
	}
	cfg := DefaultConfig()
	cfg.Activation, cfg.WriteTime = 1, 1 // nanoseconds: nothing here waits on time
	d := New(cfg)
	if err := d.Place(c); err != nil {
		t.Error(err)
		return
	}
	ch := newChip(d)
	done, cancel := context.WithCancel(context.Background())
	cancel()
	for len(data) > 1 {
		n := min(int(data[0]), len(data)-1)
		cmd := data[1 : 1+n]
		data = data[1+n:]
		if len(cmd) == 0 {
			continue
		}
		r := ch.handle(cmd[0], cmd[1:])
		out := r.frame
		if r.wait != nil {
			r.wait(done) // returns at once: the host gave up waiting
			out = r.then()
		}
		var p parser
		var got []frame
		for _, b := range out {
			if fr, ok := p.feed(b); ok {
				got = append(got, fr)
			}
		}
		if len(got) != 1 {
			t.Errorf("command % X: answer % X holds %d frames", cmd, out, len(got))
			return
		}
		switch fr := got[0]; {
		case fr.kind == fkError:
		case fr.kind != fkInfo || fr.tfi != tfiChip || len(fr.data) == 0 || fr.data[0] != cmd[0]+1:
			t.Errorf("command % X: answer % X is not its response", cmd, out)
			return
		}
	}
}
