package api_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

func TestEncodeCredential(t *testing.T) {
	e := newEnv(t)
	cred := e.createCard(key1, guest1)
	r := e.post("/acs/encoders/encode_credential",
		fmt.Sprintf(`{"acs_credential_id": %q, "acs_encoder_id": %q}`, cred, frontDesk1))
	if r.status != http.StatusOK {
		t.Fatalf("encode_credential: %d %v", r.status, r.body)
	}
	a := obj(t, r.body, "action_attempt")
	want(t, a, "action_type", "ENCODE_CREDENTIAL")
	want(t, a, "status", "pending")
	want(t, a, "result", nil)
	want(t, a, "error", nil)
	id, _ := a["action_attempt_id"].(string)
	if len(id) != 36 {
		t.Errorf("action_attempt_id = %q, want a UUID", id)
	}
	encodes, _ := e.enc.calls()
	if wantCall := ws1 + " " + cred + " " + frontDesk1; !slices.Equal(encodes, []string{wantCall}) {
		t.Errorf("Encode calls = %q, want [%q]", encodes, wantCall)
	}

	// Upper-case ids reach Encoding in the canonical lower-case form.
	e.post("/acs/encoders/encode_credential",
		fmt.Sprintf(`{"acs_credential_id": %q, "acs_encoder_id": %q, "newer_sdk_parameter": [1]}`, strings.ToUpper(cred), strings.ToUpper(frontDesk1)))
	if encodes, _ := e.enc.calls(); len(encodes) != 2 || encodes[1] != encodes[0] {
		t.Errorf("Encode calls = %q, want the same canonical ids twice", encodes)
	}

	for _, method := range []string{http.MethodGet, http.MethodPost} {
		var got reply
		if method == http.MethodGet {
			got = e.do(method, "/action_attempts/get?action_attempt_id="+id, "", nil)
		} else {
			got = e.post("/action_attempts/get", fmt.Sprintf(`{"action_attempt_id": %q}`, id))
		}
		if got.status != http.StatusOK {
			t.Fatalf("%s action_attempts/get: %d %v", method, got.status, got.body)
		}
		want(t, obj(t, got.body, "action_attempt"), "action_attempt_id", id)
	}
}

func TestEncodeCredentialBadInput(t *testing.T) {
	e := newEnv(t)
	cred, enc := `"`+"6f1c2a7e-5d1b-4b8e-9a51-2f0b7c3d9e10"+`"`, `"`+frontDesk1+`"`
	cases := []struct {
		name, body, contentType string
	}{
		{"empty body", "", ""},
		{"empty object", `{}`, ""},
		{"no credential", `{"acs_encoder_id": ` + enc + `}`, ""},
		{"no encoder", `{"acs_credential_id": ` + cred + `}`, ""},
		{"null credential", `{"acs_credential_id": null, "acs_encoder_id": ` + enc + `}`, ""},
		{"credential a number", `{"acs_credential_id": 42, "acs_encoder_id": ` + enc + `}`, ""},
		{"encoder a list", `{"acs_credential_id": ` + cred + `, "acs_encoder_id": [` + enc + `]}`, ""},
		{"encoder an object", `{"acs_credential_id": ` + cred + `, "acs_encoder_id": {}}`, ""},
		{"credential not a UUID", `{"acs_credential_id": "front-desk-1", "acs_encoder_id": ` + enc + `}`, ""},
		{"encoder a display name", `{"acs_credential_id": ` + cred + `, "acs_encoder_id": "front-desk-1"}`, ""},
		{"UUID without hyphens", `{"acs_credential_id": "6f1c2a7e5d1b4b8e9a512f0b7c3d9e10", "acs_encoder_id": ` + enc + `}`, ""},
		{"UUID in braces", `{"acs_credential_id": "{6f1c2a7e-5d1b-4b8e-9a51-2f0b7c3d9e10}", "acs_encoder_id": ` + enc + `}`, ""},
		{"body a list", `[` + cred + `]`, ""},
		{"body a string", `"hello"`, ""},
		{"body null", `null`, ""},
		{"broken JSON", `{"acs_credential_id": `, ""},
		{"two objects", `{} {}`, ""},
		{"form encoded", `acs_credential_id=x&acs_encoder_id=y`, "application/x-www-form-urlencoded"},
		{"text", `{"acs_credential_id": ` + cred + `, "acs_encoder_id": ` + enc + `}`, "text/plain"},
		{"bad content type", `{}`, "application/"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]string{}
			if tc.contentType != "" {
				h["Content-Type"] = tc.contentType
			}
			r := e.do(http.MethodPost, "/acs/encoders/encode_credential", tc.body, h)
			e.wantError(r, http.StatusBadRequest, "invalid_input")
		})
	}
	if encodes, _ := e.enc.calls(); len(encodes) != 0 {
		t.Errorf("bad input reached Encoding: %q", encodes)
	}
}

func TestJSONContentTypeVariants(t *testing.T) {
	e := newEnv(t)
	for _, ct := range []string{"application/json; charset=utf-8", "Application/JSON", "application/vnd.api+json"} {
		r := e.do(http.MethodPost, "/acs/encoders/list", `{}`, map[string]string{"Content-Type": ct})
		if r.status != http.StatusOK {
			t.Errorf("Content-Type %q: %d %v", ct, r.status, r.body)
		}
	}
	// A body-less POST needs no content type at all.
	r := e.do(http.MethodPost, "/acs/encoders/list", "", map[string]string{"Content-Type": "text/plain"})
	if r.status != http.StatusOK {
		t.Errorf("empty text/plain POST: %d %v", r.status, r.body)
	}
}

func TestNotFound(t *testing.T) {
	e := newEnv(t)
	missing := "6f1c2a7e-5d1b-4b8e-9a51-2f0b7c3d9e10"
	e.wantError(e.post("/acs/credentials/get", fmt.Sprintf(`{"acs_credential_id": %q}`, missing)), 404, "acs_credential_not_found")
	e.wantError(e.post("/acs/encoders/get", fmt.Sprintf(`{"acs_encoder_id": %q}`, missing)), 404, "acs_encoder_not_found")
	e.wantError(e.post("/action_attempts/get", fmt.Sprintf(`{"action_attempt_id": %q}`, missing)), 404, "action_attempt_not_found")
	cred := e.createCard(key1, guest1)
	e.wantError(e.post("/acs/encoders/encode_credential",
		fmt.Sprintf(`{"acs_credential_id": %q, "acs_encoder_id": %q}`, cred, missing)), 404, "acs_encoder_not_found")
	e.wantError(e.post("/acs/credentials/create",
		fmt.Sprintf(`{"acs_user_id": %q, "access_method": "card"}`, missing)), 404, "acs_user_not_found")
	for _, path := range []string{"/", "/acs/encoders", "/acs/encoders/list/", "/acs/encoders/scan_credentials", "/ACS/ENCODERS/LIST"} {
		e.wantError(e.post(path, `{}`), 404, "endpoint_not_found")
	}
}

func TestMethodNotAllowed(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/acs/encoders/encode_credential", "/acs/credentials/create",
		"/acs/encoders/simulate/next_credential_encode_will_succeed", "/acs/encoders/simulate/next_credential_encode_will_fail"} {
		r := e.do(http.MethodGet, path, "", nil)
		e.wantError(r, http.StatusMethodNotAllowed, "method_not_allowed")
		if got := r.header.Get("Allow"); got != "POST" {
			t.Errorf("GET %s: Allow = %q, want POST", path, got)
		}
	}
	for _, method := range []string{http.MethodPut, http.MethodDelete, http.MethodPatch} {
		r := e.do(method, "/acs/encoders/list", `{}`, nil)
		e.wantError(r, http.StatusMethodNotAllowed, "method_not_allowed")
		if got := r.header.Get("Allow"); got != "GET, POST" {
			t.Errorf("%s /acs/encoders/list: Allow = %q, want \"GET, POST\"", method, got)
		}
	}
}

func TestBodyTooLarge(t *testing.T) {
	e := newEnv(t)
	pad := strings.Repeat("x", 8192)
	r := e.post("/acs/encoders/encode_credential", `{"padding": "`+pad+`"}`)
	e.wantError(r, http.StatusRequestEntityTooLarge, "payload_too_large")
	// Just under the limit is read normally.
	r = e.post("/acs/encoders/list", `{"padding": "`+pad[:4000]+`"}`)
	if r.status != http.StatusOK {
		t.Errorf("body under the limit: %d %v", r.status, r.body)
	}
}

func TestEncoders(t *testing.T) {
	e := newEnv(t)
	ids := func(r reply) []string {
		t.Helper()
		if r.status != http.StatusOK {
			t.Fatalf("list encoders: %d %v", r.status, r.body)
		}
		var out []string
		for _, v := range list(t, r.body, "acs_encoders") {
			out = append(out, v.(map[string]any)["acs_encoder_id"].(string))
		}
		return out
	}
	all := ids(e.do(http.MethodGet, "/acs/encoders/list", "", nil))
	if len(all) != labEncoders {
		t.Fatalf("GET list = %d encoders, want the lab's %d", len(all), labEncoders)
	}
	if post := ids(e.post("/acs/encoders/list", "")); !slices.Equal(post, all) {
		t.Errorf("POST list = %q, want %q as with GET", post, all)
	}
	if got := ids(e.do(http.MethodGet, "/acs/encoders/list?acs_system_id="+vostio1, "", nil)); !slices.Equal(got, []string{frontDesk2}) {
		t.Errorf("list by acs_system_id = %q, want [front-desk-2]", got)
	}
	if got := ids(e.post("/acs/encoders/list", fmt.Sprintf(`{"acs_system_ids": [%q, %q]}`, visionline1, vostio1))); !slices.Equal(got, []string{frontDesk1, frontDesk2, nfcDesk1, pcscDesk1}) {
		t.Errorf("list by acs_system_ids = %q, want front-desk-1, front-desk-2, nfc-desk-1 and pcsc-desk-1", got)
	}
	q := url.Values{"acs_encoder_ids": {frontDesk2, frontDesk1}}
	if got := ids(e.do(http.MethodGet, "/acs/encoders/list?"+q.Encode(), "", nil)); !slices.Equal(got, []string{frontDesk1, frontDesk2}) {
		t.Errorf("list by repeated acs_encoder_ids = %q, want front-desk-1 and -2", got)
	}
	if got := ids(e.post("/acs/encoders/list", `{"limit": 2}`)); len(got) != 2 {
		t.Errorf("list with limit 2 = %d encoders", len(got))
	}
	for _, body := range []string{`{"limit": 0}`, `{"limit": "2"}`, `{"limit": 1.5}`, `{"acs_system_id": 7}`, `{"acs_system_ids": "x"}`, `{"acs_encoder_ids": ["front-desk-1"]}`} {
		e.wantError(e.post("/acs/encoders/list", body), http.StatusBadRequest, "invalid_input")
	}
	e.wantError(e.do(http.MethodGet, "/acs/encoders/list?limit=none", "", nil), http.StatusBadRequest, "invalid_input")

	for _, r := range []reply{
		e.do(http.MethodGet, "/acs/encoders/get?acs_encoder_id="+frontDesk1, "", nil),
		e.post("/acs/encoders/get", fmt.Sprintf(`{"acs_encoder_id": %q}`, frontDesk1)),
	} {
		if r.status != http.StatusOK {
			t.Fatalf("get encoder: %d %v", r.status, r.body)
		}
		enc := obj(t, r.body, "acs_encoder")
		want(t, enc, "acs_encoder_id", frontDesk1)
		want(t, enc, "acs_system_id", visionline1)
		want(t, enc, "workspace_id", ws1)
		want(t, enc, "connected_account_id", "c9914f1c-8ed5-480a-aba6-8160e72975c2")
		want(t, enc, "display_name", "front-desk-1")
		want(t, enc, "created_at", "2026-11-25T10:00:00.000Z")
		if errs := list(t, enc, "errors"); len(errs) != 0 {
			t.Errorf("errors = %v, want []", errs)
		}
	}
	e.wantError(e.do(http.MethodGet, "/acs/encoders/get", "", nil), http.StatusBadRequest, "invalid_input")
}

func TestCredentials(t *testing.T) {
	e := newEnv(t)
	r := e.post("/acs/credentials/create", fmt.Sprintf(`{
		"acs_user_id": %q, "acs_system_id": %q, "access_method": "card",
		"starts_at": "2026-11-25T14:00:00Z", "ends_at": "2026-11-28T11:00:00.000Z",
		"visionline_metadata": {"card_function_type": "staff", "auto_join": true}
	}`, staff1, visionline1))
	if r.status != http.StatusOK {
		t.Fatalf("create: %d %v", r.status, r.body)
	}
	c := obj(t, r.body, "acs_credential")
	id, _ := c["acs_credential_id"].(string)
	want(t, c, "acs_user_id", staff1)
	want(t, c, "acs_system_id", visionline1)
	want(t, c, "workspace_id", ws1)
	want(t, c, "access_method", "card")
	want(t, c, "display_name", "Visionline Card")
	want(t, c, "external_type", "visionline_card")
	want(t, c, "is_issued", false)
	want(t, c, "is_managed", true)
	want(t, c, "card_number", nil)
	want(t, c, "code", nil)
	want(t, c, "issued_at", nil)
	want(t, c, "starts_at", "2026-11-25T14:00:00.000Z")
	want(t, c, "ends_at", "2026-11-28T11:00:00.000Z")
	want(t, c, "created_at", "2026-11-25T10:00:00.000Z")
	vm := obj(t, c, "visionline_metadata")
	want(t, vm, "card_function_type", "staff")
	want(t, vm, "auto_join", true)
	if w := list(t, c, "warnings"); len(w) != 1 || w[0].(map[string]any)["warning_code"] != "waiting_to_be_issued" {
		t.Errorf("warnings = %v, want waiting_to_be_issued", w)
	}

	for _, got := range []reply{
		e.do(http.MethodGet, "/acs/credentials/get?acs_credential_id="+id, "", nil),
		e.post("/acs/credentials/get", fmt.Sprintf(`{"acs_credential_id": %q}`, id)),
	} {
		if got.status != http.StatusOK {
			t.Fatalf("get: %d %v", got.status, got.body)
		}
		g := obj(t, got.body, "acs_credential")
		for k, v := range c {
			if fmt.Sprint(g[k]) != fmt.Sprint(v) {
				t.Errorf("get: %s = %v, create said %v", k, g[k], v)
			}
		}
	}

	other := e.createCard(key1, vostioUser1)
	listIDs := func(r reply) []string {
		t.Helper()
		if r.status != http.StatusOK {
			t.Fatalf("list: %d %v", r.status, r.body)
		}
		var out []string
		for _, v := range list(t, r.body, "acs_credentials") {
			out = append(out, v.(map[string]any)["acs_credential_id"].(string))
		}
		return out
	}
	if got := listIDs(e.do(http.MethodGet, "/acs/credentials/list", "", nil)); !slices.Equal(got, []string{id, other}) {
		t.Errorf("list = %q, want [%s %s]", got, id, other)
	}
	if got := listIDs(e.post("/acs/credentials/list", fmt.Sprintf(`{"acs_user_id": %q}`, vostioUser1))); !slices.Equal(got, []string{other}) {
		t.Errorf("list by user = %q, want [%s]", got, other)
	}
	if got := listIDs(e.do(http.MethodGet, "/acs/credentials/list?acs_system_id="+visionline1, "", nil)); !slices.Equal(got, []string{id}) {
		t.Errorf("list by system = %q, want [%s]", got, id)
	}
	if got := listIDs(e.post("/acs/credentials/list", fmt.Sprintf(`{"acs_user_id": %q}`, guest1))); len(got) != 0 {
		t.Errorf("list for a user without credentials = %q, want []", got)
	}
}

func TestCreateCredentialBadInput(t *testing.T) {
	e := newEnv(t)
	cases := map[string]string{
		"no user":                `{"access_method": "card"}`,
		"no access method":       fmt.Sprintf(`{"acs_user_id": %q}`, guest1),
		"unknown access method":  fmt.Sprintf(`{"acs_user_id": %q, "access_method": "paper"}`, guest1),
		"access method a number": fmt.Sprintf(`{"acs_user_id": %q, "access_method": 1}`, guest1),
		"user not a UUID":        `{"acs_user_id": "guest", "access_method": "card"}`,
		"code a number":          fmt.Sprintf(`{"acs_user_id": %q, "access_method": "code", "code": 1234}`, guest1),
		"multi-phone a string":   fmt.Sprintf(`{"acs_user_id": %q, "access_method": "mobile_key", "is_multi_phone_sync_credential": "yes"}`, guest1),
		"ends_at in the past":    fmt.Sprintf(`{"acs_user_id": %q, "access_method": "card", "ends_at": "2020-01-01T00:00:00Z"}`, guest1),
		"ends_at a number":       fmt.Sprintf(`{"acs_user_id": %q, "access_method": "card", "ends_at": 1700000000}`, guest1),
		"metadata a string":      fmt.Sprintf(`{"acs_user_id": %q, "access_method": "card", "visionline_metadata": "staff"}`, guest1),
		"metadata a list":        fmt.Sprintf(`{"acs_user_id": %q, "access_method": "card", "visionline_metadata": []}`, guest1),
		"function type unknown":  fmt.Sprintf(`{"acs_user_id": %q, "access_method": "card", "visionline_metadata": {"card_function_type": "master"}}`, guest1),
		"auto_join a string":     fmt.Sprintf(`{"acs_user_id": %q, "access_method": "card", "visionline_metadata": {"auto_join": "true"}}`, guest1),
		"metadata on vostio":     fmt.Sprintf(`{"acs_user_id": %q, "access_method": "card", "visionline_metadata": {"card_function_type": "guest"}}`, vostioUser1),
		"user of another system": fmt.Sprintf(`{"acs_user_id": %q, "acs_system_id": %q, "access_method": "card"}`, guest1, vostio1),
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			e.wantError(e.post("/acs/credentials/create", body), http.StatusBadRequest, "invalid_input")
		})
	}
	e.wantError(e.post("/acs/credentials/create",
		fmt.Sprintf(`{"acs_user_id": %q, "acs_system_id": "6f1c2a7e-5d1b-4b8e-9a51-2f0b7c3d9e10", "access_method": "card"}`, guest1)),
		http.StatusNotFound, "acs_system_not_found")
	if r := e.do(http.MethodGet, "/acs/credentials/list", "", nil); len(list(t, r.body, "acs_credentials")) != 0 {
		t.Errorf("refused creates stored credentials: %v", r.body)
	}
}

func TestSimulate(t *testing.T) {
	e := newEnv(t)
	cred := e.createCard(key1, guest1)
	succeed := "/acs/encoders/simulate/next_credential_encode_will_succeed"
	fail := "/acs/encoders/simulate/next_credential_encode_will_fail"
	oks := []struct{ path, body, call string }{
		{succeed, fmt.Sprintf(`{"acs_encoder_id": %q}`, frontDesk1), frontDesk1},
		{succeed, fmt.Sprintf(`{"acs_encoder_id": %q, "scenario": "credential_is_issued"}`, frontDesk1), frontDesk1},
		{fail, fmt.Sprintf(`{"acs_encoder_id": %q}`, frontDesk1), frontDesk1 + " no_credential_on_encoder"},
		{fail, fmt.Sprintf(`{"acs_encoder_id": %q, "error_code": "no_credential_on_encoder"}`, frontDesk1), frontDesk1 + " no_credential_on_encoder"},
		{fail, fmt.Sprintf(`{"acs_encoder_id": %q, "error_code": "uncategorized_error", "acs_credential_id": %q}`, frontDesk2, cred), frontDesk2 + " uncategorized_error"},
		{fail, fmt.Sprintf(`{"acs_encoder_id": %q, "error_code": "action_attempt_expired"}`, frontDesk1), frontDesk1 + " action_attempt_expired"},
	}
	var wantCalls []string
	for _, tc := range oks {
		r := e.post(tc.path, tc.body)
		if r.status != http.StatusOK || len(r.body) != 1 {
			t.Errorf("POST %s %s: %d %v, want exactly {\"ok\": true}", tc.path, tc.body, r.status, r.body)
		}
		wantCalls = append(wantCalls, ws1+" "+tc.call)
	}
	if _, got := e.enc.calls(); !slices.Equal(got, wantCalls) {
		t.Errorf("SimulateNext calls:\n got %q\nwant %q", got, wantCalls)
	}

	bad := []struct{ path, body string }{
		{succeed, `{}`},
		{succeed, fmt.Sprintf(`{"acs_encoder_id": %q, "scenario": "credential_is_lost"}`, frontDesk1)},
		{succeed, `{"acs_encoder_id": "front-desk-1"}`},
		{fail, `{}`},
		{fail, fmt.Sprintf(`{"acs_encoder_id": %q, "error_code": "incompatible_card_format"}`, frontDesk1)},
		{fail, fmt.Sprintf(`{"acs_encoder_id": %q, "error_code": 3}`, frontDesk1)},
		{fail, fmt.Sprintf(`{"acs_encoder_id": %q, "acs_credential_id": %q}`, frontDesk1, cred)},
		{fail, fmt.Sprintf(`{"acs_encoder_id": %q, "error_code": "uncategorized_error", "acs_credential_id": "x"}`, frontDesk1)},
	}
	for _, tc := range bad {
		e.wantError(e.post(tc.path, tc.body), http.StatusBadRequest, "invalid_input")
	}
	missing := "6f1c2a7e-5d1b-4b8e-9a51-2f0b7c3d9e10"
	e.wantError(e.post(fail, fmt.Sprintf(`{"acs_encoder_id": %q, "error_code": "uncategorized_error", "acs_credential_id": %q}`, frontDesk1, missing)),
		http.StatusNotFound, "acs_credential_not_found")
	e.wantError(e.post(succeed, fmt.Sprintf(`{"acs_encoder_id": %q}`, missing)), http.StatusNotFound, "acs_encoder_not_found")
	if _, got := e.enc.calls(); len(got) != len(wantCalls) {
		t.Errorf("refused simulations reached Encoding: %q", got[len(wantCalls):])
	}
}

// Seam's SDKs write a null parameter, and an empty list, in a query string
// as "name=" (npm @seamapi/url-search-params-serializer): an empty list
// must filter to nothing and a null must count as not given, as [] and
// null do in a JSON body.
func TestQueryEmptyValues(t *testing.T) {
	e := newEnv(t)
	count := func(query string) int {
		t.Helper()
		r := e.do(http.MethodGet, "/acs/encoders/list?"+query, "", nil)
		if r.status != http.StatusOK {
			t.Fatalf("GET /acs/encoders/list?%s: %d %v", query, r.status, r.body)
		}
		return len(list(t, r.body, "acs_encoders"))
	}
	for query, wantN := range map[string]int{
		"acs_encoder_ids=":               0, // an empty list matches nothing
		"acs_system_ids=":                0,
		"acs_system_id=":                 labEncoders, // null: not given
		"limit=":                         labEncoders,
		"page_cursor=":                   labEncoders,
		"acs_system_id=&acs_system_ids=": 0,
	} {
		if n := count(query); n != wantN {
			t.Errorf("GET /acs/encoders/list?%s = %d encoders, want %d", query, n, wantN)
		}
	}
	// The JSON body forms they stand for agree.
	for body, wantN := range map[string]int{`{"acs_encoder_ids": []}`: 0, `{"acs_system_id": null}`: labEncoders} {
		if r := e.post("/acs/encoders/list", body); len(list(t, r.body, "acs_encoders")) != wantN {
			t.Errorf("POST /acs/encoders/list %s = %v, want %d encoders", body, r.body, wantN)
		}
	}
	// A single value read from an empty query value is not given either.
	r := e.do(http.MethodGet, "/acs/credentials/get?acs_credential_id=", "", nil)
	e.wantError(r, http.StatusBadRequest, "invalid_input")
	if msg := obj(t, r.body, "error")["message"]; !strings.Contains(fmt.Sprint(msg), "is required") {
		t.Errorf("get with acs_credential_id=: message %q, want it to say the id is required", msg)
	}
}

// Seam's SDK paginators (seam.createPaginator) read "pagination" from
// every list answer and fail without it; they follow next_page_cursor
// while has_next_page holds.
func TestListsPaginate(t *testing.T) {
	e := newEnv(t)
	type page struct {
		ids          []string
		hasNext      bool
		cursor, next any
	}
	get := func(path, query, key string) page {
		t.Helper()
		r := e.do(http.MethodGet, path+"?"+query, "", nil)
		if r.status != http.StatusOK {
			t.Fatalf("GET %s?%s: %d %v", path, query, r.status, r.body)
		}
		var p page
		for _, v := range list(t, r.body, key) {
			p.ids = append(p.ids, v.(map[string]any)[key[:len(key)-1]+"_id"].(string))
		}
		pg := obj(t, r.body, "pagination")
		for _, k := range []string{"has_next_page", "next_page_cursor", "next_page_url"} {
			if _, ok := pg[k]; !ok {
				t.Errorf("GET %s?%s: pagination has no %s: %v", path, query, k, pg)
			}
		}
		p.hasNext, _ = pg["has_next_page"].(bool)
		p.cursor, p.next = pg["next_page_cursor"], pg["next_page_url"]
		return p
	}

	all := get("/acs/encoders/list", "", "acs_encoders")
	if len(all.ids) != labEncoders || all.hasNext || all.cursor != nil || all.next != nil {
		t.Fatalf("unlimited list = %+v, want the lab's %d encoders on one page with null cursor and url", all, labEncoders)
	}
	var walked []string
	query := "limit=2"
	for pages := 0; ; pages++ {
		if pages > labEncoders/2 {
			t.Fatalf("paging %d encoders with limit 2 did not end after %d pages; got %q", labEncoders, pages, walked)
		}
		p := get("/acs/encoders/list", query, "acs_encoders")
		walked = append(walked, p.ids...)
		if !p.hasNext {
			if p.cursor != nil {
				t.Errorf("last page: next_page_cursor = %v, want null", p.cursor)
			}
			break
		}
		cursor, ok := p.cursor.(string)
		if !ok || cursor == "" {
			t.Fatalf("has_next_page with next_page_cursor %v", p.cursor)
		}
		query = url.Values{"limit": {"2"}, "page_cursor": {cursor}}.Encode()
	}
	if !slices.Equal(walked, all.ids) {
		t.Errorf("pages of 2 = %q, want every encoder once in list order %q", walked, all.ids)
	}
	e.wantError(e.do(http.MethodGet, "/acs/encoders/list?page_cursor=bm90LWEtY3Vyc29y", "", nil),
		http.StatusBadRequest, "invalid_input")

	e.createCard(key1, guest1)
	if creds := get("/acs/credentials/list", "", "acs_credentials"); len(creds.ids) != 1 || creds.hasNext || creds.cursor != nil {
		t.Errorf("credentials list = %+v, want the one credential on one page", creds)
	}
}
