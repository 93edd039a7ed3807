package pms

import (
	"fmt"
	"time"

	"github.com/encoderlab/encoderlab/timescale"
)

// Timing holds the host's protocol timeouts (docs/protocols/pms.md,
// "Timing").
type Timing struct {
	// Ack is T_ack: how long to wait for ACK after sending a frame or ENQ.
	Ack time.Duration
	// Answer is T_answer: how long to wait for the answer once the
	// command was ACKed. It must exceed the device's T_card + T_write.
	Answer time.Duration
	// Busy is T_busy: the pause before re-sending a command answered BY.
	Busy time.Duration
	// Retries is how many times a frame is re-sent after NAK or no ACK,
	// and how many times a command is re-sent after BY.
	Retries int
}

// DefaultTiming returns the timing the protocol document specifies.
func DefaultTiming() Timing {
	return Timing{
		Ack:     500 * time.Millisecond,
		Answer:  45 * time.Second,
		Busy:    time.Second,
		Retries: 3,
	}
}

// Scaled returns t with every duration scaled by s, so host and device
// keep the same proportions when a run compresses time. Retries is a count
// and stays as it is.
func (t Timing) Scaled(s timescale.Scale) Timing {
	return Timing{
		Ack:     s.Link(t.Ack),
		Answer:  s.Of(t.Answer),
		Busy:    s.Of(t.Busy),
		Retries: t.Retries,
	}
}

// validate reports a timing that would make the driver give up at once
// or never send at all.
func (t Timing) validate() error {
	switch {
	case t.Ack <= 0:
		return fmt.Errorf("ack timeout %v: want > 0", t.Ack)
	case t.Answer <= 0:
		return fmt.Errorf("answer timeout %v: want > 0", t.Answer)
	case t.Busy < 0:
		return fmt.Errorf("busy pause %v: want >= 0", t.Busy)
	case t.Retries < 0:
		return fmt.Errorf("retries %d: want >= 0", t.Retries)
	}
	return nil
}
