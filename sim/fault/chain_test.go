package fault

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/sim/scenario"
	"github.com/encoderlab/encoderlab/timescale"
)

// target records the events a chain makes happen.
type target struct {
	mu     sync.Mutex
	events []string
	fired  chan string
}

func newTarget() *target { return &target{fired: make(chan string, 16)} }

func (t *target) record(e string) {
	t.mu.Lock()
	t.events = append(t.events, e)
	t.mu.Unlock()
	t.fired <- e
}

func (t *target) Hangup(context.Context) error { t.record("hangup"); return nil }
func (t *target) Reboot(context.Context) error { t.record("reboot"); return nil }
func (t *target) Remove(card string) error     { t.record("remove " + card); return nil }
func (t *target) NAK(n int) {
	if n == 0 {
		t.record("nak off")
		return
	}
	t.record("nak")
}

func (t *target) got() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.events...)
}

func newChain(t *testing.T, tg Target, specs ...scenario.FaultSpec) *Chain {
	t.Helper()
	for i := range specs {
		if specs[i].AtByte == 0 && specs[i].Fault != scenario.FaultCorrupt {
			specs[i].AtByte = -1
		}
	}
	c, err := New(specs, tg, timescale.Real, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// silenced reports whether the chain drops a byte going device>host now.
func silenced(c *Chain) bool { return len(c.transform(DeviceToHost, []byte{0x06})) == 0 }

func TestStepWindows(t *testing.T) {
	// Step indexes are 0-based as Play reports them; windows are 1-based.
	cases := []struct {
		spec scenario.FaultSpec
		want []bool // silenced before the timeline, then at steps 0, 1, 2, and after the end (3)
	}{
		{scenario.FaultSpec{Fault: "silence"}, []bool{true, true, true, true, true}},
		{scenario.FaultSpec{Fault: "silence", AtStep: 2}, []bool{false, false, true, false, false}},
		{scenario.FaultSpec{Fault: "silence", FromStep: 2}, []bool{false, false, true, true, true}},
	}
	for _, c := range cases {
		ch := newChain(t, newTarget(), c.spec)
		got := []bool{silenced(ch)}
		for i := range 4 {
			ch.Step(i)
			got = append(got, silenced(ch))
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%+v: silenced %v, want %v", c.spec, got, c.want)
				break
			}
		}
	}
}

func TestDirection(t *testing.T) {
	ch := newChain(t, newTarget(), scenario.FaultSpec{Fault: "silence", Dir: scenario.HostToDevice})
	if len(ch.transform(HostToDevice, []byte{1})) != 0 {
		t.Error("host>device silence let a host byte through")
	}
	if silenced(ch) {
		t.Error("host>device silence dropped a device byte")
	}
}

func TestAfterWindow(t *testing.T) {
	ch := newChain(t, newTarget(), scenario.FaultSpec{Fault: "silence", After: time.Hour})
	ch.Step(0)
	if silenced(ch) {
		t.Error("a fault an hour after the start is active at once")
	}
	// Pretend the hour has passed: the window counts from the start.
	ch.mu.Lock()
	ch.started = ch.started.Add(-time.Hour)
	ch.mu.Unlock()
	if !silenced(ch) {
		t.Error("a fault an hour after the start is not active an hour later")
	}
	ch2 := newChain(t, newTarget(), scenario.FaultSpec{Fault: "silence", After: time.Nanosecond})
	if silenced(ch2) {
		t.Error("an after window opened before the timeline started")
	}
}

func TestLift(t *testing.T) {
	tg := newTarget()
	ch := newChain(t, tg, scenario.FaultSpec{Fault: "silence"}, scenario.FaultSpec{Fault: "nak-storm", N: 3})
	ch.Step(0)
	ch.Lift()
	if silenced(ch) {
		t.Error("a lifted silence still drops bytes")
	}
	if got := tg.got(); len(got) != 2 || got[0] != "nak" || got[1] != "nak off" {
		t.Errorf("events %v, want a storm then its end", got)
	}
}

func TestEventsFireOnce(t *testing.T) {
	tg := newTarget()
	ch := newChain(t, tg,
		scenario.FaultSpec{Fault: "reboot"},
		scenario.FaultSpec{Fault: "hangup", AtStep: 2},
		scenario.FaultSpec{Fault: "card-removed", Card: "blank", FromStep: 3},
	)
	want := [][]string{
		{"reboot"},                           // the whole run: at the start
		{"reboot", "hangup"},                 // step 2
		{"reboot", "hangup", "remove blank"}, // step 3
		{"reboot", "hangup", "remove blank"}, // the end: nothing more
	}
	for i, w := range want {
		ch.Step(i)
		// Step-windowed events happen before Step returns.
		if got := tg.got(); !slices.Equal(got, w) {
			t.Fatalf("after step %d: events %v, want %v", i, got, w)
		}
	}
	// Going back over a step (a second Play) does not repeat them.
	ch.Step(1)
	ch.Step(2)
	if got := tg.got(); len(got) != 3 {
		t.Errorf("events repeated: %v", got)
	}
}

func TestAfterEventFiresOnce(t *testing.T) {
	tg := newTarget()
	ch := newChain(t, tg, scenario.FaultSpec{Fault: "reboot", After: time.Millisecond})
	ch.Step(0)
	ch.Step(1)
	select {
	case e := <-tg.fired:
		if e != "reboot" {
			t.Fatalf("fired %q, want reboot", e)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("an after event did not fire")
	}
	ch.Step(0) // a new timeline start arms nothing again
	ch.Close()
	if got := tg.got(); len(got) != 1 {
		t.Errorf("events %v, want one reboot", got)
	}
}

func TestClosedChainFiresNothing(t *testing.T) {
	tg := newTarget()
	ch := newChain(t, tg, scenario.FaultSpec{Fault: "hangup", AtStep: 1})
	ch.Close()
	ch.Step(0)
	if got := tg.got(); len(got) != 0 {
		t.Errorf("a closed chain made %v happen", got)
	}
}

func TestBadSpecs(t *testing.T) {
	for _, s := range []scenario.FaultSpec{
		{Fault: "latency"},
		{Fault: "drop"},
		{Fault: "chunk"},
		{Fault: "baud"},
		{Fault: "corrupt", AtByte: -1, P: 2},
		{Fault: "nak-storm"},
		{Fault: "card-removed"},
		{Fault: "gremlins", AtByte: -1},
	} {
		if _, err := New([]scenario.FaultSpec{s}, newTarget(), timescale.Real, nil); err == nil {
			t.Errorf("New accepted %+v", s)
		}
	}
	if _, err := New([]scenario.FaultSpec{{Fault: "hangup"}}, nil, timescale.Real, nil); err == nil {
		t.Error("New accepted an event with no target")
	}
}
