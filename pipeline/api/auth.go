package api

import (
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/encoderlab/encoderlab/fixtures"
	"github.com/encoderlab/encoderlab/pipeline/seam"
)

// token is a credential a workspace accepts.
type token struct {
	secret    []byte
	workspace *fixtures.Workspace
	// personal is true for personal access tokens, which need the
	// seam-workspace header.
	personal bool
}

func tokensOf(lab *fixtures.Lab) []token {
	var ts []token
	for _, ws := range lab.Workspaces {
		for _, k := range ws.APIKeys {
			ts = append(ts, token{secret: []byte(k), workspace: ws})
		}
		for _, k := range ws.PersonalAccessTokens {
			ts = append(ts, token{secret: []byte(k), workspace: ws, personal: true})
		}
	}
	return ts
}

func unauthorized(msg string) *seam.Error {
	return &seam.Error{Status: http.StatusUnauthorized, Type: "unauthorized", Message: msg}
}

// authenticate returns the workspace r acts in.
func (s *server) authenticate(r *http.Request) (*fixtures.Workspace, error) {
	h := r.Header.Get("Authorization")
	scheme, secret, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(secret) == "" {
		return nil, unauthorized("missing or malformed Authorization header: want \"Bearer <api key or personal access token>\"")
	}
	secret = strings.TrimSpace(secret)

	// Compare against every token, without stopping at a match, so the
	// time taken does not tell how far a guess got.
	var apiKey *fixtures.Workspace
	var personal []*fixtures.Workspace
	for _, t := range s.tokens {
		if subtle.ConstantTimeCompare(t.secret, []byte(secret)) == 1 {
			if t.personal {
				personal = append(personal, t.workspace)
			} else {
				apiKey = t.workspace
			}
		}
	}
	switch {
	case apiKey != nil:
		return apiKey, nil
	case personal == nil:
		return nil, unauthorized("unknown API key or personal access token")
	}

	wsID := strings.TrimSpace(r.Header.Get("seam-workspace"))
	if wsID == "" {
		return nil, &seam.Error{Status: http.StatusBadRequest, Type: "missing_workspace_id",
			Message: "a personal access token needs a seam-workspace header naming the workspace"}
	}
	for _, ws := range personal {
		if ws.ID == strings.ToLower(wsID) {
			return ws, nil
		}
	}
	return nil, unauthorized("personal access token cannot access workspace " + quoteHeader(wsID))
}

// quoteHeader quotes a client-supplied header value for a message,
// bounded so a huge header does not turn into a huge answer.
func quoteHeader(v string) string {
	const max = 64
	if len(v) > max {
		v = v[:max] + "…"
	}
	return `"` + strings.ToValidUTF8(v, "?") + `"`
}
