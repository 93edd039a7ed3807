package scenario

import (
	"context"

	"github.com/encoderlab/encoderlab/sim/card"
)

// Device is what a timeline acts on: a device model, seen through the
// physical events and behaviours a scenario can ask for. Command and
// answer names are the protocol-neutral ones in Commands and Answers.
type Device interface {
	// Place puts a card on the reader; an error if one is already there.
	Place(c *card.Card) error
	// Remove takes the named card off the reader; an error if it is not there.
	Remove(name string) error
	// Await blocks until the device has received its n-th (1-based)
	// command of that kind, or ctx ends. It returns at once if that
	// command already arrived.
	Await(ctx context.Context, command string, n int) error
	// AwaitAnswer blocks until the device has sent its answer to its
	// n-th (1-based) command of that kind, or ctx ends. It returns at once
	// if it already has. A command cancelled or dropped with its line has
	// no answer.
	AwaitAnswer(ctx context.Context, command string, n int) error
	// Hold makes the device leave its n-th command of that kind
	// unanswered until Answer is called for it, instead of answering
	// from its model. Play calls Hold for every await followed by a
	// reply, before the device starts serving.
	Hold(command string, n int)
	// Answer answers the held n-th command of that kind.
	Answer(command string, n int, answer string) error
	// Silence stops (true) or resumes (false) every answer, ACKs included.
	Silence(on bool)
	// NAK answers the next n frames received with NAK.
	NAK(n int)
	// Garble corrupts the checksum of the next n frames sent.
	Garble(n int)
	// Busy answers "busy" to the next n encode commands.
	Busy(n int)
	// Count is how many commands of that kind the device has received.
	Count(command string) int
}

// Line is the serial line a device sits on.
type Line interface {
	// Hangup closes the line, as unplugging the encoder would, and
	// reopens it under the same path.
	Hangup(ctx context.Context) error
	// Unplug closes the line for good, as pulling the encoder's cable
	// would: its path goes away and nothing answers there again.
	Unplug(ctx context.Context) error
}
