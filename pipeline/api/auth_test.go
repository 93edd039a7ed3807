package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestAuth(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name   string
		header map[string]string
		status int
		typ    string
	}{
		{"no header", map[string]string{"Authorization": ""}, 401, "unauthorized"},
		{"basic", map[string]string{"Authorization": "Basic " + key1}, 401, "unauthorized"},
		{"bearer alone", map[string]string{"Authorization": "Bearer"}, 401, "unauthorized"},
		{"bearer blank", map[string]string{"Authorization": "Bearer   "}, 401, "unauthorized"},
		{"unknown key", map[string]string{"Authorization": "Bearer seam_nope"}, 401, "unauthorized"},
		{"key prefix", map[string]string{"Authorization": "Bearer " + key1[:len(key1)-1]}, 401, "unauthorized"},
		{"key and more", map[string]string{"Authorization": "Bearer " + key1 + "x"}, 401, "unauthorized"},
		{"api key", nil, 200, ""},
		{"lower-case scheme", map[string]string{"Authorization": "bearer " + key1}, 200, ""},
		{"sdk headers", map[string]string{"seam-sdk-name": "seamapi/javascript", "seam-sdk-version": "1.0.0", "seam-lts-version": "1.0.0"}, 200, ""},
		{"pat without workspace", map[string]string{"Authorization": "Bearer " + pat1}, 400, "missing_workspace_id"},
		{"pat with another workspace", map[string]string{"Authorization": "Bearer " + pat1, "seam-workspace": ws2}, 401, "unauthorized"},
		{"pat with unknown workspace", map[string]string{"Authorization": "Bearer " + pat1, "seam-workspace": "nope"}, 401, "unauthorized"},
		{"pat with its workspace", map[string]string{"Authorization": "Bearer " + pat1, "seam-workspace": ws1}, 200, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(http.MethodGet, "/acs/encoders/list", "", tc.header)
			if tc.status == 200 {
				if r.status != 200 {
					t.Fatalf("got %d %v, want 200", r.status, r.body)
				}
				if n := len(list(t, r.body, "acs_encoders")); n != labEncoders {
					t.Errorf("workspace 1 lists %d encoders, want %d", n, labEncoders)
				}
				return
			}
			e.wantError(r, tc.status, tc.typ)
		})
	}

	// The workspace of a PAT decides what it sees.
	r := e.do(http.MethodGet, "/acs/encoders/list", "", map[string]string{
		"Authorization": "Bearer seam_at_testlab_2_TESTONLY_not_a_secret", "seam-workspace": ws2})
	if r.status != 200 || len(list(t, r.body, "acs_encoders")) != 0 {
		t.Errorf("workspace 2 via PAT: %d %v, want no encoders", r.status, r.body)
	}
}

func TestWorkspaceIsolation(t *testing.T) {
	e := newEnv(t)
	theirs := e.createCard(key2, guest2)
	ours := e.createCard(key1, guest1)

	e.wantError(e.post("/acs/credentials/get", fmt.Sprintf(`{"acs_credential_id": %q}`, theirs)), 404, "acs_credential_not_found")
	r := e.do(http.MethodGet, "/acs/credentials/list", "", nil)
	if ids := list(t, r.body, "acs_credentials"); len(ids) != 1 || ids[0].(map[string]any)["acs_credential_id"] != ours {
		t.Errorf("workspace 1 lists %v, want only its own credential", ids)
	}
	// A user of another workspace is unknown here.
	e.wantError(e.post("/acs/credentials/create", fmt.Sprintf(`{"acs_user_id": %q, "access_method": "card"}`, guest2)), 404, "acs_user_not_found")
	// Encoding gets the caller's workspace, whatever ids it is given.
	e.post("/acs/encoders/encode_credential", fmt.Sprintf(`{"acs_credential_id": %q, "acs_encoder_id": %q}`, theirs, frontDesk1))
	encodes, _ := e.enc.calls()
	if len(encodes) != 1 || !strings.HasPrefix(encodes[0], ws1+" ") {
		t.Errorf("Encode calls = %q, want one in workspace 1", encodes)
	}
	r = e.do(http.MethodPost, "/acs/encoders/encode_credential",
		fmt.Sprintf(`{"acs_credential_id": %q, "acs_encoder_id": %q}`, theirs, frontDesk1),
		map[string]string{"Authorization": "Bearer " + key2})
	e.wantError(r, 404, "acs_encoder_not_found")
}

func TestPanicIsInternalError(t *testing.T) {
	e := newEnv(t)
	cred := e.createCard(key1, guest1)
	r := e.post("/acs/encoders/encode_credential", fmt.Sprintf(`{"acs_credential_id": %q, "acs_encoder_id": %q}`, cred, panicEncoder))
	e.wantError(r, http.StatusInternalServerError, "internal_error")
	// The server keeps serving.
	if r := e.do(http.MethodGet, "/acs/encoders/list", "", nil); r.status != 200 {
		t.Errorf("after a panic: %d %v", r.status, r.body)
	}
	e.srv.Close() // waits for handlers, so every log record is written
	if !strings.Contains(e.logs.String(), "encoder exploded") {
		t.Errorf("the panic is not logged:\n%s", e.logs.String())
	}
}

func TestRequestLog(t *testing.T) {
	e := newEnv(t)
	ok := e.do(http.MethodGet, "/acs/encoders/list", "", nil)
	bad := e.do(http.MethodGet, "/acs/encoders/list", "", map[string]string{"Authorization": "Bearer seam_guess_TESTONLY"})
	pat := e.do(http.MethodGet, "/acs/encoders/list", "", map[string]string{"Authorization": "Bearer " + pat1, "seam-workspace": ws1})
	if ok.header.Get("seam-request-id") == bad.header.Get("seam-request-id") {
		t.Error("two requests share a seam-request-id")
	}
	e.srv.Close()
	logs := e.logs.String()
	for _, secret := range []string{key1, pat1, "seam_guess_TESTONLY"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds token %q:\n%s", secret, logs)
		}
	}
	for _, r := range []reply{ok, bad, pat} {
		id := r.header.Get("seam-request-id")
		line := ""
		for _, l := range strings.Split(logs, "\n") {
			if strings.Contains(l, id) {
				line = l
			}
		}
		if line == "" {
			t.Errorf("no log record for request %s:\n%s", id, logs)
			continue
		}
		for _, part := range []string{`"method":"GET"`, `"path":"/acs/encoders/list"`, fmt.Sprintf(`"status":%d`, r.status), `"duration":`} {
			if !strings.Contains(line, part) {
				t.Errorf("log record %s lacks %s", line, part)
			}
		}
	}
}
