package trace

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func mustFrame(t *testing.T, fields ...string) []byte {
	t.Helper()
	b, err := PMSFrame(fields)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRedactPMS(t *testing.T) {
	r, err := NewRedactor("pms", []string{"label", "card-id"})
	if err != nil {
		t.Fatal(err)
	}
	cn := mustFrame(t, "CN", "01", "9F2C4D1A00000001", "G", "202611251400", "202611281100", "Room 101")
	// Split mid-field: the redactor follows frames across chunks.
	got := append(r.Redact(HostToDevice, cn[:10]), r.Redact(HostToDevice, cn[10:])...)
	if len(got) != len(cn) {
		t.Fatalf("length %d, want %d", len(got), len(cn))
	}
	fields, err := PMSSplit(got)
	if err != nil {
		t.Fatalf("redacted CN does not decode: %v", err)
	}
	want := []string{"CN", "01", "0000000000000000", "G", "202611251400", "202611281100", "xxxxxxxx"}
	if !slices.Equal(fields, want) {
		t.Errorf("CN fields %q, want %q", fields, want)
	}
	ok := mustFrame(t, "OK", "01", "04A1B2C3D4E5F6", "mifare-classic-1k", "9F2C4D1A00000001")
	fields, err = PMSSplit(r.Redact(DeviceToHost, append([]byte{PMSACK}, ok...))[1:])
	if err != nil {
		t.Fatalf("redacted OK does not decode: %v", err)
	}
	if fields[2] != "04A1B2C3D4E5F6" || fields[4] != "0000000000000000" {
		t.Errorf("OK fields %q: want the card number kept and the card id blanked", fields)
	}
	// A frame with a bad LRC stays bad.
	bad := slices.Clone(cn)
	bad[len(bad)-1] ^= 0x55
	if _, err := PMSSplit(r.Redact(HostToDevice, bad)); err == nil {
		t.Error("a frame with a bad LRC decodes after redaction")
	}
	if !bytes.Equal(cn[:3], []byte{PMSSTX, 'C', 'N'}) {
		t.Error("Redact changed its input")
	}
}

func TestRedactPN532(t *testing.T) {
	r, err := NewRedactor("pn532", []string{"keys", "all-data"})
	if err != nil {
		t.Fatal(err)
	}
	frame := func(body ...byte) []byte {
		var sum byte
		for _, c := range body {
			sum += c
		}
		out := []byte{0x00, 0x00, 0xFF, byte(len(body)), -byte(len(body))}
		return append(append(out, body...), -sum, 0x00)
	}
	auth := frame(0xD4, 0x40, 0x01, 0x60, 0x04, 0xA0, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0x01, 0x02, 0x03, 0x04)
	got := r.Redact(HostToDevice, auth)
	d := &pn532Decoder{}
	if f := d.Feed(got); len(f) != 1 || f[0] != "D4 40 01 60 04 00 00 00 00 00 00 01 02 03 04" {
		t.Errorf("redacted auth decodes as %q", f)
	}
	read := frame(0xD5, 0x41, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16)
	if f := d.Feed(r.Redact(DeviceToHost, read)); len(f) != 1 || f[0] != "D5 41 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00" {
		t.Errorf("redacted read decodes as %q", f)
	}
}

func TestRedactorRefuses(t *testing.T) {
	for _, c := range []struct{ proto, field string }{{"", "label"}, {"pms", "keys"}, {"pn532", "label"}, {"x", "label"}} {
		if _, err := NewRedactor(c.proto, []string{c.field}); err == nil {
			t.Errorf("NewRedactor(%q, %q) succeeded", c.proto, c.field)
		}
	}
}

func TestDecodePMS(t *testing.T) {
	d, err := NewDecoder("pms")
	if err != nil {
		t.Fatal(err)
	}
	cn := mustFrame(t, "CN", "01", "9F2C4D1A00000001", "G", "", "202611281100", "Room 101")
	if f := d.Feed(append([]byte{PMSENQ}, cn[:5]...)); !slices.Equal(f, []string{"ENQ"}) {
		t.Errorf("first chunk: %q", f)
	}
	want := `CN 01 9F2C4D1A00000001 G "" 202611281100 "Room 101"`
	if f := d.Feed(cn[5:]); !slices.Equal(f, []string{want}) {
		t.Errorf("second chunk: %q, want %q", f, want)
	}
	toks, err := ParseFields(want)
	if err != nil || len(toks) != 7 || toks[4].Text != "" || !toks[6].Quoted || toks[6].Text != "Room 101" {
		t.Errorf("ParseFields(%q) = %+v, %v", want, toks, err)
	}
	for _, bad := range []string{"", "CN  01", "CN 01 ", `CN "01`, `CN a"b`} {
		if _, err := ParseFields(bad); err == nil {
			t.Errorf("ParseFields(%q) succeeded", bad)
		}
	}
}

// pn532Frame is a normal PN532 frame carrying body, checksums right.
func pn532Frame(body ...byte) []byte {
	var sum byte
	for _, c := range body {
		sum += c
	}
	out := []byte{0x00, 0x00, 0xFF, byte(len(body)), -byte(len(body))}
	return append(append(out, body...), -sum, 0x00)
}

// A sector trailer written with keys redacted keeps its access bits and
// nothing of either key, wherever the chunks split, in the bytes and in
// the decoded frames of the trace; its checksums stay right.
func TestRedactPN532TrailerWrite(t *testing.T) {
	keyA := []byte{0x1A, 0x2B, 0x3C, 0x4D, 0x5E, 0x6F}
	keyB := []byte{0x71, 0x82, 0x93, 0xA4, 0xB5, 0xC6}
	access := []byte{0xFF, 0x07, 0x80, 0x69}
	trailer := slices.Concat(keyA, access, keyB)
	write := func(block byte, data []byte) []byte {
		return pn532Frame(slices.Concat([]byte{0xD4, 0x40, 0x01, 0xA0, block}, data)...)
	}
	zeros := make([]byte, 6)
	blanked := slices.Concat(zeros, access, zeros)
	for _, c := range []struct {
		name  string
		block byte
		want  []byte // the block data in the redacted trace
	}{
		{"1K trailer", 7, blanked},
		{"first trailer", 3, blanked},
		{"4K small-sector trailer", 127, blanked},
		{"4K large-sector trailer", 143, blanked},
		{"4K last trailer", 255, blanked},
		// Data blocks that are not trailers keep their data under keys.
		{"data block", 4, trailer},
		{"4K large-sector data block", 131, trailer},
	} {
		t.Run(c.name, func(t *testing.T) {
			frame := write(c.block, trailer)
			wantFrame := write(c.block, c.want)
			for split := range len(frame) + 1 {
				r, err := NewRedactor("pn532", []string{"keys"})
				if err != nil {
					t.Fatal(err)
				}
				var out bytes.Buffer
				tw, err := NewWriter(&out, Header{Protocol: "pn532"})
				if err != nil {
					t.Fatal(err)
				}
				dec, _ := NewDecoder("pn532")
				var got []byte
				for _, chunk := range [][]byte{frame[:split], frame[split:]} {
					b := r.Redact(HostToDevice, chunk)
					got = append(got, b...)
					e := NewEvent(0, HostToDevice, b)
					e.Frames = dec.Feed(b)
					if err := tw.Write(e); err != nil {
						t.Fatal(err)
					}
				}
				if !bytes.Equal(got, wantFrame) {
					t.Fatalf("split at %d: redacted to % X, want % X", split, got, wantFrame)
				}
				if !slices.Equal(c.want, blanked) {
					continue
				}
				text := strings.ToUpper(out.String())
				for _, key := range [][]byte{keyA, keyB} {
					for _, form := range []string{fmt.Sprintf("%X", key), fmt.Sprintf("% X", key)} {
						if strings.Contains(text, form) {
							t.Fatalf("split at %d: the trace holds key %s:\n%s", split, form, out.String())
						}
					}
				}
				if want := fmt.Sprintf("% X", slices.Concat([]byte{0xD4, 0x40, 0x01, 0xA0, c.block}, c.want)); !strings.Contains(text, `"`+want+`"`) {
					t.Fatalf("split at %d: the trace does not decode the frame as %q (checksum):\n%s", split, want, out.String())
				}
			}
		})
	}
}

// A trailer write with a wrong DCS stays wrong by the same amount, so
// the trace does not make a damaged frame look whole.
func TestRedactPN532TrailerBadChecksum(t *testing.T) {
	r, err := NewRedactor("pn532", []string{"keys"})
	if err != nil {
		t.Fatal(err)
	}
	data := slices.Concat(bytes.Repeat([]byte{0x11}, 6), []byte{0xFF, 0x07, 0x80, 0x69}, bytes.Repeat([]byte{0x22}, 6))
	frame := pn532Frame(slices.Concat([]byte{0xD4, 0x40, 0x01, 0xA0, 0x07}, data)...)
	frame[len(frame)-2]++
	// Body and DCS of a right frame sum to 0: this one's sum to 1.
	sum := func(f []byte) (s byte) {
		for _, c := range f[5 : len(f)-1] {
			s += c
		}
		return s
	}
	got := r.Redact(HostToDevice, frame)
	if s := sum(got); s != 0x01 || !bytes.Equal(got[10:16], make([]byte, 6)) {
		t.Errorf("redacted frame % X: key A not blanked, or body and DCS sum to %02X, want 01 (the original error)", got, s)
	}
}

// A trailer read back answers with the keys the card lets be read: keys
// blanks them and keeps the access bits; a data block read is kept.
func TestRedactPN532TrailerRead(t *testing.T) {
	r, err := NewRedactor("pn532", []string{"keys"})
	if err != nil {
		t.Fatal(err)
	}
	d := &pn532Decoder{}
	data := slices.Concat([]byte{0, 0, 0, 0, 0, 0}, []byte{0xFF, 0x07, 0x80, 0x69}, []byte{0x71, 0x82, 0x93, 0xA4, 0xB5, 0xC6})
	answer := pn532Frame(slices.Concat([]byte{0xD5, 0x41, 0x00}, data)...)
	steps := []struct {
		dir  Direction
		b    []byte
		want string
	}{
		{HostToDevice, pn532Frame(0xD4, 0x40, 0x01, 0x30, 0x07), "D4 40 01 30 07"},
		{DeviceToHost, slices.Concat(PN532ACK, answer), "ACK D5 41 00 00 00 00 00 00 00 FF 07 80 69 00 00 00 00 00 00"},
		// The same bytes read from a data block are data, not keys.
		{HostToDevice, pn532Frame(0xD4, 0x40, 0x01, 0x30, 0x08), "D4 40 01 30 08"},
		{DeviceToHost, answer, "D5 41 00 00 00 00 00 00 00 FF 07 80 69 71 82 93 A4 B5 C6"},
	}
	for i, s := range steps {
		if got := strings.Join(d.Feed(r.Redact(s.dir, s.b)), " "); got != s.want {
			t.Errorf("frame %d decodes as %q, want %q", i, got, s.want)
		}
	}
}

// all-data blanks a trailer whole, access bits too: it is block data.
func TestRedactPN532TrailerAllData(t *testing.T) {
	r, err := NewRedactor("pn532", []string{"all-data"})
	if err != nil {
		t.Fatal(err)
	}
	frame := pn532Frame(slices.Concat([]byte{0xD4, 0x40, 0x01, 0xA0, 0x07}, bytes.Repeat([]byte{0x5A}, 16))...)
	want := pn532Frame(slices.Concat([]byte{0xD4, 0x40, 0x01, 0xA0, 0x07}, make([]byte, 16))...)
	if got := r.Redact(HostToDevice, frame); !bytes.Equal(got, want) {
		t.Errorf("redacted to % X, want % X", got, want)
	}
}
