package api_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"
)

// The expected values below are the bundled lab's (fixtures/lab.yaml),
// written out by hand.

func TestSystems(t *testing.T) {
	e := newEnv(t)
	r := e.post("/acs/systems/list", `{}`)
	if r.status != http.StatusOK {
		t.Fatalf("systems/list: %d %v", r.status, r.body)
	}
	got := map[string]map[string]any{}
	for _, v := range list(t, r.body, "acs_systems") {
		s := v.(map[string]any)
		got[s["acs_system_id"].(string)] = s
	}
	if len(got) != 3 {
		t.Fatalf("systems/list gave %d systems, want workspace 1's three: %v", len(got), r.body)
	}
	vl := got[visionline1]
	if vl == nil {
		t.Fatalf("no system %s in %v", visionline1, r.body)
	}
	want(t, vl, "name", "Harbour Hotel (Visionline)")
	want(t, vl, "external_type", "visionline_system")
	want(t, vl, "workspace_id", ws1)
	want(t, vl, "connected_account_id", "c9914f1c-8ed5-480a-aba6-8160e72975c2")
	want(t, vl, "is_credential_manager", false)
	want(t, vl, "acs_user_count", float64(2))
	want(t, got[vostio1], "external_type", "assa_abloy_vostio")

	// search is a case-insensitive partial match on name or id.
	r = e.do(http.MethodGet, "/acs/systems/list?search=garden", "", nil)
	if l := list(t, r.body, "acs_systems"); len(l) != 1 || l[0].(map[string]any)["acs_system_id"] != vostio1 {
		t.Errorf("search=garden: %v, want the Garden Hotel alone", r.body)
	}
	e.wantError(e.post("/acs/systems/list", `{"search": ""}`), http.StatusBadRequest, "invalid_input")

	r = e.post("/acs/systems/get", fmt.Sprintf(`{"acs_system_id": %q}`, visionline1))
	want(t, obj(t, r.body, "acs_system"), "name", "Harbour Hotel (Visionline)")
	// Another workspace's system is not found, like one that exists nowhere.
	e.wantError(e.post("/acs/systems/get", `{"acs_system_id": "2613b257-8c5a-4659-9986-e26c940fee9f"}`), http.StatusNotFound, "acs_system_not_found")
	e.wantError(e.post("/acs/systems/get", `{}`), http.StatusBadRequest, "invalid_input")
}

func TestUsers(t *testing.T) {
	e := newEnv(t)
	ids := func(r reply) []string {
		t.Helper()
		if r.status != http.StatusOK {
			t.Fatalf("users/list: %d %v", r.status, r.body)
		}
		var out []string
		for _, v := range list(t, r.body, "acs_users") {
			out = append(out, v.(map[string]any)["acs_user_id"].(string))
		}
		slices.Sort(out)
		return out
	}
	all := ids(e.post("/acs/users/list", `{}`))
	wantAll := []string{"4dcf69c8-2032-4ada-9e8b-b39364e47a35", staff1, vostioUser1, guest1}
	slices.Sort(wantAll)
	if !slices.Equal(all, wantAll) {
		t.Errorf("users/list = %q, want workspace 1's four users %q", all, wantAll)
	}
	if got := ids(e.post("/acs/users/list", fmt.Sprintf(`{"acs_system_id": %q}`, visionline1))); !slices.Equal(got, []string{staff1, guest1}) {
		t.Errorf("users of %s = %q, want Jane Guest and Sam Housekeeping", visionline1, got)
	}
	if got := ids(e.do(http.MethodGet, "/acs/users/list?search=JANE", "", nil)); !slices.Equal(got, []string{guest1}) {
		t.Errorf("search=JANE = %q, want Jane Guest", got)
	}
	if got := ids(e.post("/acs/users/list", `{"user_identity_id": "11111111-2222-4333-8444-555555555555"}`)); len(got) != 0 {
		t.Errorf("by user identity = %q, want none: no lab user has one", got)
	}
	if got := ids(e.post("/acs/users/list", `{"created_before": "2000-01-01T00:00:00.000Z"}`)); len(got) != 0 {
		t.Errorf("created before 2000 = %q, want none", got)
	}

	// Pages of one walk every user once.
	var walked []string
	query := url.Values{"limit": {"1"}}
	for pages := 0; pages <= len(wantAll); pages++ {
		r := e.do(http.MethodGet, "/acs/users/list?"+query.Encode(), "", nil)
		walked = append(walked, ids(r)...)
		pg := obj(t, r.body, "pagination")
		if pg["has_next_page"] != true {
			break
		}
		query.Set("page_cursor", pg["next_page_cursor"].(string))
	}
	slices.Sort(walked)
	if !slices.Equal(walked, wantAll) {
		t.Errorf("pages of one = %q, want each user once: %q", walked, wantAll)
	}

	r := e.post("/acs/users/get", fmt.Sprintf(`{"acs_user_id": %q}`, guest1))
	u := obj(t, r.body, "acs_user")
	want(t, u, "full_name", "Jane Guest")
	want(t, u, "display_name", "Jane Guest")
	want(t, u, "acs_system_id", visionline1)
	want(t, u, "workspace_id", ws1)
	want(t, u, "is_managed", true)
	e.wantError(e.post("/acs/users/get", fmt.Sprintf(`{"acs_user_id": %q}`, guest2)), http.StatusNotFound, "acs_user_not_found")
	e.wantError(e.post("/acs/users/get", fmt.Sprintf(`{"acs_user_id": %q, "acs_system_id": %q}`, guest1, vostio1)), http.StatusNotFound, "acs_user_not_found")
}

func TestListActionAttempts(t *testing.T) {
	e := newEnv(t)
	cred := e.createCard(key1, guest1)
	var made []string
	for range 3 {
		r := e.post("/acs/encoders/encode_credential", fmt.Sprintf(`{"acs_credential_id": %q, "acs_encoder_id": %q}`, cred, frontDesk1))
		made = append(made, obj(t, r.body, "action_attempt")["action_attempt_id"].(string))
	}
	unknown := "11111111-2222-4333-8444-555555555555"
	body := fmt.Sprintf(`{"action_attempt_ids": [%q, %q, %q, %q]}`, made[2], unknown, made[0], made[2])
	r := e.post("/action_attempts/list", body)
	if r.status != http.StatusOK {
		t.Fatalf("action_attempts/list: %d %v", r.status, r.body)
	}
	var got []string
	for _, v := range list(t, r.body, "action_attempts") {
		a := v.(map[string]any)
		want(t, a, "action_type", "ENCODE_CREDENTIAL")
		got = append(got, a["action_attempt_id"].(string))
	}
	if wantIDs := []string{made[2], made[0]}; !slices.Equal(got, wantIDs) {
		t.Errorf("action_attempts/list = %q, want the known ones once each, in the order asked: %q", got, wantIDs)
	}
	obj(t, r.body, "pagination")
	e.wantError(e.post("/action_attempts/list", `{}`), http.StatusBadRequest, "invalid_input")
}

func TestDeleteCredential(t *testing.T) {
	e := newEnv(t)
	cred := e.createCard(key1, guest1)
	body := fmt.Sprintf(`{"acs_credential_id": %q}`, cred)
	// Another workspace's key finds nothing to delete.
	e.wantError(e.do(http.MethodPost, "/acs/credentials/delete", body, map[string]string{"Authorization": "Bearer " + key2}),
		http.StatusNotFound, "acs_credential_not_found")
	if r := e.post("/acs/credentials/delete", body); r.status != http.StatusOK || r.body["ok"] != true {
		t.Fatalf("delete: %d %v", r.status, r.body)
	}
	e.wantError(e.post("/acs/credentials/get", body), http.StatusNotFound, "acs_credential_not_found")
	e.wantError(e.post("/acs/credentials/delete", body), http.StatusNotFound, "acs_credential_not_found")
	if l := list(t, e.post("/acs/credentials/list", `{}`).body, "acs_credentials"); len(l) != 0 {
		t.Errorf("credentials/list after the delete = %v, want none", l)
	}
	e.wantError(e.do(http.MethodGet, "/acs/credentials/delete?acs_credential_id="+cred, "", nil), http.StatusMethodNotAllowed, "method_not_allowed")

	// Seam's SDK deletes with DELETE and the id in the query string.
	other := e.createCard(key1, guest1)
	if r := e.do(http.MethodDelete, "/acs/credentials/delete?acs_credential_id="+other, "", nil); r.status != http.StatusOK {
		t.Fatalf("DELETE with a query: %d %v", r.status, r.body)
	}
	e.wantError(e.post("/acs/credentials/get", fmt.Sprintf(`{"acs_credential_id": %q}`, other)), http.StatusNotFound, "acs_credential_not_found")
}

func TestUpdateCredential(t *testing.T) {
	e := newEnv(t)
	cred := e.createCard(key1, guest1)
	// Seam's SDK updates with PATCH; POST works too.
	r := e.do(http.MethodPatch, "/acs/credentials/update", fmt.Sprintf(`{"acs_credential_id": %q, "ends_at": "2026-12-24T11:00:00Z"}`, cred), nil)
	if r.status != http.StatusOK {
		t.Fatalf("PATCH update: %d %v", r.status, r.body)
	}
	want(t, obj(t, r.body, "acs_credential"), "ends_at", "2026-12-24T11:00:00.000Z")
	got := e.post("/acs/credentials/get", fmt.Sprintf(`{"acs_credential_id": %q}`, cred))
	want(t, obj(t, got.body, "acs_credential"), "ends_at", "2026-12-24T11:00:00.000Z")

	for _, body := range []string{
		fmt.Sprintf(`{"acs_credential_id": %q, "ends_at": "2020-01-01T00:00:00Z"}`, cred), // in the past
		fmt.Sprintf(`{"acs_credential_id": %q, "ends_at": "soon"}`, cred),
		fmt.Sprintf(`{"acs_credential_id": %q, "code": "1234"}`, cred), // a card has no code
		`{"ends_at": "2026-12-24T11:00:00Z"}`,
	} {
		e.wantError(e.post("/acs/credentials/update", body), http.StatusBadRequest, "invalid_input")
	}
	e.wantError(e.post("/acs/credentials/update", `{"acs_credential_id": "11111111-2222-4333-8444-555555555555"}`), http.StatusNotFound, "acs_credential_not_found")
	got = e.post("/acs/credentials/get", fmt.Sprintf(`{"acs_credential_id": %q}`, cred))
	want(t, obj(t, got.body, "acs_credential"), "ends_at", "2026-12-24T11:00:00.000Z")
}

func TestEvents(t *testing.T) {
	e := newEnv(t)
	cred := e.createCard(key1, guest1)
	if r := e.post("/acs/credentials/delete", fmt.Sprintf(`{"acs_credential_id": %q}`, cred)); r.status != http.StatusOK {
		t.Fatalf("delete: %d %v", r.status, r.body)
	}
	r := e.do(http.MethodGet, "/events/list?since=2026-01-01T00:00:00Z", "", nil)
	if r.status != http.StatusOK {
		t.Fatalf("events/list: %d %v", r.status, r.body)
	}
	events := list(t, r.body, "events")
	if len(events) != 1 {
		t.Fatalf("events/list = %v, want the one delete", events)
	}
	ev := events[0].(map[string]any)
	want(t, ev, "event_type", "acs_credential.deleted")
	want(t, ev, "acs_credential_id", cred)
	want(t, ev, "acs_system_id", visionline1)
	want(t, ev, "workspace_id", ws1)
	id, _ := ev["event_id"].(string)
	got := e.post("/events/get", fmt.Sprintf(`{"event_id": %q}`, id))
	want(t, obj(t, got.body, "event"), "event_type", "acs_credential.deleted")

	for query, n := range map[string]int{
		"since=2026-01-01T00:00:00Z&event_type=acs_credential.issued":                                     0,
		"since=2026-01-01T00:00:00Z&acs_credential_id=" + cred:                                            1,
		"since=2030-01-01T00:00:00Z":                                                                      0,
		"between=2026-01-01T00:00:00Z&between=2030-01-01T00:00:00Z":                                       1,
		"since=2026-01-01T00:00:00Z&device_id=11111111-2222-4333-8444-555555555555":                       0,
		"since=2026-01-01T00:00:00Z&event_types=acs_credential.deleted&event_types=acs_credential.issued": 1,
	} {
		r := e.do(http.MethodGet, "/events/list?"+query, "", nil)
		if r.status != http.StatusOK || len(list(t, r.body, "events")) != n {
			t.Errorf("events/list?%s: %d %v, want %d events", query, r.status, r.body, n)
		}
	}
	// Another workspace sees none of them.
	r = e.do(http.MethodGet, "/events/list?since=2026-01-01T00:00:00Z", "", map[string]string{"Authorization": "Bearer " + key2})
	if l := list(t, r.body, "events"); len(l) != 0 {
		t.Errorf("workspace 2 lists %v", l)
	}
	e.wantError(e.post("/events/list", `{}`), http.StatusBadRequest, "invalid_input")
	e.wantError(e.post("/events/list", `{"since": "yesterday"}`), http.StatusBadRequest, "invalid_input")
	e.wantError(e.post("/events/get", `{"event_id": "11111111-2222-4333-8444-555555555555"}`), http.StatusNotFound, "event_not_found")
}
