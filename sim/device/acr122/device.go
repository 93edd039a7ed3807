package acr122

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/encoderlab/encoderlab/sim/card"
	"github.com/encoderlab/encoderlab/sim/device"
	"github.com/encoderlab/encoderlab/sim/model"
	"github.com/encoderlab/encoderlab/timescale"
)

var _ model.Device = (*Device)(nil)

// Errors a Device reports; match them with errors.Is.
var (
	// ErrServing: Serve was called while the device already serves a line.
	ErrServing = errors.New("acr122 device: already serving a line")
	// ErrUnsupported: a scenario asked for something the reader cannot
	// do, such as a scripted answer: it relays what the card did.
	ErrUnsupported = errors.New("not supported by acr122")
)

// Command kinds, as model.Commands names them.
const (
	cmdEncode = "encode"
	cmdRead   = "read"
)

// Config is the device's keys and timing. Durations are real time;
// Scaled compresses them.
type Config struct {
	// SystemKeyA and SystemKeyB are the keys of the credential sector on
	// the cards of the encoder's system.
	SystemKeyA, SystemKeyB card.Key
	// WriteTime is how long updating one block takes; the card must stay
	// in the field meanwhile.
	WriteTime time.Duration
	// ReadTime is how long reading one block takes (0: at once); the
	// card must stay in the field meanwhile.
	ReadTime time.Duration
	// Logger receives debug logs (nil: none).
	Logger *slog.Logger
}

// DefaultConfig is the model's defaults: the system keys of
// docs/protocols/acr122.md and 50 ms per block update.
func DefaultConfig() Config {
	return Config{
		SystemKeyA: card.DefaultSystemKeyA,
		SystemKeyB: card.DefaultSystemKeyB,
		WriteTime:  50 * time.Millisecond,
	}
}

// Scaled returns c with every duration multiplied by s.
func (c Config) Scaled(s timescale.Scale) Config {
	c.WriteTime = s.Of(c.WriteTime)
	c.ReadTime = s.Of(c.ReadTime)
	return c
}

// Device is a virtual ACR122U with a field that holds at most one card.
// Its methods are safe for concurrent use.
type Device struct {
	cfg     Config
	log     *slog.Logger
	serving atomic.Bool

	mu sync.Mutex
	// inField is the card on the reader (nil: none); placed counts
	// placements, so a card session that began before the card left is
	// not the same session when it comes back.
	inField *card.Card
	placed  uint64
	// fieldChanged is closed (and replaced) whenever a card is placed or
	// removed.
	fieldChanged chan struct{}
	// silenceLifted is closed (and replaced) when Silence(false) ends a
	// silence.
	silenceLifted chan struct{}
	mems          *card.Memories // the memories of the cards it has seen

	commands device.Commands

	silent bool
}

// New returns a device with an empty field. Zero keys and a zero write
// time fall back to DefaultConfig's.
func New(cfg Config) *Device {
	def := DefaultConfig()
	if cfg.SystemKeyA == (card.Key{}) && cfg.SystemKeyB == (card.Key{}) {
		cfg.SystemKeyA, cfg.SystemKeyB = def.SystemKeyA, def.SystemKeyB
	}
	if cfg.WriteTime <= 0 {
		cfg.WriteTime = def.WriteTime
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Device{
		cfg:           cfg,
		log:           log.With("device", "acr122"),
		fieldChanged:  make(chan struct{}),
		silenceLifted: make(chan struct{}),
		mems:          card.NewMemories(cfg.SystemKeyA, cfg.SystemKeyB),
	}
}

// Config returns the device's configuration.
func (d *Device) Config() Config { return d.cfg }

// Place puts c on the reader; an error if a card is already there.
func (d *Device) Place(c *card.Card) error {
	if c == nil {
		return errors.New("place: no card")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.inField != nil {
		return fmt.Errorf("place %q: card %q is on the reader; it holds one card", c.Name, d.inField.Name)
	}
	d.inField = c
	d.placed++
	d.fieldChangedLocked()
	d.log.Debug("card placed", "card", c.Name, "tech", c.Tech, "uid", c.UID)
	return nil
}

// Remove takes the named card off the reader.
func (d *Device) Remove(name string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.inField == nil || d.inField.Name != name {
		return fmt.Errorf("remove %q: it is not on the reader", name)
	}
	d.inField = nil
	d.fieldChangedLocked()
	d.log.Debug("card removed", "card", name)
	return nil
}

func (d *Device) fieldChangedLocked() {
	close(d.fieldChanged)
	d.fieldChanged = make(chan struct{})
}

// visible returns the card the 13.56 MHz field powers and its placement
// (nil: none; a 125 kHz card is not seen).
func (d *Device) visible() (*card.Card, uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.inField == nil || d.inField.Tech == card.Prox125kHz {
		return nil, 0
	}
	return d.inField, d.placed
}

// stays reports whether card c of placement gen stays in the field for
// dur (false as soon as it leaves, or when ctx ends first).
func (d *Device) stays(ctx context.Context, c *card.Card, gen uint64, dur time.Duration) bool {
	return device.Stays(ctx, dur, func() (bool, <-chan struct{}) {
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.inField == c && d.placed == gen, d.fieldChanged
	})
}

// ClassicMemory returns the memory of MIFARE Classic card c as the device
// holds it, building it from c's contents the first time (see the package
// documentation). Tests use it to set up keys and to compare dumps.
func (d *Device) ClassicMemory(c *card.Card) (*card.ClassicMemory, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.mems.Classic(c)
}

// ultralightPages returns Ultralight card c's pages.
func (d *Device) ultralightPages(c *card.Card) []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.mems.Ultralight(c)
}

// count records a command of that kind.
func (d *Device) count(kind string) {
	n := d.commands.Add(kind)
	d.log.Debug("command", "kind", kind, "n", n)
}

// Await blocks until the n-th command of that kind has arrived.
func (d *Device) Await(ctx context.Context, command string, n int) error {
	return d.commands.Await(ctx, command, n)
}

// AwaitAnswer blocks until the device has answered its n-th command of
// that kind.
func (d *Device) AwaitAnswer(ctx context.Context, command string, n int) error {
	return d.commands.AwaitAnswer(ctx, command, n)
}

// Count is how many commands of that kind the device has received.
func (d *Device) Count(command string) int { return d.commands.Count(command) }

// Hold is accepted and ignored: the reader answers from the card, and a
// held command could only be answered by Answer, which it cannot do.
func (d *Device) Hold(command string, n int) {
	d.log.Debug("hold ignored: not supported by acr122", "command", command, "n", n)
}

// Answer always fails with ErrUnsupported: the reader relays what the
// card did, the host decides what it means. Put a card with those
// contents on the reader instead.
func (d *Device) Answer(command string, n int, answer string) error {
	return fmt.Errorf("answer %s #%d %q: %w", command, n, answer, ErrUnsupported)
}

// Silence withholds (true) every answer, or ends the silence (false):
// an answer withheld meanwhile becomes an eject.
func (d *Device) Silence(on bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.silent && !on {
		close(d.silenceLifted)
		d.silenceLifted = make(chan struct{})
	}
	d.silent = on
	d.log.Debug("setting", "silence", on)
}

// silence reports whether answers are withheld, and the channel closed
// when that ends.
func (d *Device) silence() (bool, <-chan struct{}) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.silent, d.silenceLifted
}

// NAK is logged and ignored: USB has no negative acknowledgement the
// host sees.
func (d *Device) NAK(n int) { d.log.Debug("nak ignored: not supported by acr122", "n", n) }

// Garble is logged and ignored: USB checks and retries every transfer,
// so no damaged answer reaches the host.
func (d *Device) Garble(n int) { d.log.Debug("garble ignored: not supported by acr122", "n", n) }

// Busy is logged and ignored: the reader has no busy state.
func (d *Device) Busy(n int) { d.log.Debug("busy ignored: not supported by acr122", "n", n) }
