package acr122

import (
	"fmt"
	"time"

	"github.com/encoderlab/encoderlab/timescale"
)

// Timing holds the host's timeouts (docs/protocols/acr122.md, "Timing"
// and "Outcomes"). pcscd's own presence poll (every 400 ms) is not the
// driver's and is never scaled: a CardWait shorter than a few of those
// polls may miss a card laid on the reader just before the encode.
type Timing struct {
	// Answer is T_answer: how long one exchange with pcscd may take, an
	// APDU's round trip through pcscd, the reader and the card included.
	// It must exceed the longest block update. An APDU unanswered by then
	// is NotAnswering (the reader hung).
	Answer time.Duration
	// CardWait is T_card: how long to wait for pcscd to report a card
	// before giving up with NoCard.
	CardWait time.Duration
}

// DefaultTiming returns the timing the protocol document specifies.
func DefaultTiming() Timing {
	return Timing{
		Answer:   10 * time.Second,
		CardWait: 20 * time.Second,
	}
}

// Scaled returns t with every duration scaled by s.
func (t Timing) Scaled(s timescale.Scale) Timing {
	return Timing{
		Answer:   s.Of(t.Answer),
		CardWait: s.Of(t.CardWait),
	}
}

// validate reports a timing that would make the driver give up at once.
func (t Timing) validate() error {
	switch {
	case t.Answer <= 0:
		return fmt.Errorf("answer timeout %v: want > 0", t.Answer)
	case t.CardWait < 0:
		return fmt.Errorf("card wait %v: want >= 0", t.CardWait)
	}
	return nil
}
