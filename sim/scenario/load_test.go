package scenario_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/scenarios"
	"github.com/encoderlab/encoderlab/sim/card"
	"github.com/encoderlab/encoderlab/sim/scenario"
)

const fullExample = `# yaml-language-server: $schema=scenario.schema.json
name: staff-card-refused
description: A valid staff card is on the reader.
covers: [ENC-ERR-REISSUE]
encoder: {model: pms, id: front-desk-1, card_wait: 60s, write_time: 5s, writes: [mifare-classic-1k]}
cards:
  staff: {tech: mifare-classic-1k, uid: 04a224b1c3d4e5, holds: staff, card_id: 0011223344556677}
credential: {system: visionline-hotel, user: guest, function: staff, starts_in: -1h, ends_in: 72h}
steps:
  - place: staff
  - await: encode
  - reply: valid-user
  - wait: 100ms
  - remove: staff
  - silence: true
  - nak: 1
  - garble: 2
  - busy: 3
  - hangup: true
encodes:
  - expect: {status: error, error: {type: credential_cannot_be_reissued}, card: staff, written: staff}
  - acs_encoder_id: unknown
    expect: {http_status: 404, error: {type: acs_encoder_not_found}}
  - acs_credential_id: unknown
    expect: {http_status: 404, error: {type: acs_credential_not_found}}
commands: {encode: 1, cancel: 0}
`

func TestLoadFullExample(t *testing.T) {
	s, err := scenario.Load("staff-card-refused.yaml", []byte(fullExample))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := &scenario.Scenario{
		File:        "staff-card-refused.yaml",
		Name:        "staff-card-refused",
		Description: "A valid staff card is on the reader.",
		Covers:      []string{"ENC-ERR-REISSUE"},
		Encoder: scenario.Encoder{Model: "pms", ID: "front-desk-1", CardWait: time.Minute,
			WriteTime: 5 * time.Second, Writes: []card.Technology{card.MifareClassic1K}, Line: 5,
			IDAt: scenario.Pos{Line: 5, Column: 27}, ModelAt: scenario.Pos{Line: 5, Column: 18}},
		Cards: []scenario.CardSpec{{Name: "staff", Tech: card.MifareClassic1K, UID: "04A224B1C3D4E5",
			Holds: card.Staff, CardID: "0011223344556677", Line: 7}},
		Credential: scenario.Credential{System: "visionline-hotel", User: "guest", Function: "staff",
			AccessMethod: "card", StartsIn: -time.Hour, EndsIn: 72 * time.Hour, Line: 8,
			SystemAt: scenario.Pos{Line: 8, Column: 22}, UserAt: scenario.Pos{Line: 8, Column: 46}},
		Steps: []scenario.Step{
			{Index: 0, Line: 10, Column: 5, Op: scenario.OpPlace, Card: "staff"},
			{Index: 1, Line: 11, Column: 5, Op: scenario.OpAwait, Command: "encode"},
			{Index: 2, Line: 12, Column: 5, Op: scenario.OpReply, Answer: "valid-user"},
			{Index: 3, Line: 13, Column: 5, Op: scenario.OpWait, Duration: 100 * time.Millisecond},
			{Index: 4, Line: 14, Column: 5, Op: scenario.OpRemove, Card: "staff"},
			{Index: 5, Line: 15, Column: 5, Op: scenario.OpSilence, Silent: true},
			{Index: 6, Line: 16, Column: 5, Op: scenario.OpNAK, Count: 1},
			{Index: 7, Line: 17, Column: 5, Op: scenario.OpGarble, Count: 2},
			{Index: 8, Line: 18, Column: 5, Op: scenario.OpBusy, Count: 3},
			{Index: 9, Line: 19, Column: 5, Op: scenario.OpHangup},
		},
		Encodes: []scenario.Encode{
			{Expect: scenario.Expect{HTTPStatus: 200, Status: "error", ErrorType: "credential_cannot_be_reissued",
				Card: "staff", Written: card.Staff, Line: 21}, Line: 21},
			{Encoder: "unknown", Expect: scenario.Expect{HTTPStatus: 404, ErrorType: "acs_encoder_not_found", Line: 23}, Line: 22},
			{Credential: "unknown", Expect: scenario.Expect{HTTPStatus: 404, ErrorType: "acs_credential_not_found", Line: 25}, Line: 24},
		},
	}
	want.Encoder.Commands = map[string]int{"encode": 1, "cancel": 0}
	want.Encoders = []scenario.Encoder{want.Encoder}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("Load =\n%+v\nwant\n%+v", s, want)
	}
}

func TestLoadDefaults(t *testing.T) {
	doc := `name: d
encoder: {model: pms, id: e}
cards: {c: {tech: desfire, uid: "12345678"}}
credential: {system: s}
expect: {status: success, card: c}
`
	s, err := scenario.Load("d.yaml", []byte(doc))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c := s.Credential; c.User != "guest" || c.Function != "guest" || c.StartsIn != 0 || c.EndsIn != 0 {
		t.Errorf("credential = %+v, want user guest, function guest, no validity", c)
	}
	if got := s.Cards[0].Holds; got != card.Blank {
		t.Errorf("holds = %q, want blank", got)
	}
	if len(s.Encodes) != 1 || s.Encodes[0].Expect.HTTPStatus != 200 || s.Encodes[0].Encoder != "" || s.Encodes[0].Credential != "" {
		t.Errorf("encodes = %+v, want one encode of the scenario's own ids expecting HTTP 200", s.Encodes)
	}
	if s.Encoder.Commands != nil || s.Steps != nil || s.Encoder.Writes != nil || s.Encoder.CardWait != 0 {
		t.Errorf("unset optional parts = commands %v, steps %v, writes %v, card_wait %v; want all unset",
			s.Encoder.Commands, s.Steps, s.Encoder.Writes, s.Encoder.CardWait)
	}
}

// A valid head the problem cases append to.
const head = `name: p
encoder: {model: pms, id: front-desk-1}
cards:
  a: {tech: mifare-classic-1k, uid: 04A224B1C3D4E5}
  b: {tech: mifare-classic-1k, uid: 04A224B1C3D4E6}
credential: {system: visionline-hotel}
`

const okExpect = "expect: {status: success}\n"

// twoHead is a scenario head with two encoders, a PMS desk encoder and a
// PN532 reader.
const twoHead = `name: p
encoders:
  - {model: pms, id: front-desk-1}
  - {model: pn532, id: nfc-desk-1}
cards:
  a: {tech: mifare-classic-1k, uid: 04A224B1C3D4E5}
  b: {tech: mifare-classic-1k, uid: 04A224B1C3D4E6}
credential: {system: visionline-hotel}
`

func TestLoadProblems(t *testing.T) {
	cases := []struct {
		name, doc string
		line, col int
		msg       string
	}{
		{"unknown top key", head + okExpect + "extra: 1\n", 8, 1, `unknown key "extra"`},
		{"unknown nested key", head + "expect: {status: success, colour: red}\n", 7, 27, `expect: unknown key "colour"`},
		{"wrong type", "name: [a]\n" + head[8:] + okExpect, 1, 7, "name must be a string, got a list"},
		{"bad name", strings.Replace(head, "name: p", "name: P_1", 1) + okExpect, 1, 7, `name "P_1"`},
		{"missing name", head[8:] + okExpect, 1, 1, "name is required"},
		{"missing encoder id", strings.Replace(head, ", id: front-desk-1", "", 1) + okExpect, 2, 10, "encoder.id is required"},
		{"unknown model", strings.Replace(head, "model: pms", "model: acme", 1) + okExpect, 2, 18, `unknown model "acme"`},
		{"bad duration", strings.Replace(head, "id: front-desk-1", "id: x, card_wait: 5 seconds", 1) + okExpect, 2, 41, `bad duration "5 seconds"`},
		{"number as duration", strings.Replace(head, "id: front-desk-1", "id: x, write_time: 5", 1) + okExpect, 2, 42, "must be a duration"},
		{"negative duration", strings.Replace(head, "id: front-desk-1", "id: x, write_time: -5s", 1) + okExpect, 2, 42, "must not be negative"},
		{"unknown technology", strings.Replace(head, "tech: mifare-classic-1k, uid: 04A224B1C3D4E5", "tech: magstripe, uid: 04A224B1C3D4E5", 1) + okExpect, 4, 13, `unknown technology "magstripe"`},
		{"unknown writes technology", strings.Replace(head, "id: front-desk-1", "id: x, writes: [nfc]", 1) + okExpect, 2, 39, `unknown technology "nfc"`},
		{"unknown kind", strings.Replace(head, "uid: 04A224B1C3D4E5}", "uid: 04A224B1C3D4E5, holds: money}", 1) + okExpect, 4, 60, `unknown content "money"`},
		{"bad uid", strings.Replace(head, "04A224B1C3D4E5", "04A224B1C3D4", 1) + okExpect, 4, 37, "must be 4, 7 or 10 bytes"},
		{"uid not hex", strings.Replace(head, "04A224B1C3D4E5", "04A224B1C3D4ZZ", 1) + okExpect, 4, 37, "must be 4, 7 or 10 bytes"},
		{"card_id on blank", strings.Replace(head, "uid: 04A224B1C3D4E5}", `uid: 04A224B1C3D4E5, card_id: "0011223344556677"}`, 1) + okExpect, 4, 62, "card_id needs holds: guest or staff"},
		{"bad card_id", strings.Replace(head, "uid: 04A224B1C3D4E5}", `uid: 04A224B1C3D4E5, holds: guest, card_id: "00112233"}`, 1) + okExpect, 4, 76, "must be 16 hex digits"},
		{"duplicate card", strings.Replace(head, "credential:", "  a: {tech: desfire, uid: 04A224B1}\ncredential:", 1) + okExpect, 6, 3, `duplicate key "a" (first at line 4)`},
		{"duplicate top key", head + okExpect + "name: q\n", 8, 1, `duplicate key "name" (first at line 1)`},
		{"missing system", strings.Replace(head, "system: visionline-hotel", "user: guest", 1) + okExpect, 6, 13, "credential.system is required"},
		{"unknown function", strings.Replace(head, "system: visionline-hotel", "system: s, function: chef", 1) + okExpect, 6, 35, `unknown function "chef"`},
		{"ends before it starts", strings.Replace(head, "system: visionline-hotel", "system: s, starts_in: 2h, ends_in: 1h", 1) + okExpect, 6, 49, "must come after starts_in"},
		{"scan read without scan", head + "expect: {status: success, card: a, issued: true}\n", 7, 44, "expect.issued is what a scan reports: it needs scan: true"},
		{"scan naming a credential", head + "encodes:\n  - {scan: true, acs_credential_id: unknown, expect: {status: error, error: {type: no_credential_on_encoder}}}\n", 8, 37, "a scan names no credential"},
		{"scan read of a failure", head + "encodes:\n  - {scan: true, expect: {status: error, error: {type: no_credential_on_encoder}, card: a, on_seam: none}}\n", 8, 26, "need status success"},
		{"scan read without a card", head + "encodes:\n  - {scan: true, expect: {status: success, issued: false}}\n", 8, 26, "need expect.card"},
		{"unknown on_seam", head + "encodes:\n  - {scan: true, expect: {status: success, card: a, on_seam: maybe}}\n", 8, 62, `unknown finding "maybe"`},
		{"scan writing contents", head + "encodes:\n  - {scan: true, expect: {status: success, card: a, written: {holds: guest, label: x}}}\n", 8, 62, "a scan writes nothing"},
		{"bad read_time", strings.Replace(head, "id: front-desk-1", "id: x, read_time: soon", 1) + okExpect, 2, 41, `bad duration "soon"`},
		{"unknown op", head + "steps:\n  - jump: a\n" + okExpect, 8, 5, `unknown operation "jump"`},
		{"two ops", head + "steps:\n  - {place: a, remove: a}\n" + okExpect, 8, 5, "exactly one operation, got 2"},
		{"step not a mapping", head + "steps:\n  - place\n" + okExpect, 8, 5, "must be a mapping of one operation"},
		{"unknown card in step", head + "steps:\n  - place: c\n" + okExpect, 8, 12, `no card named "c"`},
		{"remove never placed", head + "steps:\n  - remove: a\n" + okExpect, 8, 13, `card "a" is not on the reader`},
		{"remove other card", head + "steps:\n  - place: a\n  - remove: b\n" + okExpect, 9, 13, `card "b" is not on the reader`},
		{"place on occupied reader", head + "steps:\n  - place: a\n  - place: b\n" + okExpect, 9, 12, `card "a" is already on the reader; remove it first (only a pn532 encoder holds several cards)`},
		{"place twice", strings.Replace(head, "model: pms", "model: pn532", 1) + "steps:\n  - place: a\n  - place: a\n" + okExpect, 9, 12, `card "a" is already on the reader`},
		{"remove one of two, then again", strings.Replace(head, "model: pms", "model: pn532", 1) + "steps:\n  - place: a\n  - place: b\n  - remove: a\n  - remove: a\n" + okExpect, 11, 13, `card "a" is not on the reader`},
		{"unknown command", head + "steps:\n  - await: write\n" + okExpect, 8, 12, `unknown command "write"`},
		{"unknown answer", head + "steps:\n  - await: encode\n  - reply: maybe\n" + okExpect, 9, 12, `unknown answer "maybe"`},
		{"reply first", head + "steps:\n  - reply: ok\n" + okExpect, 8, 5, "reply must come directly after an await"},
		{"reply after wait", head + "steps:\n  - await: encode\n  - wait: 1s\n  - reply: ok\n" + okExpect, 10, 5, "reply must come directly after an await"},
		{"nak zero", head + "steps:\n  - nak: 0\n" + okExpect, 8, 10, "nak must be at least 1"},
		{"busy text", head + "steps:\n  - busy: once\n" + okExpect, 8, 11, "busy must be a whole number"},
		{"silence text", head + "steps:\n  - silence: yes please\n" + okExpect, 8, 14, "silence must be true or false"},
		{"hangup false", head + "steps:\n  - hangup: false\n" + okExpect, 8, 13, "hangup takes true"},
		{"expect and encodes", head + okExpect + "encodes: [{expect: {status: success}}]\n", 8, 10, "expect and encodes are exclusive"},
		{"neither expect nor encodes", head, 1, 1, "expect or encodes is required"},
		{"empty encodes", head + "encodes: []\n", 7, 10, "at least one encode"},
		{"encode without expect", head + "encodes: [{acs_encoder_id: unknown}]\n", 7, 11, "encode: expect is required"},
		{"encoder id not unknown", head + "encodes: [{acs_encoder_id: x, expect: {status: success}}]\n", 7, 28, `acs_encoder_id must be "unknown"`},
		{"404 with status", head + "expect: {http_status: 404, status: error, error: {type: acs_encoder_not_found}}\n", 7, 36, "a refused call starts no attempt"},
		{"404 without error", head + "expect: {http_status: 404}\n", 7, 9, "needs error.type"},
		{"404 with card", head + "expect: {http_status: 404, error: {type: t}, card: a}\n", 7, 52, "a refused call writes no card"},
		{"bad http status", head + "expect: {http_status: 42, error: {type: t}}\n", 7, 23, "not an HTTP status"},
		{"success with error", head + "expect: {status: success, error: {type: t}}\n", 7, 34, "a successful attempt has no error"},
		{"error without type", head + "expect: {status: error, error: {}}\n", 7, 32, "expect.error needs a type"},
		{"status error without error", head + "expect: {status: error}\n", 7, 18, "expect.status error needs error.type"},
		{"missing status", head + "expect: {card: a}\n", 7, 9, "expect.status is required"},
		{"unknown status", head + "expect: {status: pending}\n", 7, 18, `unknown status "pending"`},
		{"bad error type", head + "expect: {status: error, error: {type: Not Found}}\n", 7, 39, "snake_case"},
		{"expect card undeclared", head + "expect: {status: success, card: z}\n", 7, 33, `no card named "z"`},
		{"written without card", head + "expect: {status: success, written: guest}\n", 7, 36, "written needs expect.card"},
		{"unknown command count", head + okExpect + "commands: {write: 1}\n", 8, 12, `unknown command "write"`},
		{"negative command count", head + okExpect + "commands: {encode: -1}\n", 8, 20, "must not be negative"},
		{"alias", head + "expect: &e {status: success}\nencodes: [{expect: *e}]\n", 8, 20, "aliases are not supported"},
		{"syntax error", head + "expect: {status: [\n", 7, 1, "invalid YAML"},
		{"empty", "", 1, 1, "empty file"},
		{"not a mapping", "- a\n- b\n", 1, 1, "scenario must be a mapping, got a list"},
		{"two documents", head + okExpect + "---\nname: q\n", 9, 1, "one YAML document"},

		// Several encoders.
		{"encoder and encoders", head + "encoders: [{model: pms, id: x}]\n" + okExpect, 7, 11, "encoder and encoders are exclusive"},
		{"encoder listed twice", strings.Replace(twoHead, "model: pn532, id: nfc-desk-1", "model: pn532, id: front-desk-1", 1) + okExpect, 4, 5, `encoder "front-desk-1" is listed twice`},
		{"empty encoders", "name: p\nencoders: []\ncredential: {system: s}\n" + okExpect, 2, 11, "at least one encoder"},
		{"top commands with encoders", twoHead + okExpect + "commands: {encode: 1}\n", 10, 11, "encoders[].commands"},
		{"unknown listed command", strings.Replace(twoHead, "id: nfc-desk-1}", "id: nfc-desk-1, commands: {write: 1}}", 1) + okExpect, 4, 47, `encoders[1].commands: unknown command "write"`},
		{"commands in encoder", strings.Replace(head, "id: front-desk-1}", "id: front-desk-1, commands: {encode: 1}}", 1) + okExpect, 2, 41, `encoder: unknown key "commands"`},
		{"faults with encoders", twoHead + okExpect + "faults: [{fault: latency, d: 1ms}]\n", 10, 9, "faults apply to a scenario of one encoder"},
		{"step on unknown encoder", twoHead + "steps:\n  - {place: a, on: desk-9}\n" + okExpect, 10, 5, `on: the scenario has no encoder "desk-9"`},
		{"step on not a string", twoHead + "steps:\n  - {place: a, on: [x]}\n" + okExpect, 10, 20, "on must be a string"},
		{"on alone", twoHead + "steps:\n  - {on: nfc-desk-1}\n" + okExpect, 10, 5, "must have an operation"},
		{"card on two readers", twoHead + "steps:\n  - place: a\n  - {place: a, on: nfc-desk-1}\n" + okExpect, 11, 13, `card "a" is on front-desk-1's reader; remove it first`},
		{"remove from the other reader", twoHead + "steps:\n  - place: a\n  - {remove: a, on: nfc-desk-1}\n" + okExpect, 11, 14, `card "a" is not on the reader`},
		{"stacking follows the encoder", twoHead + "steps:\n  - {place: a, on: nfc-desk-1}\n  - {place: b, on: nfc-desk-1}\n  - place: b\n" + okExpect, 12, 12, `card "b" is on nfc-desk-1's reader`},
		{"reply on another encoder", twoHead + "steps:\n  - await: encode\n  - {reply: ok, on: nfc-desk-1}\n" + okExpect, 11, 6, "reply must be on the encoder of the await before it"},
		{"encode on unknown encoder", twoHead + "encodes: [{on: desk-9, expect: {status: success}}]\n", 9, 16, `encode: on: the scenario has no encoder "desk-9"`},
		{"first encode concurrent", head + "encodes: [{concurrent: true, expect: {status: success}}]\n", 7, 24, "the first encode has no encode before it"},

		// Awaits and unplug.
		{"await two things", head + "steps:\n  - await: {answer: encode, written: a}\n" + okExpect, 8, 12, "await takes one of"},
		{"await unknown thing", head + "steps:\n  - await: {arrival: encode}\n" + okExpect, 8, 13, `unknown key "arrival"`},
		{"await answer unknown command", head + "steps:\n  - await: {answer: write}\n" + okExpect, 8, 21, `unknown command "write"`},
		{"await written unknown card", head + "steps:\n  - await: {written: z}\n" + okExpect, 8, 12, `no card named "z"`},
		{"reply after await answer", head + "steps:\n  - await: {answer: encode}\n  - reply: ok\n" + okExpect, 9, 5, "reply must come directly after an await of a command"},
		{"unplug false", head + "steps:\n  - unplug: false\n" + okExpect, 8, 13, "unplug takes true"},
		{"device step after unplug", head + "steps:\n  - unplug: true\n  - busy: 1\n" + okExpect, 9, 5, "was unplugged at step 1"},
		{"await a command after unplug", head + "steps:\n  - unplug: true\n  - await: encode\n" + okExpect, 9, 5, "was unplugged at step 1"},
		{"hangup after unplug", head + "steps:\n  - unplug: true\n  - hangup: true\n" + okExpect, 9, 5, "nothing on its line answers any more"},

		// Steps on the system under test.
		{"server restart", head + "steps:\n  - server: restart\n" + okExpect, 8, 13, `unknown action "restart" (want one of kill, stop, start)`},
		{"server stopped twice", head + "steps:\n  - server: stop\n  - server: stop\n  - server: start\n" + okExpect, 9, 13, "the server was stopped at step 1"},
		{"server started while running", head + "steps:\n  - server: start\n" + okExpect, 8, 13, "start only follows a server: stop"},
		{"server never started again", head + "steps:\n  - server: stop\n" + okExpect, 8, 3, "never started again"},
		{"store empty", head + "steps:\n  - store: empty\n" + okExpect, 8, 12, `unknown state "empty" (want one of full, free)`},
		{"server step on an encoder", twoHead + "steps:\n  - {server: kill, on: nfc-desk-1}\n" + okExpect, 10, 5, "acts on the system under test, not on an encoder"},

		// The credential.
		{"unknown access method", strings.Replace(head, "system: visionline-hotel", "system: s, access_method: pin", 1) + okExpect, 6, 40, `unknown access method "pin"`},
		{"time without a zone", strings.Replace(head, "system: visionline-hotel", "system: s, ends_at: 2099-06-01T14:00:00", 1) + okExpect, 6, 34, "want RFC 3339 with a zone"},
		{"starts_at and starts_in", strings.Replace(head, "system: visionline-hotel", "system: s, starts_in: 1h, starts_at: 2099-06-01T14:00:00Z", 1) + okExpect, 6, 51, "starts_at and starts_in are exclusive"},
		{"ends_at and ends_in", strings.Replace(head, "system: visionline-hotel", "system: s, ends_in: 1h, ends_at: 2099-06-01T14:00:00Z", 1) + okExpect, 6, 47, "ends_at and ends_in are exclusive"},
		{"ends_at before starts_at", strings.Replace(head, "system: visionline-hotel", "system: s, starts_at: 2099-06-02T14:00:00Z, ends_at: 2099-06-01T14:00:00Z", 1) + okExpect, 6, 67, "must come after starts_at"},
		{"refusal with 200", strings.Replace(head, "system: visionline-hotel", "system: s, expect: {status: success}", 1), 6, 33, "credential.expect is a refusal"},
		{"refusal and an encode", strings.Replace(head, "system: visionline-hotel", "system: s, expect: {http_status: 400, error: {type: invalid_input}}", 1) + okExpect, 7, 9, "nothing to encode"},

		// What was written.
		{"written without holds", head + "expect: {status: success, card: a, written: {label: x}}\n", 7, 45, "expect.written.holds is required"},
		{"written bad bound", head + "expect: {status: success, card: a, written: {holds: guest, valid_from: soon}}\n", 7, 72, "must be credential (the credential's own bound), none"},
		{"written unknown key", head + "expect: {status: success, card: a, written: {holds: guest, colour: red}}\n", 7, 60, `unknown key "colour"`},
		{"written label on blank", head + "expect: {status: error, error: {type: t}, card: a, written: {holds: blank, label: x}}\n", 7, 61, "they need holds: guest or staff"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := scenario.Load("p.yaml", []byte(c.doc))
			var le *scenario.LoadError
			if !errors.As(err, &le) {
				t.Fatalf("Load = %v, %v; want a *LoadError", s, err)
			}
			if s != nil {
				t.Errorf("Load returned a scenario with its error")
			}
			for _, p := range le.Problems {
				if p.Line == c.line && p.Column == c.col && strings.Contains(p.Msg, c.msg) {
					return
				}
			}
			t.Errorf("no problem %d:%d containing %q; got:\n%v", c.line, c.col, c.msg, err)
		})
	}
}

func TestLoadValidRefinements(t *testing.T) {
	// Shapes that must load: unquoted all-digit hex, a trailing document
	// marker, reply right after await, a card placed again after removal.
	doc := head + `steps:
  - place: a
  - remove: a
  - place: b
  - await: encode
  - reply: ok
  - wait: 0
commands: {read: 0}
expect: {status: success, card: b, written: guest}
---
`
	doc = strings.Replace(doc, "uid: 04A224B1C3D4E6}", "uid: 12345678901234, holds: guest, card_id: 1234567890123456}", 1)
	s, err := scenario.Load("ok.yaml", []byte(doc))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if b := s.Cards[1]; b.UID != "12345678901234" || b.CardID != "1234567890123456" {
		t.Errorf("card b = %+v, want the digits as written", b)
	}
}

// A scan: the call, what it must read, and the encoder's read time.
func TestLoadScan(t *testing.T) {
	doc := strings.Replace(head, "id: front-desk-1", "id: front-desk-1, read_time: 2s", 1) + `encodes:
  - expect: {status: success, card: a, written: guest}
  - scan: true
    expect: {status: success, card: a, written: guest, issued: true, on_seam: credential, warnings: []}
  - {scan: true, acs_encoder_id: unknown, expect: {http_status: 404, error: {type: acs_encoder_not_found}}}
`
	s, err := scenario.Load("scan.yaml", []byte(doc))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if s.Encoder.ReadTime != 2*time.Second {
		t.Errorf("read_time = %v, want 2s", s.Encoder.ReadTime)
	}
	if !s.Scans() || s.Encodes[0].Scan || !s.Encodes[1].Scan || !s.Encodes[2].Scan || s.Encodes[2].Encoder != scenario.Unknown {
		t.Fatalf("encodes %+v: want an encode, then two scans, the second of an unknown encoder", s.Encodes)
	}
	r := s.Encodes[1].Expect.Read
	if r == nil || r.Issued == nil || !*r.Issued || r.OnSeam != scenario.OnSeamCredential || r.Warnings == nil || len(r.Warnings) != 0 {
		t.Errorf("scan read = %+v, want issued, the credential on seam and no warning", r)
	}
	if s.Encodes[0].Expect.Read != nil {
		t.Errorf("the encode has a scan read %+v", s.Encodes[0].Expect.Read)
	}
}

func TestLoadStackedCards(t *testing.T) {
	// A PN532's field holds several cards: a second card placed on the
	// first, then both taken off in either order.
	doc := strings.Replace(head, "model: pms", "model: pn532", 1) + `steps:
  - place: a
  - place: b
  - remove: a
  - place: a
  - remove: b
  - remove: a
expect: {status: error, error: {type: uncategorized_error}}
`
	s, err := scenario.Load("stacked.yaml", []byte(doc))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(s.Steps) != 6 {
		t.Errorf("%d steps, want 6", len(s.Steps))
	}
}

func TestLoadErrorListsEveryProblem(t *testing.T) {
	doc := `name: Bad
encoder: {model: acme, id: x}
credential: {system: s, function: chef}
steps:
  - remove: ghost
expect: {status: maybe}
`
	_, err := scenario.Load("dir/bad.yaml", []byte(doc))
	var le *scenario.LoadError
	if !errors.As(err, &le) {
		t.Fatalf("Load error = %v, want a *LoadError", err)
	}
	want := []string{
		`dir/bad.yaml:1:7: name "Bad" must be lower-case letters, digits and single dashes`,
		`dir/bad.yaml:2:18: encoder.model: unknown model "acme" (want one of acr122, pms, pn532, replay)`,
		`dir/bad.yaml:3:35: credential.function: unknown function "chef" (want one of guest, staff)`,
		`dir/bad.yaml:5:13: step 1 (remove): no card named "ghost" in cards`,
		`dir/bad.yaml:5:13: step 1 (remove): card "ghost" is not on the reader (place it first)`,
		`dir/bad.yaml:6:18: expect.status: unknown status "maybe" (want one of success, error, any)`,
	}
	if got := strings.Split(err.Error(), "\n"); !reflect.DeepEqual(got, want) {
		t.Errorf("Error() =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if le.File != "dir/bad.yaml" || len(le.Problems) != len(want) {
		t.Errorf("LoadError = file %q, %d problems; want dir/bad.yaml, %d", le.File, len(le.Problems), len(want))
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "staff-card-refused.yaml")
	if err := os.WriteFile(path, []byte(fullExample), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := scenario.LoadFile(path)
	if err != nil {
		t.Fatalf("LoadFile: %v", err)
	}
	if s.File != path || s.Name != "staff-card-refused" {
		t.Errorf("LoadFile = file %q name %q, want %q staff-card-refused", s.File, s.Name, path)
	}
	if _, err := scenario.LoadFile(filepath.Join(dir, "missing.yaml")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadFile(missing) = %v, want fs.ErrNotExist", err)
	}
}

func TestCards(t *testing.T) {
	s, err := scenario.Load("c.yaml", []byte(strings.Replace(head, "credential:", `  g: {tech: desfire, uid: 04a224b1, holds: guest, card_id: 00112233aabbccdd}
  s: {tech: mifare-classic-4k, uid: 04A224B1C3D4E5F6A7B8, holds: staff}
credential:`, 1)+okExpect))
	if err != nil {
		t.Fatal(err)
	}
	cards, err := scenario.Cards(s)
	if err != nil {
		t.Fatalf("Cards: %v", err)
	}
	if len(cards) != 4 {
		t.Fatalf("Cards = %d cards, want 4", len(cards))
	}
	g := cards["g"]
	if g.Name != "g" || g.Tech != card.DESFire || g.UID != "04A224B1" {
		t.Errorf("card g = %s %s %s, want g desfire 04A224B1", g.Name, g.Tech, g.UID)
	}
	if got, want := g.Contents(), (card.Contents{Kind: card.Guest, CardID: "00112233AABBCCDD", Function: "G"}); got != want {
		t.Errorf("card g holds %+v, want %+v", got, want)
	}
	if got := cards["s"].Contents(); got.Kind != card.Staff || got.Function != "S" {
		t.Errorf("card s holds %+v, want a staff credential", got)
	}
	if got := cards["a"].Contents(); got != (card.Contents{Kind: card.Blank}) {
		t.Errorf("card a holds %+v, want blank", got)
	}

	bad := &scenario.Scenario{File: "hand.yaml", Cards: []scenario.CardSpec{
		{Name: "x", Tech: card.DESFire, UID: "zz"},
		{Name: "y", Tech: "magstripe", UID: "04A224B1"},
	}}
	_, err = scenario.Cards(bad)
	if err == nil || !strings.Contains(err.Error(), `card "x"`) || !strings.Contains(err.Error(), `card "y"`) {
		t.Errorf("Cards(bad) = %v, want errors for both x and y", err)
	}
}

func FuzzLoad(f *testing.F) {
	f.Add([]byte(fullExample))
	f.Add([]byte(head + okExpect))
	f.Add([]byte(""))
	f.Add([]byte("name: [\n"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("steps: [{}, [], {reply: ok}, {nak: 99999999999999999999}]\n"))
	f.Add([]byte("expect: {http_status: !!str 404}\ncards: {? [a]: b}\n"))
	for _, n := range scenarios.Names() {
		data, err := fs.ReadFile(scenarios.FS, n+".yaml")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := scenario.Load("fuzz.yaml", data)
		if err != nil {
			var le *scenario.LoadError
			if !errors.As(err, &le) || len(le.Problems) == 0 || s != nil {
				t.Fatalf("Load = %v, %v; want a *LoadError with problems and no scenario", s, err)
			}
			for _, p := range le.Problems {
				if p.Msg == "" {
					t.Fatalf("problem without a message: %+v", p)
				}
			}
			return
		}
		if s == nil {
			t.Fatal("Load = nil, nil")
		}
		// Whatever loads must build its cards and play without panicking.
		if _, err := scenario.Cards(s); err != nil {
			t.Fatalf("a loaded scenario's cards do not build: %v", err)
		}
		_ = fmt.Sprint(s.Steps)
	})
}

func TestLoadSeveralEncodersAndWhatWasWritten(t *testing.T) {
	doc := twoHead[:strings.Index(twoHead, "credential:")] + `credential: {system: visionline-hotel, access_method: card, starts_at: 2099-06-01T14:00:00Z, ends_at: "2099-06-04T13:00:00+02:00"}
steps:
  - {place: a, on: nfc-desk-1}
  - await: {written: a}
  - {await: {answer: encode}, on: nfc-desk-1}
  - unplug: true
encodes:
  - on: nfc-desk-1
    expect:
      status: success
      card: a
      written: {holds: guest, function: staff, valid_from: credential, valid_until: none, label: Room 101}
  - concurrent: true
    expect: {status: error, error: {type: uncategorized_error}}
`
	s, err := scenario.Load("two.yaml", []byte(doc))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(s.Encoders) != 2 || s.Encoder.ID != "front-desk-1" || s.Encoders[1].ID != "nfc-desk-1" || s.Encoders[1].Model != "pn532" {
		t.Errorf("encoders = %+v (encoder %+v), want front-desk-1 first, then nfc-desk-1 (pn532)", s.Encoders, s.Encoder)
	}
	c := s.Credential
	if c.AccessMethod != "card" || !c.StartsAt.Equal(time.Date(2099, 6, 1, 14, 0, 0, 0, time.UTC)) ||
		!c.EndsAt.Equal(time.Date(2099, 6, 4, 11, 0, 0, 0, time.UTC)) || c.Refused != nil {
		t.Errorf("credential = %+v, want card, 2099-06-01T14:00Z to 2099-06-04T11:00Z, not refused", c)
	}
	st := s.Steps
	if st[0].On != "nfc-desk-1" || st[0].Op != scenario.OpPlace ||
		st[1].Awaits != scenario.AwaitWritten || st[1].Card != "a" || st[1].On != "" ||
		st[2].Awaits != scenario.AwaitAnswer || st[2].Command != "encode" || st[2].On != "nfc-desk-1" ||
		st[3].Op != scenario.OpUnplug {
		t.Errorf("steps = %+v", st)
	}
	if got := st[1].String() + "; " + st[2].String(); got != "await a written; await the answer to encode" {
		t.Errorf("step names = %q", got)
	}
	e := s.Encodes
	if len(e) != 2 || e[0].On != "nfc-desk-1" || e[0].Concurrent || !e[1].Concurrent || s.EncodeOn(e[1]) != "front-desk-1" {
		t.Errorf("encodes = %+v, want the first on nfc-desk-1, the second concurrent on front-desk-1", e)
	}
	w := e[0].Expect.Contents
	if e[0].Expect.Written != card.Guest || w == nil || w.Function != "staff" || w.ValidFrom == nil || !w.ValidFrom.Credential ||
		w.ValidUntil == nil || !w.ValidUntil.None || w.Label == nil || *w.Label != "Room 101" {
		t.Errorf("written = %q %+v", e[0].Expect.Written, w)
	}
	// The part on each encoder: its steps and encodes only.
	nfc := s.On("nfc-desk-1")
	if nfc.Encoder.ID != "nfc-desk-1" || len(nfc.Steps) != 2 || len(nfc.Encodes) != 1 || len(nfc.AllEncoders()) != 1 {
		t.Errorf("On(nfc-desk-1) = encoder %s, %d steps, %d encodes; want nfc-desk-1, 2, 1", nfc.Encoder.ID, len(nfc.Steps), len(nfc.Encodes))
	}
	desk := s.On("front-desk-1")
	if len(desk.Steps) != 2 || desk.Steps[1].Op != scenario.OpUnplug || len(desk.Encodes) != 1 {
		t.Errorf("On(front-desk-1) = %d steps, %d encodes; want await written and unplug, and one encode", len(desk.Steps), len(desk.Encodes))
	}
}

func TestLoadRefusedCredential(t *testing.T) {
	doc := strings.Replace(head, "credential: {system: visionline-hotel}",
		"credential: {system: visionline-hotel, starts_in: 2h, ends_in: 1h, expect: {http_status: 400, error: {type: invalid_input}}}", 1) +
		"commands: {encode: 0}\n"
	s, err := scenario.Load("refused.yaml", []byte(doc))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if r := s.Credential.Refused; r == nil || r.HTTPStatus != 400 || r.ErrorType != "invalid_input" || len(s.Encodes) != 0 {
		t.Errorf("refused = %+v, encodes %d; want HTTP 400 invalid_input and no encodes", r, len(s.Encodes))
	}
}
