package main

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/fixtures"
)

// An encoder with an empty reader that waits a minute for a card: an
// encode on it stays in flight until the attempt deadline.
const waitingScenario = `
name: waiting-desk
description: A desk encoder with an empty reader, waiting a long time for a card.
encoder: {model: pms, id: front-desk-1, card_wait: 60s}
cards: {}
credential: {system: visionline-hotel}
steps: []
expect: {status: error, error: {type: action_attempt_expired}}
`

// shutdownRig is encoderd in front of the waiting encoder, with one encode
// in flight.
type shutdownRig struct {
	d       *daemon
	api     *apiClient
	args    []string
	attempt string
	credID  string
	encoder string
	sent    time.Time
	// called is when the encode call was made: the attempt's deadline
	// is at least crashDeadline after it (the server creates the
	// attempt during the call), so it is the sound lower bound.
	called time.Time
}

func newShutdownRig(t *testing.T, extra ...string) *shutdownRig {
	t.Helper()
	ws := fixtures.Bundled().Workspaces[0]
	enc, links := startDesk(t, "waiting-desk.yaml", waitingScenario)
	ctx := context.Background()

	r := &shutdownRig{
		args:    append([]string{"--db", filepath.Join(t.TempDir(), "encoderd.db"), "--links", links, "--scale", fmt.Sprint(crashScale), "--log-level", "debug"}, extra...),
		encoder: encoderIDOf(t, ws, "front-desk-1"),
	}
	r.d = startDaemon(t, "encoderd.log", r.args...)
	r.api = newAPIClient(t, r.d.url, ws.APIKeys[0])
	r.credID = r.newCredential(t)
	r.called = time.Now()
	a, err := r.api.object(ctx, "/acs/encoders/encode_credential", "action_attempt",
		map[string]any{"acs_credential_id": r.credID, "acs_encoder_id": r.encoder})
	if err != nil {
		t.Fatal(err)
	}
	r.sent = time.Now()
	r.attempt = a["action_attempt_id"].(string)
	// The encode is on the line once the encoder has its command.
	if err := enc.Device().Await(ctx, "encode", 1); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *shutdownRig) newCredential(t *testing.T) string {
	t.Helper()
	id, err := r.api.guestCredential(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestSIGTERMDrains: on SIGTERM encoderd refuses new encodes with a
// Seam-style 503, keeps answering reads so the client can follow its
// attempt, lets the attempt in flight reach its terminal status (here
// action_attempt_expired at its deadline) and then exits 0, within the
// default bound (the attempt deadline and a second).
func TestSIGTERMDrains(t *testing.T) {
	if testing.Short() {
		t.Skip("runs encoderd as a process; skipped with -short")
	}
	r := newShutdownRig(t)
	ctx := context.Background()
	r.d.signal(syscall.SIGTERM)

	// New encodes are refused while the attempt drains. The first request
	// after the signal may still race it; the refusal must come promptly.
	other := r.newCredential(t)
	var refused map[string]any
	for refused == nil {
		status, out, err := r.api.call(ctx, "/acs/encoders/encode_credential",
			map[string]any{"acs_credential_id": other, "acs_encoder_id": r.encoder})
		if err != nil {
			t.Fatalf("encode_credential while draining: %v", err)
		}
		switch status {
		case http.StatusServiceUnavailable:
			refused = out
		case http.StatusOK:
			if time.Since(r.sent) > crashDeadline {
				t.Fatalf("encode_credential still accepted %v after SIGTERM", time.Since(r.sent))
			}
		default:
			t.Fatalf("encode_credential while draining: status %d: %v", status, out)
		}
	}
	if e, _ := refused["error"].(map[string]any); e["type"] != "service_unavailable" || e["message"] == "" {
		t.Errorf("refusal while draining = %v, want error.type service_unavailable with a message", refused)
	}

	// Reads keep working while the attempt drains.
	status, out, err := r.api.call(ctx, "/action_attempts/get", map[string]any{"action_attempt_id": r.attempt})
	if err != nil || status != http.StatusOK {
		t.Errorf("action_attempts/get while draining: status %d, %v, %v", status, out, err)
	}

	// The default bound is the scaled deadline (3 s) and a second.
	err, exited := r.d.wait(crashDeadline + time.Second + settle)
	switch {
	case !exited:
		t.Fatalf("encoderd still running %v after SIGTERM", crashDeadline+time.Second+settle)
	case err != nil:
		t.Errorf("encoderd exited with %v after a drain, want status 0", err)
	}
	if time.Since(r.called) < crashDeadline {
		t.Errorf("encoderd exited %v after the encode call, before the attempt's deadline (%v): it did not wait for it", time.Since(r.called), crashDeadline)
	}

	// The outcome was recorded before it exited: the next start shows it.
	d := startDaemon(t, "encoderd-restarted.log", r.args...)
	api := newAPIClient(t, d.url, r.api.token)
	status, out, err = api.call(ctx, "/action_attempts/get", map[string]any{"action_attempt_id": r.attempt})
	if err != nil || status != http.StatusOK {
		t.Fatalf("action_attempts/get after the restart: status %d, %v, %v", status, out, err)
	}
	if a, _ := out["action_attempt"].(map[string]any); a["status"] != "error" || errorType(a) != "action_attempt_expired" {
		t.Errorf("after a drained shutdown the attempt is %v, want error action_attempt_expired", a)
	}
}

// TestSIGTERMBound: with --shutdown-grace shorter than the attempt in
// flight needs, encoderd stops at the bound (exit status 1: not every
// attempt finished), the attempt stays pending in the store, and the next
// start on that store resumes it to its terminal status by its deadline.
func TestSIGTERMBound(t *testing.T) {
	if testing.Short() {
		t.Skip("runs encoderd as a process; skipped with -short")
	}
	r := newShutdownRig(t, "--shutdown-grace", "200ms")
	r.d.signal(syscall.SIGTERM)
	err, exited := r.d.wait(settle)
	if !exited {
		t.Fatalf("encoderd still running %v after SIGTERM with --shutdown-grace 200ms", settle)
	}
	if code := exitCode(err); code != exitFail {
		t.Errorf("exit status %d (%v) after the bound passed with an attempt in flight, want %d", code, err, exitFail)
	}

	d := startDaemon(t, "encoderd-restarted.log", r.args...)
	api := newAPIClient(t, d.url, r.api.token)
	final := awaitTerminal(context.Background(), t, api, r.attempt, r.sent.Add(crashDeadline+settle), 0, 0)
	if final != nil && errorType(final) != "action_attempt_expired" {
		t.Errorf("the resumed attempt ended %v, want action_attempt_expired", final)
	}
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if e, ok := err.(interface{ ExitCode() int }); ok {
		return e.ExitCode()
	}
	return -1
}
