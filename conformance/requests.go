package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/encoderlab/encoderlab/fixtures"
)

// requestRules are the rules of check kind "request": promises of the
// published types and the SDK about single requests, each checked by
// requests of its own in the API container.
var requestRules = []string{"validation-errors", "invalid-content-type", "sandbox-only", "simulate-body", "credential-delete", "directory", "scan-simulated"}

// checkRequest makes the requests a "request" requirement is about and
// returns every problem with the answers.
func checkRequest(ctx context.Context, req Requirement, f *apiFixture) []string {
	key := newClient(f.url, f.cfg.apiKey(f.ws), "")
	switch req.Check.Rule {
	case "validation-errors":
		return validationErrors(ctx, f, key)
	case "invalid-content-type":
		return invalidContentType(ctx, f, key)
	case "sandbox-only":
		return sandboxOnly(ctx, f)
	case "simulate-body":
		return simulateBody(ctx, f, key)
	case "credential-delete":
		return credentialDelete(ctx, f, key)
	case "directory":
		return directory(ctx, f, key)
	case "scan-simulated":
		return scanSimulated(ctx, f, key)
	}
	return []string{fmt.Sprintf("request rule %q has no check", req.Check.Rule)}
}

// validationErrors sends an encode whose two parameters are both of the
// wrong type: the refusal must name each in validation_errors, in the
// form the SDK reads (@seamapi/http ApiError.validation_errors:
// {param: {_errors: [message, …]}}).
func validationErrors(ctx context.Context, f *apiFixture, key *client) []string {
	r, err := key.post(ctx, "/acs/encoders/encode_credential", map[string]any{"acs_encoder_id": 12345, "acs_credential_id": true})
	if err != nil {
		return []string{err.Error()}
	}
	f.keep(r)
	if msg := apiError(r, http.StatusBadRequest, "invalid_input"); msg != "" {
		return []string{msg}
	}
	var body struct {
		Error struct {
			ValidationErrors map[string]json.RawMessage `json:"validation_errors"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil {
		return []string{fmt.Sprintf("%s: %v", r, err)}
	}
	if body.Error.ValidationErrors == nil {
		return []string{fmt.Sprintf("%s: the refusal carries no error.validation_errors object", r)}
	}
	var problems []string
	for _, param := range []string{"acs_encoder_id", "acs_credential_id"} {
		raw, ok := body.Error.ValidationErrors[param]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: validation_errors does not name %s, one of the two parameters of the wrong type", r, param))
			continue
		}
		var entry struct {
			Errors []string `json:"_errors"`
		}
		if err := json.Unmarshal(raw, &entry); err != nil || len(entry.Errors) == 0 || slices.Contains(entry.Errors, "") {
			problems = append(problems, fmt.Sprintf("%s: validation_errors.%s is %s; want {\"_errors\": [a message, …]}", r, param, raw))
		}
	}
	return problems
}

// invalidContentType sends a well-formed encode body declared as plain
// text.
func invalidContentType(ctx context.Context, f *apiFixture, key *client) []string {
	b, _ := json.Marshal(map[string]any{"acs_credential_id": f.credentialID, "acs_encoder_id": f.encoderID})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, key.base+"/acs/encoders/encode_credential", strings.NewReader(string(b)))
	if err != nil {
		return []string{err.Error()}
	}
	req.Header.Set("Content-Type", "text/plain")
	r, err := key.do(req, "/acs/encoders/encode_credential")
	if err != nil {
		return []string{err.Error()}
	}
	f.keep(r)
	if msg := apiError(r, http.StatusBadRequest, "invalid_content_type"); msg != "" {
		return []string{msg + " (the body was sent as text/plain)"}
	}
	return nil
}

// sandboxOnly calls both simulate routes from a workspace the lab does
// not mark as a sandbox: each must be refused, whatever it names.
func sandboxOnly(ctx context.Context, f *apiFixture) []string {
	var ws *fixtures.Workspace
	for _, w := range f.cfg.Lab.Workspaces {
		if !w.Sandbox {
			ws = w
			break
		}
	}
	if ws == nil {
		return []string{"the lab has no workspace that is not a sandbox (sandbox: false), so the refusal of the simulate routes outside one cannot be checked; add one to the lab"}
	}
	cl := newClient(f.url, f.cfg.apiKey(ws), "")
	encoderID := f.encoderID
	if len(ws.Encoders) > 0 {
		encoderID = fixtures.EncoderID(ws.ID, ws.Encoders[0].DisplayName)
	}
	var problems []string
	for _, route := range []string{"next_credential_encode_will_succeed", "next_credential_encode_will_fail"} {
		r, err := cl.post(ctx, "/acs/encoders/simulate/"+route, map[string]any{"acs_encoder_id": encoderID})
		if err != nil {
			return append(problems, err.Error())
		}
		f.keep(r)
		if r.Status < 400 || r.Status >= 500 {
			problems = append(problems, fmt.Sprintf("%s: workspace %s is not a sandbox; want the simulate route refused with a 4xx error", r, ws.ID))
		} else if msg := apiError(r, r.Status, ""); msg != "" {
			problems = append(problems, msg)
		}
	}
	return problems
}

// simulateBody holds next_credential_encode_will_fail to its request
// schema (additionalProperties: false; error_code encoding_interrupted
// only without acs_credential_id), then checks that the simulation it
// accepts is the one the next encode ends with.
func simulateBody(ctx context.Context, f *apiFixture, key *client) []string {
	const path = "/acs/encoders/simulate/next_credential_encode_will_fail"
	var problems []string
	refused := []map[string]any{
		{"acs_encoder_id": f.encoderID, "error_code": "no_credential_on_encoder", "card_colour": "red"},
		{"acs_encoder_id": f.encoderID, "error_code": "encoding_interrupted", "acs_credential_id": f.credentialID},
		{"acs_encoder_id": f.encoderID, "error_code": "card_on_fire"},
	}
	for _, b := range refused {
		r, err := key.post(ctx, path, b)
		if err != nil {
			return append(problems, err.Error())
		}
		f.keep(r)
		if msg := apiError(r, http.StatusBadRequest, "invalid_input"); msg != "" {
			problems = append(problems, msg+" (the body breaks the route's request schema)")
		}
	}
	r, err := key.post(ctx, "/acs/encoders/simulate/next_credential_encode_will_succeed", map[string]any{"acs_encoder_id": f.encoderID, "scenario": "credential_is_issued", "extra": 1})
	if err != nil {
		return append(problems, err.Error())
	}
	f.keep(r)
	if msg := apiError(r, http.StatusBadRequest, "invalid_input"); msg != "" {
		problems = append(problems, msg+" (an unknown key in next_credential_encode_will_succeed)")
	}
	// The armed outcome goes to the encoder's next encode: every attempt
	// the other checks made there must have ended first.
	if msg := settleAttempts(ctx, f, key); msg != "" {
		return append(problems, msg)
	}
	r, err = key.post(ctx, path, map[string]any{"acs_encoder_id": f.encoderID, "error_code": "encoding_interrupted"})
	if err != nil {
		return append(problems, err.Error())
	}
	f.keep(r)
	if r.Status != http.StatusOK {
		return append(problems, fmt.Sprintf("%s: want HTTP 200: the schema allows error_code encoding_interrupted", r))
	}
	a, msg := encodeToEnd(ctx, f, key)
	switch {
	case msg != "":
		problems = append(problems, msg)
	case a["status"] != "error" || errorType(a) != "encoding_interrupted":
		problems = append(problems, fmt.Sprintf("after next_credential_encode_will_fail with encoding_interrupted, the next encode ended %v %s; want error encoding_interrupted", a["status"], errorType(a)))
	}
	return problems
}

// settleAttempts follows every attempt the fixture's requests made to
// its end.
func settleAttempts(ctx context.Context, f *apiFixture, key *client) string {
	for _, r := range f.kept() {
		if r.Status != http.StatusOK || !strings.HasSuffix(r.Path, "/encode_credential") {
			continue
		}
		a, err := attemptOf(r)
		if err != nil {
			continue
		}
		if _, msg := followToEnd(ctx, f, key, a); msg != "" {
			return msg
		}
	}
	return ""
}

// encodeToEnd encodes the fixture's credential and follows the attempt
// to its end, for at most the attempt deadline and a margin.
func encodeToEnd(ctx context.Context, f *apiFixture, key *client) (map[string]any, string) {
	r, err := key.post(ctx, "/acs/encoders/encode_credential", map[string]any{"acs_credential_id": f.credentialID, "acs_encoder_id": f.encoderID})
	if err != nil {
		return nil, err.Error()
	}
	f.keep(r)
	a, err := attemptOf(r)
	if err != nil {
		return nil, err.Error()
	}
	return followToEnd(ctx, f, key, a)
}

// followToEnd polls attempt a until it is terminal, for at most the attempt
// deadline and a margin.
func followToEnd(ctx context.Context, f *apiFixture, key *client, a map[string]any) (map[string]any, string) {
	id, _ := a["action_attempt_id"].(string)
	giveUp := time.Now().Add(f.cfg.TimeScale.Of(f.cfg.AttemptDeadline) + 5*time.Second)
	for a["status"] == "pending" {
		if time.Now().After(giveUp) {
			return nil, fmt.Sprintf("attempt %s still pending after its deadline", id)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err().Error()
		case <-time.After(PollInterval(f.cfg.TimeScale)):
		}
		res, err := getAttempt(ctx, key, id, false)
		if err != nil {
			return nil, err.Error()
		}
		if a, err = attemptOf(res); err != nil {
			return nil, err.Error()
		}
	}
	return a, ""
}

// credentialDelete creates a credential of its own, deletes it, and
// checks that it is gone: not found by get, absent from the list, not
// found by a second delete.
func credentialDelete(ctx context.Context, f *apiFixture, key *client) []string {
	r, err := key.post(ctx, "/acs/credentials/create", map[string]any{"acs_user_id": f.userID, "access_method": "card"})
	if err != nil {
		return []string{err.Error()}
	}
	f.keep(r)
	c, err := credentialOf(r)
	if err != nil {
		return []string{err.Error()}
	}
	id, _ := c["acs_credential_id"].(string)
	body := map[string]any{"acs_credential_id": id}
	var problems []string
	if r, err = key.post(ctx, "/acs/credentials/delete", body); err != nil {
		return []string{err.Error()}
	}
	f.keep(r)
	if r.Status != http.StatusOK {
		return []string{fmt.Sprintf("%s: want HTTP 200 deleting a credential just created", r)}
	}
	for _, path := range []string{"/acs/credentials/get", "/acs/credentials/delete"} {
		if r, err = key.post(ctx, path, body); err != nil {
			return append(problems, err.Error())
		}
		f.keep(r)
		if msg := apiError(r, http.StatusNotFound, "acs_credential_not_found"); msg != "" {
			problems = append(problems, msg+" (the credential was deleted)")
		}
	}
	if r, err = key.post(ctx, "/acs/credentials/list", map[string]any{"acs_user_id": f.userID}); err != nil {
		return append(problems, err.Error())
	}
	f.keep(r)
	if strings.Contains(string(r.Body), id) {
		problems = append(problems, fmt.Sprintf("%s: the list still names deleted credential %s", r, id))
	}
	return problems
}

// directory checks /acs/systems/* and /acs/users/* against the lab: every
// system and user of the workspace listed with the lab's ids, names and
// connected account, and each found by its get.
func directory(ctx context.Context, f *apiFixture, key *client) []string {
	var problems []string
	read := func(path string, body map[string]any, member string) []map[string]any {
		r, err := key.post(ctx, path, body)
		if err != nil {
			problems = append(problems, err.Error())
			return nil
		}
		f.keep(r)
		var out map[string]json.RawMessage
		var items []map[string]any
		if r.Status != http.StatusOK || json.Unmarshal(r.Body, &out) != nil {
			problems = append(problems, fmt.Sprintf("%s: want HTTP 200 with %s", r, member))
			return nil
		}
		raw := out[member]
		if len(raw) > 0 && raw[0] == '{' {
			var one map[string]any
			if json.Unmarshal(raw, &one) == nil {
				items = append(items, one)
			}
		} else if json.Unmarshal(raw, &items) != nil {
			problems = append(problems, fmt.Sprintf("%s: %s is not a list", r, member))
		}
		return items
	}
	byID := func(items []map[string]any, idKey string) map[string]map[string]any {
		m := map[string]map[string]any{}
		for _, it := range items {
			if id, ok := it[idKey].(string); ok {
				m[id] = it
			}
		}
		return m
	}
	ws := f.ws
	systems := byID(read("/acs/systems/list", map[string]any{}, "acs_systems"), "acs_system_id")
	if len(systems) != len(ws.Systems) {
		problems = append(problems, fmt.Sprintf("/acs/systems/list gave %d systems; workspace %s of the lab has %d", len(systems), ws.ID, len(ws.Systems)))
	}
	for _, sys := range ws.Systems {
		got := systems[sys.ID]
		if got == nil {
			problems = append(problems, fmt.Sprintf("/acs/systems/list does not list system %s (%s)", sys.ID, sys.Name))
			continue
		}
		for k, want := range map[string]string{"name": sys.Name, "workspace_id": ws.ID, "connected_account_id": ws.ConnectedAccountID} {
			if got[k] != want {
				problems = append(problems, fmt.Sprintf("system %s: %s is %v, want %q (the lab's)", sys.ID, k, got[k], want))
			}
		}
		if one := read("/acs/systems/get", map[string]any{"acs_system_id": sys.ID}, "acs_system"); len(one) != 1 || one[0]["acs_system_id"] != sys.ID {
			problems = append(problems, fmt.Sprintf("/acs/systems/get of %s did not answer that system", sys.ID))
		}
		users := byID(read("/acs/users/list", map[string]any{"acs_system_id": sys.ID}, "acs_users"), "acs_user_id")
		if len(users) != len(sys.Users) {
			problems = append(problems, fmt.Sprintf("/acs/users/list of system %s gave %d users; the lab has %d", sys.ID, len(users), len(sys.Users)))
		}
		for _, u := range sys.Users {
			got := users[u.ID]
			if got == nil {
				problems = append(problems, fmt.Sprintf("/acs/users/list of system %s does not list user %s (%s)", sys.ID, u.ID, u.FullName))
				continue
			}
			if got["acs_system_id"] != sys.ID || got["full_name"] != u.FullName {
				problems = append(problems, fmt.Sprintf("user %s: acs_system_id %v, full_name %v; want %s and %q (the lab's)", u.ID, got["acs_system_id"], got["full_name"], sys.ID, u.FullName))
			}
			if one := read("/acs/users/get", map[string]any{"acs_user_id": u.ID}, "acs_user"); len(one) != 1 || one[0]["acs_user_id"] != u.ID {
				problems = append(problems, fmt.Sprintf("/acs/users/get of %s did not answer that user", u.ID))
			}
		}
	}
	r, err := key.post(ctx, "/acs/systems/get", map[string]any{"acs_system_id": "11111111-2222-4333-8444-555555555555"})
	if err == nil {
		f.keep(r)
		if msg := apiError(r, http.StatusNotFound, "acs_system_not_found"); msg != "" {
			problems = append(problems, msg+" (an acs_system_id that names no system)")
		}
	}
	return problems
}

// scanSimulated arms each scan outcome the sandbox controls offer and
// checks that the next scan ends so: the fixture's credential found on
// seam, an empty card, a card whose credential Seam does not have, and a
// failure, each with the value the arming named.
func scanSimulated(ctx context.Context, f *apiFixture, key *client) []string {
	var problems []string
	scan := func(arm string, body map[string]any) map[string]any {
		body["acs_encoder_id"] = f.encoderID
		r, err := key.post(ctx, "/acs/encoders/simulate/"+arm, body)
		if err != nil {
			problems = append(problems, err.Error())
			return nil
		}
		f.keep(r)
		if r.Status != http.StatusOK {
			problems = append(problems, fmt.Sprintf("%s: want HTTP 200 arming the scan", r))
			return nil
		}
		if r, err = key.post(ctx, "/acs/encoders/scan_credential", map[string]any{"acs_encoder_id": f.encoderID}); err != nil {
			problems = append(problems, err.Error())
			return nil
		}
		f.keep(r)
		a, err := attemptOf(r)
		if err != nil || r.Status != http.StatusOK || a["action_type"] != "SCAN_CREDENTIAL" || a["status"] != "pending" {
			problems = append(problems, fmt.Sprintf("%s: want HTTP 200 with a pending SCAN_CREDENTIAL attempt", r))
			return nil
		}
		end, msg := followToEnd(ctx, f, key, a)
		if msg != "" {
			problems = append(problems, msg)
			return nil
		}
		return end
	}
	result := func(a map[string]any) (onEncoder, onSeam map[string]any, warnings []any) {
		r, _ := a["result"].(map[string]any)
		onEncoder, _ = r["acs_credential_on_encoder"].(map[string]any)
		onSeam, _ = r["acs_credential_on_seam"].(map[string]any)
		warnings, _ = r["warnings"].([]any)
		return
	}
	hasWarning := func(ws []any, code string) bool {
		for _, w := range ws {
			if m, ok := w.(map[string]any); ok && m["warning_code"] == code {
				return true
			}
		}
		return false
	}
	if a := scan("next_credential_scan_will_succeed", map[string]any{"scenario": "credential_exists_on_seam", "acs_credential_id_on_seam": f.credentialID}); a != nil {
		enc, onSeam, _ := result(a)
		if a["status"] != "success" || onSeam["acs_credential_id"] != f.credentialID || enc["is_issued"] != true {
			problems = append(problems, fmt.Sprintf("credential_exists_on_seam of %s: the scan ended %v; want success with that credential on seam and an issued card", f.credentialID, a))
		}
	}
	if a := scan("next_credential_scan_will_succeed", map[string]any{"scenario": "credential_on_encoder_is_empty"}); a != nil {
		enc, onSeam, _ := result(a)
		if a["status"] != "success" || onSeam != nil || enc["is_issued"] != false {
			problems = append(problems, fmt.Sprintf("credential_on_encoder_is_empty: the scan ended %v; want success, a card not issued, nothing on seam", a))
		}
	}
	if a := scan("next_credential_scan_will_succeed", map[string]any{"scenario": "credential_does_not_exist_on_seam"}); a != nil {
		_, onSeam, ws := result(a)
		if a["status"] != "success" || onSeam != nil || !hasWarning(ws, "acs_credential_on_seam_not_found") {
			problems = append(problems, fmt.Sprintf("credential_does_not_exist_on_seam: the scan ended %v; want success, nothing on seam, warning acs_credential_on_seam_not_found", a))
		}
	}
	if a := scan("next_credential_scan_will_fail", map[string]any{"error_code": "no_credential_on_encoder"}); a != nil {
		if a["status"] != "error" || errorType(a) != "no_credential_on_encoder" {
			problems = append(problems, fmt.Sprintf("next_credential_scan_will_fail no_credential_on_encoder: the scan ended %v", a))
		}
	}
	return problems
}
