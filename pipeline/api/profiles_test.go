package api_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/encoderlab/encoderlab/fixtures"
	"github.com/encoderlab/encoderlab/pipeline/seam"
)

// The expectations here come from the seeds (five error types, invalid_input
// for bad input) and from @seamapi/types 1.977.0 (the latest profile's ten
// error types; the simulate routes' strict request schemas, their
// error_code union and "only within a sandbox workspace"; the SDK's
// validation_errors reader, SeamHttpInvalidInputError).

// validationErrors returns an invalid_input answer's validation_errors.
func validationErrors(t *testing.T, r reply) map[string]any {
	t.Helper()
	v, ok := obj(t, r.body, "error")["validation_errors"].(map[string]any)
	if !ok {
		t.Fatalf("invalid_input without validation_errors: %v", r.body)
	}
	return v
}

// messages returns the _errors of the member at path of validation_errors.
func messages(t *testing.T, v map[string]any, path ...string) []string {
	t.Helper()
	for _, k := range path {
		next, ok := v[k].(map[string]any)
		if !ok {
			t.Fatalf("validation_errors has no %s in %v", strings.Join(path, "."), v)
		}
		v = next
	}
	raw, ok := v["_errors"].([]any)
	if !ok {
		t.Fatalf("validation_errors.%s has no _errors list: %v", strings.Join(path, "."), v)
	}
	var out []string
	for _, m := range raw {
		s, _ := m.(string)
		out = append(out, s)
	}
	return out
}

func TestValidationErrorsNameEveryProblem(t *testing.T) {
	e := newEnv(t)
	r := e.post("/acs/encoders/encode_credential", `{"acs_credential_id": 42, "acs_encoder_id": "front-desk-1"}`)
	e.wantError(r, http.StatusBadRequest, "invalid_input")
	v := validationErrors(t, r)
	for _, param := range []string{"acs_credential_id", "acs_encoder_id"} {
		if m := messages(t, v, param); len(m) != 1 || m[0] == "" {
			t.Errorf("validation_errors.%s._errors = %q, want one message", param, m)
		}
		if msg, _ := obj(t, r.body, "error")["message"].(string); !strings.Contains(msg, param) {
			t.Errorf("message %q does not name %s", msg, param)
		}
	}
	if m := messages(t, v); len(m) != 0 {
		t.Errorf("validation_errors._errors = %q, want none: every problem is a parameter's", m)
	}

	// A member of a nested object is nested in validation_errors too.
	r = e.post("/acs/credentials/create", fmt.Sprintf(
		`{"acs_user_id": %q, "visionline_metadata": {"auto_join": "yes"}}`, guest1))
	e.wantError(r, http.StatusBadRequest, "invalid_input")
	v = validationErrors(t, r)
	if m := messages(t, v, "access_method"); len(m) != 1 {
		t.Errorf("missing access_method: _errors %q, want one", m)
	}
	if m := messages(t, v, "visionline_metadata", "auto_join"); len(m) != 1 {
		t.Errorf("visionline_metadata.auto_join: _errors %q, want one", m)
	}
}

func labOf(profile seam.Profile, sandbox bool) *fixtures.Lab {
	lab := fixtures.Bundled().WithProfile(string(profile))
	for _, ws := range lab.Workspaces {
		ws.Sandbox = sandbox
	}
	return lab
}

func TestContentTypeByProfile(t *testing.T) {
	body := fmt.Sprintf(`{"acs_encoder_id": %q}`, frontDesk1)
	for profile, want := range map[seam.Profile]string{
		seam.ProfileCurrent: "invalid_input",
		seam.ProfileOlder:   "invalid_input",
		seam.ProfileLatest:  "invalid_content_type",
	} {
		e := newEnvWith(t, labOf(profile, true))
		r := e.do(http.MethodPost, "/acs/encoders/get", body, map[string]string{"Content-Type": "text/plain"})
		e.wantError(r, http.StatusBadRequest, want)
	}
}

func TestSimulateOnlyInSandbox(t *testing.T) {
	e := newEnvWith(t, labOf(seam.ProfileLatest, false))
	for _, path := range []string{
		"/acs/encoders/simulate/next_credential_encode_will_succeed",
		"/acs/encoders/simulate/next_credential_encode_will_fail",
	} {
		r := e.post(path, fmt.Sprintf(`{"acs_encoder_id": %q}`, frontDesk1))
		e.wantError(r, http.StatusBadRequest, "sandbox_only")
	}
	if _, got := e.enc.calls(); len(got) != 0 {
		t.Errorf("simulations outside a sandbox reached Encoding: %q", got)
	}
	// The rest of the API works there.
	if r := e.post("/acs/encoders/list", fmt.Sprintf(`{"acs_encoder_ids": [%q]}`, frontDesk1)); r.status != http.StatusOK {
		t.Errorf("list encoders outside a sandbox: %d %v", r.status, r.body)
	}
}

func TestSimulateRequestsAreStrict(t *testing.T) {
	e := newEnv(t)
	for path, body := range map[string]string{
		"/acs/encoders/simulate/next_credential_encode_will_succeed": `{"acs_encoder_id": %q, "scenaro": "credential_is_issued"}`,
		"/acs/encoders/simulate/next_credential_encode_will_fail":    `{"acs_encoder_id": %q, "error": "no_credential_on_encoder"}`,
	} {
		r := e.post(path, fmt.Sprintf(body, frontDesk1))
		e.wantError(r, http.StatusBadRequest, "invalid_input")
		if m := messages(t, validationErrors(t, r)); len(m) != 1 {
			t.Errorf("%s: an unknown key should be one object-level problem, got _errors %q", path, m)
		}
	}
	if _, got := e.enc.calls(); len(got) != 0 {
		t.Errorf("refused simulations reached Encoding: %q", got)
	}
}

func TestSimulateErrorCodesByProfile(t *testing.T) {
	fail := "/acs/encoders/simulate/next_credential_encode_will_fail"
	interrupted := fmt.Sprintf(`{"acs_encoder_id": %q, "error_code": "encoding_interrupted"}`, frontDesk1)

	seed := newEnvWith(t, labOf(seam.ProfileCurrent, true))
	seed.wantError(seed.post(fail, interrupted), http.StatusBadRequest, "invalid_input")

	latest := newEnvWith(t, labOf(seam.ProfileLatest, true))
	if r := latest.post(fail, interrupted); r.status != http.StatusOK {
		t.Errorf("latest: simulate encoding_interrupted: %d %v", r.status, r.body)
	}
	// encoding_interrupted is in the union member without acs_credential_id.
	cred := latest.createCard(key1, guest1)
	latest.wantError(latest.post(fail, fmt.Sprintf(`{"acs_encoder_id": %q, "error_code": "encoding_interrupted", "acs_credential_id": %q}`,
		frontDesk1, cred)), http.StatusBadRequest, "invalid_input")
	if _, got := latest.enc.calls(); !slices.Equal(got, []string{ws1 + " " + frontDesk1 + " encoding_interrupted"}) {
		t.Errorf("latest: SimulateNext calls %q, want the one encoding_interrupted", got)
	}
}

func TestErrorTypesByProfile(t *testing.T) {
	// What each profile shows for an attempt the pipeline ended with a
	// type: the seeds enumerate five, and uncategorized_error is theirs
	// for an error that fits no other category.
	seedTypes := []string{"uncategorized_error", "action_attempt_expired", "no_credential_on_encoder",
		"incompatible_card_format", "credential_cannot_be_reissued"}
	latestOnly := []string{"encoding_interrupted", "encoder_not_online", "encoder_communication_timeout",
		"bridge_disconnected", "credential_deleted"}
	for _, profile := range []seam.Profile{seam.ProfileCurrent, seam.ProfileOlder, seam.ProfileLatest} {
		e := newEnvWith(t, labOf(profile, true))
		cred := e.createCard(key1, guest1)
		for _, typ := range slices.Concat(seedTypes, latestOnly) {
			want := typ
			if profile != seam.ProfileLatest && slices.Contains(latestOnly, typ) {
				want = "uncategorized_error"
			}
			r := e.post("/acs/encoders/encode_credential", fmt.Sprintf(`{"acs_credential_id": %q, "acs_encoder_id": %q}`, cred, frontDesk1))
			id, _ := obj(t, r.body, "action_attempt")["action_attempt_id"].(string)
			e.enc.end(ws1, id, typ)
			got := e.post("/action_attempts/get", fmt.Sprintf(`{"action_attempt_id": %q}`, id))
			aerr := obj(t, obj(t, got.body, "action_attempt"), "error")
			if aerr["type"] != want {
				t.Errorf("%s: an attempt ended %s shows error.type %v, want %s", profile, typ, aerr["type"], want)
			}
			if aerr["message"] != "the encode failed: "+typ {
				t.Errorf("%s: error.message %v, want the pipeline's", profile, aerr["message"])
			}
		}
	}
}

// Under latest, encode_credential takes acs_credential_id or
// access_method_id (the published request schema); the lab has no access
// grants, so an access method is never found.
func TestEncodeByAccessMethod(t *testing.T) {
	e := newEnvWith(t, labOf(seam.ProfileLatest, true))
	cred := e.createCard(key1, guest1)
	method := "11111111-2222-4333-8444-555555555555"
	e.wantError(e.post("/acs/encoders/encode_credential", fmt.Sprintf(`{"access_method_id": %q, "acs_encoder_id": %q}`, method, frontDesk1)),
		http.StatusNotFound, "access_method_not_found")
	e.wantError(e.post("/acs/encoders/encode_credential", fmt.Sprintf(`{"access_method_id": %q, "acs_credential_id": %q, "acs_encoder_id": %q}`, method, cred, frontDesk1)),
		http.StatusBadRequest, "invalid_input")
	e.wantError(e.post("/acs/encoders/encode_credential", fmt.Sprintf(`{"access_method_id": "no", "acs_encoder_id": %q}`, frontDesk1)),
		http.StatusBadRequest, "invalid_input")
	e.wantError(e.post("/acs/encoders/encode_credential", fmt.Sprintf(`{"acs_encoder_id": %q}`, frontDesk1)),
		http.StatusBadRequest, "invalid_input")
	if encodes, _ := e.enc.calls(); len(encodes) != 0 {
		t.Errorf("refused encodes reached Encoding: %q", encodes)
	}
	if r := e.post("/acs/encoders/encode_credential", fmt.Sprintf(`{"acs_credential_id": %q, "acs_encoder_id": %q}`, cred, frontDesk1)); r.status != http.StatusOK {
		t.Errorf("encode by acs_credential_id under latest: %d %v", r.status, r.body)
	}
}

// The scan routes: scan_credential answers a pending SCAN_CREDENTIAL
// attempt; its simulate routes follow their request schemas and work in
// sandbox workspaces only.
func TestScanRoutes(t *testing.T) {
	e := newEnvWith(t, labOf(seam.ProfileLatest, true))
	r := e.post("/acs/encoders/scan_credential", fmt.Sprintf(`{"acs_encoder_id": %q}`, frontDesk1))
	if r.status != http.StatusOK {
		t.Fatalf("scan_credential: %d %v", r.status, r.body)
	}
	a := obj(t, r.body, "action_attempt")
	want(t, a, "action_type", "SCAN_CREDENTIAL")
	want(t, a, "status", "pending")
	e.wantError(e.post("/acs/encoders/scan_credential", `{}`), http.StatusBadRequest, "invalid_input")
	e.wantError(e.post("/acs/encoders/scan_credential", `{"acs_encoder_id": "11111111-2222-4333-8444-555555555555"}`), http.StatusNotFound, "acs_encoder_not_found")

	ok := []string{
		fmt.Sprintf(`{"acs_encoder_id": %q}`, frontDesk1),
		fmt.Sprintf(`{"acs_encoder_id": %q, "scenario": "credential_on_encoder_is_empty"}`, frontDesk1),
		fmt.Sprintf(`{"acs_encoder_id": %q, "scenario": "credential_on_encoder_needs_update", "acs_credential_id_on_seam": "11111111-2222-4333-8444-555555555555"}`, frontDesk1),
	}
	for _, body := range ok {
		if r := e.post("/acs/encoders/simulate/next_credential_scan_will_succeed", body); r.status != http.StatusOK {
			t.Errorf("scan_will_succeed %s: %d %v", body, r.status, r.body)
		}
	}
	for _, body := range []string{
		fmt.Sprintf(`{"acs_encoder_id": %q, "scenario": "credential_on_encoder_is_empty", "acs_credential_id_on_seam": "11111111-2222-4333-8444-555555555555"}`, frontDesk1),
		fmt.Sprintf(`{"acs_encoder_id": %q, "scenario": "card_on_fire"}`, frontDesk1),
		fmt.Sprintf(`{"acs_encoder_id": %q, "colour": "red"}`, frontDesk1),
	} {
		e.wantError(e.post("/acs/encoders/simulate/next_credential_scan_will_succeed", body), http.StatusBadRequest, "invalid_input")
	}
	if r := e.post("/acs/encoders/simulate/next_credential_scan_will_fail", fmt.Sprintf(`{"acs_encoder_id": %q, "error_code": "action_attempt_expired"}`, frontDesk1)); r.status != http.StatusOK {
		t.Errorf("scan_will_fail: %d %v", r.status, r.body)
	}
	for _, body := range []string{
		fmt.Sprintf(`{"acs_encoder_id": %q, "error_code": "encoding_interrupted"}`, frontDesk1),
		fmt.Sprintf(`{"acs_encoder_id": %q, "acs_credential_id_on_seam": "11111111-2222-4333-8444-555555555555"}`, frontDesk1),
	} {
		e.wantError(e.post("/acs/encoders/simulate/next_credential_scan_will_fail", body), http.StatusBadRequest, "invalid_input")
	}
	nosandbox := newEnvWith(t, labOf(seam.ProfileLatest, false))
	for _, path := range []string{"/acs/encoders/simulate/next_credential_scan_will_succeed", "/acs/encoders/simulate/next_credential_scan_will_fail"} {
		nosandbox.wantError(nosandbox.post(path, fmt.Sprintf(`{"acs_encoder_id": %q}`, frontDesk1)), http.StatusBadRequest, "sandbox_only")
	}
}
