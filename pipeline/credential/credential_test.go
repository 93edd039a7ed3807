package credential_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/fixtures"
	"github.com/encoderlab/encoderlab/pipeline/credential"
	"github.com/encoderlab/encoderlab/pipeline/driver"
	"github.com/encoderlab/encoderlab/pipeline/seam"
	"github.com/google/uuid"
)

var now = time.Date(2026, 11, 25, 10, 0, 0, 123456789, time.UTC)

const nowWire = "2026-11-25T10:00:00.123Z"

// lab returns the bundled workspace and the user of the system with key.
func lab(t *testing.T, system string) (*fixtures.Workspace, *fixtures.System, *fixtures.User) {
	t.Helper()
	ws := fixtures.Bundled().Workspaces[0]
	sys := ws.System(system)
	if sys == nil {
		t.Fatalf("bundled lab has no system %q", system)
	}
	return ws, sys, sys.Users[0]
}

// wire marshals c and decodes it into a generic map, so tests see exactly
// what a client sees: absent keys, nulls and values.
func wire(t *testing.T, c *seam.Credential) map[string]any {
	t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatalf("marshal credential: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("unmarshal credential: %v", err)
	}
	return m
}

func mustNew(t *testing.T, system string, p credential.CreateParams) *seam.Credential {
	t.Helper()
	ws, sys, user := lab(t, system)
	c, err := credential.New(ws, sys, user, p, now)
	if err != nil {
		t.Fatalf("New(%s, %+v): %v", system, p, err)
	}
	return c
}

func wantValue(t *testing.T, m map[string]any, key string, want any) {
	t.Helper()
	got, ok := m[key]
	if !ok {
		t.Errorf("%s: absent, want %v", key, want)
		return
	}
	if got != want {
		t.Errorf("%s = %#v, want %#v", key, got, want)
	}
}

func wantNull(t *testing.T, m map[string]any, key string) {
	t.Helper()
	got, ok := m[key]
	if !ok {
		t.Errorf("%s: absent, want present as null", key)
	} else if got != nil {
		t.Errorf("%s = %#v, want null", key, got)
	}
}

func wantAbsent(t *testing.T, m map[string]any, key string) {
	t.Helper()
	if got, ok := m[key]; ok {
		t.Errorf("%s = %#v, want omitted", key, got)
	}
}

func wantUUID(t *testing.T, m map[string]any, key string) {
	t.Helper()
	s, _ := m[key].(string)
	if _, err := uuid.Parse(s); err != nil || len(s) != 36 {
		t.Errorf("%s = %#v, want a UUID", key, m[key])
	}
}

// commonFields checks what every credential carries whatever its type.
func commonFields(t *testing.T, m map[string]any, sys *fixtures.System, accessMethod string) {
	t.Helper()
	ws, _, user := lab(t, sys.Key)
	wantUUID(t, m, "acs_credential_id")
	wantValue(t, m, "acs_system_id", sys.ID)
	wantValue(t, m, "acs_user_id", user.ID)
	wantValue(t, m, "workspace_id", ws.ID)
	wantValue(t, m, "access_method", accessMethod)
	wantValue(t, m, "created_at", nowWire)
	wantValue(t, m, "is_managed", true)
	wantValue(t, m, "external_type", sys.ExternalType)
	wantValue(t, m, "external_type_display_name", sys.ExternalTypeDisplayName)
	wantNull(t, m, "card_number")
	wantNull(t, m, "issued_at")
	wantNull(t, m, "is_latest_desired_state_synced_with_provider")
	wantNull(t, m, "latest_desired_state_synced_with_provider_at")
	if errs, ok := m["errors"].([]any); !ok || len(errs) != 0 {
		t.Errorf("errors = %#v, want []", m["errors"])
	}
	if _, ok := m["warnings"].([]any); !ok {
		t.Errorf("warnings = %#v, want a list", m["warnings"])
	}
	for _, k := range []string{"acs_credential_pool_id", "parent_acs_credential_id", "is_one_time_use", "starts_at", "ends_at", "is_multi_phone_sync_credential"} {
		wantAbsent(t, m, k)
	}
	if s, _ := m["display_name"].(string); s == "" {
		t.Errorf("display_name = %#v, want a non-empty string", m["display_name"])
	}
}

func waitingWarning(t *testing.T, m map[string]any) {
	t.Helper()
	ws, _ := m["warnings"].([]any)
	if len(ws) != 1 {
		t.Fatalf("warnings = %#v, want one waiting_to_be_issued warning", m["warnings"])
	}
	w, _ := ws[0].(map[string]any)
	wantValue(t, w, "warning_code", "waiting_to_be_issued")
	wantValue(t, w, "created_at", nowWire)
	if s, _ := w["message"].(string); s == "" {
		t.Errorf("warning message = %#v, want text", w["message"])
	}
}

func TestNewVisionlineCard(t *testing.T) {
	_, sys, _ := lab(t, "visionline-hotel")
	m := wire(t, mustNew(t, "visionline-hotel", credential.CreateParams{AccessMethod: "card"}))
	commonFields(t, m, sys, "card")
	wantValue(t, m, "display_name", "Visionline Card")
	wantNull(t, m, "code")
	wantValue(t, m, "is_issued", false)
	waitingWarning(t, m)
	wantAbsent(t, m, "assa_abloy_vostio_metadata")
	vm, ok := m["visionline_metadata"].(map[string]any)
	if !ok {
		t.Fatalf("visionline_metadata = %#v, want an object", m["visionline_metadata"])
	}
	wantValue(t, vm, "card_function_type", "guest")
	for _, k := range []string{"auto_join", "card_id", "credential_id", "is_valid"} {
		wantAbsent(t, vm, k)
	}
}

func TestNewVisionlineStaffAutoJoin(t *testing.T) {
	yes := true
	m := wire(t, mustNew(t, "visionline-hotel", credential.CreateParams{
		AccessMethod: "card", CardFunctionType: "staff", AutoJoin: &yes,
	}))
	vm, _ := m["visionline_metadata"].(map[string]any)
	wantValue(t, vm, "card_function_type", "staff")
	wantValue(t, vm, "auto_join", true)
}

func TestNewVostioKey(t *testing.T) {
	_, sys, _ := lab(t, "vostio-hotel")
	m := wire(t, mustNew(t, "vostio-hotel", credential.CreateParams{AccessMethod: "card"}))
	commonFields(t, m, sys, "card")
	wantValue(t, m, "display_name", "Vostio Key")
	wantValue(t, m, "is_issued", false)
	waitingWarning(t, m)
	wantAbsent(t, m, "visionline_metadata")
	vm, ok := m["assa_abloy_vostio_metadata"].(map[string]any)
	if !ok {
		t.Fatalf("assa_abloy_vostio_metadata = %#v, want an object", m["assa_abloy_vostio_metadata"])
	}
	wantAbsent(t, vm, "door_names")
	wantAbsent(t, vm, "key_id")
}

func TestNewSaltoSpaceCard(t *testing.T) {
	_, sys, _ := lab(t, "salto-space-hotel")
	m := wire(t, mustNew(t, "salto-space-hotel", credential.CreateParams{AccessMethod: "card"}))
	commonFields(t, m, sys, "card")
	wantValue(t, m, "display_name", "Salto Space Key")
	waitingWarning(t, m)
	wantAbsent(t, m, "visionline_metadata")
	wantAbsent(t, m, "assa_abloy_vostio_metadata")
}

func TestNewCode(t *testing.T) {
	_, sys, _ := lab(t, "salto-space-hotel")
	code := "123456"
	m := wire(t, mustNew(t, "salto-space-hotel", credential.CreateParams{AccessMethod: "code", Code: &code}))
	commonFields(t, m, sys, "code")
	wantValue(t, m, "code", "123456")
	wantValue(t, m, "display_name", "123456")
	wantAbsent(t, m, "is_issued")
	if ws, _ := m["warnings"].([]any); len(ws) != 0 {
		t.Errorf("warnings = %#v, want [] for a code", m["warnings"])
	}
}

func TestNewMobileKey(t *testing.T) {
	yes := true
	m := wire(t, mustNew(t, "salto-space-hotel", credential.CreateParams{AccessMethod: "mobile_key", IsMultiPhoneSyncCredential: &yes}))
	wantValue(t, m, "is_multi_phone_sync_credential", true)
	wantAbsent(t, m, "is_issued")
	wantNull(t, m, "code")
}

func TestNewValidity(t *testing.T) {
	m := wire(t, mustNew(t, "visionline-hotel", credential.CreateParams{
		AccessMethod: "card",
		StartsAt:     "2026-11-25T14:00:00Z",
		EndsAt:       "2026-11-28T12:00:00+01:00",
	}))
	wantValue(t, m, "starts_at", "2026-11-25T14:00:00.000Z")
	wantValue(t, m, "ends_at", "2026-11-28T11:00:00.000Z")
}

func TestNewUniqueIDs(t *testing.T) {
	a := mustNew(t, "visionline-hotel", credential.CreateParams{AccessMethod: "card"})
	b := mustNew(t, "visionline-hotel", credential.CreateParams{AccessMethod: "card"})
	if a.ACSCredentialID == b.ACSCredentialID {
		t.Errorf("two credentials share id %s", a.ACSCredentialID)
	}
	if v := uuid.MustParse(a.ACSCredentialID).Version(); v != 4 {
		t.Errorf("credential id %s is UUID version %d, want 4", a.ACSCredentialID, v)
	}
}

func TestNewInvalid(t *testing.T) {
	code, badCode, yes := "1234", "12a4", true
	cases := []struct {
		name, system string
		p            credential.CreateParams
	}{
		{"no access method", "visionline-hotel", credential.CreateParams{}},
		{"unknown access method", "visionline-hotel", credential.CreateParams{AccessMethod: "plastic"}},
		{"code without code", "visionline-hotel", credential.CreateParams{AccessMethod: "code"}},
		{"code not digits", "visionline-hotel", credential.CreateParams{AccessMethod: "code", Code: &badCode}},
		{"code on a card", "visionline-hotel", credential.CreateParams{AccessMethod: "card", Code: &code}},
		{"multi-phone sync on a card", "visionline-hotel", credential.CreateParams{AccessMethod: "card", IsMultiPhoneSyncCredential: &yes}},
		{"starts_at not a datetime", "visionline-hotel", credential.CreateParams{AccessMethod: "card", StartsAt: "tomorrow"}},
		{"ends_at not a datetime", "visionline-hotel", credential.CreateParams{AccessMethod: "card", EndsAt: "2026-11-28"}},
		{"ends_at in the past", "visionline-hotel", credential.CreateParams{AccessMethod: "card", EndsAt: "2026-11-25T09:59:59Z"}},
		{"ends_at now", "visionline-hotel", credential.CreateParams{AccessMethod: "card", EndsAt: "2026-11-25T10:00:00.123456789Z"}},
		{"ends_at before starts_at", "visionline-hotel", credential.CreateParams{AccessMethod: "card", StartsAt: "2026-11-28T00:00:00Z", EndsAt: "2026-11-27T00:00:00Z"}},
		{"ends_at equal to starts_at", "visionline-hotel", credential.CreateParams{AccessMethod: "card", StartsAt: "2026-11-28T00:00:00Z", EndsAt: "2026-11-28T00:00:00Z"}},
		{"unknown card function", "visionline-hotel", credential.CreateParams{AccessMethod: "card", CardFunctionType: "master"}},
		{"card function outside visionline", "vostio-hotel", credential.CreateParams{AccessMethod: "card", CardFunctionType: "guest"}},
		{"auto_join outside visionline", "salto-space-hotel", credential.CreateParams{AccessMethod: "card", AutoJoin: &yes}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ws, sys, user := lab(t, tc.system)
			c, err := credential.New(ws, sys, user, tc.p, now)
			if c != nil {
				t.Errorf("New returned credential %+v, want nil", c)
			}
			var se *seam.Error
			if !errors.As(err, &se) {
				t.Fatalf("New error = %v, want a *seam.Error", err)
			}
			if se.Type != "invalid_input" || se.Status != http.StatusBadRequest {
				t.Errorf("New error = %s/%d, want invalid_input/400", se.Type, se.Status)
			}
			if se.Message == "" {
				t.Error("error message is empty")
			}
		})
	}
}

func TestNewNilFixtures(t *testing.T) {
	ws, sys, user := lab(t, "visionline-hotel")
	p := credential.CreateParams{AccessMethod: "card"}
	for _, args := range [][3]bool{{false, true, true}, {true, false, true}, {true, true, false}} {
		w, s, u := ws, sys, user
		if !args[0] {
			w = nil
		}
		if !args[1] {
			s = nil
		}
		if !args[2] {
			u = nil
		}
		if c, err := credential.New(w, s, u, p, now); err == nil || c != nil {
			t.Errorf("New with a nil fixture = %v, %v; want an error", c, err)
		}
	}
}

func TestIssueVisionline(t *testing.T) {
	c := mustNew(t, "visionline-hotel", credential.CreateParams{AccessMethod: "card"})
	c.Warnings = append(c.Warnings,
		seam.CredentialWarning{CreatedAt: seam.At(now), Message: "reissue", WarningCode: "needs_to_be_reissued"},
		seam.CredentialWarning{CreatedAt: seam.At(now), Message: "moved", WarningCode: "schedule_modified"},
	)
	before := wire(t, c)
	issuedAt := now.Add(90 * time.Second)
	card := driver.Card{Number: "04A1B2C3D4E5F6", Technology: "mifare-classic-1k", CardID: credential.CardID(c.ACSCredentialID)}
	out := credential.Issue(c, card, issuedAt)

	m := wire(t, out)
	wantValue(t, m, "acs_credential_id", c.ACSCredentialID)
	wantValue(t, m, "is_issued", true)
	wantValue(t, m, "issued_at", "2026-11-25T10:01:30.123Z")
	wantValue(t, m, "card_number", "04A1B2C3D4E5F6")
	wantValue(t, m, "is_latest_desired_state_synced_with_provider", true)
	wantValue(t, m, "latest_desired_state_synced_with_provider_at", "2026-11-25T10:01:30.123Z")
	wantValue(t, m, "created_at", nowWire)
	ws, _ := m["warnings"].([]any)
	if len(ws) != 1 || ws[0].(map[string]any)["warning_code"] != "schedule_modified" {
		t.Errorf("warnings = %#v, want only schedule_modified left", m["warnings"])
	}
	vm, _ := m["visionline_metadata"].(map[string]any)
	wantValue(t, vm, "card_function_type", "guest")
	wantValue(t, vm, "card_id", card.CardID)
	wantValue(t, vm, "credential_id", card.CardID)
	wantValue(t, vm, "is_valid", true)

	if after := wire(t, c); !equalJSON(t, before, after) {
		t.Errorf("Issue changed its argument:\nbefore %v\nafter  %v", before, after)
	}
}

func TestIssueVostio(t *testing.T) {
	c := mustNew(t, "vostio-hotel", credential.CreateParams{AccessMethod: "card"})
	before := wire(t, c)
	out := credential.Issue(c, driver.Card{Number: "04A1B2C3", CardID: "9F2C4D1A00000001"}, now)
	m := wire(t, out)
	vm, _ := m["assa_abloy_vostio_metadata"].(map[string]any)
	wantValue(t, vm, "key_id", "9F2C4D1A00000001")
	wantUUID(t, vm, "key_issuing_request_id")
	if ws, _ := m["warnings"].([]any); len(ws) != 0 {
		t.Errorf("warnings = %#v, want []", m["warnings"])
	}
	if after := wire(t, c); !equalJSON(t, before, after) {
		t.Errorf("Issue changed its argument:\nbefore %v\nafter  %v", before, after)
	}
}

func equalJSON(t *testing.T, a, b map[string]any) bool {
	t.Helper()
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func TestCardID(t *testing.T) {
	hex16 := regexp.MustCompile(`^[0-9A-F]{16}$`)
	seen := map[string]string{}
	for range 200 {
		id := uuid.NewString()
		got := credential.CardID(id)
		if !hex16.MatchString(got) {
			t.Fatalf("CardID(%s) = %q, want 16 upper-case hex digits", id, got)
		}
		if again := credential.CardID(id); again != got {
			t.Fatalf("CardID(%s) = %q then %q, want it stable", id, got, again)
		}
		if upper := credential.CardID(strings.ToUpper(id)); upper != got {
			t.Errorf("CardID of the upper-case spelling = %q, want %q", upper, got)
		}
		if other, dup := seen[got]; dup {
			t.Errorf("CardID(%s) = CardID(%s) = %s", id, other, got)
		}
		seen[got] = id
	}
	// A pinned value (sha256sum of the id, first 16 hex digits) keeps the
	// derivation from changing under cards already out in the field.
	if got, want := credential.CardID("00000000-0000-4000-8000-000000000000"), "DB8055E0E0307D5A"; got != want {
		t.Errorf("CardID of the pinned id = %q, want %q", got, want)
	}
}

func TestJob(t *testing.T) {
	c := mustNew(t, "visionline-hotel", credential.CreateParams{
		AccessMethod: "card", CardFunctionType: "staff",
		StartsAt: "2026-11-25T14:00:00Z", EndsAt: "2026-11-28T11:00:00Z",
	})
	j := credential.Job(c)
	if j.CardID != credential.CardID(c.ACSCredentialID) {
		t.Errorf("Job CardID = %q, want CardID(%s)", j.CardID, c.ACSCredentialID)
	}
	if j.Function != driver.Staff {
		t.Errorf("Job Function = %q, want staff", j.Function)
	}
	if want := time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC); !j.StartsAt.Equal(want) {
		t.Errorf("Job StartsAt = %v, want %v", j.StartsAt, want)
	}
	if want := time.Date(2026, 11, 28, 11, 0, 0, 0, time.UTC); !j.EndsAt.Equal(want) {
		t.Errorf("Job EndsAt = %v, want %v", j.EndsAt, want)
	}
	if j.Label != "Visionline Card" {
		t.Errorf("Job Label = %q, want the display name", j.Label)
	}

	open := credential.Job(mustNew(t, "vostio-hotel", credential.CreateParams{AccessMethod: "card"}))
	if open.Function != driver.Guest || !open.StartsAt.IsZero() || !open.EndsAt.IsZero() {
		t.Errorf("Job of an unbounded vostio key = %+v, want guest with zero bounds", open)
	}
}
