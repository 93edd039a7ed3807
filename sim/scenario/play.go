package scenario

import (
	"context"
	"errors"
	"fmt"
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
	// ErrNoLine is a hangup step played without a line.
	ErrNoLine = errors.New("no line to hang up")
	// ErrUnknownOp is a step whose operation Play does not know.
	ErrUnknownOp = errors.New("unknown operation")
)

// awaitOrdinals numbers each await step among the awaits of the same
// command (1-based), keyed by step index.
func awaitOrdinals(steps []Step) map[int]int {
	seen := map[string]int{}
	out := map[int]int{}
	for i, st := range steps {
		if st.Op == OpAwait {
			seen[st.Command]++
			out[i] = seen[st.Command]
		}
	}
	return out
}

// Prepare tells dev which commands the timeline answers itself: for every
// await directly followed by a reply, dev holds that command instead of
// answering it from its model. Call it before the device starts serving,
// so the model cannot answer first.
func Prepare(s *Scenario, dev Device) {
	n := awaitOrdinals(s.Steps)
	for i, st := range s.Steps {
		if st.Op == OpAwait && i+1 < len(s.Steps) && s.Steps[i+1].Op == OpReply {
			dev.Hold(st.Command, n[i])
		}
	}
}

// Play runs the scenario's timeline against dev, in order, then checks
// the commands the device received against s.Commands. Waits are scaled;
// every blocking step ends when ctx does. A failure is a *StepError naming
// the step.
func Play(ctx context.Context, s *Scenario, cards map[string]*card.Card, dev Device, line Line, scale timescale.Scale) error {
	ordinals := awaitOrdinals(s.Steps)
	observer, _ := line.(StepObserver)
	for i, st := range s.Steps {
		if err := ctx.Err(); err != nil {
			return &StepError{File: s.File, Step: st, Err: err}
		}
		if observer != nil {
			observer.StepStarted(i)
		}
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
			err = dev.Await(ctx, st.Command, ordinals[i])
		case OpReply:
			if i == 0 || s.Steps[i-1].Op != OpAwait {
				err = ErrNoAwait
				break
			}
			err = dev.Answer(s.Steps[i-1].Command, ordinals[i-1], st.Answer)
		case OpSilence:
			dev.Silence(st.On)
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
		default:
			err = fmt.Errorf("%w %q", ErrUnknownOp, st.Op)
		}
		if err != nil {
			return &StepError{File: s.File, Step: st, Err: err}
		}
	}
	if observer != nil {
		observer.StepStarted(len(s.Steps))
	}
	if err := errors.Join(checkUnread(dev), CheckCommands(s, dev)); err != nil {
		return &StepError{File: s.File, Step: Step{Index: len(s.Steps)}, Err: err}
	}
	return nil
}

// CheckCommands compares the commands dev received with s.Commands and
// returns a *CountError per kind that differs (joined), or nil. Play calls
// it when the timeline ends; a runner calls it again once every encode
// has ended, to catch commands that arrived after the last step.
func CheckCommands(s *Scenario, dev Device) error {
	kinds := make([]string, 0, len(s.Commands))
	for k := range s.Commands {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	var errs []error
	for _, k := range kinds {
		if got, want := dev.Count(k), s.Commands[k]; got != want {
			errs = append(errs, &CountError{Command: k, Got: got, Want: want})
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
