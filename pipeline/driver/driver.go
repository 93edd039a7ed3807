// Package driver defines what the pipeline needs from an encoder protocol:
// a Driver encodes one credential onto the card in an encoder's field over a
// Port, and reports either the card it wrote or an *Error whose Kind says
// what went wrong. One package per protocol implements it (pms, …).
//
// A driver never maps its outcomes onto API error types; pipeline/attempt
// does, so a newer API revision changes one table, not every driver.
//
// What every protocol's link layer does alike lives here too, so that a
// driver keeps only its frame codec and the meaning of its exchanges: a
// FrameReader reads a FrameDecoder's events with deadlines and notices a
// frame that stops part-way; Drain clears stale input; WriteWithin bounds
// a write; WakeOnDone lets a cancelled context wake a blocked call.
package driver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// Port is the byte stream to one encoder: a serial port, a pty, or one end
// of net.Pipe in tests. A read that passes its deadline returns an error
// for which os.IsTimeout (and net.Error.Timeout) is true, never (0, nil).
type Port interface {
	io.ReadWriteCloser
	SetReadDeadline(t time.Time) error
	SetWriteDeadline(t time.Time) error
}

// InputFlusher is a Port that can discard, at once, what it has received
// and not yet read (a serial port's tcflush). Drivers clear stale input
// with it where a port has it, instead of reading until the line is
// quiet, which costs a read deadline on every exchange.
type InputFlusher interface {
	FlushInput() error
}

// Job is the credential data a driver writes onto a card.
type Job struct {
	// CardID is the id the lock system knows the card by: 16 upper-case hex
	// digits derived from the credential.
	CardID string
	// Function is what kind of card it is.
	Function Function
	// StartsAt and EndsAt bound the card's validity; zero means unbounded.
	StartsAt, EndsAt time.Time
	// Label is printed on or stored with the card (a guest's room, say);
	// drivers truncate it to what their protocol carries.
	Label string
}

// Function is the role of a card in the lock system.
type Function string

const (
	Guest Function = "guest"
	Staff Function = "staff"
)

// Card is what an encoder reports about the card it wrote.
type Card struct {
	// Number is the card number the encoder read: the UID in upper-case hex.
	Number string
	// Technology names the card type, e.g. "mifare-classic-1k".
	Technology string
	// CardID is the card id the encoder confirms it wrote.
	CardID string
}

// Driver speaks one encoder protocol.
type Driver interface {
	// Encode writes job onto the card in the encoder's field and returns
	// the card it wrote, or an error. A failure the encoder or the line
	// caused is an *Error. When ctx ends first, Encode tells the encoder
	// to stop (if its protocol can), leaves the line idle and returns an
	// error that wraps ctx.Err().
	Encode(ctx context.Context, p Port, job Job) (Card, error)
}

// Opener is a Driver whose encoders are not on a serial line: it opens
// an encoder's port itself, from the lab's port path (a PC/SC reader's is
// the socket of the pcscd that serves it). The pipeline opens every other
// driver's port as a serial line at the lab's baud rate.
//
// Such a driver may close the port when what it speaks over it is out of
// step (an exchange cut off by ctx's end); the pipeline finds a closed
// port before the next encode and opens the path again.
type Opener interface {
	Open(path string) (Port, error)
}

// Kind says what went wrong, in the protocol-independent terms the
// pipeline maps onto API error types.
type Kind int

const (
	// Device is a general device error, a syntax error it reported, or an
	// answer the driver does not understand.
	Device Kind = iota + 1
	// NoCard: nothing the encoder can use was in its field in time.
	NoCard
	// IncompatibleCard: a card the encoder cannot write, or a card of
	// another system.
	IncompatibleCard
	// CannotOverwrite: the card holds a credential that must not be
	// overwritten.
	CannotOverwrite
	// Interrupted: the card left the field before the write completed.
	Interrupted
	// Busy: the encoder stayed busy through every retry.
	Busy
	// NotAnswering: the encoder did not answer (no ACK, no answer in time).
	NotAnswering
	// Link: the line corrupted frames past the retry limit.
	Link
	// Hangup: the line closed (EOF or EIO); the port must be reopened.
	Hangup
	// SeveralCards: more than one card in the field; none was written.
	SeveralCards
)

var kindNames = map[Kind]string{
	Device:           "device error",
	NoCard:           "no card",
	IncompatibleCard: "incompatible card",
	CannotOverwrite:  "card cannot be overwritten",
	Interrupted:      "encoding interrupted",
	Busy:             "encoder busy",
	NotAnswering:     "encoder not answering",
	Link:             "link failure",
	Hangup:           "line hung up",
	SeveralCards:     "several cards in the field",
}

func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Error is an encode failure the encoder or the line caused.
type Error struct {
	Kind Kind
	// Detail says what happened in the encoder's own terms, e.g.
	// `answer CF "desfire"` or "no ACK to CN after 4 sends".
	Detail string
	// Err is the underlying I/O error, if any.
	Err error
}

func (e *Error) Error() string {
	msg := e.Kind.String()
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error of kind k.
func Errorf(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Detail: fmt.Sprintf(format, args...)}
}

// KindOf returns the Kind of the *Error in err's chain, or 0.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}

// HungUp is the error for a port that failed with something other than a
// timeout during op. EOF, a closed pipe and EIO are the usual hang-ups;
// any other I/O error leaves the port just as unusable, so it is reported
// the same way: the caller closes the port and reopens it.
func HungUp(op string, err error) *Error {
	return &Error{Kind: Hangup, Detail: op, Err: err}
}

// IsTimeout reports a read or write that passed its deadline, as Port
// promises to signal it.
func IsTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// IsContextErr reports an error that says a context ended.
func IsContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// Earlier returns the earlier of deadline and ctx's deadline, and whether
// ctx's was the earlier: a protocol timeout never outlives the caller.
func Earlier(ctx context.Context, deadline time.Time) (time.Time, bool) {
	if cd, ok := ctx.Deadline(); ok && cd.Before(deadline) {
		return cd, true
	}
	return deadline, false
}
