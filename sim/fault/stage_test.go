package fault

import (
	"bytes"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/sim/scenario"
	"github.com/encoderlab/encoderlab/timescale"
)

func run(t *testing.T, s scenario.FaultSpec, in []byte) []piece {
	t.Helper()
	st, err := newStage(s, DeviceToHost, timescale.Real)
	if err != nil {
		t.Fatalf("%s: %v", s.Fault, err)
	}
	return st.apply([]piece{{b: bytes.Clone(in)}})
}

func joined(ps []piece) []byte {
	var out []byte
	for _, p := range ps {
		out = append(out, p.b...)
	}
	return out
}

func TestStages(t *testing.T) {
	in := []byte{0x02, 'O', 'K', 0x03, 0x4B}
	if got := joined(run(t, scenario.FaultSpec{Fault: "drop", N: 2}, in)); !bytes.Equal(got, in[2:]) {
		t.Errorf("drop n=2: got % X", got)
	}
	if got := joined(run(t, scenario.FaultSpec{Fault: "drop", Every: 2}, in)); !bytes.Equal(got, []byte{0x02, 'K', 0x4B}) {
		t.Errorf("drop every=2: got % X", got)
	}
	if got := joined(run(t, scenario.FaultSpec{Fault: "corrupt", AtByte: 1}, in)); got[1] != 'O'^1 || !bytes.Equal(got[2:], in[2:]) {
		t.Errorf("corrupt at_byte=1: got % X", got)
	}
	if ps := run(t, scenario.FaultSpec{Fault: "chunk", N: 2}, in); len(ps) != 3 || !bytes.Equal(joined(ps), in) {
		t.Errorf("chunk n=2: got %d pieces, % X", len(ps), joined(ps))
	}
	if got := joined(run(t, scenario.FaultSpec{Fault: "duplicate", N: 1}, in)); !bytes.Equal(got, append(bytes.Clone(in), in...)) {
		t.Errorf("duplicate: got % X", got)
	}
	if ps := run(t, scenario.FaultSpec{Fault: "silence"}, in); len(ps) != 0 {
		t.Errorf("silence: got %d pieces", len(ps))
	}
	ps := run(t, scenario.FaultSpec{Fault: "baud", Rate: 9600}, in)
	if len(ps) != len(in) || ps[0].wait != 10*time.Second/9600 {
		t.Errorf("baud 9600: got %d pieces, first waits %v", len(ps), ps[0].wait)
	}
	if _, err := newStage(scenario.FaultSpec{Fault: "nonsense"}, DeviceToHost, timescale.Real); err == nil {
		t.Error("an unknown fault built a stage")
	}
}

func TestSeededFaultsRepeat(t *testing.T) {
	in := bytes.Repeat([]byte{0x55}, 64)
	for _, s := range []scenario.FaultSpec{
		{Fault: "corrupt", AtByte: -1, P: 0.3, Seed: 9},
		{Fault: "jitter", D: time.Second, Seed: 9},
	} {
		a, b := run(t, s, in), run(t, s, in)
		if !bytes.Equal(joined(a), joined(b)) || a[0].wait != b[0].wait {
			t.Errorf("%s with one seed gave two results", s.Fault)
		}
	}
}
