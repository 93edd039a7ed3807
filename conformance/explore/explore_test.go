package explore_test

import (
	"bytes"
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
		d, err := explore.Generate(lab, 7, i)
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
		"fault latency", "fault jitter", "fault drop", "fault corrupt", "fault chunk", "fault duplicate", "fault baud",
		"fault nak-storm", "fault hangup", "fault reboot", "fault card-removed",
		"user staff", "no validity", "absolute validity", "validity begun"} {
		if !seen[want] {
			t.Errorf("2,000 desks never have %s", want)
		}
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
	for i := range 200 {
		d, _ := explore.Generate(lab, 9, i)
		for _, c := range explore.Shrink(d, lab) {
			if c.Size() >= d.Size() {
				t.Fatalf("desk %d: a shrink of size %d from %d", i, c.Size(), d.Size())
			}
			if err := explore.Valid(c, lab); err != nil {
				t.Fatalf("desk %d: a shrink that does not load: %v\n%s", i, err, c.YAML(""))
			}
		}
	}
}
