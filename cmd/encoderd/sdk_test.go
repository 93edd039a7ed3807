package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/fixtures"
	"github.com/encoderlab/encoderlab/pipeline/seam"
	"github.com/encoderlab/encoderlab/pipeline/server"
	"github.com/encoderlab/encoderlab/scenarios"
	"github.com/encoderlab/encoderlab/sim"
	"github.com/encoderlab/encoderlab/sim/scenario"
	"github.com/encoderlab/encoderlab/timescale"

	"github.com/encoderlab/encoderlab/internal/require"
)

// sdkDir holds the Seam SDK check: .ci/sdk/encode.mjs and the SDK
// pinned in its package-lock.json (installed by "make sdk-deps").
const sdkDir = "../../.ci/sdk"

// sdkScale runs protocol time twenty times faster than real time, the
// conformance suite's scale: the scaled waits keep the relations the
// protocol pages give them (an empty reader answers before the attempt
// deadline by a second of real time), which a faster scale shrinks to
// what a loaded machine's stall can eat.
const sdkScale = timescale.Scale(0.05)

// sdkBound bounds one scenario's whole run, start to finish: generous, so
// a loaded machine (and node loading the SDK) does not fail it.
const sdkBound = 2 * time.Minute

// sdkOutcome is the JSON line encode.mjs prints.
type sdkOutcome struct {
	OK    bool              `json:"ok"`
	SDK   map[string]string `json:"sdk"`
	Error *struct {
		Name, Message, Code string
	} `json:"error"`
	Expect        string `json:"expect"`
	ActionAttempt struct {
		ActionAttemptID string `json:"action_attempt_id"`
		Status          string `json:"status"`
		Error           *struct {
			Type string `json:"type"`
		} `json:"error"`
	} `json:"action_attempt"`
	ACSCredential struct {
		ACSCredentialID string  `json:"acs_credential_id"`
		IsIssued        bool    `json:"is_issued"`
		CardNumber      *string `json:"card_number"`
	} `json:"acs_credential"`
	Checks          []string            `json:"checks"`
	SpecDivergences map[string][]string `json:"spec_divergences"`
}

// TestSeamSDK drives the pipeline with Seam's official JavaScript SDK,
// unchanged, against virtual encoders playing bundled scenarios: the
// encode must end as the scenario expects, as the SDK reports it (a
// result, or SeamActionAttemptFailedError with the error type as code),
// and every answer must pass Seam's published schemas (see encode.mjs).
func TestSeamSDK(t *testing.T) {
	node, script := sdkOrSkip(t)
	// Each scenario gets its own server and link directory: all use
	// front-desk-1. They run one after the other, so that node loading
	// the SDK four times at once does not stall the encoders. Under latest the lab's workspaces are served that
	// profile, and each answer is checked against the same pinned types.
	for _, c := range []struct {
		scenario string
		profile  seam.Profile
	}{
		{"first-issue", seam.ProfileCurrent},
		{"empty-reader", seam.ProfileCurrent},
		{"first-issue", seam.ProfileLatest},
		{"card-removed-mid-encode", seam.ProfileLatest},
	} {
		t.Run(string(c.profile)+"/"+c.scenario, func(t *testing.T) {
			runSDKScenario(t, node, script, c.scenario, c.profile)
		})
	}
	// The lab's second workspace has no encoder: the directory, a
	// credential's life and its events, under each profile.
	for _, profile := range []seam.Profile{seam.ProfileCurrent, seam.ProfileLatest} {
		t.Run(string(profile)+"/second-workspace", func(t *testing.T) {
			runSDKWithoutEncoder(t, node, script, profile)
		})
	}
}

// runSDKWithoutEncoder runs encode.mjs against the lab's second
// workspace, which has no encoder (--encoder "").
func runSDKWithoutEncoder(t *testing.T, node, script string, profile seam.Profile) {
	ctx, cancel := context.WithTimeout(t.Context(), sdkBound)
	defer cancel()
	lab := fixtures.Bundled().WithProfile(string(profile))
	ws := lab.Workspaces[1]
	if len(ws.Encoders) != 0 {
		t.Fatalf("workspace %s has encoders; this case is for one without", ws.Name)
	}
	srv, err := server.Start(ctx, server.Config{Lab: lab, Addr: "127.0.0.1:0", DBPath: filepath.Join(t.TempDir(), "encoderd.db"),
		LinkDir: t.TempDir(), Scale: sdkScale, Logger: slog.New(slog.NewTextHandler(t.Output(), nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("closing the server: %v", err)
		}
	})
	args := []string{"--encoder", "", "--user", ws.System("visionline-hotel").Users[0].ID, "--profile", string(profile)}
	cmd := exec.CommandContext(ctx, node, append([]string{script}, args...)...)
	cmd.Dir = filepath.Dir(script)
	cmd.Env = append(withoutSeamEnv(os.Environ()), "SEAM_ENDPOINT="+srv.URL(), "SEAM_API_KEY="+ws.APIKeys[0])
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("encode.mjs %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, &stdout, &stderr)
	}
	var out sdkOutcome
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &out); err != nil || !out.OK {
		t.Fatalf("encode.mjs reported %s (%v)", &stdout, err)
	}
	t.Logf("Seam SDK @seamapi/http %s, workspace %s, checks passed: %s", out.SDK["@seamapi/http"], ws.Name, strings.Join(out.Checks, ", "))
}

// sdkOrSkip returns node and the script's path, or skips the test saying
// what is missing.
func sdkOrSkip(t *testing.T) (node, script string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		require.Missing(t, "node not found: install Node.js, then run make sdk-deps to install the Seam SDK")
	}
	dir, err := filepath.Abs(sdkDir)
	if err != nil {
		t.Fatalf("locating %s: %v", sdkDir, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@seamapi", "http", "package.json")); err != nil {
		require.Missing(t, "run make sdk-deps to install the Seam SDK (%s/node_modules has no @seamapi/http package)", dir)
	}
	return node, filepath.Join(dir, "encode.mjs")
}

func runSDKScenario(t *testing.T, node, script, name string, profile seam.Profile) {
	ctx, cancel := context.WithTimeout(t.Context(), sdkBound)
	defer cancel()
	loaded, err := scenarios.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	sc := loaded.ForProfile(string(profile))
	lab := fixtures.Bundled().WithProfile(string(profile))
	ws := lab.Workspaces[0]
	args := append(sdkArgs(t, ws, sc), "--profile", string(profile))

	links := t.TempDir()
	log := slog.New(slog.NewTextHandler(t.Output(), nil))
	enc, err := sim.Start(ctx, sc, sim.Options{LinkDir: links, Scale: sdkScale, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := enc.Close(); err != nil {
			t.Errorf("closing the virtual encoder: %v", err)
		}
	})
	srv, err := server.Start(ctx, server.Config{
		Lab:     lab,
		Addr:    "127.0.0.1:0",
		DBPath:  filepath.Join(t.TempDir(), "encoderd.db"),
		LinkDir: links,
		Scale:   sdkScale,
		Logger:  log,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("closing the server: %v", err)
		}
	})
	played := make(chan error, 1)
	go func() { played <- enc.Play(ctx) }()

	cmd := exec.CommandContext(ctx, node, append([]string{script}, args...)...)
	cmd.Dir = filepath.Dir(script)
	cmd.Env = append(withoutSeamEnv(os.Environ()),
		"SEAM_ENDPOINT="+srv.URL(),
		"SEAM_API_KEY="+ws.APIKeys[0],
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("encode.mjs %s did not finish within %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), sdkBound, &stdout, &stderr)
	}
	if runErr != nil {
		t.Fatalf("encode.mjs %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), runErr, &stdout, &stderr)
	}
	var out sdkOutcome
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &out); err != nil {
		t.Fatalf("encode.mjs output is not a JSON line: %v\nstdout: %s\nstderr: %s", err, &stdout, &stderr)
	}
	t.Logf("Seam SDK @seamapi/http %s, checks passed: %s", out.SDK["@seamapi/http"], strings.Join(out.Checks, ", "))
	for route, fields := range out.SpecDivergences {
		t.Logf("%s: Seam's schemas require %s, which the API spec does not define", route, strings.Join(fields, ", "))
	}
	checkSDKOutcome(t, sc, enc, out)

	select {
	case err := <-played:
		if err != nil {
			t.Errorf("scenario %s timeline: %v", sc.File, err)
		}
	case <-ctx.Done():
		t.Errorf("scenario %s timeline did not end within %v of the start", sc.File, sdkBound)
	}
}

// sdkArgs are encode.mjs's flags for sc: its encoder, its credential's
// user, and the outcome it expects.
func sdkArgs(t *testing.T, ws *fixtures.Workspace, sc *scenario.Scenario) []string {
	t.Helper()
	sys := ws.System(sc.Credential.System)
	if sys == nil {
		t.Fatalf("scenario %s: no acs system %q in the lab", sc.File, sc.Credential.System)
	}
	userKey := sc.Credential.User
	if userKey == "" {
		userKey = "guest"
	}
	user := sys.User(userKey)
	if user == nil {
		t.Fatalf("scenario %s: no user %q in %s", sc.File, userKey, sys.Key)
	}
	want := sdkExpect(t, sc)
	expect := want.Status
	if expect != "success" {
		expect = want.ErrorType
	}
	if expect == "" {
		t.Fatalf("scenario %s expects neither success nor an error type", sc.File)
	}
	return []string{"--encoder", sc.Encoder.ID, "--user", user.ID, "--expect", expect}
}

// sdkExpect is the outcome of sc's one encode, which encode.mjs makes.
func sdkExpect(t *testing.T, sc *scenario.Scenario) scenario.Expect {
	t.Helper()
	if len(sc.Encodes) != 1 || sc.Encodes[0].Encoder != "" || sc.Encodes[0].Credential != "" || sc.Encodes[0].Expect.Status == "" {
		t.Fatalf("scenario %s: the SDK check makes one encode of the scenario's credential on its encoder; the scenario has %+v", sc.File, sc.Encodes)
	}
	return sc.Encodes[0].Expect
}

// checkSDKOutcome compares what the SDK saw with what sc expects.
func checkSDKOutcome(t *testing.T, sc *scenario.Scenario, enc *sim.Encoder, out sdkOutcome) {
	t.Helper()
	want := sdkExpect(t, sc)
	if !out.OK {
		t.Fatalf("encode.mjs reported a failure: %+v", out.Error)
	}
	if out.ActionAttempt.Status != want.Status {
		t.Errorf("action attempt status %q, scenario %s expects %q", out.ActionAttempt.Status, sc.File, want.Status)
	}
	switch want.Status {
	case "success":
		c := enc.Card(want.Card)
		if c == nil {
			t.Fatalf("scenario %s has no card %q", sc.File, want.Card)
		}
		if got := out.ACSCredential.CardNumber; got == nil || *got != c.UID {
			t.Errorf("card_number %v, want the UID of card %s, %s", deref(got), c.Name, c.UID)
		}
		if !out.ACSCredential.IsIssued {
			t.Errorf("is_issued false after a successful encode")
		}
	default:
		if e := out.ActionAttempt.Error; e == nil || e.Type != want.ErrorType {
			t.Errorf("action attempt error %+v, scenario %s expects type %s", e, sc.File, want.ErrorType)
		}
		if out.ACSCredential.IsIssued {
			t.Errorf("is_issued true after a failed encode")
		}
	}
}

func deref(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

// withoutSeamEnv drops the SEAM_* variables the SDK would read on its own,
// so only the ones the test sets reach it.
func withoutSeamEnv(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "SEAM_") {
			out = append(out, kv)
		}
	}
	return out
}
