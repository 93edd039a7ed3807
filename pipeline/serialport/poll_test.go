package serialport_test

import (
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/pipeline/serialport"
)

// waitPoll polls p until want holds or bound passes: bytes written on the
// master reach the slave's input queue asynchronously.
func waitPoll(t *testing.T, p *serialport.Port, want func(readable, hungUp bool) bool) (bool, bool) {
	t.Helper()
	end := time.Now().Add(bound)
	for {
		r, h, err := p.Poll()
		if err != nil {
			t.Fatalf("Poll: %v", err)
		}
		if want(r, h) || time.Now().After(end) {
			return r, h
		}
		<-time.After(time.Millisecond) // polling for the condition, bounded above
	}
}

// TestPoll: a quiet line is neither readable nor hung up; input waiting
// makes it readable; FlushInput discards that input at once; closing the
// other side hangs it up.
func TestPoll(t *testing.T) {
	master, slave := ptyPair(t)
	p := openPort(t, slave.Name(), serialport.Mode{})
	if r, h, err := p.Poll(); err != nil || r || h {
		t.Fatalf("quiet line: Poll() = %v, %v, %v; want false, false, nil", r, h, err)
	}
	if _, err := master.Write([]byte("stale")); err != nil {
		t.Fatal(err)
	}
	if r, _ := waitPoll(t, p, func(r, _ bool) bool { return r }); !r {
		t.Fatal("input written by the device never made the port readable")
	}
	if err := p.FlushInput(); err != nil {
		t.Fatalf("FlushInput: %v", err)
	}
	if r, h, err := p.Poll(); err != nil || r || h {
		t.Errorf("after FlushInput: Poll() = %v, %v, %v; want nothing waiting", r, h, err)
	}
	// What the device sends after the flush still arrives.
	if _, err := master.Write([]byte("new")); err != nil {
		t.Fatal(err)
	}
	readFull(t, "after flush", p, []byte("new"))

	master.Close()
	slave.Close()
	if _, h := waitPoll(t, p, func(_, h bool) bool { return h }); !h {
		t.Error("the line never showed as hung up after the device side closed")
	}
}

// TestPollClosed: a closed port reports an error, not a state.
func TestPollClosed(t *testing.T) {
	_, slave := ptyPair(t)
	p, err := serialport.Open(slave.Name(), serialport.Mode{})
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	if _, _, err := p.Poll(); err == nil {
		t.Error("Poll on a closed port: no error")
	}
	if err := p.FlushInput(); err == nil {
		t.Error("FlushInput on a closed port: no error")
	}
}
