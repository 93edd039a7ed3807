package server_test

import (
	"context"
	"sync"
	"testing"

	"github.com/encoderlab/encoderlab/fixtures"
	"github.com/encoderlab/encoderlab/pipeline/seam"
	"github.com/encoderlab/encoderlab/pipeline/store"
	"github.com/encoderlab/encoderlab/scenarios"
	"github.com/encoderlab/encoderlab/sim"
)

// TestEncodeOnAVirtualEncoder runs the whole chain: HTTP API, attempt
// worker, PMS driver, serial port, pty, and the virtual encoder playing
// the bundled first-issue scenario (a blank card waits on front-desk-1).
func TestEncodeOnAVirtualEncoder(t *testing.T) {
	cfg := testConfig(t)
	// Fast, yet with room for a loaded machine: a 3 s attempt deadline.
	cfg.Scale = 0.1
	sc, err := scenarios.Load("first-issue")
	if err != nil {
		t.Fatalf("loading scenario: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	enc, err := sim.Start(ctx, sc, sim.Options{LinkDir: cfg.LinkDir, Scale: cfg.Scale})
	if err != nil {
		t.Fatalf("starting the virtual encoder: %v", err)
	}
	played := make(chan error, 1)
	go func() { played <- enc.Play(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-played
		if err := enc.Close(); err != nil {
			t.Errorf("closing the virtual encoder: %v", err)
		}
	})

	var (
		mu   sync.Mutex
		seen []store.Attempt
	)
	cfg.Attempts = func(a store.Attempt) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, a)
	}
	srv := start(t, cfg)
	ws := fixtures.Bundled().Workspaces[0]
	c := &client{t: t, url: srv.URL(), token: ws.APIKeys[0]}
	cred := c.createCard(ws)

	a := c.waitAttempt(c.encode(cred.ACSCredentialID, fixtures.EncoderID(ws.ID, "front-desk-1")).ActionAttemptID)
	if a.Status != seam.StatusSuccess {
		t.Fatalf("encode ended %s %+v, want success", a.Status, a.Error)
	}
	if a.Result.CardNumber == nil || *a.Result.CardNumber != "04A1B2C3D4E5F6" {
		t.Errorf("card_number %v, want the blank card's UID 04A1B2C3D4E5F6", a.Result.CardNumber)
	}

	// Config.Attempts saw the attempt created pending, then finished as
	// the API answered, on front-desk-1.
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 || seen[0].Status != seam.StatusPending || seen[1].Status != seam.StatusSuccess {
		t.Fatalf("Config.Attempts saw %+v, want the attempt pending, then success", seen)
	}
	for i, o := range seen {
		if o.ID != a.ActionAttemptID || o.EncoderID != fixtures.EncoderID(ws.ID, "front-desk-1") {
			t.Errorf("Config.Attempts call %d: attempt %s on encoder %s, want %s on front-desk-1", i, o.ID, o.EncoderID, a.ActionAttemptID)
		}
	}
}
