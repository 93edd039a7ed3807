package trace

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestWriteThenRead(t *testing.T) {
	var buf bytes.Buffer
	started := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	w, err := NewWriter(&buf, Header{Protocol: "pms", Device: "/dev/ttyUSB0", Started: started})
	if err != nil {
		t.Fatal(err)
	}
	in := []Event{NewEvent(0, HostToDevice, []byte{0x05}), NewEvent(812, DeviceToHost, []byte{0x06})}
	in[1].Frames = []string{"ACK"}
	for _, e := range in {
		if err := w.Write(e); err != nil {
			t.Fatal(err)
		}
	}
	if want := `{"t_us":812,"dir":"device>host","hex":"06","frames":["ACK"]}`; !strings.Contains(buf.String(), want) {
		t.Errorf("trace text lacks %s:\n%s", want, &buf)
	}
	got, err := Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if got.Header.Trace != Version || got.Header.Protocol != "pms" || !got.Header.Started.Equal(started) {
		t.Errorf("header = %+v", got.Header)
	}
	if len(got.Events) != 2 || got.Events[1].T != 812 || got.Events[1].Frames[0] != "ACK" {
		t.Fatalf("events = %+v", got.Events)
	}
	if b, _ := got.Events[0].Bytes(); !bytes.Equal(b, []byte{0x05}) {
		t.Errorf("event 0 bytes = % x, want 05", b)
	}
}

func TestReadNamesTheBadLine(t *testing.T) {
	head := `{"trace":1,"started":"2026-11-25T10:00:00Z"}` + "\n"
	for name, c := range map[string]struct {
		text string
		line int
	}{
		"empty":          {"", 1},
		"newer version":  {`{"trace":2,"started":"2026-11-25T10:00:00Z"}`, 1},
		"bad direction":  {head + `{"t_us":1,"dir":"sideways","hex":"05"}`, 2},
		"bad hex":        {head + `{"t_us":1,"dir":"host>device","hex":"0g"}`, 2},
		"unknown field":  {head + `{"t_us":1,"dir":"host>device","hex":"05","colour":1}`, 2},
		"time backwards": {head + `{"t_us":9,"dir":"host>device","hex":"05"}` + "\n" + `{"t_us":3,"dir":"device>host","hex":"06"}`, 3},
		"not json":       {head + `t=1 05`, 2},
	} {
		_, err := Read(strings.NewReader(c.text))
		var fe *FormatError
		if !errors.As(err, &fe) || fe.Line != c.line {
			t.Errorf("%s: Read = %v, want a *FormatError at line %d", name, err, c.line)
		}
	}
}
