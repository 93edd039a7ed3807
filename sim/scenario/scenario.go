// Package scenario loads scenario files and plays their timelines.
//
// A scenario describes one situation at an encoder: the encoder (device
// model and id), the cards on the desk, the credential to encode, a
// timeline of physical events and device behaviour, and the outcome the
// pipeline must reach for each encode. docs/scenarios.md documents the
// format; scenarios/scenario.schema.json is its JSON Schema.
package scenario

import (
	"slices"
	"time"

	"github.com/encoderlab/encoderlab/sim/card"
	"github.com/encoderlab/encoderlab/sim/model"
)

// Scenario is one loaded scenario file.
type Scenario struct {
	// File is the path (or embedded name) it was loaded from.
	File        string
	Name        string
	Description string
	// Covers lists requirement ids the scenario exercises.
	Covers []string
	// Family names the situation the scenario is one model's instance of
	// (one of Families), or "" for one no other model shares.
	Family string

	// Encoder is the scenario's encoder: the first of Encoders, the one
	// steps and encodes act on unless they name another.
	Encoder Encoder
	// Encoders are every encoder of the scenario, Encoder first. A file
	// with a top-level `encoder` has one; a scenario built by hand may
	// leave it nil (AllEncoders).
	Encoders   []Encoder
	Cards      []CardSpec
	Credential Credential
	Steps      []Step
	// Encodes are made one after another, each waiting for the previous
	// attempt's terminal status unless it is Concurrent. A file with a
	// top-level `expect` has one; a file whose credential's creation is
	// expected to be refused has none.
	Encodes []Encode
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
	// ReadTime is how long the model takes to read a card for a scan,
	// during which the card must stay in the field (0: the model's
	// default, which reads at once).
	ReadTime time.Duration
	// Writes restricts the technologies the encoder writes (nil: model default).
	Writes []card.Technology
	// Protocol is the protocol a replay model's frames are in, one of
	// ReplayProtocols(): a registered model's whose protocol compiles
	// frame text; other models speak their own.
	Protocol string
	// Commands, when not nil, is how many commands of each kind
	// ("encode", "read", "cancel") the device must have received by the
	// end.
	Commands map[string]int
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
	// AccessMethod is the credential's access_method: "card" (default),
	// "code" or "mobile_key".
	AccessMethod string
	// Code is the code of a "code" credential ("": none sent).
	Code string
	// StartsIn and EndsIn are offsets from now for the credential's
	// validity (0: unset).
	StartsIn, EndsIn time.Duration
	// StartsAt and EndsAt are absolute bounds (zero: unset); each
	// excludes its offset.
	StartsAt, EndsAt time.Time
	// Refused, when not nil, is the API error /acs/credentials/create
	// must answer: the credential is never made, and nothing is encoded.
	Refused *Expect
	Line    int
	// SystemAt and UserAt are where credential.system and
	// credential.user are written (UserAt is zero when the file leaves
	// user to its default).
	SystemAt, UserAt Pos
}

// Families are the situations every device model's scenarios cover, each
// once per model (a scenario's family: key): what a desk meets whatever
// its encoder speaks. The bundled set has one scenario of each family for
// every registered model, and a test keeps it so.
var Families = []string{
	"first-issue", "reissue-allowed", "reissue-refused-by-system",
	"empty-reader", "prox-card-invisible", "wrong-technology", "other-system-card", "staff-card-refused",
	"card-removed-mid-encode", "encoder-silent", "busy-then-success", "nak-then-retransmit", "garbled-answer",
	"scan-blank-card", "scan-known-card", "scan-unknown-card", "scan-other-system-card", "scan-empty-reader", "scan-removed-mid-read",
}

// Op is a timeline step's operation.
type Op string

const (
	OpPlace   Op = "place"   // Card: put a card on the reader
	OpRemove  Op = "remove"  // Card: take it away
	OpWait    Op = "wait"    // Duration: let (scaled) time pass
	OpAwait   Op = "await"   // Command: block until the device received the next command of that kind
	OpReply   Op = "reply"   // Answer: answer the command the preceding await received
	OpSilence Op = "silence" // Silent: stop (true) or resume (false) answering anything, ACKs included
	OpNAK     Op = "nak"     // Count: NAK the next Count frames received
	OpGarble  Op = "garble"  // Count: corrupt the checksum of the next Count frames sent
	OpBusy    Op = "busy"    // Count: answer "busy" to the next Count encode commands
	OpHangup  Op = "hangup"  // close the line and reopen it under the same path
	OpUnplug  Op = "unplug"  // close the line for good: its path goes away
	OpServer  Op = "server"  // Act: what happens to the server under test (ServerKill)
	OpStore   Op = "store"   // Act: what happens to the disk of its store (StoreFull, StoreFree)
	// OpCredential is what the client does to the scenario's credential
	// while the timeline runs (Act: CredentialDelete).
	OpCredential Op = "credential"
)

// CredentialDelete, as a credential step's Act, deletes the scenario's
// credential through the API (/acs/credentials/delete).
const CredentialDelete = "delete"

// ClientOps are the operations the client that makes the scenario's
// calls takes (the conformance suite), through the API.
var ClientOps = []Op{OpCredential}

// What a server or store step does (Step.Act). These steps act on the
// system under test, not on an encoder, so only a run that started the
// system itself, as a process of its own, can take them (see System).
const (
	// ServerKill kills the server with SIGKILL and starts it again on
	// the same store; the step ends once it serves again.
	ServerKill = "kill"
	// ServerStop kills the server with SIGKILL and leaves it down until
	// a ServerStart step starts it again on the same store, so the
	// timeline can act while no server runs.
	ServerStop  = "stop"
	ServerStart = "start"
	// StoreFull fills the file system the store is on, to the last
	// byte; StoreFree gives the space back.
	StoreFull = "full"
	StoreFree = "free"
)

// SystemOps are the operations that act on the system under test.
var SystemOps = []Op{OpServer, OpStore}

// What an await step waits for (Step.Awaits).
const (
	AwaitCommand = ""        // the device's next command of a kind arrived
	AwaitAnswer  = "answer"  // the device answered its next command of a kind
	AwaitWritten = "written" // a card was written once more
)

// Step is one timeline entry.
type Step struct {
	// Index is the 0-based position in the timeline.
	Index  int
	Line   int
	Column int
	Op     Op

	// On is the id of the encoder the step acts on ("": the scenario's
	// Encoder).
	On string

	Card     string        // place, remove, await written
	Duration time.Duration // wait (unscaled)
	Awaits   string        // await: AwaitCommand, AwaitAnswer or AwaitWritten
	Command  string        // await (command, answer): "encode", "read", "cancel"
	Answer   string        // reply: an Answer name
	Count    int           // nak, garble, busy
	Silent   bool          // silence
	Bytes    *Bytes        // expect, send
	Act      string        // server: ServerKill, ServerStop, ServerStart; store: StoreFull, StoreFree
}

// Answers a reply step may name, protocol-neutral; device models map them
// onto their own codes (model.Answers).
var Answers = model.Answers

// Commands a device reports and an await step may name (model.Commands).
var Commands = model.Commands

// Encode is one encode_credential call, or one scan_credential call
// (Scan), and what must come of it.
type Encode struct {
	// Scan makes the call /acs/encoders/scan_credential on the encoder:
	// the encoder reads the card in its field and writes nothing.
	// Credential is then "".
	Scan bool
	// Encoder and Credential are "" for the scenario's own, or "unknown"
	// for a well-formed id that names nothing.
	Encoder    string
	Credential string
	// On is the id of the scenario encoder the encode runs on ("": the
	// scenario's Encoder).
	On string
	// Concurrent encodes start as soon as the encode before them has been
	// answered (its attempt created), without waiting for its terminal
	// status.
	Concurrent bool
	Expect     Expect
	Line       int
}

// Expect is the outcome an encode must reach.
type Expect struct {
	// HTTPStatus of the encode_credential call (default 200).
	HTTPStatus int
	// Status is the attempt's terminal status: "success", "error", or
	// StatusAny for any terminal status (empty when HTTPStatus is not
	// 200). An encode expecting any status is judged by what holds for
	// every encode, as the explorer's scenarios are.
	Status string
	// ErrorType is the attempt's error.type, or the API error's type when
	// HTTPStatus is not 200, as the seed profiles (current, older) name it.
	ErrorType string
	// LatestErrorType, when set, is the error type under the latest
	// profile, whose finer types name what the seeds call
	// uncategorized_error (encoding_interrupted, …). Use ErrorTypeIn.
	LatestErrorType string
	// Card names the card whose UID must be the result's card_number
	// (success only).
	Card string
	// Written, when set, is what the Card must hold afterwards (success:
	// guest or staff; a refusal: what it held before).
	Written card.Kind
	// Contents, when not nil, are further checks of what was written.
	Contents *WrittenContents
	// Read, when not nil, is what a scan that succeeds must report of the
	// Card (scans only).
	Read *ScanRead
	Line int
}

// ScanRead is what a successful scan must report: whether the card holds
// a credential of the encoder's system, which credential of the server
// that is, and the scan's warnings. A nil or empty field is not checked.
type ScanRead struct {
	// Issued is acs_credential_on_encoder.is_issued.
	Issued *bool
	// OnSeam is OnSeamCredential (acs_credential_on_seam is the
	// scenario's credential) or OnSeamNone (null).
	OnSeam string
	// Warnings are the warning codes, in any order (nil: not checked;
	// empty: none).
	Warnings []string
}

// What a scan finds on the server (ScanRead.OnSeam).
const (
	OnSeamCredential = "credential"
	OnSeamNone       = "none"
)

// ErrorTypeIn is the error type expected when the server serves the
// named profile (docs/profiles.md).
func (x Expect) ErrorTypeIn(profile string) string {
	if profile == "latest" && x.LatestErrorType != "" {
		return x.LatestErrorType
	}
	return x.ErrorType
}

// StatusAny is the expected status of an encode that may end either way.
const StatusAny = "any"

// WrittenContents are checks of what an encode wrote on its card, beyond
// the kind of credential. A nil field is not checked.
type WrittenContents struct {
	// Function is "guest" or "staff".
	Function string
	// ValidFrom and ValidUntil are the bounds the card must carry.
	ValidFrom, ValidUntil *Bound
	// Label is the label the card must carry.
	Label *string
}

// Bound is an expected validity bound on a card.
type Bound struct {
	// Credential: the credential's own starts_at or ends_at, as the API
	// reported it, to the minute (open when the credential has none).
	Credential bool
	// None: no bound. At: that time, to the minute (neither flag set).
	None bool
	At   time.Time
}

// AllEncoders returns the scenario's encoders: Encoders, or the Encoder
// alone when a scenario built by hand left Encoders nil.
func (s *Scenario) AllEncoders() []Encoder {
	if len(s.Encoders) > 0 {
		return s.Encoders
	}
	return []Encoder{s.Encoder}
}

// On returns the part of s that runs on the encoder with that id: the
// encoder alone, the steps and encodes on it, every card. It is how one
// encoder of several is started; On of a one-encoder scenario's own
// encoder is s itself.
func (s *Scenario) On(id string) *Scenario {
	all := s.AllEncoders()
	if len(all) == 1 && all[0].ID == id {
		return s
	}
	out := *s
	out.Encoders, out.Steps, out.Encodes = nil, nil, nil
	for _, e := range all {
		if e.ID == id {
			out.Encoder = e
			out.Encoders = []Encoder{e}
		}
	}
	for _, st := range s.Steps {
		if s.StepOn(st) == id {
			out.Steps = append(out.Steps, st)
		}
	}
	for _, e := range s.Encodes {
		if s.EncodeOn(e) == id {
			out.Encodes = append(out.Encodes, e)
		}
	}
	return &out
}

// MovedTo returns a copy of a one-encoder scenario that plays on the
// encoder with that id instead of its own, wherever the scenario names it.
func (s *Scenario) MovedTo(id string) *Scenario {
	out := *s
	old := s.Encoder.ID
	out.Encoder.ID = id
	out.Encoders = []Encoder{out.Encoder}
	out.Steps = slices.Clone(s.Steps)
	for i := range out.Steps {
		if out.Steps[i].On == old {
			out.Steps[i].On = id
		}
	}
	out.Encodes = slices.Clone(s.Encodes)
	for i := range out.Encodes {
		if out.Encodes[i].On == old {
			out.Encodes[i].On = id
		}
	}
	return &out
}

// ForProfile returns s as a run against a server serving the named
// profile judges it: every expected error type is the one of that
// profile (Expect.ErrorTypeIn), so that the judge reads ErrorType alone.
// s itself is s's form for the seed profiles.
func (s *Scenario) ForProfile(profile string) *Scenario {
	out := *s
	out.Encodes = slices.Clone(s.Encodes)
	for i := range out.Encodes {
		out.Encodes[i].Expect = out.Encodes[i].Expect.in(profile)
	}
	if r := s.Credential.Refused; r != nil {
		x := r.in(profile)
		out.Credential.Refused = &x
	}
	return &out
}

func (x Expect) in(profile string) Expect {
	x.ErrorType, x.LatestErrorType = x.ErrorTypeIn(profile), ""
	return x
}

// DeletesCredential reports whether the timeline deletes the scenario's
// credential (a credential: delete step).
func (s *Scenario) DeletesCredential() bool {
	return slices.ContainsFunc(s.Steps, func(st Step) bool { return st.Op == OpCredential && st.Act == CredentialDelete })
}

// Scans reports whether any of the scenario's calls is a scan.
func (s *Scenario) Scans() bool {
	return slices.ContainsFunc(s.Encodes, func(e Encode) bool { return e.Scan })
}

// StepOn is the id of the encoder st acts on.
func (s *Scenario) StepOn(st Step) string {
	if st.On != "" {
		return st.On
	}
	return s.Encoder.ID
}

// EncodeOn is the id of the scenario encoder e runs on.
func (s *Scenario) EncodeOn(e Encode) string {
	if e.On != "" {
		return e.On
	}
	return s.Encoder.ID
}

// SystemSteps reports whether the timeline acts on the system under test
// (a server or store step), which only a run that started the system
// itself can do.
func (s *Scenario) SystemSteps() bool {
	return slices.ContainsFunc(s.Steps, func(st Step) bool { return slices.Contains(SystemOps, st.Op) })
}
