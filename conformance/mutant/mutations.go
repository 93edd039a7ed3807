package mutant

import (
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/encoderlab/encoderlab/conformance"
)

// Paths of the API the mutants break.
const (
	pathEncode        = "/acs/encoders/encode_credential"
	pathGetAttempt    = "/action_attempts/get"
	pathGetCredential = "/acs/credentials/get"
	pathCreate        = "/acs/credentials/create"
)

// mutants builds All. Each breaks one promise, on the wire.
func mutants() []Mutant {
	return append([]Mutant{
		// The action attempt.
		{Name: "error-type-swapped", Breaks: "an empty reader ends no_credential_on_encoder ↔ a foreign card ends incompatible_card_format: the two error types are swapped",
			Target: onAttempts(func(a map[string]any) {
				e, _ := a["error"].(map[string]any)
				switch e["type"] {
				case "no_credential_on_encoder":
					e["type"] = "incompatible_card_format"
				case "incompatible_card_format":
					e["type"] = "no_credential_on_encoder"
				}
			})},
		{Name: "expired-as-uncategorized", Breaks: "an attempt past its deadline ends uncategorized_error instead of action_attempt_expired",
			Target: onAttempts(func(a map[string]any) {
				if e, _ := a["error"].(map[string]any); e["type"] == "action_attempt_expired" {
					e["type"] = "uncategorized_error"
				}
			})},
		{Name: "error-message-missing", Breaks: "a failed attempt's error has a type but no message",
			Target: onAttempts(func(a map[string]any) {
				if e, ok := a["error"].(map[string]any); ok {
					delete(e, "message")
				}
			})},
		{Name: "action-type-wrong", Breaks: "action_type is ENCODE_CARD instead of ENCODE_CREDENTIAL",
			Target: onAttempts(func(a map[string]any) { a["action_type"] = "ENCODE_CARD" })},
		{Name: "result-on-error", Breaks: "a failed attempt carries the credential as result instead of null",
			Target: proxied(resultOnError)},
		{Name: "error-on-success", Breaks: "a successful attempt carries an error object instead of null",
			Target: onAttempts(func(a map[string]any) {
				if a["status"] == "success" {
					a["error"] = map[string]any{"type": "uncategorized_error", "message": "the encoder answered late"}
				}
			})},
		{Name: "never-leaves-pending", Breaks: "every attempt is answered pending, forever: no terminal status, no deadline",
			Target: onAttempts(func(a map[string]any) {
				a["status"], a["result"], a["error"] = "pending", nil, nil
			}),
			// Each encode waits out its deadline; one scenario and the
			// API checks show the break without waiting out every one.
			Labels: "api || scenario:first-issue"},
		{Name: "terminal-flips-back", Breaks: "an attempt that ended is answered pending again by the next /action_attempts/get",
			Target: proxied(flipsBack)},
		{Name: "attempt-id-changes", Breaks: "/action_attempts/get reports the attempt under another action_attempt_id than encode_credential returned",
			Target: proxied(idChanges)},
		{Name: "two-attempts-per-call", Breaks: "one encode_credential call creates two action attempts",
			Target: proxied(func(env) rewrite {
				return rewrite{twice: func(method, path string) bool { return path == pathEncode }}
			})},

		// Authentication and API conventions.
		{Name: "pat-without-workspace-accepted", Breaks: "a personal access token without seam-workspace is accepted for its workspace instead of refused 400 missing_workspace_id",
			Target: proxied(patWithoutWorkspace)},
		{Name: "bad-token-accepted", Breaks: "a request with no or an unknown bearer token is served as the lab's first API key instead of refused 401",
			Target: proxied(badTokenAccepted)},
		{Name: "sloppy-token-compare", Breaks: "a token that is nearly a known one (other letter case, spaces inside, one character more, less or changed at the end) is taken for it",
			Target: proxied(sloppyTokenCompare)},
		{Name: "pat-any-workspace", Breaks: "a personal access token is served in its own workspace whatever other workspace seam-workspace names",
			Target: proxied(patAnyWorkspace)},
		{Name: "errors-as-text", Breaks: "error answers carry the JSON envelope but say Content-Type: text/plain",
			Target: onResponse(func(x *exchange) {
				if x.Status >= 400 {
					x.Header.Set("Content-Type", "text/plain; charset=utf-8")
				}
			})},
		{Name: "request-id-missing", Breaks: "answers carry no seam-request-id header",
			Target: onResponse(func(x *exchange) { x.Header.Del("seam-request-id") })},
		{Name: "ok-missing", Breaks: "successful answers lack \"ok\": true",
			Target: onResponse(func(x *exchange) {
				if x.Status == http.StatusOK {
					delete(x.Doc, "ok")
				}
			})},
		{Name: "error-ok-missing", Breaks: "error answers lack \"ok\": false",
			Target: onResponse(func(x *exchange) {
				if x.Status >= 400 {
					delete(x.Doc, "ok")
				}
			})},
		{Name: "unknown-encoder-400", Breaks: "an encode on an unknown encoder is answered HTTP 400 instead of 404",
			Target: onResponse(func(x *exchange) {
				if e, _ := x.Doc["error"].(map[string]any); x.Status == http.StatusNotFound && e["type"] == "acs_encoder_not_found" {
					x.Status = http.StatusBadRequest
				}
			})},

		// The credential, as the attempt's result and as stored.
		{Name: "is-managed-missing", Breaks: "credentials lack the required is_managed",
			Target: onCredentials(func(c map[string]any) { delete(c, "is_managed") })},
		{Name: "card-number-missing", Breaks: "credentials lack card_number, which is nullable but always present",
			Target: onCredentials(func(c map[string]any) { delete(c, "card_number") })},
		{Name: "code-omitted-not-null", Breaks: "a card credential omits code instead of carrying code: null",
			Target: onCredentials(func(c map[string]any) {
				if v, ok := c["code"]; ok && v == nil {
					delete(c, "code")
				}
			})},
		{Name: "acs-user-id-null", Breaks: "acs_user_id is null instead of a UUID or omitted",
			Target: onCredentials(func(c map[string]any) {
				if _, ok := c["acs_user_id"]; ok {
					c["acs_user_id"] = nil
				}
			})},
		{Name: "warnings-null", Breaks: "an empty warnings list is null instead of []",
			Target: onCredentials(func(c map[string]any) {
				if w, ok := c["warnings"].([]any); ok && len(w) == 0 {
					c["warnings"] = nil
				}
			})},
		{Name: "created-at-offset", Breaks: "created_at is written with a +01:00 offset instead of in UTC ending Z",
			Target: onCredentials(func(c map[string]any) {
				if s, ok := c["created_at"].(string); ok {
					if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
						c["created_at"] = t.In(time.FixedZone("", 3600)).Format("2006-01-02T15:04:05.000-07:00")
					}
				}
			})},
		{Name: "wrong-card-number", Breaks: "card_number is not the number of the card written",
			Target: onCredentials(func(c map[string]any) {
				if n, ok := c["card_number"].(string); ok && len(n) > 2 {
					c["card_number"] = otherUID(n)
				}
			})},
		{Name: "encode-waits-for-the-card", Breaks: "encode_credential answers only once the card is written (held back for the time of an encode), still reporting the attempt pending",
			Target: proxied(encodeWaits)},
		{Name: "workspace-id-other", Breaks: "credentials carry a workspace_id that is a UUID, but not the workspace's",
			Target: onCredentials(func(c map[string]any) {
				if id, ok := c["workspace_id"].(string); ok && id != "" {
					c["workspace_id"] = otherUUID(id)
				}
			})},
		{Name: "issued-at-earlier", Breaks: "issued_at is an hour before the encode that issued the credential (a reissue reporting the previous encode's time)",
			Target: onCredentials(func(c map[string]any) {
				shiftTime(c, "issued_at", -time.Hour)
			})},
		{Name: "ends-at-later", Breaks: "ends_at is a day after the validity the credential was created with",
			Target: onCredentials(func(c map[string]any) {
				shiftTime(c, "ends_at", 24*time.Hour)
			})},
		{Name: "card-function-swapped", Breaks: "visionline_metadata.card_function_type is guest for a staff credential and staff for a guest one",
			Target: onCredentials(func(c map[string]any) {
				if vm, ok := c["visionline_metadata"].(map[string]any); ok {
					switch vm["card_function_type"] {
					case "guest":
						vm["card_function_type"] = "staff"
					case "staff":
						vm["card_function_type"] = "guest"
					}
				}
			})},
		{Name: "card-validity-an-hour-late", Breaks: "cards are written valid an hour later than their credential (a local clock taken for UTC), while the API reports the credential's own validity",
			Target: proxied(func(env) rewrite {
				return rewrite{
					body: func(path string, doc map[string]any) {
						if path == pathCreate {
							shiftTime(doc, "starts_at", time.Hour)
							shiftTime(doc, "ends_at", time.Hour)
						}
					},
					response: func(x *exchange) {
						for _, c := range credentialsIn(x.Doc) {
							shiftTime(c, "starts_at", -time.Hour)
							shiftTime(c, "ends_at", -time.Hour)
						}
					},
				}
			})},
		{Name: "not-issued", Breaks: "an encoded credential still says is_issued: false",
			Target: onCredentials(func(c map[string]any) {
				if c["is_issued"] == true {
					c["is_issued"] = false
				}
			})},
		{Name: "waiting-warning-kept", Breaks: "an encoded credential keeps its waiting_to_be_issued warning",
			Target: onCredentials(keepWaitingWarning)},
		{Name: "visionline-card-id-missing", Breaks: "an encoded Visionline credential lacks visionline_metadata.card_id",
			Target: onCredentials(func(c map[string]any) {
				if vm, ok := c["visionline_metadata"].(map[string]any); ok {
					delete(vm, "card_id")
				}
			})},
		{Name: "vostio-key-id-missing", Breaks: "an encoded Vostio credential lacks assa_abloy_vostio_metadata.key_id",
			Target: onCredentials(func(c map[string]any) {
				if vm, ok := c["assa_abloy_vostio_metadata"].(map[string]any); ok {
					delete(vm, "key_id")
				}
			})},
		{Name: "stored-differs", Breaks: "/acs/credentials/get answers the credential without the issued_at the attempt's result reported",
			Target: onResponse(func(x *exchange) {
				if c, ok := x.Doc["acs_credential"].(map[string]any); ok && x.Path == pathGetCredential {
					c["issued_at"] = nil
				}
			})},
	}, latestMutants()...)
}

// latestMutants break promises only the latest profile makes; the kill
// test runs the suite with that profile against them.
func latestMutants() []Mutant {
	ms := []Mutant{
		{Name: "latest-types-downgraded", Breaks: "a latest workspace sees the seeds' five error types only: a card pulled mid-write, a silent encoder and a missing port are all uncategorized_error",
			Target: onAttempts(func(a map[string]any) {
				if e, _ := a["error"].(map[string]any); e != nil {
					switch e["type"] {
					case "encoding_interrupted", "encoder_not_online", "encoder_communication_timeout", "bridge_disconnected", "credential_deleted":
						e["type"] = "uncategorized_error"
					}
				}
			})},
		{Name: "validation-errors-dropped", Breaks: "invalid_input answers carry no validation_errors",
			Target: onResponse(func(x *exchange) {
				if e, _ := x.Doc["error"].(map[string]any); e != nil {
					delete(e, "validation_errors")
				}
			})},
		{Name: "content-type-ignored", Breaks: "a body declared as plain text is read as JSON instead of refused invalid_content_type",
			Target: proxied(func(env) rewrite {
				return rewrite{request: func(h http.Header) {
					if ct := h.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
						h.Set("Content-Type", "application/json")
					}
				}}
			})},
		{Name: "simulate-outside-sandbox", Breaks: "the simulate routes answer ok in a workspace that is not a sandbox",
			Target: onResponse(func(x *exchange) {
				if e, _ := x.Doc["error"].(map[string]any); strings.Contains(x.Path, "/simulate/") && e["type"] == "sandbox_only" {
					x.Status, x.Doc = http.StatusOK, map[string]any{"ok": true}
				}
			})},
		{Name: "simulate-body-lenient", Breaks: "the simulate routes drop keys their request schema forbids instead of refusing the body",
			Target: proxied(func(env) rewrite {
				return rewrite{body: func(path string, doc map[string]any) {
					if strings.Contains(path, "/simulate/") {
						for k := range doc {
							if k != "acs_encoder_id" && k != "error_code" && k != "acs_credential_id" && k != "scenario" {
								delete(doc, k)
							}
						}
					}
				}}
			})},
		{Name: "delete-keeps-credential", Breaks: "/acs/credentials/delete answers ok and deletes nothing",
			Target: proxied(func(env) rewrite {
				return rewrite{body: func(path string, doc map[string]any) {
					if path == "/acs/credentials/delete" {
						doc["acs_credential_id"] = uuid.NewString()
					}
				}, response: func(x *exchange) {
					if x.Path == "/acs/credentials/delete" && x.Status == http.StatusNotFound {
						x.Status, x.Doc = http.StatusOK, map[string]any{"ok": true}
					}
				}}
			})},
		{Name: "users-of-another-system", Breaks: "/acs/users/list names each user's acs_system_id wrong",
			Target: onResponse(func(x *exchange) {
				users, _ := x.Doc["acs_users"].([]any)
				for _, u := range users {
					if m, ok := u.(map[string]any); ok {
						m["acs_system_id"] = "00000000-0000-4000-8000-000000000000"
					}
				}
			})},
		{Name: "reissue-as-issue", Breaks: "every encode that succeeds records acs_credential.issued, the credential's later ones too",
			Target: onResponse(func(x *exchange) {
				events, _ := x.Doc["events"].([]any)
				for _, e := range events {
					if m, ok := e.(map[string]any); ok && m["event_type"] == "acs_credential.reissued" {
						m["event_type"] = "acs_credential.issued"
					}
				}
			})},
		{Name: "scan-finds-nothing-on-seam", Breaks: "a scan never names the workspace's credential the card holds",
			Target: onAttempts(func(a map[string]any) {
				if r, ok := a["result"].(map[string]any); ok && a["action_type"] == "SCAN_CREDENTIAL" {
					r["acs_credential_on_seam"] = nil
				}
			})},
		{Name: "scan-reads-every-card-issued", Breaks: "a scan reports every card it reads as holding a credential, blank and foreign cards too",
			Target: onAttempts(func(a map[string]any) {
				if r, ok := a["result"].(map[string]any); ok && a["action_type"] == "SCAN_CREDENTIAL" {
					if e, ok := r["acs_credential_on_encoder"].(map[string]any); ok {
						e["is_issued"] = true
					}
				}
			})},
		{Name: "scan-warns-nothing", Breaks: "a scan of a card whose credential the workspace has not gives no warning",
			Target: onAttempts(func(a map[string]any) {
				if r, ok := a["result"].(map[string]any); ok && a["action_type"] == "SCAN_CREDENTIAL" {
					r["warnings"] = []any{}
				}
			})},
	}
	for i := range ms {
		ms[i].Profile = "latest"
	}
	return ms
}

// onResponse is a stateless mutant rewriting answers.
func onResponse(f func(x *exchange)) conformance.Target {
	return proxied(func(env) rewrite { return rewrite{response: f} })
}

// onAttempts rewrites every action attempt an answer carries.
func onAttempts(f func(a map[string]any)) conformance.Target {
	return onResponse(func(x *exchange) {
		if a := attemptIn(x.Doc); a != nil {
			f(a)
		}
	})
}

// onCredentials rewrites every credential an answer carries: the one
// /acs/credentials/create and get answer, each one of a list, and the
// result of an action attempt.
func onCredentials(f func(c map[string]any)) conformance.Target {
	return onResponse(func(x *exchange) {
		for _, c := range credentialsIn(x.Doc) {
			f(c)
		}
	})
}

func attemptIn(doc map[string]any) map[string]any {
	a, _ := doc["action_attempt"].(map[string]any)
	return a
}

func credentialsIn(doc map[string]any) []map[string]any {
	var out []map[string]any
	if c, ok := doc["acs_credential"].(map[string]any); ok {
		out = append(out, c)
	}
	list, _ := doc["acs_credentials"].([]any)
	for _, it := range list {
		if c, ok := it.(map[string]any); ok {
			out = append(out, c)
		}
	}
	if r, ok := attemptIn(doc)["result"].(map[string]any); ok {
		out = append(out, r)
	}
	return out
}

// resultOnError puts the credential the attempt was for, as last
// answered, in the result of a failed attempt.
func resultOnError(env) rewrite {
	var mu sync.Mutex
	last := map[string]any{}
	return rewrite{response: func(x *exchange) {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range credentialsIn(x.Doc) {
			last = c
		}
		if a := attemptIn(x.Doc); a != nil && a["status"] == "error" {
			a["result"] = last
		}
	}}
}

// flipsBack answers an attempt pending again once its terminal status
// has been answered.
func flipsBack(env) rewrite {
	var mu sync.Mutex
	ended := map[any]bool{}
	return rewrite{response: func(x *exchange) {
		a := attemptIn(x.Doc)
		if a == nil || a["status"] == "pending" {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		id := a["action_attempt_id"]
		if ended[id] {
			a["status"], a["result"], a["error"] = "pending", nil, nil
		}
		ended[id] = true
	}}
}

// idChanges reports each attempt under a second id of its own on
// /action_attempts/get, while encode_credential returned the real one.
func idChanges(env) rewrite {
	var mu sync.Mutex
	other := map[string]string{}
	return rewrite{response: func(x *exchange) {
		a := attemptIn(x.Doc)
		id, _ := a["action_attempt_id"].(string)
		if x.Path != pathGetAttempt || id == "" {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if other[id] == "" {
			other[id] = uuid.NewString()
		}
		a["action_attempt_id"] = other[id]
	}}
}

// patWithoutWorkspace adds the missing seam-workspace header to a request
// made with a personal access token, naming the token's workspace.
func patWithoutWorkspace(e env) rewrite {
	owner := patOwners(e)
	return rewrite{request: func(h http.Header) {
		if ws, ok := owner[bearer(h)]; ok && h.Get("seam-workspace") == "" {
			h.Set("seam-workspace", ws)
		}
	}}
}

// patOwners maps each personal access token of the lab to its
// workspace's id.
func patOwners(e env) map[string]string {
	owner := map[string]string{}
	for _, ws := range e.Lab.Workspaces {
		for _, pat := range ws.PersonalAccessTokens {
			owner[pat] = ws.ID
		}
	}
	return owner
}

// patAnyWorkspace points seam-workspace at the token's own workspace
// whenever a personal access token names another.
func patAnyWorkspace(e env) rewrite {
	owner := patOwners(e)
	return rewrite{request: func(h http.Header) {
		if ws, ok := owner[bearer(h)]; ok && h.Get("seam-workspace") != "" && h.Get("seam-workspace") != ws {
			h.Set("seam-workspace", ws)
		}
	}}
}

// sloppyTokenCompare replaces a bearer token that is nearly a known one
// with that one, as a server would that compared secrets loosely.
func sloppyTokenCompare(e env) rewrite {
	var known []string
	for _, ws := range e.Lab.Workspaces {
		known = append(known, ws.APIKeys...)
		known = append(known, ws.PersonalAccessTokens...)
	}
	near := func(tok, k string) bool {
		t, k := strings.ToLower(strings.ReplaceAll(tok, " ", "")), strings.ToLower(k)
		switch {
		case t == k:
			return true
		case len(t) == len(k)-1:
			return strings.HasPrefix(k, t)
		case len(t) == len(k)+1:
			return strings.HasPrefix(t, k)
		case len(t) == len(k) && len(k) > 0:
			return t[:len(t)-1] == k[:len(k)-1]
		}
		return false
	}
	return rewrite{request: func(h http.Header) {
		tok := bearer(h)
		if tok == "" {
			return
		}
		for _, k := range known {
			if tok != k && near(tok, k) {
				h.Set("Authorization", "Bearer "+k)
				return
			}
		}
	}}
}

// badTokenAccepted replaces a missing or unknown bearer token with the
// first API key of the lab.
func badTokenAccepted(e env) rewrite {
	known := map[string]bool{}
	var first string
	for _, ws := range e.Lab.Workspaces {
		for _, k := range ws.APIKeys {
			known[k] = true
			if first == "" {
				first = k
			}
		}
		for _, pat := range ws.PersonalAccessTokens {
			known[pat] = true
		}
	}
	return rewrite{request: func(h http.Header) {
		if !known[bearer(h)] && first != "" {
			h.Set("Authorization", "Bearer "+first)
		}
	}}
}

func bearer(h http.Header) string {
	tok, _ := strings.CutPrefix(h.Get("Authorization"), "Bearer ")
	return tok
}

// keepWaitingWarning puts waiting_to_be_issued back on an issued credential.
func keepWaitingWarning(c map[string]any) {
	if c["is_issued"] != true {
		return
	}
	ws, _ := c["warnings"].([]any)
	for _, w := range ws {
		if m, _ := w.(map[string]any); m["warning_code"] == "waiting_to_be_issued" {
			return
		}
	}
	// Dated as the credential, so every answer shows the same warning.
	c["warnings"] = append(ws, map[string]any{
		"created_at":   c["created_at"],
		"message":      "The credential has not been encoded on a card yet.",
		"warning_code": "waiting_to_be_issued",
	})
}

// otherUID returns a card number of the same length that is not n.
func otherUID(n string) string { return otherHex(strings.ToUpper(n)) }

// otherUUID is id with its last hex digit changed: still a UUID.
func otherUUID(id string) string { return otherHex(id) }

// otherHex is s, a non-empty hex string, with its last digit changed.
func otherHex(s string) string {
	b := []byte(s)
	last := len(b) - 1
	if b[last] == '0' {
		b[last] = '1'
	} else {
		b[last] = '0'
	}
	return string(b)
}

// shiftTime moves the datetime c[key] by d.
func shiftTime(c map[string]any, key string, d time.Duration) {
	if v, ok := shifted(c[key], d); ok {
		c[key] = v
	}
}

// shifted is the datetime v moved by d, in UTC with milliseconds and Z
// as the API writes it; false when v is not a datetime.
func shifted(v any, d time.Duration) (string, bool) {
	s, ok := v.(string)
	if !ok {
		return "", false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return "", false
	}
	return t.Add(d).UTC().Format("2006-01-02T15:04:05.000Z"), true
}

// encodeWaits holds back every encode_credential answer for 4 s (scaled):
// longer than a card write of the bundled encoders, shorter than the
// attempt deadline, as a server would that ran the encode before
// answering and then reported the attempt as it was when it began.
func encodeWaits(e env) rewrite {
	hold := e.TimeScale.Of(4 * time.Second)
	return rewrite{response: func(x *exchange) {
		if x.Path == "/acs/encoders/encode_credential" && x.Status == http.StatusOK {
			time.Sleep(hold)
		}
	}}
}
