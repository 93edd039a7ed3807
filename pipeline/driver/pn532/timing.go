package pn532

import (
	"fmt"
	"time"

	"github.com/encoderlab/encoderlab/timescale"
)

// Timing holds the host's timeouts (docs/protocols/pn532.md, "Timing").
type Timing struct {
	// Ack is T_ack: how long to wait for the chip's ACK frame after a
	// command frame.
	Ack time.Duration
	// Answer is T_answer: how long to wait for the response once the
	// command was ACKed. It must exceed the longest block write.
	Answer time.Duration
	// Poll is T_poll: the pause between two looks for a card.
	Poll time.Duration
	// CardWait is T_card: how long to look for a card before giving up
	// with NoCard.
	CardWait time.Duration
	// Busy is T_busy: the pause before starting over after the chip
	// answered a write with status 0x27.
	Busy time.Duration
	// Retries is how many times a frame is re-sent after NACK or no ACK,
	// a damaged response asked for again, and an encode started over
	// after status 0x27.
	Retries int
}

// DefaultTiming returns the timing the protocol document specifies.
func DefaultTiming() Timing {
	return Timing{
		Ack:      500 * time.Millisecond,
		Answer:   10 * time.Second,
		Poll:     200 * time.Millisecond,
		CardWait: 20 * time.Second,
		Busy:     time.Second,
		Retries:  3,
	}
}

// Scaled returns t with every duration scaled by s, the ACK wait not
// below timescale.LinkFloor; Retries stays.
func (t Timing) Scaled(s timescale.Scale) Timing {
	return Timing{
		Ack:      s.Link(t.Ack),
		Answer:   s.Of(t.Answer),
		Poll:     s.Of(t.Poll),
		CardWait: s.Of(t.CardWait),
		Busy:     s.Of(t.Busy),
		Retries:  t.Retries,
	}
}

// validate reports a timing that would make the driver give up at once.
func (t Timing) validate() error {
	switch {
	case t.Ack <= 0:
		return fmt.Errorf("ack timeout %v: want > 0", t.Ack)
	case t.Answer <= 0:
		return fmt.Errorf("answer timeout %v: want > 0", t.Answer)
	case t.Poll <= 0:
		return fmt.Errorf("poll pause %v: want > 0", t.Poll)
	case t.CardWait < 0:
		return fmt.Errorf("card wait %v: want >= 0", t.CardWait)
	case t.Busy < 0:
		return fmt.Errorf("busy pause %v: want >= 0", t.Busy)
	case t.Retries < 0:
		return fmt.Errorf("retries %d: want >= 0", t.Retries)
	}
	return nil
}
