package server_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/encoderlab/encoderlab/fixtures"
	"github.com/encoderlab/encoderlab/scenarios"
	"github.com/encoderlab/encoderlab/sim"
	"github.com/encoderlab/encoderlab/timescale"
)

// lockedBuffer is a log sink the server's goroutines may write to while
// the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startSim runs a bundled scenario's encoder under dir at scale.
func startSim(t *testing.T, name, dir string, scale timescale.Scale) {
	t.Helper()
	sc, err := scenarios.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := sim.Start(context.Background(), sc, sim.Options{LinkDir: dir, Scale: scale})
	if err != nil {
		t.Fatalf("starting the virtual encoder: %v", err)
	}
	t.Cleanup(func() {
		if err := enc.Close(); err != nil {
			t.Errorf("closing the virtual encoder: %v", err)
		}
	})
}

// TestWarnsOfAnotherTimeScale: a simulator and a server started apart on
// different time scales disagree on every wait (an empty reader ends
// action_attempt_expired instead of no_credential_on_encoder), so the
// server says so, naming the encoder and both scales: at start for a
// simulator already up, and when it opens a link whose simulator came
// later. Each mismatch is told once; matching scales say nothing.
func TestWarnsOfAnotherTimeScale(t *testing.T) {
	const warning = "time scale mismatch"

	t.Run("simulator up before the server", func(t *testing.T) {
		cfg := testConfig(t)
		var logs lockedBuffer
		cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		startSim(t, "empty-reader", cfg.LinkDir, timescale.Real)
		start(t, cfg) // at 0.01
		got := logs.String()
		for _, want := range []string{warning, "encoder front-desk-1's simulator runs at scale 1, this server at 0.01", "--scale", "action_attempt_expired"} {
			if !strings.Contains(got, want) {
				t.Errorf("the server's log does not say %q:\n%s", want, got)
			}
		}
		if n := strings.Count(got, warning); n != 1 {
			t.Errorf("the mismatch was told %d times, want once:\n%s", n, got)
		}
	})

	t.Run("simulator up after the server", func(t *testing.T) {
		cfg := testConfig(t)
		cfg.Scale = 0.1
		var logs lockedBuffer
		cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		srv := start(t, cfg)
		if strings.Contains(logs.String(), warning) {
			t.Fatalf("a warning with no simulator up:\n%s", logs.String())
		}
		startSim(t, "first-issue", cfg.LinkDir, 0.2)
		ws := fixtures.Bundled().Workspaces[0]
		c := &client{t: t, url: srv.URL(), token: ws.APIKeys[0]}
		cred := c.createCard(ws)
		c.waitAttempt(c.encode(cred.ACSCredentialID, fixtures.EncoderID(ws.ID, "front-desk-1")).ActionAttemptID)
		got := logs.String()
		if !strings.Contains(got, "encoder front-desk-1's simulator runs at scale 0.2, this server at 0.1") {
			t.Errorf("opening the link did not warn of the simulator's scale:\n%s", got)
		}
	})

	t.Run("same scale", func(t *testing.T) {
		cfg := testConfig(t)
		var logs lockedBuffer
		cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		startSim(t, "empty-reader", cfg.LinkDir, cfg.Scale)
		start(t, cfg)
		if got := logs.String(); strings.Contains(got, warning) {
			t.Errorf("a warning although both run at %v:\n%s", float64(cfg.Scale), got)
		}
	})
}
