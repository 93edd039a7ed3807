package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

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
	api := startTarget(ctx, cfg, tmp+"/links", tmp, ws)
	f := &apiFixture{url: api.base, cfg: cfg, ws: ws}
	enc := ws.Encoders[0]
	f.encoderID = findEncoder(ctx, api, enc.DisplayName)
	sys := ws.System(enc.System)
	res, err := api.post(ctx, "/acs/credentials/create", map[string]any{"acs_user_id": sys.Users[0].ID, "access_method": "card"})
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
