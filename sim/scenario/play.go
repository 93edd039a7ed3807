package scenario

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/encoderlab/encoderlab/sim/card"
	"github.com/encoderlab/encoderlab/timescale"
)

// StepError is a timeline step that failed, or (Step.Op empty) the final
// check of the commands the device received.
type StepError struct {
	File string
	Step Step
	Err  error
}

func (e *StepError) Error() string {
	if e.Step.Op == "" {
		return fmt.Sprintf("scenario %q after the last step: %v", e.File, e.Err)
	}
	return fmt.Sprintf("scenario %q step %d (line %d, %s): %v", e.File, e.Step.Index+1, e.Step.Line, e.Step, e.Err)
}

func (e *StepError) Unwrap() error { return e.Err }

// CountError is a kind of command the device received a different number
// of times than the scenario's commands say.
type CountError struct {
	Command   string
	Got, Want int
}

func (e *CountError) Error() string {
	return fmt.Sprintf("device received %d %s command(s), want %d", e.Got, e.Command, e.Want)
}

// Errors a timeline can fail with besides the device's own.
var (
	// ErrNoCard is a place or remove step naming a card not in the cards given to Play.
	ErrNoCard = errors.New("no such card")
	// ErrNoAwait is a reply step that does not directly follow an await.
	ErrNoAwait = errors.New("reply without a preceding await")
	// ErrNoLine is a hangup or unplug step played without a line.
	ErrNoLine = errors.New("no line to hang up or unplug")
	// ErrNoEncoder is a step on an encoder the timeline was not given.
	ErrNoEncoder = errors.New("no such encoder")
	// ErrUnknownOp is a step whose operation Play does not know.
	ErrUnknownOp = errors.New("unknown operation")
	// ErrNoSystem is a server or store step played without a system
	// under test to act on (PlayAll, or a target that is not a process).
	ErrNoSystem = errors.New("no system under test to act on: server and store steps need a run that starts the system itself, as a process (encoder-conformance run --target encoderd)")
)

// System is the system under test as a server or store step reaches it.
// A run that starts the system as a process of its own can offer it; an
// in-process pipeline or a server someone else runs cannot.
type System interface {
	// Kill kills the server with SIGKILL and starts it again on the
	// same store and address; it returns once the server serves again.
	Kill(ctx context.Context) error
	// Stop kills the server with SIGKILL and leaves it down; Start
	// starts it again on the same store and address and returns once it
	// serves.
	Stop(ctx context.Context) error
	Start(ctx context.Context) error
	// FillStore fills the file system the store is on to the last byte;
	// FreeStore gives back what FillStore took.
	FillStore(ctx context.Context) error
	FreeStore(ctx context.Context) error
}

// awaitOrdinals numbers each await step among the awaits of the same
// thing on the same encoder (1-based), keyed by step index: the second
// `await: encode` on an encoder waits for its second encode command, the
// second `await: {written: a}` for card a's second write.
func awaitOrdinals(s *Scenario) map[int]int {
	seen := map[[4]string]int{}
	out := map[int]int{}
	for i, st := range s.Steps {
		if st.Op != OpAwait {
			continue
		}
		key := [4]string{s.StepOn(st), st.Awaits, st.Command, st.Card}
		if st.Awaits == AwaitWritten {
			key[0] = "" // a card is written wherever it lies
		}
		seen[key]++
		out[i] = seen[key]
	}
	return out
}

// Prepare tells dev which commands the timeline answers itself: for every
// await directly followed by a reply, dev holds that command instead of
// answering it from its model. Call it before the device starts serving,
// so the model cannot answer first. With several encoders, call it with
// the part of the scenario on dev's encoder (Scenario.On).
func Prepare(s *Scenario, dev Device) {
	n := awaitOrdinals(s)
	for i, st := range s.Steps {
		if st.Op == OpAwait && st.Awaits == AwaitCommand && i+1 < len(s.Steps) && s.Steps[i+1].Op == OpReply {
			dev.Hold(st.Command, n[i])
		}
	}
}

// Station is one encoder of a timeline: its device model and the line
// it sits on (nil: none, so a hangup or unplug step fails).
type Station struct {
	Device Device
	Line   Line
}

// Play runs the timeline of a one-encoder scenario against dev, in order,
// then checks the commands the device received against the encoder's
// commands. Waits are scaled; every blocking step ends when ctx does. A
// failure is a *StepError naming the step.
func Play(ctx context.Context, s *Scenario, cards map[string]*card.Card, dev Device, line Line, scale timescale.Scale) error {
	return PlayAll(ctx, s, cards, map[string]Station{s.Encoder.ID: {Device: dev, Line: line}}, scale)
}

// PlayAll runs the scenario's timeline against its encoders, keyed by
// id, each step on the encoder it names; the cards are shared, as on one
// desk. When the timeline ends it checks each encoder's commands.
func PlayAll(ctx context.Context, s *Scenario, cards map[string]*card.Card, stations map[string]Station, scale timescale.Scale) error {
	return PlayWith(ctx, s, cards, stations, nil, scale)
}

// PlayWith is PlayAll with the system under test that server and store
// steps act on (nil: such a step fails with ErrNoSystem).
func PlayWith(ctx context.Context, s *Scenario, cards map[string]*card.Card, stations map[string]Station, sys System, scale timescale.Scale) error {
	ordinals := awaitOrdinals(s)
	observers := func(i int) {
		for _, id := range slices.Sorted(maps.Keys(stations)) {
			if o, ok := stations[id].Line.(StepObserver); ok {
				o.StepStarted(i)
			}
		}
	}
	for i, st := range s.Steps {
		if err := ctx.Err(); err != nil {
			return &StepError{File: s.File, Step: st, Err: err}
		}
		observers(i)
		if slices.Contains(SystemOps, st.Op) {
			if err := playSystem(ctx, st, sys); err != nil {
				return &StepError{File: s.File, Step: st, Err: err}
			}
			continue
		}
		if slices.Contains(ClientOps, st.Op) {
			if err := playClient(ctx, st, sys); err != nil {
				return &StepError{File: s.File, Step: st, Err: err}
			}
			continue
		}
		station, ok := stations[s.StepOn(st)]
		if !ok {
			return &StepError{File: s.File, Step: st, Err: fmt.Errorf("%w %q", ErrNoEncoder, s.StepOn(st))}
		}
		dev, line := station.Device, station.Line
		var err error
		switch st.Op {
		case OpPlace:
			c, ok := cards[st.Card]
			if !ok {
				err = fmt.Errorf("%w %q", ErrNoCard, st.Card)
				break
			}
			err = dev.Place(c)
		case OpRemove:
			if _, ok := cards[st.Card]; !ok {
				err = fmt.Errorf("%w %q", ErrNoCard, st.Card)
				break
			}
			err = dev.Remove(st.Card)
		case OpWait:
			err = sleep(ctx, scale.Of(st.Duration))
		case OpAwait:
			switch st.Awaits {
			case AwaitAnswer:
				err = dev.AwaitAnswer(ctx, st.Command, ordinals[i])
			case AwaitWritten:
				c, ok := cards[st.Card]
				if !ok {
					err = fmt.Errorf("%w %q", ErrNoCard, st.Card)
					break
				}
				err = c.AwaitWrites(ctx, ordinals[i])
			default:
				err = dev.Await(ctx, st.Command, ordinals[i])
			}
		case OpReply:
			if i == 0 || s.Steps[i-1].Op != OpAwait {
				err = ErrNoAwait
				break
			}
			err = dev.Answer(s.Steps[i-1].Command, ordinals[i-1], st.Answer)
		case OpSilence:
			dev.Silence(st.Silent)
		case OpNAK:
			dev.NAK(st.Count)
		case OpGarble:
			dev.Garble(st.Count)
		case OpBusy:
			dev.Busy(st.Count)
		case OpExpect, OpSend:
			err = playBytes(ctx, s, i, dev)
		case OpHangup:
			if line == nil {
				err = ErrNoLine
				break
			}
			err = line.Hangup(ctx)
		case OpUnplug:
			if line == nil {
				err = ErrNoLine
				break
			}
			err = line.Unplug(ctx)
		default:
			err = fmt.Errorf("%w %q", ErrUnknownOp, st.Op)
		}
		if err != nil {
			return &StepError{File: s.File, Step: st, Err: err}
		}
	}
	observers(len(s.Steps))
	var errs []error
	for _, id := range slices.Sorted(maps.Keys(stations)) {
		dev := stations[id].Device
		errs = append(errs, checkUnread(dev), CheckCommands(s.On(id), dev))
	}
	if err := errors.Join(errs...); err != nil {
		return &StepError{File: s.File, Step: Step{Index: len(s.Steps)}, Err: err}
	}
	return nil
}

// Client is what a credential step acts through: the client that makes
// the scenario's calls (the conformance suite). A System passed to
// PlayWith that is also a Client takes them.
type Client interface {
	// DeleteCredential deletes the scenario's credential through the API.
	DeleteCredential(ctx context.Context) error
}

// ErrNoClient is a credential step played without a Client.
var ErrNoClient = errors.New("no client to act through: a credential step is taken by the client that makes the scenario's calls (encoder-conformance run)")

// playClient takes a credential step through sys, which must be a Client.
func playClient(ctx context.Context, st Step, sys System) error {
	c, ok := sys.(Client)
	if !ok {
		return ErrNoClient
	}
	if st.Op == OpCredential && st.Act == CredentialDelete {
		return c.DeleteCredential(ctx)
	}
	return fmt.Errorf("unknown client step %s", st)
}

// playSystem takes a server or store step on sys.
func playSystem(ctx context.Context, st Step, sys System) error {
	if sys == nil {
		return ErrNoSystem
	}
	switch {
	case st.Op == OpServer && st.Act == ServerKill:
		return sys.Kill(ctx)
	case st.Op == OpServer && st.Act == ServerStop:
		return sys.Stop(ctx)
	case st.Op == OpServer && st.Act == ServerStart:
		return sys.Start(ctx)
	case st.Op == OpStore && st.Act == StoreFull:
		return sys.FillStore(ctx)
	case st.Op == OpStore && st.Act == StoreFree:
		return sys.FreeStore(ctx)
	}
	return fmt.Errorf("%w %s: %q", ErrUnknownOp, st.Op, st.Act)
}

// CheckCommands compares the commands dev received with the commands s's
// encoder must have received and returns a *CountError per kind that
// differs (joined), or nil. Play calls it when the timeline ends; a runner
// calls it again once every encode has ended, to catch commands that
// arrived after the last step. With several encoders, call it with the
// part of the scenario on dev's encoder (Scenario.On).
func CheckCommands(s *Scenario, dev Device) error {
	want := s.Encoder.Commands
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if got := dev.Count(k); got != want[k] {
			errs = append(errs, &CountError{Command: k, Got: got, Want: want[k]})
		}
	}
	return errors.Join(errs...)
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
