package pms

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
)

var _ model.Device = (*Device)(nil)

// Errors a Device reports; match them with errors.Is.
var (
	// ErrServing: Serve was called while the device already serves a line.
	ErrServing = errors.New("pms device: already serving a line")
	// ErrNotHeld: Answer names a command no Hold was registered for.
	ErrNotHeld = errors.New("command is not held")
	// ErrNotArrived: Answer names a held command the device has not received.
	ErrNotArrived = errors.New("command has not arrived")
	// ErrNotOutstanding: Answer names a command that was already answered,
	// cancelled by the host, or dropped when its line hung up.
	ErrNotOutstanding = errors.New("command is no longer outstanding")
)

// Command kinds, as model.Commands names them.
const (
	cmdEncode = "encode"
	cmdRead   = "read"
	cmdCancel = "cancel"
)

// Device is a virtual PMS encoder. Its methods are safe for concurrent
// use; see the package documentation for its model and link halves.
type Device struct {
	cfg     Config
	log     *slog.Logger
	serving atomic.Bool

	mu sync.Mutex
	// field is the card on the reader, nil when it is empty.
	field *card.Card
	// fieldChanged is closed (and replaced) whenever a card is placed or
	// removed, so a command waiting for a card notices at once.
	fieldChanged chan struct{}
	commands     device.Commands
	// holds has a key for every held command; its value is the command
	// once it arrives.
	holds map[holdKey]*command
	// outstanding is the command being worked on, not yet answered.
	outstanding *command
	// overlaps counts the commands the host sent while another was
	// outstanding (pms.md, "Session": at most one at a time).
	overlaps int

	silent                bool
	naks, garbles, busies int
}

type holdKey struct {
	kind string
	n    int
}

// command is one command the device took.
type command struct {
	kind   string // cmdEncode, cmdRead, cmdCancel; "" for one answered SE
	n      int    // 1-based among commands of its kind
	raw    []byte // the frame, to recognise retransmissions
	job    encodeJob
	held   bool
	s      *session // the line it came in on
	done   bool     // its answer is decided (or it was dropped)
	answer []string // the answer frame's fields; nil when dropped or none is due
	// decided is closed when done becomes true, to stop the work on it.
	decided chan struct{}
	// replied is set when Answer resolved this held command.
	replied bool
	// target is the command a held cancel would have cancelled, and
	// crossedBy the held cancel waiting on this command: once this
	// command is answered, the cancel's CC answer follows.
	target, crossedBy *command
	// resync is set on a CC that found nothing outstanding: its answer
	// is never garbled on a scenario's request.
	resync bool
	// closed is set once the host ACKed its answer or the device gave up
	// sending it; until then an identical frame is a retransmission, from
	// then on a new command. Guarded by the session's mu.
	closed bool
}

// encodeJob is what a CN command asks to write.
type encodeJob struct {
	cardID, function, from, until, label string
}

// New returns a device with an empty field. An empty Address, zero
// durations and a nil Writable fall back to DefaultConfig's; Retries is
// taken as given (0: never re-send an answer).
func New(cfg Config) *Device {
	def := DefaultConfig()
	if cfg.Address == "" {
		cfg.Address = def.Address
	}
	if cfg.CardWait <= 0 {
		cfg.CardWait = def.CardWait
	}
	if cfg.WriteTime <= 0 {
		cfg.WriteTime = def.WriteTime
	}
	if cfg.Ack <= 0 {
		cfg.Ack = def.Ack
	}
	if cfg.Retries < 0 {
		cfg.Retries = 0
	}
	if cfg.Writable == nil {
		cfg.Writable = def.Writable
	}
	cfg.Writable = slices.Clone(cfg.Writable)
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Device{
		cfg:          cfg,
		log:          log.With("device", "pms", "address", cfg.Address),
		fieldChanged: make(chan struct{}),
		holds:        map[holdKey]*command{},
	}
}

// Config returns the device's configuration.
func (d *Device) Config() Config { return d.cfg }

// emit records an event in the trace and the debug log.
func (d *Device) emit(kind EventKind, b []byte, detail string) {
	if d.cfg.Trace != nil {
		d.cfg.Trace(Event{Time: time.Now(), Kind: kind, Bytes: slices.Clone(b), Detail: detail})
	}
	if len(b) > 0 {
		d.log.Debug(string(kind), "bytes", fmt.Sprintf("% X", b), "detail", detail)
	} else {
		d.log.Debug(string(kind), "detail", detail)
	}
}

// Place puts c on the reader.
func (d *Device) Place(c *card.Card) error {
	if c == nil {
		return errors.New("place: no card")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.field != nil {
		return fmt.Errorf("place %q: card %q is already on the reader", c.Name, d.field.Name)
	}
	d.field = c
	d.fieldChangedLocked()
	d.emit(EventCard, nil, fmt.Sprintf("placed %q (%s %s)", c.Name, c.Tech, c.UID))
	return nil
}

// Remove takes the named card off the reader.
func (d *Device) Remove(name string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.field == nil || d.field.Name != name {
		return fmt.Errorf("remove %q: it is not on the reader", name)
	}
	d.field = nil
	d.fieldChangedLocked()
	d.emit(EventCard, nil, fmt.Sprintf("removed %q", name))
	return nil
}

func (d *Device) fieldChangedLocked() {
	close(d.fieldChanged)
	d.fieldChanged = make(chan struct{})
}

// visibleLocked is the card the device can see: none for a 125 kHz card,
// which its 13.56 MHz field cannot power.
func (d *Device) visibleLocked() *card.Card {
	if d.field == nil || d.field.Tech == card.Prox125kHz {
		return nil
	}
	return d.field
}

// Await blocks until the n-th command of that kind has arrived.
func (d *Device) Await(ctx context.Context, command string, n int) error {
	return d.commands.Await(ctx, command, n)
}

// AwaitAnswer blocks until the device has sent its answer to its n-th
// command of that kind (the first send; a retransmission is the same
// answer). A command cancelled or dropped with its line has no answer.
func (d *Device) AwaitAnswer(ctx context.Context, command string, n int) error {
	return d.commands.AwaitAnswer(ctx, command, n)
}

// Count is how many commands of that kind the device has taken. A
// retransmitted frame, a NAKed frame, a command answered SE and a CC
// that found nothing outstanding (a host resynchronising, not a
// cancellation) count for nothing.
func (d *Device) Count(command string) int {
	return d.commands.Count(command)
}

// Overlaps is how many commands the host sent while another command was
// outstanding, against pms.md's "at most one command is outstanding at a
// time" ("Session"); each was answered BY. A cancel (CC) is not one.
func (d *Device) Overlaps() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.overlaps
}

// Hold makes the device leave its n-th command of that kind unanswered
// until Answer. A held cancel is ACKed but cancels nothing; Answer then
// answers the command it would have cancelled, and the cancel's CC
// answer follows, as when an answer crosses a cancel on the line.
func (d *Device) Hold(command string, n int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	k := holdKey{command, n}
	if _, ok := d.holds[k]; !ok {
		d.holds[k] = nil
	}
	d.emit(EventSetting, nil, fmt.Sprintf("hold %s #%d", command, n))
}

// Answer answers the held n-th command of that kind with the named
// answer (one of model.Answers). "ok" writes the card in the field.
func (d *Device) Answer(command string, n int, answer string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	cmd, ok := d.holds[holdKey{command, n}]
	switch {
	case !ok:
		return fmt.Errorf("answer %s #%d: %w", command, n, ErrNotHeld)
	case cmd == nil:
		return fmt.Errorf("answer %s #%d: %w", command, n, ErrNotArrived)
	case cmd.replied:
		return fmt.Errorf("answer %s #%d: already answered: %w", command, n, ErrNotOutstanding)
	}
	target := cmd
	if command == cmdCancel {
		// The held cancel left the command it targets running; that is
		// the one answered now (the answer that crossed the cancel), and
		// the cancel's own CC answer follows it.
		target = cmd.target
	}
	if target.done {
		return fmt.Errorf("answer %s #%d: %w", command, n, ErrNotOutstanding)
	}
	fields, err := d.forcedLocked(target, answer)
	if err != nil {
		return fmt.Errorf("answer %s #%d %q: %w", command, n, answer, err)
	}
	cmd.replied = true
	d.decideLocked(target, fields)
	return nil
}

// Silence stops (true) or resumes (false) everything the device sends.
func (d *Device) Silence(on bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.silent = on
	d.emit(EventSetting, nil, fmt.Sprintf("silence %t", on))
}

// NAK makes the device NAK the next n frames addressed to it, without
// acting on them. A CC that finds nothing outstanding (a host
// resynchronising) is not one of them.
func (d *Device) NAK(n int) { d.setCounter(&d.naks, "nak", n) }

// Garble corrupts the LRC of the next n frames the device sends
// (retransmissions included), except the CC answer to a CC that found
// nothing outstanding.
func (d *Device) Garble(n int) { d.setCounter(&d.garbles, "garble", n) }

// Busy answers BY to the next n encode commands.
func (d *Device) Busy(n int) { d.setCounter(&d.busies, "busy", n) }

func (d *Device) setCounter(p *int, what string, n int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	*p = max(n, 0)
	d.emit(EventSetting, nil, fmt.Sprintf("%s %d", what, *p))
}

// take consumes one unit of a counter, reporting whether there was one.
func take(p *int) bool {
	if *p > 0 {
		*p--
		return true
	}
	return false
}

// decide settles cmd's answer with compute, unless it is settled already.
func (d *Device) decide(cmd *command, compute func() []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !cmd.done {
		d.decideLocked(cmd, compute())
	}
}

// decideLocked settles cmd's answer and hands it to its line.
func (d *Device) decideLocked(cmd *command, answer []string) {
	cmd.done = true
	cmd.answer = answer
	close(cmd.decided)
	if d.outstanding == cmd {
		d.outstanding = nil
	}
	d.emit(EventAnswer, nil, fmt.Sprintf("%s #%d: %v", cmd.kind, cmd.n, answer))
	if answer != nil {
		cmd.s.pending = append(cmd.s.pending, cmd)
	}
	if cc := cmd.crossedBy; cc != nil && !cc.done {
		// A held cancel of this command: its CC answer comes after the
		// answer that crossed it, or goes with the command when the
		// command was dropped with its line.
		if answer == nil {
			d.decideLocked(cc, nil)
		} else {
			d.decideLocked(cc, d.a("CC"))
		}
	}
}

// a builds an answer's fields: code, address, then the rest.
func (d *Device) a(code string, rest ...string) []string {
	return append([]string{code, d.cfg.Address}, rest...)
}

// forcedLocked is the answer a scenario names for cmd.
func (d *Device) forcedLocked(cmd *command, name string) ([]string, error) {
	c := d.visibleLocked()
	switch name {
	case "ok":
		if c == nil {
			return nil, errors.New("no card the device can see is on the reader")
		}
		if cmd.kind == cmdRead {
			return d.readOK(c), nil
		}
		return d.writeLocked(cmd, c), nil
	case "no-card":
		return d.a("NC"), nil
	case "timeout":
		return d.a("TO"), nil
	case "card-format-error":
		tech := ""
		if d.field != nil {
			tech = string(d.field.Tech)
		}
		return d.a("CF", tech), nil
	case "other-system":
		return d.a("OS"), nil
	case "valid-user":
		id := ""
		if c != nil {
			id = c.Contents().CardID
		}
		return d.a("VU", id), nil
	case "card-removed":
		return d.a("RM"), nil
	case "busy":
		return d.a("BY"), nil
	case "general-error":
		return d.a("ER", "general error"), nil
	case "syntax-error":
		return d.a("SE", "syntax error"), nil
	}
	return nil, fmt.Errorf("unknown answer (want one of %v)", model.Answers)
}

// writeLocked writes cmd's credential onto c and returns the OK answer.
func (d *Device) writeLocked(cmd *command, c *card.Card) []string {
	kind := card.Guest
	if cmd.job.function == "S" {
		kind = card.Staff
	}
	c.Write(card.Contents{
		Kind:       kind,
		CardID:     cmd.job.cardID,
		Function:   cmd.job.function,
		ValidFrom:  cmd.job.from,
		ValidUntil: cmd.job.until,
		Label:      cmd.job.label,
	})
	d.emit(EventCard, nil, fmt.Sprintf("wrote %q: %s card %s", c.Name, kind, cmd.job.cardID))
	return d.a("OK", c.UID, string(c.Tech), cmd.job.cardID)
}

// readOK is the OK answer to RC for c.
func (d *Device) readOK(c *card.Card) []string {
	ct := c.Contents()
	content, id := "B", ""
	switch ct.Kind {
	case card.Guest:
		content, id = "G", ct.CardID
	case card.Staff:
		content, id = "S", ct.CardID
	case card.Foreign:
		content = "F"
	}
	return d.a("OK", c.UID, string(c.Tech), content, id)
}

// readAnswerLocked is the model's answer to RC: what is in the field now.
func (d *Device) readAnswerLocked() []string {
	if c := d.visibleLocked(); c != nil {
		return d.readOK(c)
	}
	return d.a("NC")
}

// runRead works on an RC that takes T_read: c, the card in the field
// when it arrived, must stay there for T_read (RM otherwise); an empty
// field is NC at once, as without T_read.
func (d *Device) runRead(cmd *command, c *card.Card) {
	if c == nil {
		d.decide(cmd, func() []string { return d.a("NC") })
		return
	}
	d.whileInField(cmd, c, d.cfg.ReadTime, func() []string { return d.readOK(c) })
}

// runEncode works on an encode command: wait for a card, check it, write
// it. It stops as soon as the command is settled otherwise (cancelled,
// answered by a scenario, or dropped with its line).
func (d *Device) runEncode(cmd *command) {
	wait := time.NewTimer(d.cfg.CardWait)
	defer wait.Stop()
	var c *card.Card
	for {
		d.mu.Lock()
		changed := d.fieldChanged
		c = d.visibleLocked()
		d.mu.Unlock()
		if c != nil {
			break
		}
		select {
		case <-changed:
		case <-wait.C:
			d.decide(cmd, func() []string { return d.a("TO") })
			return
		case <-cmd.decided:
			return
		}
	}
	ct := c.Contents()
	switch {
	case !d.cfg.writes(c.Tech):
		d.decide(cmd, func() []string { return d.a("CF", string(c.Tech)) })
		return
	case ct.Kind == card.Foreign:
		d.decide(cmd, func() []string { return d.a("OS") })
		return
	case ct.Kind == card.Staff:
		d.decide(cmd, func() []string { return d.a("VU", ct.CardID) })
		return
	}
	d.emit(EventCard, nil, fmt.Sprintf("writing %q", c.Name))
	d.whileInField(cmd, c, d.cfg.WriteTime, func() []string { return d.writeLocked(cmd, c) })
}

// whileInField answers cmd with done (called with d.mu held) once card c
// has stayed in the field for dur, or with RM as soon as it leaves; it
// stops when cmd is settled otherwise (cancelled, answered by a
// scenario, or dropped with its line). A write and a read with T_read
// both take the card's time so.
func (d *Device) whileInField(cmd *command, c *card.Card, dur time.Duration, done func() []string) {
	timer := time.NewTimer(dur)
	defer timer.Stop()
	for {
		d.mu.Lock()
		present, changed := d.field == c, d.fieldChanged
		d.mu.Unlock()
		if !present {
			d.decide(cmd, func() []string { return d.a("RM") })
			return
		}
		select {
		case <-changed:
		case <-timer.C:
			d.decide(cmd, func() []string {
				if d.field != c {
					return d.a("RM")
				}
				return done()
			})
			return
		case <-cmd.decided:
			return
		}
	}
}
