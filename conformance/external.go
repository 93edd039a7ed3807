package conformance

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"

	"github.com/encoderlab/encoderlab/fixtures"
	"github.com/encoderlab/encoderlab/pipeline/server"
)

// External is a server the suite did not start, reached at apiURL and
// driven only through its HTTP API. The server's encoder ports must point
// into linkDir (encoderd --links linkDir): the suite publishes each
// scenario's virtual encoder there as linkDir/<encoder display name>.
//
// Scenarios name the same encoders, so an external run is serial: one
// spec at a time (ginkgo --procs=1), each scenario replacing the previous
// one's encoder under the same link. The server must also serve the
// suite's lab (Config.Lab) with the same ids, and its attempt deadline
// and time scale must match Config.AttemptDeadline and Config.TimeScale.
func External(apiURL, linkDir string) Target {
	return external{url: apiURL, linkDir: linkDir}
}

type external struct{ url, linkDir string }

// LinkDir is where the server under test looks for its encoders; the
// suite publishes virtual encoders there instead of in a directory of
// its own.
func (t external) LinkDir() string { return t.linkDir }

func (t external) Start(ctx context.Context, _ Env) (System, error) {
	u, err := url.Parse(t.url)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("external server: API URL %q: want http://HOST:PORT or https://HOST:PORT", t.url)
	}
	if t.linkDir == "" || !filepath.IsAbs(t.linkDir) {
		return nil, fmt.Errorf("external server: link directory %q: want the absolute path the server's encoder ports point into", t.linkDir)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("external server: %w", err)
	}
	return externalSystem{url: t.url}, nil
}

// externalSystem is a server someone else runs and stops.
type externalSystem struct{ url string }

func (s externalSystem) URL() string  { return s.url }
func (s externalSystem) Close() error { return nil }

// linkDirTarget is a target whose encoders' ports are fixed: the suite
// must publish its virtual encoders in that directory.
type linkDirTarget interface {
	LinkDir() string
}

// fixedLinkDir returns the target's link directory, or "" when the target
// accepts one per spec.
func fixedLinkDir(t Target) string {
	if l, ok := t.(linkDirTarget); ok {
		return l.LinkDir()
	}
	return ""
}

// InProcessWith is InProcess with the server's configuration adjusted by
// adjust before it starts: a vendor adds its driver (server.Config.Drivers)
// or its own lab. The suite fills in Lab, LinkDir, DBPath, Addr, Scale
// and Logger first; adjust may change any of them, but the lab must stay
// the suite's (Config.Lab), which the scenarios name.
func InProcessWith(adjust func(*server.Config)) Target {
	return inProcessWith{adjust: adjust}
}

type inProcessWith struct{ adjust func(*server.Config) }

func (t inProcessWith) Start(ctx context.Context, env Env) (System, error) {
	cfg := server.Config{
		Lab:     env.Lab,
		LinkDir: env.LinkDir,
		DBPath:  filepath.Join(env.TempDir, "encoderd.db"),
		Addr:    "127.0.0.1:0",
		Scale:   env.TimeScale,
		Logger:  env.Logger,
	}
	if t.adjust != nil {
		t.adjust(&cfg)
	}
	s, err := server.Start(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("starting the in-process pipeline: %w", err)
	}
	return s, nil
}

// apiKey is the API key the suite authenticates with in ws: Config.APIKey
// when set (a server configured with its own keys), else the lab's first.
func (c *Config) apiKey(ws *fixtures.Workspace) string {
	if c.APIKey != "" {
		return c.APIKey
	}
	if len(ws.APIKeys) > 0 {
		return ws.APIKeys[0]
	}
	return ""
}

// pat is the personal access token the suite authenticates with in ws:
// Config.PAT when set, else the lab's first.
func (c *Config) pat(ws *fixtures.Workspace) string {
	if c.PAT != "" {
		return c.PAT
	}
	if len(ws.PersonalAccessTokens) > 0 {
		return ws.PersonalAccessTokens[0]
	}
	return ""
}

// token is what the suite's requests in ws carry: the API key, or with
// Config.PersonalAccessToken the personal access token and the workspace
// id for the seam-workspace header ("" with an API key). A lab without
// one gives "", which the server under test refuses with a 401 the first
// request reports.
func (c *Config) token(ws *fixtures.Workspace) (token, workspaceHeader string) {
	if c.PersonalAccessToken {
		return c.pat(ws), ws.ID
	}
	return c.apiKey(ws), ""
}
