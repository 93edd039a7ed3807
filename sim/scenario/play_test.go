package scenario_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/sim/card"
	"github.com/encoderlab/encoderlab/sim/scenario"
	"github.com/encoderlab/encoderlab/timescale"
)

// fakeDevice records every call a timeline makes. Commands "arrive" when
// the test calls receive; Await blocks until then, like a device model.
type fakeDevice struct {
	mu       sync.Mutex
	log      []string
	counts   map[string]int
	changed  chan struct{} // closed and replaced whenever counts change
	awaiting chan string   // gets "cmd n" when an Await starts to block
	placed   chan string   // gets the card's name on every Place
	placeErr error
}

var _ scenario.Device = (*fakeDevice)(nil)

func newFake() *fakeDevice {
	return &fakeDevice{counts: map[string]int{}, changed: make(chan struct{}), awaiting: make(chan string, 16), placed: make(chan string, 16)}
}

func (d *fakeDevice) record(format string, args ...any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.log = append(d.log, fmt.Sprintf(format, args...))
}

func (d *fakeDevice) calls() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.log...)
}

func (d *fakeDevice) receive(cmd string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.counts[cmd]++
	close(d.changed)
	d.changed = make(chan struct{})
}

func (d *fakeDevice) Place(c *card.Card) error {
	d.record("place %s", c.Name)
	d.placed <- c.Name
	return d.placeErr
}

func (d *fakeDevice) Remove(name string) error { d.record("remove %s", name); return nil }

func (d *fakeDevice) Await(ctx context.Context, cmd string, n int) error {
	d.record("await %s %d", cmd, n)
	for signalled := false; ; signalled = true {
		d.mu.Lock()
		got, changed := d.counts[cmd], d.changed
		d.mu.Unlock()
		if got >= n {
			return nil
		}
		if !signalled {
			d.awaiting <- fmt.Sprintf("%s %d", cmd, n)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (d *fakeDevice) AwaitAnswer(ctx context.Context, cmd string, n int) error {
	d.record("await answer %s %d", cmd, n)
	return nil
}

func (d *fakeDevice) Hold(cmd string, n int) { d.record("hold %s %d", cmd, n) }
func (d *fakeDevice) Answer(cmd string, n int, answer string) error {
	d.record("answer %s %d %s", cmd, n, answer)
	return nil
}
func (d *fakeDevice) Silence(on bool) { d.record("silence %v", on) }
func (d *fakeDevice) NAK(n int)       { d.record("nak %d", n) }
func (d *fakeDevice) Garble(n int)    { d.record("garble %d", n) }
func (d *fakeDevice) Busy(n int)      { d.record("busy %d", n) }
func (d *fakeDevice) Count(cmd string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.counts[cmd]
}

// fakeLine records hangups in the device's log, so order is checked across both.
type fakeLine struct{ dev *fakeDevice }

func (l fakeLine) Hangup(context.Context) error { l.dev.record("hangup"); return nil }
func (l fakeLine) Unplug(context.Context) error { l.dev.record("unplug"); return nil }

func load(t *testing.T, steps string, tail string) (*scenario.Scenario, map[string]*card.Card) {
	t.Helper()
	s, err := scenario.Load("t.yaml", []byte(head+"steps:\n"+steps+okExpect+tail))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	cards, err := scenario.Cards(s)
	if err != nil {
		t.Fatalf("Cards: %v", err)
	}
	return s, cards
}

// play runs Play in the background and returns its result channel.
func play(ctx context.Context, s *scenario.Scenario, cards map[string]*card.Card, dev *fakeDevice, scale timescale.Scale) <-chan error {
	done := make(chan error, 1)
	go func() { done <- scenario.Play(ctx, s, cards, dev, fakeLine{dev}, scale) }()
	return done
}

// result waits for Play with a generous watchdog, so a hang fails the
// test instead of stalling it.
func result(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("Play did not return within 30s")
		return nil
	}
}

func equal(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("calls:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func TestPlayRunsStepsInOrder(t *testing.T) {
	s, cards := load(t, `  - place: a
  - await: encode
  - reply: valid-user
  - wait: 1h
  - silence: true
  - nak: 1
  - garble: 2
  - busy: 3
  - await: read
  - await: encode
  - remove: a
  - silence: false
  - hangup: true
`, "")
	dev := newFake()
	dev.receive("encode")
	dev.receive("encode")
	dev.receive("read")
	// A scale that turns the hour into nanoseconds: the wait must be scaled.
	err := result(t, play(context.Background(), s, cards, dev, 1e-12))
	if err != nil {
		t.Fatalf("Play: %v", err)
	}
	equal(t, dev.calls(), []string{
		"place a", "await encode 1", "answer encode 1 valid-user", "silence true", "nak 1", "garble 2",
		"busy 3", "await read 1", "await encode 2", "remove a", "silence false", "hangup",
	})
}

func TestPrepareHoldsRepliedCommands(t *testing.T) {
	s, _ := load(t, `  - await: encode
  - await: read
  - reply: no-card
  - await: encode
  - await: encode
  - reply: busy
  - await: cancel
`, "")
	dev := newFake()
	scenario.Prepare(s, dev)
	equal(t, dev.calls(), []string{"hold read 1", "hold encode 3"})

	dev.receive("encode")
	dev.receive("encode")
	dev.receive("encode")
	dev.receive("read")
	dev.receive("cancel")
	if err := result(t, play(context.Background(), s, nil, dev, timescale.Real)); err != nil {
		t.Fatalf("Play: %v", err)
	}
	equal(t, dev.calls()[2:], []string{
		"await encode 1", "await read 1", "answer read 1 no-card", "await encode 2",
		"await encode 3", "answer encode 3 busy", "await cancel 1",
	})
}

func TestPlayAwaitBlocksUntilCommandArrives(t *testing.T) {
	s, cards := load(t, "  - place: a\n  - await: encode\n  - remove: a\n", "")
	dev := newFake()
	done := play(context.Background(), s, cards, dev, timescale.Real)
	select {
	case got := <-dev.awaiting:
		if got != "encode 1" {
			t.Fatalf("awaiting %q, want encode 1", got)
		}
	case err := <-done:
		t.Fatalf("Play returned %v before any command arrived", err)
	}
	select {
	case err := <-done:
		t.Fatalf("Play returned %v while awaiting", err)
	default:
	}
	dev.receive("encode")
	if err := result(t, done); err != nil {
		t.Fatalf("Play: %v", err)
	}
	equal(t, dev.calls(), []string{"place a", "await encode 1", "remove a"})
}

func TestPlayCancelled(t *testing.T) {
	for _, c := range []struct {
		name, steps string
		line        int
		op          scenario.Op
	}{
		{"during wait", "  - place: a\n  - wait: 1h\n  - remove: a\n", 9, scenario.OpWait},
		{"during await", "  - place: a\n  - await: encode\n  - remove: a\n", 9, scenario.OpAwait},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, cards := load(t, c.steps, "")
			dev := newFake()
			ctx, cancel := context.WithCancel(context.Background())
			done := play(ctx, s, cards, dev, timescale.Real)
			// Cancel once the timeline is past its first step, so the
			// second is the one cancelled whichever way the race goes.
			<-dev.placed
			cancel()
			err := result(t, done)
			var se *scenario.StepError
			if !errors.As(err, &se) || !errors.Is(err, context.Canceled) {
				t.Fatalf("Play = %v, want a StepError wrapping context.Canceled", err)
			}
			if se.Step.Op != c.op || se.Step.Line != c.line || se.Step.Index != 1 || se.File != "t.yaml" {
				t.Errorf("StepError step = %+v in %q, want %s at line %d, index 1, in t.yaml", se.Step, se.File, c.op, c.line)
			}
			for _, call := range dev.calls() {
				if call == "remove a" {
					t.Errorf("the step after the cancelled one ran")
				}
			}
		})
	}
}

func TestStepErrorMessage(t *testing.T) {
	s, cards := load(t, "  - place: a\n", "")
	dev := newFake()
	dev.placeErr = errors.New("a card is already on the reader")
	err := result(t, play(context.Background(), s, cards, dev, timescale.Real))
	if !errors.Is(err, dev.placeErr) {
		t.Fatalf("Play = %v, want it to wrap the device's error", err)
	}
	want := `scenario "t.yaml" step 1 (line 8, place a): a card is already on the reader`
	if err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
}

func TestPlayChecksCommands(t *testing.T) {
	s, cards := load(t, "  - place: a\n  - await: encode\n", "commands: {encode: 2, cancel: 0, read: 0}\n")
	dev := newFake()
	dev.receive("encode")
	dev.receive("cancel")
	err := result(t, play(context.Background(), s, cards, dev, timescale.Real))
	var se *scenario.StepError
	var ce *scenario.CountError
	if !errors.As(err, &se) || !errors.As(err, &ce) {
		t.Fatalf("Play = %v, want a StepError with a CountError", err)
	}
	if se.Step.Op != "" {
		t.Errorf("StepError step = %+v, want the end of the timeline", se.Step)
	}
	for _, want := range []string{
		`scenario "t.yaml" after the last step: `,
		"device received 1 cancel command(s), want 0",
		"device received 1 encode command(s), want 2",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Error() = %q, want it to contain %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "read") {
		t.Errorf("Error() = %q names read, whose count matched", err)
	}

	dev.receive("encode")
	if err := scenario.CheckCommands(s, dev); err == nil || !strings.Contains(err.Error(), "cancel") || strings.Contains(err.Error(), "encode") {
		t.Errorf("CheckCommands = %v, want only the cancel mismatch", err)
	}
}

func TestPlayHandMadeScenarioErrors(t *testing.T) {
	cases := []struct {
		name  string
		steps []scenario.Step
		want  error
	}{
		{"reply without await", []scenario.Step{{Op: scenario.OpReply, Answer: "ok"}}, scenario.ErrNoAwait},
		{"unknown card", []scenario.Step{{Op: scenario.OpPlace, Card: "ghost"}}, scenario.ErrNoCard},
		{"remove unknown card", []scenario.Step{{Op: scenario.OpRemove, Card: "ghost"}}, scenario.ErrNoCard},
		{"unknown op", []scenario.Step{{Op: "jump"}}, scenario.ErrUnknownOp},
		{"hangup without line", []scenario.Step{{Op: scenario.OpHangup}}, scenario.ErrNoLine},
		{"unplug without line", []scenario.Step{{Op: scenario.OpUnplug}}, scenario.ErrNoLine},
		{"kill without a system", []scenario.Step{{Op: scenario.OpServer, Act: scenario.ServerKill}}, scenario.ErrNoSystem},
		{"full store without a system", []scenario.Step{{Op: scenario.OpStore, Act: scenario.StoreFull}}, scenario.ErrNoSystem},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := &scenario.Scenario{File: "hand.yaml", Steps: c.steps}
			err := scenario.Play(context.Background(), s, nil, newFake(), nil, timescale.Real)
			var se *scenario.StepError
			if !errors.As(err, &se) || !errors.Is(err, c.want) {
				t.Errorf("Play = %v, want a StepError wrapping %v", err, c.want)
			}
		})
	}
}

// TestPlayWithSystem: server and store steps reach the system given,
// in timeline order, and no encoder.
func TestPlayWithSystem(t *testing.T) {
	s := &scenario.Scenario{File: "sys.yaml", Encoder: scenario.Encoder{ID: "e"}, Steps: []scenario.Step{
		{Op: scenario.OpStore, Act: scenario.StoreFull},
		{Op: scenario.OpServer, Act: scenario.ServerKill},
		{Op: scenario.OpStore, Act: scenario.StoreFree},
		{Op: scenario.OpServer, Act: scenario.ServerStop},
		{Op: scenario.OpServer, Act: scenario.ServerStart},
	}}
	sys := &fakeSystem{}
	dev := newFake()
	if err := scenario.PlayWith(context.Background(), s, nil, map[string]scenario.Station{"e": {Device: dev}}, sys, timescale.Real); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(sys.calls, " "); got != "fill kill free stop start" {
		t.Errorf("the system saw %q; want fill kill free stop start", got)
	}
}

type fakeSystem struct{ calls []string }

func (f *fakeSystem) Kill(context.Context) error {
	f.calls = append(f.calls, "kill")
	return nil
}

func (f *fakeSystem) Stop(context.Context) error {
	f.calls = append(f.calls, "stop")
	return nil
}

func (f *fakeSystem) Start(context.Context) error {
	f.calls = append(f.calls, "start")
	return nil
}

func (f *fakeSystem) FillStore(context.Context) error {
	f.calls = append(f.calls, "fill")
	return nil
}

func (f *fakeSystem) FreeStore(context.Context) error {
	f.calls = append(f.calls, "free")
	return nil
}

// stepLine is a fakeLine that tells the test when each step starts: Play
// calls StepStarted on its own goroutine just before it runs the step.
type stepLine struct {
	fakeLine
	started func(index int)
}

func (l stepLine) StepStarted(i int) {
	if l.started != nil {
		l.started(i)
	}
}

// deskHead is a desk of two PMS encoders, each with commands of its own.
const deskHead = `name: desk
encoders:
  - {model: pms, id: front-desk-1, commands: {encode: 2}}
  - {model: pms, id: front-desk-2, commands: {read: 1, encode: 0}}
cards:
  a: {tech: mifare-classic-1k, uid: 04A224B1C3D4E5}
  b: {tech: mifare-classic-1k, uid: 04A224B1C3D4E6}
credential: {system: visionline-hotel}
`

func loadDesk(t *testing.T, steps string) (*scenario.Scenario, map[string]*card.Card) {
	t.Helper()
	s, err := scenario.Load("desk.yaml", []byte(deskHead+"steps:\n"+steps+okExpect))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	cards, err := scenario.Cards(s)
	if err != nil {
		t.Fatalf("Cards: %v", err)
	}
	return s, cards
}

// playAll runs PlayAll in the background and returns its result channel.
func playAll(ctx context.Context, s *scenario.Scenario, cards map[string]*card.Card, stations map[string]scenario.Station) <-chan error {
	done := make(chan error, 1)
	go func() { done <- scenario.PlayAll(ctx, s, cards, stations, timescale.Real) }()
	return done
}

const deskSteps = `  - place: a
  - {place: b, on: front-desk-2}
  - await: {answer: encode}
  - {await: {answer: encode}, on: front-desk-2}
  - await: {answer: encode}
  - await: {written: a}
  - {await: read, on: front-desk-2}
  - await: {written: a}
  - {unplug: true, on: front-desk-2}
  - remove: a
`

// PlayAll runs each step on the encoder it names: answers are awaited
// with ordinals counted per encoder, a card's writes on the card
// whichever encoder the step names, an unplug on that encoder's line;
// each encoder's commands are checked against its own.
func TestPlayAllDispatchesStepsByEncoder(t *testing.T) {
	s, cards := loadDesk(t, deskSteps)
	one, two := newFake(), newFake()
	one.receive("encode")
	one.receive("encode")
	two.receive("read")
	cards["a"].Write(card.Contents{Kind: card.Guest})
	// Step 7 is the second await of card a's writes.
	atSecondWrite := make(chan struct{})
	stations := map[string]scenario.Station{
		"front-desk-1": {Device: one, Line: fakeLine{one}},
		"front-desk-2": {Device: two, Line: stepLine{fakeLine: fakeLine{two}, started: func(i int) {
			if i == 7 {
				close(atSecondWrite)
			}
		}}},
	}
	done := playAll(context.Background(), s, cards, stations)
	select {
	case <-atSecondWrite:
	case err := <-done:
		t.Fatalf("PlayAll = %v before it reached the second await of a's writes", err)
	case <-time.After(30 * time.Second):
		t.Fatal("PlayAll never reached the second await of a's writes")
	}
	select {
	case err := <-done:
		t.Fatalf("PlayAll = %v with card a written once, want it to await the second write", err)
	default:
	}
	cards["a"].Write(card.Contents{Kind: card.Guest})
	if err := result(t, done); err != nil {
		t.Fatalf("PlayAll: %v", err)
	}
	equal(t, one.calls(), []string{"place a", "await answer encode 1", "await answer encode 2", "remove a"})
	equal(t, two.calls(), []string{"place b", "await answer encode 1", "await read 1", "unplug"})

	// front-desk-2 must have received no encode: one there fails the
	// check, though front-desk-1's two are what front-desk-1 wants.
	two.receive("encode")
	stations["front-desk-2"] = scenario.Station{Device: two, Line: fakeLine{two}}
	err := scenario.PlayAll(context.Background(), s, cards, stations, timescale.Real)
	var se *scenario.StepError
	var ce *scenario.CountError
	if !errors.As(err, &se) || se.Step.Op != "" || !errors.As(err, &ce) {
		t.Fatalf("PlayAll = %v, want a StepError after the last step with a CountError", err)
	}
	if ce.Command != "encode" || ce.Got != 1 || ce.Want != 0 || strings.Count(err.Error(), "command(s)") != 1 {
		t.Errorf("PlayAll = %v, want only front-desk-2's encode count (1, want 0) to fail", err)
	}
}

// The ordinal of an await of a card's writes counts the awaits of that
// card on every encoder: the second, though on another encoder, waits
// for the second write. Cancelled there, Play fails on that step.
func TestPlayAllAwaitsWritesAcrossEncoders(t *testing.T) {
	s, cards := loadDesk(t, `  - place: a
  - await: {written: a}
  - {await: {written: a}, on: front-desk-2}
  - remove: a
`)
	cards["a"].Write(card.Contents{Kind: card.Guest})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	one, two := newFake(), newFake()
	one.receive("encode")
	one.receive("encode")
	two.receive("read")
	stations := map[string]scenario.Station{
		"front-desk-1": {Device: one, Line: fakeLine{one}},
		"front-desk-2": {Device: two, Line: stepLine{fakeLine: fakeLine{two}, started: func(i int) {
			if i == 2 {
				// Before the step runs: a step that does not block
				// (an await already satisfied) lets Play reach the
				// next one, which fails on the ended context.
				cancel()
			}
		}}},
	}
	err := result(t, playAll(ctx, s, cards, stations))
	var se *scenario.StepError
	if !errors.As(err, &se) || !errors.Is(err, context.Canceled) || se.Step.Index != 2 {
		t.Fatalf("PlayAll = %v, want a StepError at step index 2 (the second await of a's writes) wrapping context.Canceled", err)
	}
	if !strings.Contains(err.Error(), `card "a": await write #2 (written 1 times)`) {
		t.Errorf("PlayAll = %v, want the card's own account of the await", err)
	}
}

// A step on an encoder PlayAll was not given fails, naming it, and the
// steps after it do not run.
func TestPlayAllStepOnAnEncoderNotGiven(t *testing.T) {
	s, cards := loadDesk(t, deskSteps)
	one := newFake()
	err := result(t, playAll(context.Background(), s, cards, map[string]scenario.Station{
		"front-desk-1": {Device: one, Line: fakeLine{one}},
	}))
	var se *scenario.StepError
	if !errors.As(err, &se) || !errors.Is(err, scenario.ErrNoEncoder) || se.Step.Index != 1 {
		t.Fatalf("PlayAll = %v, want a StepError at step index 1 wrapping ErrNoEncoder", err)
	}
	if !strings.Contains(err.Error(), `"front-desk-2"`) {
		t.Errorf("PlayAll = %v, want it to name front-desk-2", err)
	}
	equal(t, one.calls(), []string{"place a"})
}
