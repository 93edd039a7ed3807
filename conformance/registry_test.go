package conformance

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/encoderlab/encoderlab/pipeline/seam"
	"github.com/encoderlab/encoderlab/scenarios"
)

func TestRegistryIsValid(t *testing.T) {
	r, err := ParseRegistry(requirementsYAML)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"current", "older", "latest"} {
		if r.Profile(p) == nil {
			t.Errorf("the registry lacks profile %q: both seed revisions and Seam's published types are profiles", p)
		}
	}
}

// TestLatestProfileNamesThePinnedTypes: the latest profile's requirements
// come from one release of @seamapi/types, the one the SDK check
// installs (.ci/sdk/package.json) and the server follows.
func TestLatestProfileNamesThePinnedTypes(t *testing.T) {
	latest := Requirements().Profile("latest")
	if latest == nil {
		t.Fatal("no latest profile")
	}
	want := "@seamapi/types@" + seam.LatestTypesVersion
	if latest.Seed != want {
		t.Errorf("latest profile's seed is %q, want %q (seam.LatestTypesVersion)", latest.Seed, want)
	}
	b, err := os.ReadFile("../.ci/sdk/package.json")
	if err != nil {
		t.Fatal(err)
	}
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	if err := json.Unmarshal(b, &pkg); err != nil {
		t.Fatal(err)
	}
	if v := pkg.Dependencies["@seamapi/types"]; v != seam.LatestTypesVersion {
		t.Errorf(".ci/sdk/package.json pins @seamapi/types %q, the latest profile follows %s", v, seam.LatestTypesVersion)
	}
	for _, req := range Requirements().For("latest") {
		if strings.HasPrefix(req.ID, "LATEST-") && req.Source.Doc != want && !strings.HasPrefix(req.Source.Doc, "@seamapi/http@") && req.Source.Doc != "api.md" {
			t.Errorf("%s comes from %q: a LATEST-* requirement comes from the pinned types (%s), the SDK or docs/api.md", req.ID, req.Source.Doc, want)
		}
	}
}

func TestParseRegistryReportsEveryProblem(t *testing.T) {
	_, err := ParseRegistry([]byte(`
profiles: [{id: current, seed: s, title: t}]
requirements:
  - id: lower-case
    must: it should work
    source: {doc: d}
    profiles: [newest]
    check: {kind: field, path: x, format: colour, presence: always}
  - id: A-B
    must: A MUST B.
    source: {doc: d, section: s}
    profiles: [current]
    check: {kind: outcome, error_type: card_on_fire}
  - id: A-B
    must: A MUST B.
    source: {doc: d, section: s}
    profiles: [current]
    check: {kind: teleport}
`))
	if err == nil {
		t.Fatal("ParseRegistry accepted a registry with seven problems")
	}
	for _, want := range []string{
		"requirements.yaml:4: lower-case: id must be upper-case",
		"says no MUST", "source needs doc and section", `unknown profile "newest"`,
		`field format "colour"`, `error type "card_on_fire"`, "requirements.yaml:14: A-B: id used twice", `check kind "teleport"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
}

// TestEveryRequirementHasASpec is the registry's coverage check: for each
// profile, every requirement it demands is checked by at least one spec
// of the default suite.
func TestEveryRequirementHasASpec(t *testing.T) {
	for _, profile := range []string{"current", "older", "latest"} {
		cfg := NewConfig()
		cfg.Profile = profile
		plan, err := Plan(&cfg)
		if err != nil {
			t.Fatal(err)
		}
		checked := map[string]int{}
		for _, g := range plan {
			for _, req := range g.Requirements {
				checked[req.ID]++
				if !contains(req.Profiles, profile) {
					t.Errorf("profile %s: %s is checked but the profile does not demand it", profile, req.ID)
				}
			}
		}
		for _, req := range cfg.Registry.For(profile) {
			if checked[req.ID] == 0 {
				t.Errorf("profile %s: requirement %s (requirements.yaml:%d) has no spec: no bundled scenario or API check shows it",
					profile, req.ID, req.Line)
			}
		}
	}
}

func TestOlderProfileDemandsLess(t *testing.T) {
	r := Requirements()
	cur, old := r.For("current"), r.For("older")
	if len(old) >= len(cur) {
		t.Fatalf("older profile demands %d requirements, current %d: the older seed documents fewer fields", len(old), len(cur))
	}
	for _, req := range old {
		for _, absent := range []string{"is_managed", "acs_credential_pool_id", "error.message", "visionline_metadata.", "assa_abloy_vostio_metadata."} {
			if strings.Contains(req.Check.Path, absent) {
				t.Errorf("older profile demands %s (%s), which the older seed does not document", req.Check.Path, req.ID)
			}
		}
	}
}

func TestScenarioCoversNameKnownRequirements(t *testing.T) {
	all, err := scenarios.All()
	if err != nil {
		t.Fatal(err)
	}
	r := Requirements()
	for _, sc := range all {
		for _, id := range sc.Covers {
			if r.Get(id) == nil {
				t.Errorf("scenario %s covers %q, which is not in the registry", sc.File, id)
			}
		}
	}
}

// A credential written by hand from the newer seed, with every field that
// applies to an issued Visionline card.
const issuedCredential = `{
  "acs_credential_id": "0d4b1f3e-9c41-4a8e-bb2d-6a2f2f0b9a11",
  "acs_system_id": "c06acec5-637c-4f55-b057-2658e07ae19b",
  "acs_user_id": "92ca4ebd-dc40-44f1-984c-3725071f353b",
  "access_method": "card",
  "card_number": "04A224B1C3D4E5",
  "code": null,
  "created_at": "2026-11-25T10:00:00.000Z",
  "display_name": "Visionline Card",
  "errors": [],
  "external_type": "visionline_card",
  "external_type_display_name": "Visionline Card",
  "is_issued": true,
  "is_latest_desired_state_synced_with_provider": true,
  "is_managed": true,
  "issued_at": "2026-11-25T10:00:05.123Z",
  "latest_desired_state_synced_with_provider_at": "2026-11-25T10:00:05.123Z",
  "visionline_metadata": {"card_function_type": "guest", "card_id": "0D4B1F3E9C414A8E"},
  "warnings": [],
  "workspace_id": "dc3f2560-2a53-42b3-b9b0-75b0d45d2494"
}`

func attempt(status, result, errObj string) []byte {
	return []byte(`{"action_attempt_id": "5f0c8f0e-1b7e-4c1a-9c55-0d1e8e7c0a22", "action_type": "ENCODE_CREDENTIAL",
		"status": "` + status + `", "result": ` + result + `, "error": ` + errObj + `}`)
}

// with returns issuedCredential with one top-level field replaced, or
// removed when value is "".
func with(field, value string) string {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(issuedCredential), &m); err != nil {
		panic(err)
	}
	if value == "" {
		delete(m, field)
	} else {
		m[field] = json.RawMessage(value)
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func TestCheckActionAttemptAcceptsDocumentedShapes(t *testing.T) {
	for name, doc := range map[string][]byte{
		"pending": attempt("pending", "null", "null"),
		"success": attempt("success", issuedCredential, "null"),
		"error":   attempt("error", "null", `{"type": "no_credential_on_encoder", "message": "no card on the encoder"}`),
	} {
		for _, profile := range []string{"current", "older"} {
			if p := CheckActionAttempt(Requirements(), profile, doc); len(p) != 0 {
				t.Errorf("%s, profile %s: a documented attempt was rejected: %v", name, profile, p)
			}
		}
	}
}

// TestCheckActionAttemptFindsEachViolation feeds attempts that break the
// seeds one way each, written by hand, and wants each caught by the
// requirement about it.
func TestCheckActionAttemptFindsEachViolation(t *testing.T) {
	cases := []struct {
		name    string
		doc     []byte
		profile string
		want    string // the requirement id and a fragment of its problem
	}{
		{"pending with a result", attempt("pending", issuedCredential, "null"), "current", "ATTEMPT-PENDING-INVARIANT"},
		{"success with an error", attempt("success", issuedCredential, `{"type": "uncategorized_error", "message": "x"}`), "current", "ATTEMPT-SUCCESS-INVARIANT"},
		{"error without an error", attempt("error", "null", "null"), "current", "ATTEMPT-ERROR-INVARIANT"},
		{"unknown error type", attempt("error", "null", `{"type": "card_on_fire", "message": "x"}`), "older", "ATTEMPT-ERROR-TYPE: /error/type"},
		{"error without a message", attempt("error", "null", `{"type": "uncategorized_error"}`), "current", "ATTEMPT-ERROR-MESSAGE: /error/message: missing"},
		{"unknown status", attempt("done", "null", "null"), "current", "ATTEMPT-STATUS: /status"},
		{"datetime with an offset", attempt("success", with("issued_at", `"2026-11-25T10:00:05.123+01:00"`), "null"), "current", "RESULT-ISSUED-AT: /result/issued_at"},
		{"datetime not a datetime", attempt("success", with("created_at", `"yesterday"`), "null"), "older", "RESULT-CREATED-AT: /result/created_at"},
		{"is_managed missing", attempt("success", with("is_managed", ""), "null"), "current", "RESULT-IS-MANAGED: /result/is_managed: missing"},
		{"nullable card_number missing", attempt("success", with("card_number", ""), "null"), "older", "RESULT-CARD-NUMBER: /result/card_number: missing"},
		{"acs_user_id null", attempt("success", with("acs_user_id", "null"), "null"), "current", "RESULT-ACS-USER-ID: /result/acs_user_id: null"},
		{"acs_system_id not a UUID", attempt("success", with("acs_system_id", `"front-desk"`), "null"), "current", "RESULT-ACS-SYSTEM-ID: /result/acs_system_id"},
		{"visionline without card_function_type", attempt("success", with("visionline_metadata", `{"card_id": "X"}`), "null"), "current", "RESULT-VISIONLINE-METADATA-CARD-FUNCTION-TYPE"},
		{"unknown warning code", attempt("success", with("warnings", `[{"warning_code": "sunny", "message": "", "created_at": "2026-11-25T10:00:00.000Z"}]`), "null"), "current", "RESULT-WARNINGS-WARNING-CODE: /result/warnings/0/warning_code"},
		{"errors null", attempt("success", with("errors", "null"), "null"), "current", "RESULT-ERRORS: /result/errors: null"},
		{"empty display_name", attempt("success", with("display_name", `""`), "null"), "current", "RESULT-DISPLAY-NAME: /result/display_name: got an empty string"},
		{"unknown external_type", attempt("success", with("external_type", `"abloy"`), "null"), "current", "RESULT-EXTERNAL-TYPE: /result/external_type"},
		{"action_type", []byte(strings.Replace(string(attempt("pending", "null", "null")), "ENCODE_CREDENTIAL", "UNLOCK_DOOR", 1)), "current", "ATTEMPT-ACTION-TYPE: /action_type"},
		{"action_attempt_id not a UUID", []byte(strings.Replace(string(attempt("pending", "null", "null")), "5f0c8f0e-1b7e-4c1a-9c55-0d1e8e7c0a22", "42", 1)), "current", "ATTEMPT-ACTION-ATTEMPT-ID: /action_attempt_id"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := CheckActionAttempt(Requirements(), c.profile, c.doc)
			if len(p) == 0 {
				t.Fatalf("accepted an attempt violating the seeds: %s", c.doc)
			}
			if !strings.Contains(strings.Join(p, "\n"), c.want) {
				t.Errorf("problems do not include %q:\n%s", c.want, strings.Join(p, "\n"))
			}
		})
	}
}

func TestCheckActionAttemptRejectsNonJSON(t *testing.T) {
	if p := CheckActionAttempt(Requirements(), "current", []byte("{")); len(p) != 1 || !strings.Contains(p[0], "not a JSON object") {
		t.Errorf("CheckActionAttempt(%q) = %q, want one 'not a JSON object' problem", "{", p)
	}
}
