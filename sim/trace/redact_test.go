package trace

import (
	"bytes"
	"slices"
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
