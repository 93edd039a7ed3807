package conformance

import (
	"encoding/json"
	"strings"
	"testing"
)

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

// with returns issuedCredential with one top-level field replaced (or
// removed when value is "").
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
		if p := CheckActionAttempt(doc); len(p) != 0 {
			t.Errorf("%s: a documented attempt was rejected: %v", name, p)
		}
	}
}

func TestCheckActionAttemptFindsEachViolation(t *testing.T) {
	cases := []struct {
		name string
		doc  []byte
		want string // a fragment of one reported problem
	}{
		{"pending with a result", attempt("pending", issuedCredential, "null"), "/result"},
		{"success with an error", attempt("success", issuedCredential, `{"type": "uncategorized_error", "message": "x"}`), "/error"},
		{"error without an error", attempt("error", "null", "null"), "/error"},
		{"unknown error type", attempt("error", "null", `{"type": "card_on_fire", "message": "x"}`), "/error"},
		{"error without a message", attempt("error", "null", `{"type": "uncategorized_error"}`), "message"},
		{"unknown status", attempt("done", "null", "null"), "/status"},
		{"datetime with an offset", attempt("success", with("issued_at", `"2026-11-25T10:00:05.123+01:00"`), "null"), "/result/issued_at"},
		{"datetime not a datetime", attempt("success", with("created_at", `"yesterday"`), "null"), "/result/created_at"},
		{"is_managed missing", attempt("success", with("is_managed", ""), "null"), "is_managed"},
		{"nullable card_number missing", attempt("success", with("card_number", ""), "null"), "card_number"},
		{"acs_user_id null", attempt("success", with("acs_user_id", "null"), "null"), "/result/acs_user_id"},
		{"acs_system_id not a UUID", attempt("success", with("acs_system_id", `"front-desk"`), "null"), "/result/acs_system_id"},
		{"undocumented field", attempt("success", with("room", `"101"`), "null"), "room"},
		{"visionline without card_function_type", attempt("success", with("visionline_metadata", `{"card_id": "X"}`), "null"), "card_function_type"},
		{"unknown warning code", attempt("success", with("warnings", `[{"warning_code": "sunny", "message": "", "created_at": "2026-11-25T10:00:00.000Z"}]`), "null"), "/result/warnings/0/warning_code"},
		{"errors null", attempt("success", with("errors", "null"), "null"), "/result/errors"},
		{"empty display_name", attempt("success", with("display_name", `""`), "null"), "/result/display_name"},
		{"unknown external_type", attempt("success", with("external_type", `"abloy"`), "null"), "/result/external_type"},
		{"action_type", []byte(strings.Replace(string(attempt("pending", "null", "null")), "ENCODE_CREDENTIAL", "UNLOCK_DOOR", 1)), "/action_type"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := CheckActionAttempt(c.doc)
			if len(p) == 0 {
				t.Fatalf("accepted an attempt violating the seeds: %s", c.doc)
			}
			if !strings.Contains(strings.Join(p, "\n"), c.want) {
				t.Errorf("problems %q do not point at %q", p, c.want)
			}
		})
	}
}

func TestCheckCredentialRejectsNonJSON(t *testing.T) {
	if p := CheckCredential([]byte("{")); len(p) != 1 || !strings.Contains(p[0], "not JSON") {
		t.Errorf("CheckCredential(%q) = %q, want one 'not JSON' problem", "{", p)
	}
}
