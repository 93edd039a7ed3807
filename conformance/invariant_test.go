package conformance

import (
	"strings"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/fixtures"
	"github.com/encoderlab/encoderlab/sim/card"
	"github.com/encoderlab/encoderlab/sim/scenario"
)

// INVARIANT-REISSUE-REFUSED-ONE-CARD on recordings made by hand: the
// desk has cards c1 and c2; each case says how the encodes ended and
// which cards were written when.
func TestRefusedReissueOneCard(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	success := func(uid string, ended time.Time) *encodeRecord {
		return &encodeRecord{final: map[string]any{"status": "success", "result": map[string]any{"card_number": uid}}, ended: ended}
	}
	failure := func(typ string) *encodeRecord {
		return &encodeRecord{final: map[string]any{"status": "error", "error": map[string]any{"type": typ}}, ended: t0}
	}
	cases := []struct {
		name    string
		encodes []*encodeRecord
		written map[string]time.Time // card → when it was written
		want    string               // "" : no problem
	}{
		{"one success onto its card", []*encodeRecord{success("01020304", t0)},
			map[string]time.Time{"c1": t0}, ""},
		{"two successes onto two cards", []*encodeRecord{success("01020304", t0), success("0A0B0C0D", t0)},
			map[string]time.Time{"c1": t0, "c2": t0}, "encodes succeeded onto 2 cards: c1, c2"},
		{"a card written after the success", []*encodeRecord{success("01020304", t0), failure("uncategorized_error")},
			map[string]time.Time{"c1": t0.Add(-time.Second), "c2": t0.Add(time.Second)}, "card c2 was written 1s after"},
		{"a card written while only refusals ended", []*encodeRecord{failure("no_credential_on_encoder")},
			map[string]time.Time{"c2": t0}, "no encode succeeded onto it or broke off"},
		{"a write whose confirmation was lost, then a success", []*encodeRecord{failure("uncategorized_error"), success("0A0B0C0D", t0.Add(time.Second))},
			map[string]time.Time{"c1": t0, "c2": t0.Add(time.Second)}, ""},
		{"an attempt that never ended", []*encodeRecord{{}},
			map[string]time.Time{"c1": t0}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := &recording{
				sc: &scenario.Scenario{File: "desk.yaml", Cards: []scenario.CardSpec{
					{Name: "c1", UID: "01020304"}, {Name: "c2", UID: "0A0B0C0D"}}},
				sys:        &fixtures.System{Key: "salto-space-hotel", Reissue: fixtures.ReissueRefused},
				encodes:    c.encodes,
				cardsStart: map[string]card.Contents{"c1": {}, "c2": {}},
				cardsEnd:   map[string]card.Contents{"c1": {}, "c2": {}},
				writtenAt:  map[string]time.Time{},
			}
			for name, at := range c.written {
				rec.cardsEnd[name] = card.Contents{Kind: card.Guest, Writes: 1}
				rec.writtenAt[name] = at
			}
			p := invariantProblems("refused-reissue-one-card", rec)
			switch {
			case c.want == "" && len(p) != 0:
				t.Errorf("problems %q, want none", p)
			case c.want != "" && (len(p) != 1 || !strings.Contains(p[0], c.want)):
				t.Errorf("problems %q, want one saying %q", p, c.want)
			}
		})
	}
}

// INVARIANT-ONE-COMMAND-AT-A-TIME on recordings made by hand: it names
// each PMS encoder whose device counted a command sent while another was
// outstanding, and only those; it applies only to desks with a PMS
// encoder.
func TestOneCommandAtATime(t *testing.T) {
	sc := &scenario.Scenario{File: "desk.yaml", Encoder: scenario.Encoder{ID: "front-desk-1", Model: "pms"}}
	for _, c := range []struct {
		overlaps map[string]int
		want     string
	}{
		{map[string]int{"front-desk-1": 0}, ""},
		{map[string]int{"front-desk-1": 2, "station-desk": 0}, "encoder front-desk-1 received 2 command(s) while another was outstanding"},
	} {
		got := strings.Join(invariantProblems("one-command-at-a-time", &recording{sc: sc, overlaps: c.overlaps}), "\n")
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) || strings.Contains(got, "station-desk") {
			t.Errorf("overlaps %v: problems %q, want %q", c.overlaps, got, c.want)
		}
	}
	reg := Requirements()
	var req Requirement
	for _, r := range reg.Requirements {
		if r.ID == "INVARIANT-ONE-COMMAND-AT-A-TIME" {
			req = r
		}
	}
	if req.ID == "" {
		t.Fatal("the registry has no INVARIANT-ONE-COMMAND-AT-A-TIME")
	}
	encode := []scenario.Encode{{Expect: scenario.Expect{HTTPStatus: 200, Status: scenario.StatusAny}}}
	pms := &scenario.Scenario{Encoder: scenario.Encoder{ID: "front-desk-1", Model: "pms"}, Encodes: encode}
	pn532 := &scenario.Scenario{Encoder: scenario.Encoder{ID: "nfc-desk-1", Model: "pn532"}, Encodes: encode}
	sys := fixtures.Bundled().Workspaces[0].Systems[0]
	if !applies(req, pms, sys) || applies(req, pn532, sys) {
		t.Errorf("applies: PMS desk %v, PN532 desk %v; want true, false", applies(req, pms, sys), applies(req, pn532, sys))
	}
}

// INVARIANT-ENCODES-IN-CALL-ORDER on recordings made by hand: of two
// successes on one encoder, the one called after the other was answered
// may not carry the earlier issued_at; on two encoders, or called before
// the other was answered, either order is fine.
func TestEncodesInCallOrder(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	sc := &scenario.Scenario{File: "desk.yaml", Encoder: scenario.Encoder{ID: "front-desk-1", Model: "pms"},
		Encoders: []scenario.Encoder{{ID: "front-desk-1", Model: "pms"}, {ID: "front-desk-2", Model: "pms"}}}
	success := func(i int, on string, answered, called, issued time.Time) *encodeRecord {
		return &encodeRecord{index: i, encode: scenario.Encode{On: on}, started: called,
			first: &response{Status: 200, Received: answered},
			final: map[string]any{"status": "success", "result": map[string]any{"issued_at": issued.Format(time.RFC3339Nano)}},
			ended: issued}
	}
	s := time.Second
	for _, c := range []struct {
		name    string
		encodes []*encodeRecord
		want    string
	}{
		{"in order", []*encodeRecord{success(0, "", t0, t0, t0.Add(2*s)), success(1, "", t0.Add(s), t0.Add(s), t0.Add(3*s))}, ""},
		{"the later call first", []*encodeRecord{success(0, "", t0, t0, t0.Add(3*s)), success(1, "", t0.Add(s), t0.Add(s), t0.Add(2*s))},
			"encode 2 on front-desk-1 was called after encode 1 had been answered, yet succeeded first"},
		{"on two encoders", []*encodeRecord{success(0, "", t0, t0, t0.Add(3*s)), success(1, "front-desk-2", t0.Add(s), t0.Add(s), t0.Add(2*s))}, ""},
		{"called before the first was answered", []*encodeRecord{success(0, "", t0.Add(s), t0, t0.Add(3*s)), success(1, "", t0.Add(s), t0.Add(s/2), t0.Add(2*s))}, ""},
	} {
		got := strings.Join(invariantProblems("call-order", &recording{sc: sc, encodes: c.encodes}), "\n")
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%s: problems %q, want %q", c.name, got, c.want)
		}
	}
}
