package conformance

import (
	"strings"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/sim/card"
	"github.com/encoderlab/encoderlab/sim/scenario"
)

// The worked example of docs/protocols/pms.md ("Frames"): a credential
// valid from 2026-11-25 14:00 to 2026-11-28 11:00 UTC is written as
// 202611251400 and 202611281100.
func TestCompareBoundReadsTheProtocolsMinutes(t *testing.T) {
	from := time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)
	cases := []struct {
		written string
		want    time.Time
		ok      bool
	}{
		{"202611251400", from, true},
		{"202611251400", from.Add(59 * time.Second), true},                                        // written down to the minute
		{"202611251401", from.Add(30 * time.Second), true},                                        // or up to it
		{"202611251400", time.Date(2026, 11, 25, 15, 0, 0, 0, time.FixedZone("CET", 3600)), true}, // the same instant
		{"202611251401", from, false},
		{"202611251359", from.Add(time.Second), false},
		{"202611251400", from.Add(time.Hour), false}, // a local time written as UTC
		{"", from, false},
		{"", time.Time{}, true},
		{"202611251400", time.Time{}, false},
		{"2026-11-25", from, false},
	}
	for _, c := range cases {
		msg := compareBound(c.written, c.want)
		if (msg == "") != c.ok {
			t.Errorf("compareBound(%q, %v) = %q; want ok=%v", c.written, c.want, msg, c.ok)
		}
	}
}

func TestContentsProblems(t *testing.T) {
	label := "Room 101"
	cred := map[string]any{"starts_at": "2026-11-25T14:00:00.000Z", "ends_at": "2026-11-28T11:00:00Z"}
	good := card.Contents{Kind: card.Guest, Function: "G", ValidFrom: "202611251400", ValidUntil: "202611281100", Label: label}
	all := &scenario.WrittenContents{Function: "guest", ValidFrom: &scenario.Bound{Credential: true},
		ValidUntil: &scenario.Bound{At: time.Date(2026, 11, 28, 11, 0, 0, 0, time.UTC)}, Label: &label}
	if p := contentsProblems("a", all, good, cred); len(p) != 0 {
		t.Errorf("a card written as the credential: %v", p)
	}
	cases := []struct {
		name string
		got  func(c *card.Contents)
		want string
	}{
		{"staff function", func(c *card.Contents) { c.Function = "S" }, `carries function "S"; want "G"`},
		{"start a day late", func(c *card.Contents) { c.ValidFrom = "202611261400" }, "is valid from"},
		{"open end", func(c *card.Contents) { c.ValidUntil = "" }, "valid until open"},
		{"label cut", func(c *card.Contents) { c.Label = "Room 10" }, `carries label "Room 10"; want "Room 101"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := good
			c.got(&got)
			p := contentsProblems("a", all, got, cred)
			if len(p) != 1 || !strings.Contains(p[0], c.want) {
				t.Errorf("problems = %q; want one containing %q", p, c.want)
			}
		})
	}
	// A credential without an end: the card must be open-ended too.
	open := &scenario.WrittenContents{ValidUntil: &scenario.Bound{Credential: true}}
	if p := contentsProblems("a", open, good, map[string]any{"ends_at": nil}); len(p) != 1 || !strings.Contains(p[0], "want no bound") {
		t.Errorf("a bounded card for an open credential: %q", p)
	}
	none := &scenario.WrittenContents{ValidFrom: &scenario.Bound{None: true}}
	if p := contentsProblems("a", none, card.Contents{Kind: card.Guest}, cred); len(p) != 0 {
		t.Errorf("an open start, none expected: %q", p)
	}
}
