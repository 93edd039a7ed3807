package pms

import (
	"log/slog"
	"slices"
	"time"

	"github.com/encoderlab/encoderlab/sim/card"
	"github.com/encoderlab/encoderlab/timescale"
)

// Config is a device's address, timing and abilities. Durations are real
// time; Scaled compresses them for a run at another time scale.
type Config struct {
	// Address is the encoder address, two decimal digits ("01").
	Address string
	// CardWait is T_card: how long an encode command waits for a card.
	CardWait time.Duration
	// WriteTime is T_write: how long writing a card takes; the card must
	// stay in the field meanwhile.
	WriteTime time.Duration
	// ReadTime is T_read: how long reading the card for RC takes; the
	// card must stay in the field meanwhile, or RC is answered RM. The
	// protocol's default is 0: RC answers at once.
	ReadTime time.Duration
	// Ack is T_ack: how long the device waits for the host's ACK to an
	// answer, and the longest gap it accepts between two bytes of a frame.
	Ack time.Duration
	// Retries is how many times an answer is re-sent after a NAK or a
	// missing ACK.
	Retries int
	// Writable lists the technologies the device writes; a visible card of
	// any other technology is answered CF.
	Writable []card.Technology

	// Logger receives debug logs of the link and the model (nil: none).
	Logger *slog.Logger
	// Trace, when set, is called with every Event, synchronously: it must
	// return quickly and must not call back into the Device.
	Trace func(Event)
}

// DefaultConfig is the protocol's defaults: address 01, T_card 20 s,
// T_write 300 ms, T_ack 500 ms, 3 retries, writing MIFARE Classic 1K and
// 4K and DESFire.
func DefaultConfig() Config {
	return Config{
		Address:   "01",
		CardWait:  20 * time.Second,
		WriteTime: 300 * time.Millisecond,
		Ack:       500 * time.Millisecond,
		Retries:   3,
		Writable:  []card.Technology{card.MifareClassic1K, card.MifareClassic4K, card.DESFire},
	}
}

// Scaled returns c with every duration multiplied by s, link-level
// waits not below timescale.LinkFloor.
func (c Config) Scaled(s timescale.Scale) Config {
	c.CardWait = s.Of(c.CardWait)
	c.WriteTime = s.Of(c.WriteTime)
	c.ReadTime = s.Of(c.ReadTime)
	c.Ack = s.Link(c.Ack)
	c.Writable = slices.Clone(c.Writable)
	return c
}

func (c Config) writes(t card.Technology) bool {
	return slices.Contains(c.Writable, t)
}
