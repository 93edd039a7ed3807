package scenario_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/sim/scenario"
)

// faultHead is a valid scenario up to its faults list; the fault under
// test is on line 9, after "  - ".
const faultHead = `name: faults
encoder: {model: pms, id: front-desk-1}
cards:
  blank: {tech: mifare-classic-1k, uid: 04B2C3D4E5F6A7}
credential: {system: visionline-hotel}
steps: [{place: blank}, {await: encode}]
expect: {status: success}
faults:
`

const faultLine = 9

func loadFault(t *testing.T, fault string) (*scenario.Scenario, error) {
	t.Helper()
	return scenario.Load("f.yaml", []byte(faultHead+"  - "+fault+"\n"))
}

func TestFaultProblems(t *testing.T) {
	cases := []struct {
		name, fault string
		at          string // where in the fault the problem is reported
		msg         string
	}{
		{"unknown fault", "{fault: gremlins}", "gremlins", "gremlins"},
		{"no name", "{d: 1s}", "{", "fault is required"},
		{"not a mapping", "latency", "latency", "must be a mapping"},
		{"unknown key", "{fault: latency, d: 1s, rate: 9600}", "rate", "rate"},
		{"dir on an event", "{fault: hangup, dir: both}", "dir", "dir"},
		{"bad direction", "{fault: silence, dir: sideways}", "sideways", "sideways"},
		{"latency without d", "{fault: latency}", "{", "d, a positive duration, is required"},
		{"negative d", "{fault: latency, d: -5ms}", "-5ms", ""},
		{"negative after", "{fault: silence, after: -1s}", "-1s", ""},
		{"bad duration", "{fault: jitter, d: soon}", "soon", ""},
		{"two windows", "{fault: silence, at_step: 1, after: 1s}", "{", "exclusive"},
		{"three windows", "{fault: reboot, at_step: 1, from_step: 2, after: 1s}", "{", "at_step, from_step, after are exclusive"},
		{"step out of range", "{fault: silence, from_step: 3}", "3", "1 to 2"},
		{"step zero", "{fault: silence, at_step: 0}", "0", "1 to 2"},
		{"drop both", "{fault: drop, n: 1, every: 2}", "{", "one of n"},
		{"drop neither", "{fault: drop}", "{", "one of n"},
		{"drop zero", "{fault: drop, n: 0}", "0", "at least 1"},
		{"corrupt both", "{fault: corrupt, at_byte: 1, p: 0.5}", "{", "one of at_byte"},
		{"corrupt negative byte", "{fault: corrupt, at_byte: -1}", "-1", "must not be negative"},
		{"corrupt p above 1", "{fault: corrupt, p: 1.5}", "1.5", "probability"},
		{"corrupt p text", "{fault: corrupt, p: often}", "often", "probability"},
		{"chunk without n", "{fault: chunk}", "{", "n is required"},
		{"nak-storm without n", "{fault: nak-storm}", "{", "n is required"},
		{"baud without rate", "{fault: baud}", "{", "rate is required"},
		{"baud zero", "{fault: baud, rate: 0}", "0", "at least 1"},
		{"unknown card", "{fault: card-removed, card: other}", "other", `no card named "other"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			line := "  - " + c.fault
			// The value, not an earlier key spelled the same; "{" is the
			// fault's own mapping.
			col := strings.LastIndex(line, c.at) + 1
			if c.at == "{" {
				col = strings.Index(line, "{") + 1
			}
			s, err := loadFault(t, c.fault)
			var le *scenario.LoadError
			if !errors.As(err, &le) {
				t.Fatalf("Load = %v, %v; want a *LoadError", s, err)
			}
			if s != nil {
				t.Error("Load returned a scenario with its error")
			}
			for _, p := range le.Problems {
				if p.Line == faultLine && p.Column == col && strings.Contains(p.Msg, c.msg) {
					return
				}
			}
			t.Errorf("no problem %d:%d containing %q; got:\n%v", faultLine, col, c.msg, err)
		})
	}
}

func TestFaultCardNeedsNameWithSeveralCards(t *testing.T) {
	doc := strings.Replace(faultHead, "cards:\n", "cards:\n  other: {tech: mifare-classic-1k, uid: 04B2C3D4E5F6A8}\n", 1) +
		"  - {fault: card-removed}\n"
	_, err := scenario.Load("f.yaml", []byte(doc))
	var le *scenario.LoadError
	if !errors.As(err, &le) || len(le.Problems) != 1 || !strings.Contains(le.Problems[0].Msg, "card is required") ||
		le.Problems[0].Line != faultLine+1 || le.Problems[0].Column != 5 {
		t.Errorf("card-removed with two cards and no card: got %v", err)
	}
}

func TestFaultSpecs(t *testing.T) {
	cases := []struct {
		fault string
		want  scenario.FaultSpec
	}{
		{"{fault: latency, d: 30ms, dir: device>host}",
			scenario.FaultSpec{Fault: "latency", Dir: scenario.DeviceToHost, D: 30 * time.Millisecond, AtByte: -1}},
		{"{fault: jitter, d: 1s, seed: 7, at_step: 2}",
			scenario.FaultSpec{Fault: "jitter", Dir: scenario.BothWays, D: time.Second, Seed: 7, AtStep: 2, AtByte: -1}},
		{"{fault: silence, dir: host>device, after: 250ms}",
			scenario.FaultSpec{Fault: "silence", Dir: scenario.HostToDevice, After: 250 * time.Millisecond, AtByte: -1}},
		{"{fault: drop, every: 3, from_step: 1}",
			scenario.FaultSpec{Fault: "drop", Dir: scenario.BothWays, Every: 3, FromStep: 1, AtByte: -1}},
		{"{fault: corrupt, at_byte: 0}",
			scenario.FaultSpec{Fault: "corrupt", Dir: scenario.BothWays, AtByte: 0}},
		{"{fault: corrupt, p: 1, seed: 3}",
			scenario.FaultSpec{Fault: "corrupt", Dir: scenario.BothWays, P: 1, Seed: 3, AtByte: -1}},
		// duplicate's n defaults to one chunk.
		{"{fault: duplicate}",
			scenario.FaultSpec{Fault: "duplicate", Dir: scenario.BothWays, N: 1, AtByte: -1}},
		{"{fault: baud, rate: 9600}",
			scenario.FaultSpec{Fault: "baud", Dir: scenario.BothWays, Rate: 9600, AtByte: -1}},
		{"{fault: nak-storm, n: 4}",
			scenario.FaultSpec{Fault: "nak-storm", Dir: scenario.BothWays, N: 4, AtByte: -1}},
		// card-removed defaults to the scenario's only card.
		{"{fault: card-removed, at_step: 2}",
			scenario.FaultSpec{Fault: "card-removed", Dir: scenario.BothWays, Card: "blank", AtStep: 2, AtByte: -1}},
		{"{fault: card-removed, card: blank}",
			scenario.FaultSpec{Fault: "card-removed", Dir: scenario.BothWays, Card: "blank", AtByte: -1}},
	}
	for _, c := range cases {
		t.Run(c.fault, func(t *testing.T) {
			s, err := loadFault(t, c.fault)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if len(s.Faults) != 1 {
				t.Fatalf("got %d faults, want 1", len(s.Faults))
			}
			got := s.Faults[0]
			if got.Line != faultLine || got.Column != 5 {
				t.Errorf("position %d:%d, want %d:5", got.Line, got.Column, faultLine)
			}
			got.Line, got.Column = 0, 0
			if got != c.want {
				t.Errorf("got  %+v\nwant %+v", got, c.want)
			}
			if got.Event() != (c.want.Fault == "nak-storm" || c.want.Fault == "card-removed") {
				t.Errorf("Event() = %v for %s", got.Event(), got.Fault)
			}
		})
	}
}

func TestFaultsKeepOrder(t *testing.T) {
	s, err := scenario.Load("f.yaml", []byte(faultHead+
		"  - {fault: latency, d: 1ms}\n  - {fault: chunk, n: 2}\n  - {fault: hangup, at_step: 2}\n"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range s.Faults {
		names = append(names, f.Fault)
	}
	if strings.Join(names, ",") != "latency,chunk,hangup" {
		t.Errorf("faults in order %v", names)
	}
}
