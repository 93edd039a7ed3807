package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"

	"github.com/encoderlab/encoderlab/fixtures"
)

// apiFixture is a system under test with a credential and an encoder to
// name in requests, for the requirements checked by requests of their
// own (authentication, parameters, conventions). No device is attached:
// these checks are about answers to requests, not about encodes.
type apiFixture struct {
	url          string
	cfg          *Config
	ws           *fixtures.Workspace
	credentialID string
	encoderID    string
	userID       string // the acs_user_id of the credential

	mu        sync.Mutex
	responses []*response
}

func (f *apiFixture) keep(r *response) *response {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.responses = append(f.responses, r)
	return r
}

func (f *apiFixture) kept() []*response {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*response(nil), f.responses...)
}

func setUpAPI(ctx SpecContext, cfg *Config) *apiFixture {
	GinkgoHelper()
	ws := cfg.Lab.Workspaces[0]
	if len(ws.Encoders) == 0 {
		Fail(fmt.Sprintf("workspace %s of the lab has no encoder to name in requests", ws.Name))
	}
	tmp := GinkgoT().TempDir()
	By("starting the system under test")
	api, _, err := startTarget(ctx, cfg, tmp+"/links", tmp, ws, func(f func() error) { DeferCleanup(f) })
	if err != nil {
		Fail(err.Error())
	}
	f := &apiFixture{url: api.base, cfg: cfg, ws: ws}
	enc := ws.Encoders[0]
	if f.encoderID, err = findEncoder(ctx, api, ws, enc.DisplayName); err != nil {
		Fail(err.Error())
	}
	sys := ws.System(enc.System)
	f.userID = sys.Users[0].ID
	res, err := api.post(ctx, "/acs/credentials/create", map[string]any{"acs_user_id": f.userID, "access_method": "card"})
	if err != nil {
		Fail(err.Error())
	}
	f.keep(res)
	c, err := credentialOf(res)
	if err != nil {
		Fail(fmt.Sprintf("creating a credential to name in requests: %v", err))
	}
	f.credentialID, _ = c["acs_credential_id"].(string)
	// One refused request, so the envelope of errors has an answer to
	// check even when a label filter selects only that requirement.
	r, err := api.post(ctx, "/acs/encoders/encode_credential", map[string]any{"acs_encoder_id": f.encoderID})
	if err != nil {
		Fail(err.Error())
	}
	f.keep(r)
	return f
}

// checkAPI makes the requests a requirement is about and returns every
// problem with the answers.
func checkAPI(ctx context.Context, req Requirement, f *apiFixture) []string {
	c := req.Check
	body := func() map[string]any {
		return map[string]any{"acs_credential_id": f.credentialID, "acs_encoder_id": f.encoderID}
	}
	encode := func(cl *client, b map[string]any) (*response, []string) {
		r, err := cl.post(ctx, "/acs/encoders/encode_credential", b)
		if err != nil {
			return nil, []string{err.Error()}
		}
		return f.keep(r), nil
	}
	expectAttempt := func(r *response) []string {
		if r.Status != 200 {
			return []string{fmt.Sprintf("%s: want HTTP 200 with an action attempt", r)}
		}
		if _, err := attemptOf(r); err != nil {
			return []string{err.Error()}
		}
		return nil
	}
	expectError := func(r *response, status int, typ string) []string {
		if msg := apiError(r, status, typ); msg != "" {
			return []string{msg}
		}
		return nil
	}
	switch c.Kind {
	case "auth":
		switch c.Method {
		case "near-miss":
			return nearMisses(ctx, f, body(), encode)
		case "pat-other-workspace":
			return patOtherWorkspace(f, body(), encode)
		case "cross-workspace-ids":
			return crossWorkspaceIDs(ctx, f, encode)
		}
		var cl *client
		switch c.Method {
		case "api-key":
			cl = newClient(f.url, f.cfg.apiKey(f.ws), "")
		case "pat-with-workspace", "pat-without-workspace":
			if f.cfg.pat(f.ws) == "" {
				return []string{fmt.Sprintf("workspace %s of the lab has no personal access token", f.ws.Name)}
			}
			ws := f.ws.ID
			if c.Method == "pat-without-workspace" {
				ws = ""
			}
			cl = newClient(f.url, f.cfg.pat(f.ws), ws)
		case "missing-token":
			cl = newClient(f.url, "", "")
		case "invalid-token":
			cl = newClient(f.url, "seam_not_a_key_of_this_lab", "")
		}
		r, p := encode(cl, body())
		if p != nil {
			return p
		}
		switch c.Method {
		case "api-key", "pat-with-workspace":
			return expectAttempt(r)
		case "pat-without-workspace":
			return expectError(r, 400, "missing_workspace_id")
		default:
			return expectError(r, 401, "")
		}
	case "param-required", "param-type":
		b := body()
		if c.Kind == "param-required" {
			delete(b, c.Param)
		} else {
			b[c.Param] = json.Number("12345")
		}
		r, p := encode(newClient(f.url, f.cfg.apiKey(f.ws), ""), b)
		if p != nil {
			return p
		}
		return expectError(r, 400, "invalid_input")
	case "validity":
		return invalidValidity(ctx, f)
	case "request":
		return checkRequest(ctx, req, f)
	case "convention":
		var problems []string
		for _, r := range f.kept() {
			if msg := convention(c.Rule, r); msg != "" {
				problems = append(problems, msg)
			}
		}
		return problems
	}
	return []string{fmt.Sprintf("check kind %q is not a request-level check", c.Kind)}
}

// invalidValidity asks /acs/credentials/create for credentials whose
// ends_at breaks the seeds' "Must be a time in the future and after
// starts_at": each must be refused with 400 invalid_input, so no
// credential with such a validity ever reaches an encode.
func invalidValidity(ctx context.Context, f *apiFixture) []string {
	now := time.Now().UTC()
	at := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }
	cases := []struct {
		what             string
		startsAt, endsAt string
	}{
		{"ends_at an hour before starts_at", at(2 * time.Hour), at(time.Hour)},
		{"ends_at equal to starts_at", at(time.Hour), at(time.Hour)},
		{"ends_at an hour in the past, no starts_at", "", at(-time.Hour)},
		{"ends_at in the past, starts_at before it", at(-2 * time.Hour), at(-time.Hour)},
	}
	cl := newClient(f.url, f.cfg.apiKey(f.ws), "")
	var problems []string
	for _, c := range cases {
		b := map[string]any{"acs_user_id": f.userID, "access_method": "card", "ends_at": c.endsAt}
		if c.startsAt != "" {
			b["starts_at"] = c.startsAt
		}
		r, err := cl.post(ctx, "/acs/credentials/create", b)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		f.keep(r)
		if msg := apiError(r, 400, "invalid_input"); msg != "" {
			problems = append(problems, c.what+": "+msg)
		}
	}
	return problems
}

// nearMiss is a token that differs from a real one in the way a guess, a
// copy-paste slip or a server's sloppy comparison would: each must be
// refused as unknown.
type nearMiss struct {
	what  string
	token string
}

// nearMissesOf returns the near misses of secret: its last character
// changed (the right id with a wrong secret), cut short by one, one
// character longer, its letters in the other case, a space inside.
func nearMissesOf(secret string) []nearMiss {
	last := byte('a')
	if secret[len(secret)-1] == 'a' {
		last = 'b'
	}
	flipped := strings.ToUpper(secret)
	if flipped == secret {
		flipped = strings.ToLower(secret)
	}
	mid := len(secret) / 2
	return []nearMiss{
		{"its last character changed", secret[:len(secret)-1] + string(last)},
		{"cut short by one character", secret[:len(secret)-1]},
		{"one character longer", secret + "0"},
		{"in the other letter case", flipped},
		{"with a space inside", secret[:mid] + " " + secret[mid:]},
	}
}

// nearMisses sends encode_credential with near misses of the API key and
// of the personal access token (with the right seam-workspace header):
// each must be 401 with the error envelope.
func nearMisses(ctx context.Context, f *apiFixture, b map[string]any, encode func(*client, map[string]any) (*response, []string)) []string {
	var problems []string
	try := func(kind, secret, workspace string) {
		if len(secret) < 2 {
			problems = append(problems, fmt.Sprintf("workspace %s of the lab has no %s to vary", f.ws.Name, kind))
			return
		}
		for _, m := range nearMissesOf(secret) {
			r, p := encode(newClient(f.url, m.token, workspace), b)
			if p != nil {
				problems = append(problems, p...)
				continue
			}
			if msg := apiError(r, 401, ""); msg != "" {
				problems = append(problems, fmt.Sprintf("the %s %s: %s", kind, m.what, msg))
			}
		}
	}
	try("API key", f.cfg.apiKey(f.ws), "")
	try("personal access token", f.cfg.pat(f.ws), f.ws.ID)
	return problems
}

// otherWorkspace is a workspace of the lab other than f's, or nil.
func otherWorkspace(f *apiFixture) *fixtures.Workspace {
	for _, ws := range f.cfg.Lab.Workspaces {
		if ws.ID != f.ws.ID {
			return ws
		}
	}
	return nil
}

// patOtherWorkspace sends f's personal access token with a seam-workspace
// header naming another workspace that exists: the token has no access
// to it, so the call must be refused with 401.
func patOtherWorkspace(f *apiFixture, b map[string]any, encode func(*client, map[string]any) (*response, []string)) []string {
	other := otherWorkspace(f)
	if other == nil {
		return []string{"the lab has one workspace: naming another in seam-workspace needs two"}
	}
	pat := f.cfg.pat(f.ws)
	if pat == "" {
		return []string{fmt.Sprintf("workspace %s of the lab has no personal access token", f.ws.Name)}
	}
	r, p := encode(newClient(f.url, pat, other.ID), b)
	if p != nil {
		return p
	}
	if msg := apiError(r, 401, ""); msg != "" {
		return []string{fmt.Sprintf("the personal access token of %s with seam-workspace %s (workspace %s): %s", f.ws.Name, other.ID, other.Name, msg)}
	}
	return nil
}

// crossWorkspaceIDs encodes, with f's API key, another workspace's
// credential on f's encoder and, when that workspace has encoders, f's
// credential on the other's encoder and the other's credential on it.
// Each id of another workspace must read as unknown: 404 with its
// not-found type.
func crossWorkspaceIDs(ctx context.Context, f *apiFixture, encode func(*client, map[string]any) (*response, []string)) []string {
	other := otherWorkspace(f)
	if other == nil {
		return []string{"the lab has one workspace: naming another's ids needs two"}
	}
	key, theirs := f.cfg.apiKey(f.ws), f.cfg.apiKey(other)
	if theirs == "" || theirs == key {
		return []string{fmt.Sprintf("workspace %s needs an API key of its own in the lab (a single --api-key cannot reach two workspaces)", other.Name)}
	}
	them := newClient(f.url, theirs, "")
	var user string
	for _, sys := range other.Systems {
		if len(sys.Users) > 0 {
			user = sys.Users[0].ID
			break
		}
	}
	if user == "" {
		return []string{fmt.Sprintf("workspace %s of the lab has no user to create a credential for", other.Name)}
	}
	res, err := them.post(ctx, "/acs/credentials/create", map[string]any{"acs_user_id": user, "access_method": "card"})
	if err != nil {
		return []string{err.Error()}
	}
	var created struct {
		Credential struct {
			ID string `json:"acs_credential_id"`
		} `json:"acs_credential"`
	}
	if err := json.Unmarshal(res.Body, &created); err != nil || created.Credential.ID == "" {
		return []string{fmt.Sprintf("creating a credential in workspace %s: %s", other.Name, res)}
	}
	theirCredential := created.Credential.ID

	type call struct {
		what                string
		credential, encoder string
		types               []string
	}
	calls := []call{{"the other workspace's credential", theirCredential, f.encoderID, []string{"acs_credential_not_found"}}}
	if len(other.Encoders) > 0 {
		theirEncoder, err := findEncoder(ctx, them, other, other.Encoders[0].DisplayName)
		if err != nil {
			return []string{fmt.Sprintf("workspace %s: %v", other.Name, err)}
		}
		calls = append(calls,
			call{"the other workspace's encoder", f.credentialID, theirEncoder, []string{"acs_encoder_not_found"}},
			call{"the other workspace's credential and encoder", theirCredential, theirEncoder, []string{"acs_credential_not_found", "acs_encoder_not_found"}})
	}
	mine := newClient(f.url, key, "")
	var problems []string
	for _, c := range calls {
		r, p := encode(mine, map[string]any{"acs_credential_id": c.credential, "acs_encoder_id": c.encoder})
		if p != nil {
			problems = append(problems, p...)
			continue
		}
		var msgs []string
		for _, typ := range c.types {
			msg := apiError(r, 404, typ)
			if msg == "" {
				msgs = nil
				break
			}
			msgs = append(msgs, msg)
		}
		if len(msgs) > 0 {
			problems = append(problems, fmt.Sprintf("%s named with the API key of %s: %s", c.what, f.ws.Name, strings.Join(msgs, "; or ")))
		}
	}
	return problems
}
