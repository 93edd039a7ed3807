package explore_test

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/encoderlab/encoderlab/conformance/explore"
	"github.com/encoderlab/encoderlab/fixtures"
)

// Every generated desk is a scenario that loads and fits the lab, and the
// generators reach what they promise: both models, pairs of encoders,
// concurrent encodes, several cards and every technology.
func TestGeneratedDesksAreScenarios(t *testing.T) {
	lab := fixtures.Bundled()
	seen := map[string]bool{}
	for i := range 2000 {
		// Odd desks may also kill the server and fill its disk.
		d, err := explore.GenerateWith(lab, 7, i, explore.Options{Kill: i%2 == 1, Store: i%2 == 1})
		if err != nil {
			t.Fatal(err)
		}
		if err := explore.Valid(d, lab); err != nil {
			t.Fatalf("desk %d does not load:\n%v\n%s", i, err, d.YAML(""))
		}
		for _, e := range d.Encoders {
			seen["model "+e.Model] = true
		}
		if len(d.Encoders) > 1 {
			seen["two encoders"] = true
		}
		for _, e := range d.Encodes {
			if e.Concurrent {
				seen["concurrent"] = true
			}
		}
		for _, c := range d.Cards {
			seen["tech "+c.Tech] = true
			seen["holds "+c.Holds] = true
		}
		for _, s := range d.Steps {
			seen["step "+s.Op] = true
			if s.Op == "server" || s.Op == "store" {
				seen["step "+s.Op+" "+s.Value] = true
				if i%2 == 0 {
					t.Errorf("desk %d: a %s step without Options allowing it", i, s.Op)
				}
			}
		}
		for _, f := range d.Faults {
			kind, _, _ := strings.Cut(strings.TrimPrefix(f, "{fault: "), ",")
			seen["fault "+strings.TrimSuffix(kind, "}")] = true
		}
		if d.User != "" {
			seen["user "+d.User] = true
		}
		switch {
		case d.Validity == "":
			seen["no validity"] = true
		case strings.Contains(d.Validity, "starts_at"):
			seen["absolute validity"] = true
		case strings.Contains(d.Validity, "starts_in: -"):
			seen["validity begun"] = true
		}
		// A card-removed fault takes away only a card no step removes.
		for _, f := range d.Faults {
			if name, ok := strings.CutPrefix(f, "{fault: card-removed, card: "); ok {
				name, _, _ = strings.Cut(name, ",")
				for _, st := range d.Steps {
					if st.Op == "remove" && st.Value == name {
						t.Errorf("desk %d: a card-removed fault and a remove step both take %s away:\n%s", i, name, d.YAML(""))
					}
				}
			}
		}
	}
	for _, want := range []string{"model pms", "model pn532", "two encoders", "concurrent",
		"tech mifare-classic-1k", "tech mifare-classic-4k", "tech desfire", "tech mifare-ultralight", "tech prox-125khz",
		"holds blank", "holds guest", "holds staff", "holds foreign",
		"step place", "step remove", "step wait", "step busy", "step nak", "step garble", "step hangup", "step unplug",
		"step server kill", "step server stop", "step server start", "step store full", "step store free",
		"fault latency", "fault jitter", "fault drop", "fault corrupt", "fault chunk", "fault duplicate", "fault baud",
		"fault nak-storm", "fault hangup", "fault reboot", "fault card-removed",
		"user staff", "no validity", "absolute validity", "validity begun"} {
		if !seen[want] {
			t.Errorf("2,000 desks never have %s", want)
		}
	}
}

// Steps on the system under test come from a stream of their own: a
// desk with them is the desk without them, with server, store and wait
// steps put between its steps.
func TestSystemStepsLeaveTheRestOfTheDesk(t *testing.T) {
	lab := fixtures.Bundled()
	with := 0
	for i := range 500 {
		plain, _ := explore.Generate(lab, 11, i)
		d, _ := explore.GenerateWith(lab, 11, i, explore.Options{Kill: true, Store: true})
		var kept []explore.Step
		for _, st := range d.Steps {
			switch st.Op {
			case "server", "store":
				with++
				continue
			}
			kept = append(kept, st)
		}
		// What is left is plain's steps, with some waits between them.
		j := 0
		for _, st := range kept {
			if j < len(plain.Steps) && st == plain.Steps[j] {
				j++
			} else if st.Op != "wait" {
				t.Fatalf("desk %d: step %+v is neither plain's next step nor a wait before a system step", i, st)
			}
		}
		if j != len(plain.Steps) {
			t.Fatalf("desk %d: plain's steps are not all in the desk with system steps", i)
		}
		d.Steps, plain.Steps = nil, nil
		if !bytes.Equal(d.YAML(""), plain.YAML("")) {
			t.Fatalf("desk %d differs beyond its steps:\n%s\n%s", i, d.YAML(""), plain.YAML(""))
		}
	}
	if with == 0 {
		t.Fatal("500 desks, no step on the system under test")
	}
}

func TestSameSeedSameDesk(t *testing.T) {
	lab := fixtures.Bundled()
	for i := range 50 {
		a, _ := explore.Generate(lab, 42, i)
		b, _ := explore.Generate(lab, 42, i)
		if !bytes.Equal(a.YAML(""), b.YAML("")) {
			t.Fatalf("desk %d of seed 42 differs between two generations", i)
		}
	}
	a, _ := explore.Generate(lab, 42, 0)
	b, _ := explore.Generate(lab, 43, 0)
	if bytes.Equal(a.YAML(""), b.YAML("")) && a.Size() > 20 {
		t.Errorf("seeds 42 and 43 give the same first desk")
	}
}

// Shrinking only ever offers smaller desks that still load.
func TestShrinkOffersSmallerValidDesks(t *testing.T) {
	lab := fixtures.Bundled()
	spells := 0
	for i := range 400 {
		d, _ := explore.GenerateWith(lab, 9, i, explore.Options{Kill: i%2 == 1, Store: i%2 == 1})
		stops := slices.IndexFunc(d.Steps, func(s explore.Step) bool { return s.Value == "stop" }) >= 0
		spellGone := false
		for _, c := range explore.Shrink(d, lab) {
			if stops && !slices.ContainsFunc(c.Steps, func(s explore.Step) bool { return s.Op == "server" && s.Value != "kill" }) {
				spellGone = true
			}
			if c.Size() >= d.Size() {
				t.Fatalf("desk %d: a shrink of size %d from %d", i, c.Size(), d.Size())
			}
			if err := explore.Valid(c, lab); err != nil {
				t.Fatalf("desk %d: a shrink that does not load: %v\n%s", i, err, c.YAML(""))
			}
		}
		if stops && strings.Count(string(d.YAML("")), "server: stop") == 1 {
			// A desk's only down spell can always be shrunk away.
			spells++
			if !spellGone {
				t.Errorf("desk %d: no shrink takes its down spell away:\n%s", i, d.YAML(""))
			}
		}
	}
	if spells == 0 {
		t.Error("400 desks, none with a down spell of the server to shrink")
	}
}
