// Package scenario loads scenario files and plays their timelines.
//
// A scenario describes one situation at an encoder: the encoder (device
// model and id), the cards on the desk, the credential to encode, a
// timeline of physical events and device behaviour, and the outcome the
// pipeline must reach for each encode. docs/scenarios.md documents the
// format; scenarios/scenario.schema.json is its JSON Schema.
package scenario

import (
	"time"

	"github.com/encoderlab/encoderlab/sim/card"
)

// Scenario is one loaded scenario file.
type Scenario struct {
	// File is the path (or embedded name) it was loaded from.
	File        string
	Name        string
	Description string
	// Covers lists requirement ids the scenario exercises.
	Covers []string

	Encoder    Encoder
	Cards      []CardSpec
	Credential Credential
	Steps      []Step
	// Encodes are made one after another, each waiting for the previous
	// attempt's terminal status. A file with a top-level `expect` has one.
	Encodes []Encode
	// Commands, when not nil, is how many commands of each kind ("encode",
	// "read", "cancel") the device must have received by the end.
	Commands map[string]int
	// Faults are the serial and device faults applied while the scenario
	// runs (docs/faults.md).
	Faults []FaultSpec
}

// Encoder is the virtual encoder a scenario runs.
type Encoder struct {
	// Model names the device model ("pms").
	Model string
	// ID is the encoder's display name, which the pipeline knows it by
	// ("front-desk-1").
	ID string
	// CardWait overrides the model's wait for a card (0: model default).
	CardWait time.Duration
	// WriteTime overrides how long the model takes to write a card (0:
	// model default).
	WriteTime time.Duration
	// Writes restricts the technologies the encoder writes (nil: model default).
	Writes []card.Technology
	// Protocol is the protocol a replay model's frames are in ("pms",
	// "pn532"); other models speak their own.
	Protocol string
	Line     int
	// IDAt, ModelAt and ProtocolAt are where encoder.id, encoder.model
	// and encoder.protocol are written, for problems found after loading
	// (CheckLab); ProtocolAt is zero without a protocol.
	IDAt, ModelAt, ProtocolAt Pos
}

// Pos is a 1-based line and column in a scenario file (zero: unknown).
type Pos struct{ Line, Column int }

// CardSpec is a card on the desk.
type CardSpec struct {
	Name string
	Tech card.Technology
	UID  string
	// Holds is what the card already holds (default blank).
	Holds card.Kind
	// CardID is the lock-system card id already on a guest or staff card.
	CardID string
	Line   int
}

// Credential is the credential the runner creates before encoding.
type Credential struct {
	// System is the fixture ACS system key ("visionline-hotel").
	System string
	// User is the fixture user key within that system (default "guest").
	User string
	// Function is "guest" (default) or "staff"; it becomes
	// visionline_metadata.card_function_type where that applies.
	Function string
	// StartsAt and EndsAt are offsets from now for the credential's
	// validity (0: unset).
	StartsIn, EndsIn time.Duration
	Line             int
	// SystemAt and UserAt are where credential.system and
	// credential.user are written (UserAt is zero when the file leaves
	// user to its default).
	SystemAt, UserAt Pos
}

// Op is a timeline step's operation.
type Op string

const (
	OpPlace   Op = "place"   // Card: put a card on the reader
	OpRemove  Op = "remove"  // Card: take it away
	OpWait    Op = "wait"    // Duration: let (scaled) time pass
	OpAwait   Op = "await"   // Command: block until the device received the next command of that kind
	OpReply   Op = "reply"   // Answer: answer the command the preceding await received
	OpSilence Op = "silence" // On: stop (true) or resume (false) answering anything, ACKs included
	OpNAK     Op = "nak"     // Count: NAK the next Count frames received
	OpGarble  Op = "garble"  // Count: corrupt the checksum of the next Count frames sent
	OpBusy    Op = "busy"    // Count: answer "busy" to the next Count encode commands
	OpHangup  Op = "hangup"  // close the line and reopen it under the same path
)

// Step is one timeline entry.
type Step struct {
	// Index is the 0-based position in the timeline.
	Index  int
	Line   int
	Column int
	Op     Op

	Card     string        // place, remove
	Duration time.Duration // wait (unscaled)
	Command  string        // await: "encode", "read", "cancel"
	Answer   string        // reply: an Answer name
	Count    int           // nak, garble, busy
	On       bool          // silence
	Bytes    *Bytes        // expect, send
}

// Answers a reply step may name, protocol-neutral; device models map them
// onto their own codes.
var Answers = []string{
	"ok", "no-card", "timeout", "card-format-error", "other-system",
	"valid-user", "card-removed", "busy", "general-error", "syntax-error",
}

// Commands a device reports and an await step may name.
var Commands = []string{"encode", "read", "cancel"}

// Encode is one encode_credential call and what must come of it.
type Encode struct {
	// Encoder and Credential are "" for the scenario's own, or "unknown"
	// for a well-formed id that names nothing.
	Encoder    string
	Credential string
	Expect     Expect
	Line       int
}

// Expect is the outcome an encode must reach.
type Expect struct {
	// HTTPStatus of the encode_credential call (default 200).
	HTTPStatus int
	// Status is the attempt's terminal status: "success" or "error"
	// (empty when HTTPStatus is not 200).
	Status string
	// ErrorType is the attempt's error.type, or the API error's type when
	// HTTPStatus is not 200.
	ErrorType string
	// Card names the card whose UID must be the result's card_number
	// (success only).
	Card string
	// Written, when set, is what the Card must hold afterwards (success:
	// guest or staff; a refusal: what it held before).
	Written card.Kind
	Line    int
}
