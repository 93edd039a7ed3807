package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"

	"github.com/encoderlab/encoderlab/internal/linkdir"
	"github.com/encoderlab/encoderlab/sim/card"
	"github.com/encoderlab/encoderlab/sim/fault"
	"github.com/encoderlab/encoderlab/sim/model"
	"github.com/encoderlab/encoderlab/sim/pty"
	"github.com/encoderlab/encoderlab/sim/scenario"
	"github.com/encoderlab/encoderlab/sim/trace"
	"github.com/encoderlab/encoderlab/timescale"
)

// ErrClosed is returned by Hangup on an Encoder that was closed.
var ErrClosed = errors.New("sim: encoder is closed")

// ErrUnplugged is returned by Hangup, Reboot and Unplug on an Encoder
// that was unplugged.
var ErrUnplugged = errors.New("sim: encoder is unplugged")

// Options say where and how encoders run.
type Options struct {
	// LinkDir, when set, is where an encoder publishes its line as a
	// symlink named after its id. It is created (mode 0700) if missing,
	// and refused if another user owns it or may write it. The encoder
	// claims its link's name for as long as it runs (linkdir.Claim): a
	// name another running encoder holds, in this process or another, is
	// refused with a *linkdir.HeldError that names the holder. The claim
	// records Scale, which encoderd compares with its own.
	LinkDir string
	// Scale compresses every device and timeline duration (0: real time).
	Scale timescale.Scale
	// Logger receives the encoders' logs (nil: none).
	Logger *slog.Logger
	// Trace, when set, receives every chunk of bytes the device model
	// reads from or writes to its line, as it happens, and a "hangup"
	// note at each Hangup. Calls are serialised, in time order, from
	// the serving goroutines: Trace must be quick and must not block.
	Trace func(trace.Event)
}

// Encoder is a running virtual encoder. Its methods are safe for
// concurrent use.
type Encoder struct {
	sc    *scenario.Scenario
	cards map[string]*card.Card
	dev   scenario.Device
	serve serveFunc
	scale timescale.Scale
	link  string
	hold  *linkdir.Hold // the link's name, claimed; nil without a link
	log   *slog.Logger
	trace *lineTracer // nil: not traced
	// faults sits between the line (as traced) and the device model, so
	// a trace shows the bytes on the wire, what the host sent and saw.
	faults *fault.Chain // nil: the scenario has none

	// transport opens the model's line; nil: a pty.
	transport func(ctx context.Context) (model.Link, error)

	mu     sync.Mutex
	pair   end
	stop   context.CancelFunc
	done   chan struct{} // closed when the current line's serving ends
	closed bool
	// unplugged: the line is closed for good (Unplug); the device, its
	// cards and counters stay readable until Close.
	unplugged bool
}

var (
	_ scenario.Line         = (*Encoder)(nil)
	_ scenario.StepObserver = (*Encoder)(nil)
)

// Start runs the encoder sc describes: it builds its cards and device
// model, registers the holds its timeline needs, opens its line (a pty,
// or the model's own transport: model.Model.Transport), publishes
// it under opts.LinkDir and serves the device on it until Close. ctx
// bounds the start only.
func Start(ctx context.Context, sc *scenario.Scenario, opts Options) (*Encoder, error) {
	if sc == nil {
		return nil, errors.New("sim: start: no scenario")
	}
	if n := len(sc.AllEncoders()); n > 1 {
		return nil, fmt.Errorf("sim: start: scenario %s has %d encoders: start them together with StartDesk", sc.Name, n)
	}
	cards, err := scenario.Cards(sc)
	if err != nil {
		return nil, fmt.Errorf("sim: start %s: %w", sc.Encoder.ID, err)
	}
	return start(ctx, sc, cards, opts)
}

// start runs the encoder of sc, a one-encoder scenario or one encoder's
// part of a desk (Scenario.On), on cards it may share with others.
func start(ctx context.Context, sc *scenario.Scenario, cards map[string]*card.Card, opts Options) (*Encoder, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sim: start %s: %w", sc.Encoder.ID, err)
	}
	if err := opts.Scale.Validate(); err != nil {
		return nil, fmt.Errorf("sim: start %s: %w", sc.Encoder.ID, err)
	}
	scale := opts.Scale
	if scale == 0 {
		scale = timescale.Real
	}
	id := sc.Encoder.ID
	if id == "" || id == "." || id == ".." || filepath.Base(id) != id {
		return nil, fmt.Errorf("sim: start: encoder id %q cannot name a link", id)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("encoder", id)

	b, err := newModel(sc.Encoder, scale, log)
	if err != nil {
		return nil, fmt.Errorf("sim: start %s: %w", id, err)
	}
	// Holds must be in place before the first byte can arrive.
	scenario.Prepare(sc, b.dev)

	e := &Encoder{sc: sc, cards: cards, dev: b.dev, serve: b.serve, transport: b.transport, scale: scale, log: log}
	if opts.LinkDir != "" {
		e.link = filepath.Join(opts.LinkDir, id)
	}
	if opts.Trace != nil {
		// A device model speaks the protocol of its name; a replay, the
		// protocol of the trace it came from.
		protocol := sc.Encoder.Model
		if protocol == scenario.ReplayModel {
			protocol = sc.Encoder.Protocol
		}
		e.trace = newLineTracer(opts.Trace, protocol)
	}
	if len(sc.Faults) > 0 {
		if e.faults, err = fault.New(sc.Faults, faultTarget{e}, scale, log); err != nil {
			return nil, fmt.Errorf("sim: start %s: %w", id, err)
		}
	}
	if e.link != "" {
		if err := linkdir.Prepare(opts.LinkDir); err != nil {
			return nil, fmt.Errorf("sim: start %s: %w", id, err)
		}
		// The lock file carries the scale, so a server on another one
		// can say so (linkdir.HolderScale).
		if e.hold, err = linkdir.ClaimScaled(e.link, float64(scale)); err != nil {
			return nil, fmt.Errorf("sim: start %s: %w", id, err)
		}
	}
	pair, err := e.open(ctx)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("sim: start %s: %w", id, err), e.hold.Release())
	}
	e.mu.Lock()
	e.run(pair)
	e.mu.Unlock()
	log.Info("encoder up", "model", sc.Encoder.Model, "tty", pair.TTY(), "link", e.link)
	return e, nil
}

// end is an encoder's line: a pty, or what the model's Transport opened.
type end interface {
	// Master is the device's end.
	Master() line
	// TTY is where the host opens the line.
	TTY() string
	// Link publishes path as a symlink to the host's end.
	Link(path string) error
	Close() error
}

// ptyEnd is a pty as an end.
type ptyEnd struct{ *pty.Pair }

func (p ptyEnd) Master() line { return p.Pair.Master() }

// transportEnd is a model.Link as an end.
type transportEnd struct{ l model.Link }

func (t transportEnd) Master() line           { return t.l.Line() }
func (t transportEnd) TTY() string            { return t.l.Path() }
func (t transportEnd) Link(path string) error { return t.l.Publish(path) }
func (t transportEnd) Close() error           { return t.l.Close() }

// open opens a line (a pty, unless the model has a transport of its own)
// and publishes it under the encoder's link.
func (e *Encoder) open(ctx context.Context) (end, error) {
	var pair end
	if e.transport != nil {
		l, err := e.transport(ctx)
		if err != nil {
			return nil, err
		}
		pair = transportEnd{l}
	} else {
		p, err := pty.Open()
		if err != nil {
			return nil, err
		}
		pair = ptyEnd{p}
	}
	if e.link != "" {
		if err := pair.Link(e.link); err != nil {
			return nil, errors.Join(err, pair.Close())
		}
	}
	return pair, nil
}

// run serves the device on pair in a goroutine. e.mu must be held.
func (e *Encoder) run(pair end) {
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	e.pair, e.stop, e.done = pair, stop, done
	conn := pair.Master()
	if e.trace != nil {
		conn = e.trace.wrap(conn)
	}
	if e.faults != nil {
		conn = e.faults.Wrap(ctx, conn)
	}
	go func() {
		defer close(done)
		if err := e.serve(ctx, conn); err != nil && ctx.Err() == nil {
			e.log.Warn("line failed; the encoder no longer answers on it", "tty", pair.TTY(), "err", err)
		}
	}()
}

// halt stops serving the current line and closes it. e.mu must be held.
func (e *Encoder) halt() error {
	e.stop()
	err := e.pair.Close()
	<-e.done
	return err
}

// ID is the encoder's id, its display name in the pipeline.
func (e *Encoder) ID() string { return e.sc.Encoder.ID }

// Model is the name of the encoder's device model.
func (e *Encoder) Model() string { return e.sc.Encoder.Model }

// Scenario is the scenario the encoder runs.
func (e *Encoder) Scenario() *scenario.Scenario { return e.sc }

// Link is the published path of the line, "" without Options.LinkDir.
func (e *Encoder) Link() string { return e.link }

// Path is where a client opens the encoder's line: the link when one is
// published (it follows Hangup), the tty otherwise.
func (e *Encoder) Path() string {
	if e.link != "" {
		return e.link
	}
	return e.TTY()
}

// TTY is where the host opens the current line: a pty slave such as
// /dev/pts/7, or the path a model's transport gives (a pcscd socket).
// Hangup changes it.
func (e *Encoder) TTY() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.pair.TTY()
}

// Device is the encoder's device model.
func (e *Encoder) Device() scenario.Device { return e.dev }

// Card returns the scenario's card with that name, or nil.
func (e *Encoder) Card(name string) *card.Card { return e.cards[name] }

// Play runs the scenario's timeline against the encoder (see scenario.Play).
func (e *Encoder) Play(ctx context.Context) error {
	return scenario.Play(ctx, e.sc, e.cards, e.dev, e, e.scale)
}

// Hangup drops the line as unplugging the encoder would: the client's
// port sees the end of the stream. A new line is published under the same
// link first, so a client that reopens the path reaches the same device,
// with its cards, counters and holds intact. Without a link, the new line
// is at the new TTY.
func (e *Encoder) Hangup(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.usable(ctx, "hang up"); err != nil {
		return err
	}
	next, err := e.open(ctx)
	if err != nil {
		return fmt.Errorf("hang up %s: new line: %w", e.ID(), err)
	}
	old := e.pair.TTY()
	// The link points at the new line now, so closing the old pair
	// leaves it in place.
	if err := e.halt(); err != nil {
		e.log.Warn("closing the old line", "tty", old, "err", err)
	}
	if e.trace != nil {
		e.trace.record(trace.DeviceToHost, nil, "hangup")
	}
	e.run(next)
	e.log.Info("hung up", "old", old, "tty", next.TTY(), "link", e.link)
	return nil
}

// usable says why the line cannot be acted on (verb names the act), or
// nil. e.mu must be held.
func (e *Encoder) usable(ctx context.Context, verb string) error {
	switch {
	case e.closed:
		return fmt.Errorf("%s %s: %w", verb, e.ID(), ErrClosed)
	case e.unplugged:
		return fmt.Errorf("%s %s: %w", verb, e.ID(), ErrUnplugged)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s %s: %w", verb, e.ID(), err)
	}
	return nil
}

// Unplug closes the line for good, as pulling the encoder's cable would:
// the client's port sees the end of the stream and the link goes away,
// so a client that reopens the path finds nothing there. The device, its
// cards and its counters stay readable; the link's name stays claimed
// until Close.
func (e *Encoder) Unplug(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.usable(ctx, "unplug"); err != nil {
		return err
	}
	e.unplugged = true
	err := e.halt()
	if e.trace != nil {
		e.trace.record(trace.DeviceToHost, nil, "unplug")
	}
	e.log.Info("unplugged", "link", e.link)
	if err != nil {
		return fmt.Errorf("unplug %s: %w", e.ID(), err)
	}
	return nil
}

// Reboot restarts the device model on the same line, as power-cycling
// the encoder would without unplugging it: the model's session ends (an
// outstanding command is dropped unanswered, a PN532 chip comes back
// freshly powered) while the cards, counters and holds stay.
func (e *Encoder) Reboot(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.usable(ctx, "reboot"); err != nil {
		return err
	}
	e.stop()
	<-e.done
	if e.trace != nil {
		e.trace.record(trace.DeviceToHost, nil, "reboot")
	}
	e.run(e.pair)
	e.log.Info("rebooted", "tty", e.pair.TTY())
	return nil
}

// StepStarted follows the timeline Play runs, for the scenario's fault
// windows (scenario.StepObserver).
func (e *Encoder) StepStarted(index int) {
	if e.faults != nil {
		e.faults.Step(index)
	}
}

// LiftFaults ends every fault of the scenario (fault.Chain.Lift), so the
// encoder behaves as a healthy one from now on.
func (e *Encoder) LiftFaults() {
	if e.faults != nil {
		e.faults.Lift()
	}
}

// faultTarget is the encoder as event faults see it.
type faultTarget struct{ e *Encoder }

func (t faultTarget) Hangup(ctx context.Context) error { return t.e.Hangup(ctx) }
func (t faultTarget) Reboot(ctx context.Context) error { return t.e.Reboot(ctx) }
func (t faultTarget) Remove(card string) error         { return t.e.dev.Remove(card) }
func (t faultTarget) NAK(n int)                        { t.e.dev.NAK(n) }

// Close stops the encoder: it stops serving, closes the line, removes the
// link and waits for its goroutines. Calls after the first return nil.
func (e *Encoder) Close() error {
	if e.faults != nil {
		e.faults.Close()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	// The link goes before its name is released, so the next holder
	// finds the name free and no link of ours left.
	var err error
	if !e.unplugged {
		err = e.halt()
	}
	if rerr := e.hold.Release(); rerr != nil {
		err = errors.Join(err, rerr)
	}
	if err != nil {
		return fmt.Errorf("close %s: %w", e.ID(), err)
	}
	return nil
}
