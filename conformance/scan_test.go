package conformance

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/encoderlab/encoderlab/sim/card"
	"github.com/encoderlab/encoderlab/sim/scenario"
)

// LATEST-SCAN-READS-THE-CARD and LATEST-SCAN-WRITES-NOTHING on
// recordings made by hand. The desk has a blank card, a guest card whose
// card id an earlier encode of the run's credential wrote, a guest card
// with a card id of no credential, and a card of another system; each
// case is one scan's terminal attempt, shaped as @seamapi/types 1.977.0
// defines SCAN_CREDENTIAL, and what is wrong with it, if anything.
func TestScanChecks(t *testing.T) {
	const credID = "6f1c8b0e-2f3a-4c5d-8e9f-0a1b2c3d4e5f"
	desk := map[string]card.Contents{
		"blank":   {Kind: card.Blank},
		"ours":    {Kind: card.Guest, CardID: "9F2C4D1A00000001", Writes: 1},
		"unknown": {Kind: card.Guest, CardID: "7E57CA2D00000001"},
		"foreign": {Kind: card.Foreign},
	}
	uids := map[string]string{"blank": "04000001", "ours": "04000002", "unknown": "04000003", "foreign": "04000004"}
	var cards []scenario.CardSpec
	for _, name := range []string{"blank", "ours", "unknown", "foreign"} {
		cards = append(cards, scenario.CardSpec{Name: name, UID: uids[name]})
	}
	cred := map[string]any{"acs_credential_id": credID}
	success := func(uid string, issued bool, onSeam any, warnings ...string) map[string]any {
		ws := []any{}
		for _, w := range warnings {
			ws = append(ws, map[string]any{"warning_code": w, "warning_message": "m"})
		}
		return map[string]any{"action_type": "SCAN_CREDENTIAL", "status": "success", "error": nil, "result": map[string]any{
			"acs_credential_on_encoder": map[string]any{"card_number": uid, "is_issued": issued, "created_at": nil, "starts_at": nil, "ends_at": nil},
			"acs_credential_on_seam":    onSeam,
			"warnings":                  ws,
		}}
	}
	failed := func(typ string) map[string]any {
		return map[string]any{"action_type": "SCAN_CREDENTIAL", "status": "error", "result": nil, "error": map[string]any{"type": typ, "message": "m"}}
	}
	cases := []struct {
		name    string
		attempt map[string]any
		written string // a card the scan wrote
		want    string // "": no problem
	}{
		{"a blank card", success(uids["blank"], false, nil), "", ""},
		{"the credential's card", success(uids["ours"], true, cred), "", ""},
		{"a card no credential has", success(uids["unknown"], true, nil, warnNotOnSeam), "", ""},
		{"another system's card", success(uids["foreign"], false, nil), "", ""},
		{"an empty reader", failed("no_credential_on_encoder"), "", ""},

		{"a blank card read as issued", success(uids["blank"], true, nil), "", "is_issued is true; card blank holds blank"},
		{"the credential's card not found", success(uids["ours"], true, nil), "", "acs_credential_on_seam is null; card ours holds card id 9F2C4D1A00000001"},
		{"the credential's card found, with the warning", success(uids["ours"], true, cred, warnNotOnSeam), "", "yet card ours holds credential"},
		{"an unknown card without the warning", success(uids["unknown"], true, nil), "", "want acs_credential_on_seam_not_found"},
		{"an unknown card found", success(uids["unknown"], true, cred, warnNotOnSeam), "", "which no credential of the run has"},
		{"a card of no desk", success("04FFFFFF", false, nil), "", "no card of the desk"},
		{"a warning for a blank card", success(uids["blank"], false, nil, warnNotOnSeam), "", "no credential to compare"},
		{"an encode's action type", func() map[string]any {
			a := success(uids["blank"], false, nil)
			a["action_type"] = "ENCODE_CREDENTIAL"
			return a
		}(), "", "action_type is \"ENCODE_CREDENTIAL\"; want SCAN_CREDENTIAL"},
		{"an encode's error type", failed("encoding_interrupted"), "", "a scan's error types are"},
		{"a failure with a result", func() map[string]any {
			a := failed("no_credential_on_encoder")
			a["result"] = map[string]any{}
			return a
		}(), "", "a failed scan has result {}"},
		{"a scan that wrote a card", success(uids["blank"], false, nil), "blank", "card blank was written while the scan ran"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body, err := json.Marshal(map[string]any{"ok": true, "action_attempt": c.attempt})
			if err != nil {
				t.Fatal(err)
			}
			after := map[string]card.Contents{}
			for k, v := range desk {
				after[k] = v
			}
			if c.written != "" {
				w := after[c.written]
				w.Writes++
				after[c.written] = w
			}
			// The earlier encode of the credential wrote card ours.
			encode := &encodeRecord{index: 0, final: map[string]any{"status": "success", "result": map[string]any{"card_number": uids["ours"]}},
				cardsAfter: desk}
			scan := &encodeRecord{index: 1, encode: scenario.Encode{Scan: true, Expect: scenario.Expect{HTTPStatus: 200, Status: "success"}},
				first: &response{Status: 200, Body: body}, final: c.attempt, before: cred, after: cred,
				cardsBefore: desk, cardsAfter: after}
			rec := &recording{sc: &scenario.Scenario{File: "desk.yaml", Cards: cards}, credential: cred,
				encodes: []*encodeRecord{encode}, scans: []*encodeRecord{scan}}
			cfg := &Config{}
			cfg.setDefaults()
			p := append(scanProblems("reads-the-card", rec, cfg), scanProblems("writes-nothing", rec, cfg)...)
			switch {
			case c.want == "" && len(p) != 0:
				t.Errorf("problems %q, want none", p)
			case c.want != "" && (len(p) != 1 || !strings.Contains(p[0], c.want)):
				t.Errorf("problems %q, want one saying %q", p, c.want)
			}
		})
	}
}
