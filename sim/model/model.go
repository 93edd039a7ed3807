// Package model is the simulator's registry of device models: what a
// scenario's encoder.model names. Each model describes itself once, in a
// Model, and registers it (Register) from its own package, as
// image/png registers a format: the simulator's parts (the desk that
// starts encoders, the scenario loader) read the registry and name no
// model themselves. A vendor adds a model without a fork the same way,
// from its own module, before the desk starts.
//
// The package is a leaf: the device models and the scenario format both
// import it, so it holds what they share, the Device a timeline acts on
// and the protocol-neutral names of commands and answers.
package model

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/encoderlab/encoderlab/sim/card"
	"github.com/encoderlab/encoderlab/timescale"
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

// Commands a device reports and an await step may name.
var Commands = []string{"encode", "read", "cancel"}

// Answers a reply step may name, protocol-neutral; device models map them
// onto their own codes.
var Answers = []string{
	"ok", "no-card", "timeout", "card-format-error", "other-system",
	"valid-user", "card-removed", "busy", "general-error", "syntax-error",
}

// Line is the device's end of its serial line (a pty master).
type Line interface {
	io.ReadWriter
	SetReadDeadline(t time.Time) error
	SetWriteDeadline(t time.Time) error
}

// Serve speaks a model's protocol on a line until ctx ends or the line
// fails.
type Serve func(ctx context.Context, l Line) error

// Transport opens the line of one encoder of a model whose host does not
// reach it over a serial line: a PC/SC reader's, say, which the host
// reaches through a pcscd. ctx bounds the opening only.
type Transport func(ctx context.Context, s Settings) (Link, error)

// Link is one line a Transport opened: the device's end, which the model
// serves, and the host's end, which a symlink can publish.
type Link interface {
	// Line is the device's end.
	Line() Line
	// Path is where the host opens the line (a socket, a device node).
	Path() string
	// Publish makes path a symlink to Path (linkdir.Links.Publish), so a
	// host that reopens path after a hangup reaches the next line.
	Publish(path string) error
	// Close closes both ends, so the host sees its end go, and removes
	// the links still pointing at it.
	Close() error
}

// Settings are what a scenario says of its encoder that a model may take:
// each model takes those its Model.Takes lists, and leaves the rest at
// its protocol's defaults. Durations are real time, before Scale.
type Settings struct {
	// CardWait is how long an encode waits for a card (0: the model's).
	CardWait time.Duration
	// WriteTime and ReadTime are how long writing and reading a card
	// take (0: the model's).
	WriteTime, ReadTime time.Duration
	// Writes restricts the technologies written (nil: the model's).
	Writes []card.Technology
	// Protocol is the protocol a protocol-neutral model's frames are in.
	Protocol string
	// Scale compresses every duration of the run.
	Scale timescale.Scale
	// Logger receives the model's debug logs.
	Logger *slog.Logger
}

// What a model may take of an encoder's settings (Model.Takes), by the
// scenario keys that set them.
const (
	TakesCardWait  = "card_wait"
	TakesWriteTime = "write_time"
	TakesReadTime  = "read_time"
	TakesWrites    = "writes"
	TakesProtocol  = "protocol"
)

// Model describes one device model.
type Model struct {
	// Name is what encoder.model names: lower-case letters and digits.
	Name string
	// New builds the device for one encoder, and how it serves its line.
	New func(Settings) (Device, Serve)
	// Stacks reports that the model's field holds several cards at once,
	// so a scenario may place a second card before removing the first (a
	// PN532's field); otherwise the reader takes one card (a PMS slot).
	Stacks bool
	// Takes lists the encoder settings the model uses (Takes*); a
	// scenario that sets another gets it ignored, as the model's page
	// says.
	Takes []string
	// OneCommand reports that the protocol allows one command outstanding
	// at a time and the device counts the commands a host sends while
	// another is (its Overlaps() int), as a PMS encoder does.
	OneCommand bool
	// Protocol is how the model's line is read and recorded, under the
	// model's name as a protocol name (a trace's, a replay's); nil for a
	// model that speaks no protocol of its own (the replay).
	Protocol *Protocol
	// Faults is how the fault matrix (docs/faults.md) reaches each phase
	// of an encode on the model; nil for a model the matrix does not run.
	Faults *FaultPhases
	// Transport opens the model's line; nil for a serial line, a pty
	// whose slave the host opens.
	Transport Transport
	// Lacks names the scenario families (Families in sim/scenario) the
	// model has no scenario of, each with why the situation cannot arise
	// on it ("no busy state").
	Lacks map[string]string
	// MinScale is the smallest time scale the model's scenarios hold at,
	// for a model whose transport waits for times no scale shortens (a
	// pcscd polls its readers every 400 ms); 0 for none. A run at a
	// smaller scale plays the model's scenarios at MinScale.
	MinScale timescale.Scale
}

// FaultPhases is how a timeline reaches each phase of an encode on a
// model, for the fault matrix (docs/faults.md, Expected outcomes): the
// phases "before", "card-wait" and "answer", each a list of timeline
// steps as a scenario writes them, acting on a blank card named "blank".
type FaultPhases struct {
	// Steps are each phase's timeline.
	Steps map[string][]string
	// From is the 1-based step of each phase's timeline that opens the
	// fault's window (absent: the whole run). A device counts a command
	// before it acknowledges it, so a window never opens on the step
	// right after an await: that step starts as the command is counted.
	From map[string]int
	// WriteTime is the encoder's write time in the answer phase, wide
	// enough for the window.
	WriteTime time.Duration
	// Scale is the run's time scale, chosen for the protocol's link
	// timing on a loaded machine.
	Scale timescale.Scale
}

// FaultMatrixPhases are the phases every model's Faults describes.
var FaultMatrixPhases = []string{"before", "card-wait", "answer"}

// Protocol is what reads and records a model's line.
type Protocol struct {
	// NewDecoder returns a decoder for one direction of the line.
	NewDecoder func() Decoder
	// RedactFields lists what a recording of the line can blank out
	// (encodersim record --redact).
	RedactFields []string
	// NewRedactor returns a redactor for both directions of one line,
	// blanking fields, each one of RedactFields.
	NewRedactor func(fields map[string]bool) Redactor
	// NewConverter returns what turns one trace of the line into a
	// replay scenario's steps (encodersim convert); redacted are the
	// fields the recording blanked ("pn532:keys").
	NewConverter func(redacted map[string]bool) Converter
	// Frames compiles the frame text of a replay's expect and send steps
	// ({frame: …}), which the replay model then plays without knowing
	// the protocol; nil for a protocol whose replays are written in hex,
	// which a replay's encoder.protocol then cannot name.
	Frames Frames
	// Timeline is how a timeline (encodersim show) cuts the line into
	// frames and names them; nil for one mark per chunk, named by the
	// decoder's text or the chunk's bytes.
	Timeline *Timeline
}

// Converter turns one trace's units into replay step text, following
// the trace from its start (it may keep what it saw: a card id written
// becomes a capture where it comes back).
type Converter interface {
	// Unit is the length of the complete unit at the start of b (a
	// frame, a control byte, the bytes before a frame), or 0 while it is
	// not complete.
	Unit(b []byte) int
	// Text is a unit as a frame step's text, with patterns for what
	// changes from run to run, when it is a unit of the protocol.
	Text(fromHost bool, unit []byte) (string, bool)
	// Describe says what a unit written as hex is.
	Describe(unit []byte) string
}

// Decoder turns one direction of a line's byte stream, fed in chunks as
// it crossed the line, into the frames (or control bytes) each chunk
// completes, as text for people. A frame split over chunks is reported by
// the chunk that ends it.
type Decoder interface {
	Feed(b []byte) []string
}

// Redactor blanks chosen fields out of both directions of a line's bytes
// as they are recorded, keeping every frame's length and making its
// checksum right for the new bytes, so the trace still decodes and
// replays. fromHost says the direction of b, which it must not change.
type Redactor interface {
	Redact(fromHost bool, b []byte) []byte
}

// ProtocolOf returns the protocol of the model registered under name.
func ProtocolOf(name string) (*Protocol, bool) {
	m, ok := Lookup(name)
	if !ok || m.Protocol == nil {
		return nil, false
	}
	return m.Protocol, true
}

// Protocols lists the registered models that speak a protocol of their
// own, sorted: the protocols a trace or a replay may name.
func Protocols() []string {
	var out []string
	for _, name := range Names() {
		if _, ok := ProtocolOf(name); ok {
			out = append(out, name)
		}
	}
	return out
}

var (
	mu     sync.RWMutex
	models = map[string]Model{}
)

// Register adds m to the registry. It panics when m has no name or no
// constructor, or when a model of that name is registered already: both
// are mistakes of the program, found at its start.
func Register(m Model) {
	if m.Name == "" || m.New == nil {
		panic("model: Register needs a name and a constructor")
	}
	mu.Lock()
	defer mu.Unlock()
	if _, dup := models[m.Name]; dup {
		panic(fmt.Sprintf("model: %q is registered twice", m.Name))
	}
	m.Takes = slices.Clone(m.Takes)
	models[m.Name] = m
}

// Lookup returns the model registered under name.
func Lookup(name string) (Model, bool) {
	mu.RLock()
	defer mu.RUnlock()
	m, ok := models[name]
	return m, ok
}

// Names lists the registered models, sorted.
func Names() []string {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]string, 0, len(models))
	for name := range models {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}
