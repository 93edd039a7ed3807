package pn532

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
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
	ErrServing = errors.New("pn532 device: already serving a line")
	// ErrUnsupported: a scenario asked for something a PN532 cannot do,
	// such as answering a held command with a scripted answer: the chip
	// has no answer of its own to replace, the host decides everything.
	ErrUnsupported = errors.New("not supported by pn532")
)

// The keys of the credential sector on the cards of the model's system
// (docs/protocols/pn532.md, "Keys"), as package card has them.
var (
	DefaultSystemKeyA = card.DefaultSystemKeyA
	DefaultSystemKeyB = card.DefaultSystemKeyB
)

// Command kinds, as model.Commands names them (see the package
// documentation for what each counts).
const (
	cmdEncode = "encode"
	cmdRead   = "read"
	cmdCancel = "cancel"
)

// Config is the device's keys and timing. Durations are real time;
// Scaled compresses them.
type Config struct {
	// SystemKeyA and SystemKeyB are the keys of the credential sector on
	// the cards of the encoder's system: a scenario's guest and staff
	// cards carry them.
	SystemKeyA, SystemKeyB card.Key
	// WriteTime is how long writing one block takes; the card must stay
	// in the field meanwhile.
	WriteTime time.Duration
	// ReadTime is how long reading one block takes (0, the default: at
	// once); the card must stay in the field meanwhile.
	ReadTime time.Duration
	// Activation is how long one passive activation attempt takes: an
	// InListPassiveTarget with n retries looks for a card for (n+1)
	// attempts before answering that it found none.
	Activation time.Duration
	// Gap is the longest pause between two bytes of a frame; a frame that
	// stops for longer is dropped.
	Gap time.Duration
	// Logger receives debug logs of the link and the model (nil: none).
	Logger *slog.Logger
}

// DefaultConfig is the model's defaults: the system keys of
// docs/protocols/pn532.md, 50 ms per block write, 30 ms per activation
// attempt, 500 ms inter-byte gap.
func DefaultConfig() Config {
	return Config{
		SystemKeyA: DefaultSystemKeyA,
		SystemKeyB: DefaultSystemKeyB,
		WriteTime:  50 * time.Millisecond,
		Activation: 30 * time.Millisecond,
		Gap:        500 * time.Millisecond,
	}
}

// Scaled returns c with every duration multiplied by s, link-level
// waits not below timescale.LinkFloor.
func (c Config) Scaled(s timescale.Scale) Config {
	c.WriteTime = s.Of(c.WriteTime)
	c.ReadTime = s.Of(c.ReadTime)
	c.Activation = s.Of(c.Activation)
	c.Gap = s.Link(c.Gap)
	return c
}

// Device is a virtual PN532 with a field that holds zero or more cards.
// Its methods are safe for concurrent use.
type Device struct {
	cfg     Config
	log     *slog.Logger
	serving atomic.Bool

	mu sync.Mutex
	// field holds the cards on the reader, in the order they were placed.
	field []*card.Card
	// placed counts placements, so a target selected before a card left
	// the field is not the same card when it comes back.
	placed map[*card.Card]uint64
	// fieldChanged is closed (and replaced) whenever a card is placed or
	// removed.
	fieldChanged chan struct{}
	// mems are the memories of the cards the chip has seen.
	mems *card.Memories

	commands device.Commands

	silent                bool
	naks, garbles, busies int
}

// New returns a device with an empty field. Zero keys and durations fall
// back to DefaultConfig's.
func New(cfg Config) *Device {
	def := DefaultConfig()
	if cfg.SystemKeyA == (card.Key{}) && cfg.SystemKeyB == (card.Key{}) {
		cfg.SystemKeyA, cfg.SystemKeyB = def.SystemKeyA, def.SystemKeyB
	}
	if cfg.WriteTime <= 0 {
		cfg.WriteTime = def.WriteTime
	}
	if cfg.Activation <= 0 {
		cfg.Activation = def.Activation
	}
	if cfg.Gap <= 0 {
		cfg.Gap = def.Gap
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Device{
		cfg:          cfg,
		log:          log.With("device", "pn532"),
		placed:       map[*card.Card]uint64{},
		fieldChanged: make(chan struct{}),
		mems:         card.NewMemories(cfg.SystemKeyA, cfg.SystemKeyB),
	}
}

// Config returns the device's configuration.
func (d *Device) Config() Config { return d.cfg }

// Place puts c on the reader, beside any cards already there.
func (d *Device) Place(c *card.Card) error {
	if c == nil {
		return errors.New("place: no card")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if slices.ContainsFunc(d.field, func(x *card.Card) bool { return x == c || x.Name == c.Name }) {
		return fmt.Errorf("place %q: it is already on the reader", c.Name)
	}
	d.field = append(d.field, c)
	d.placed[c]++
	d.fieldChangedLocked()
	d.log.Debug("card placed", "card", c.Name, "tech", c.Tech, "uid", c.UID)
	return nil
}

// Remove takes the named card off the reader.
func (d *Device) Remove(name string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	i := slices.IndexFunc(d.field, func(x *card.Card) bool { return x.Name == name })
	if i < 0 {
		return fmt.Errorf("remove %q: it is not on the reader", name)
	}
	d.field = slices.Delete(d.field, i, i+1)
	d.fieldChangedLocked()
	d.log.Debug("card removed", "card", name)
	return nil
}

func (d *Device) fieldChangedLocked() {
	close(d.fieldChanged)
	d.fieldChanged = make(chan struct{})
}

// visibleLocked returns the cards the 13.56 MHz field can power: every
// card on the reader but 125 kHz ones.
func (d *Device) visibleLocked() []*card.Card {
	var out []*card.Card
	for _, c := range d.field {
		if c.Tech != card.Prox125kHz {
			out = append(out, c)
		}
	}
	return out
}

// presentLocked reports whether c is still in the field since the
// placement numbered gen.
func (d *Device) presentLocked(c *card.Card, gen uint64) bool {
	return slices.Contains(d.field, c) && d.placed[c] == gen
}

// ClassicMemory returns the memory of MIFARE Classic card c as the device
// holds it, building it from c's contents the first time (see the package
// documentation). Tests use it to set up keys and to compare dumps.
func (d *Device) ClassicMemory(c *card.Card) (*card.ClassicMemory, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.mems.Classic(c)
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
// that kind. The chip answers a command in the step that counts it.
func (d *Device) AwaitAnswer(ctx context.Context, command string, n int) error {
	return d.commands.AwaitAnswer(ctx, command, n)
}

// Count is how many commands of that kind the device has received.
func (d *Device) Count(command string) int {
	return d.commands.Count(command)
}

// Hold is accepted and ignored: a PN532 answers from its model, and a
// held command could only be answered by Answer, which it cannot do.
func (d *Device) Hold(command string, n int) {
	d.log.Debug("hold ignored: not supported by pn532", "command", command, "n", n)
}

// Answer always fails with ErrUnsupported: the chip reports what the card
// did, the host decides what it means, so there is no device answer such
// as "valid-user" to script. Put a card with those contents on the
// reader instead.
func (d *Device) Answer(command string, n int, answer string) error {
	return fmt.Errorf("answer %s #%d %q: %w", command, n, answer, ErrUnsupported)
}

// Silence stops (true) or resumes (false) everything the device sends,
// ACK frames included; commands are still acted on.
func (d *Device) Silence(on bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.silent = on
	d.log.Debug("setting", "silence", on)
}

// NAK answers the next n information frames received with a NACK frame,
// without acting on them.
func (d *Device) NAK(n int) { d.setCounter(&d.naks, "nak", n) }

// Garble corrupts the DCS of the next n response frames the device sends
// (retransmissions included).
func (d *Device) Garble(n int) { d.setCounter(&d.garbles, "garble", n) }

// Busy answers the next n encode commands with status 0x27 (command not
// acceptable in the chip's current context) without writing.
func (d *Device) Busy(n int) { d.setCounter(&d.busies, "busy", n) }

func (d *Device) setCounter(p *int, what string, n int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	*p = max(n, 0)
	d.log.Debug("setting", what, *p)
}

// take consumes one unit of a counter under d.mu, reporting whether there
// was one.
func (d *Device) take(p *int) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if *p > 0 {
		*p--
		return true
	}
	return false
}
