package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/fixtures"
	"github.com/encoderlab/encoderlab/pipeline/driver"
	"github.com/encoderlab/encoderlab/pipeline/seam"
	"github.com/encoderlab/encoderlab/pipeline/server"
	"github.com/encoderlab/encoderlab/sim/pty"
	"github.com/encoderlab/encoderlab/timescale"
)

const waitBound = 20 * time.Second

// client calls a server's API as one workspace.
type client struct {
	t     *testing.T
	url   string
	token string
}

// call POSTs body to path and decodes the JSON answer into out; it returns
// the HTTP status.
func (c *client) call(path string, body, out any) int {
	c.t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		c.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url+path, bytes.NewReader(b))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("POST %s: reading body: %v", path, err)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			c.t.Fatalf("POST %s: decoding %s: %v", path, raw, err)
		}
	}
	return resp.StatusCode
}

// waitAttempt polls /action_attempts/get until the attempt leaves pending.
func (c *client) waitAttempt(id string) *seam.ActionAttempt {
	c.t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	limit := time.After(waitBound)
	for {
		var out struct {
			ActionAttempt *seam.ActionAttempt `json:"action_attempt"`
		}
		if st := c.call("/action_attempts/get", map[string]string{"action_attempt_id": id}, &out); st != http.StatusOK {
			c.t.Fatalf("/action_attempts/get: status %d", st)
		}
		if out.ActionAttempt.Status != seam.StatusPending {
			return out.ActionAttempt
		}
		select {
		case <-tick.C:
		case <-limit:
			c.t.Fatalf("action attempt %s still pending after %v", id, waitBound)
		}
	}
}

// createCard creates a card credential for the guest of the bundled
// lab's Visionline system in workspace ws.
func (c *client) createCard(ws *fixtures.Workspace) *seam.Credential {
	c.t.Helper()
	var created struct {
		Credential *seam.Credential `json:"acs_credential"`
	}
	if st := c.call("/acs/credentials/create", map[string]string{
		"acs_user_id": ws.System("visionline-hotel").User("guest").ID, "access_method": "card",
	}, &created); st != http.StatusOK {
		c.t.Fatalf("/acs/credentials/create: status %d", st)
	}
	return created.Credential
}

func (c *client) encode(credentialID, encoderID string) *seam.ActionAttempt {
	c.t.Helper()
	var out struct {
		ActionAttempt *seam.ActionAttempt `json:"action_attempt"`
	}
	if st := c.call("/acs/encoders/encode_credential",
		map[string]string{"acs_credential_id": credentialID, "acs_encoder_id": encoderID}, &out); st != http.StatusOK {
		c.t.Fatalf("encode_credential: status %d", st)
	}
	if out.ActionAttempt == nil || out.ActionAttempt.Status != seam.StatusPending {
		c.t.Fatalf("encode_credential answered %+v, want a pending attempt", out.ActionAttempt)
	}
	return out.ActionAttempt
}

func start(t *testing.T, cfg server.Config) *server.Server {
	t.Helper()
	srv, err := server.Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return srv
}

func testConfig(t *testing.T) server.Config {
	return server.Config{
		LinkDir: t.TempDir(), // no virtual encoders there: every port is missing
		DBPath:  filepath.Join(t.TempDir(), "encoderd.db"),
		Addr:    "127.0.0.1:0",
		Scale:   0.01,
		Logger:  slog.New(slog.NewTextHandler(t.Output(), nil)),
	}
}

func TestServeEncodesAndSurvivesRestart(t *testing.T) {
	cfg := testConfig(t)
	lab := fixtures.Bundled()
	ws := lab.Workspaces[0]
	srv := start(t, cfg)
	if !strings.HasPrefix(srv.URL(), "http://127.0.0.1:") {
		t.Fatalf("URL() = %q", srv.URL())
	}
	if srv.DBPath() != cfg.DBPath {
		t.Errorf("DBPath() = %q, want %q", srv.DBPath(), cfg.DBPath)
	}
	encs := srv.Encoders()
	if len(encs) != len(ws.Encoders) {
		t.Fatalf("Encoders() lists %d, want %d", len(encs), len(ws.Encoders))
	}
	for i, e := range encs {
		want := ws.Encoders[i]
		if port := filepath.Join(cfg.LinkDir, want.DisplayName); e.Port != port || e.Driver != want.Driver {
			t.Errorf("encoder %s: port %q driver %q, want %q %s", e.DisplayName, e.Port, e.Driver, port, want.Driver)
		}
	}
	c := &client{t: t, url: srv.URL(), token: ws.APIKeys[0]}

	var listed struct {
		Encoders []seam.Encoder `json:"acs_encoders"`
	}
	if st := c.call("/acs/encoders/list", map[string]string{}, &listed); st != http.StatusOK || len(listed.Encoders) != len(ws.Encoders) {
		t.Fatalf("/acs/encoders/list: status %d, %d encoders; want 200 and %d", st, len(listed.Encoders), len(ws.Encoders))
	}

	sys := ws.System("visionline-hotel")
	var created struct {
		Credential *seam.Credential `json:"acs_credential"`
	}
	if st := c.call("/acs/credentials/create",
		map[string]string{"acs_user_id": sys.Users[0].ID, "access_method": "card"}, &created); st != http.StatusOK {
		t.Fatalf("/acs/credentials/create: status %d", st)
	}
	credID := created.Credential.ACSCredentialID
	frontDesk := fixtures.EncoderID(ws.ID, "front-desk-1")

	// No virtual encoder is running: the port cannot be opened.
	failed := c.waitAttempt(c.encode(credID, frontDesk).ActionAttemptID)
	if failed.Status != seam.StatusError || failed.Error.Type != seam.ErrUncategorized ||
		!strings.Contains(failed.Error.Message, "cannot be opened") {
		t.Fatalf("encode without a device ended %s %+v, want uncategorized_error saying the port cannot be opened",
			failed.Status, failed.Error)
	}

	if st := c.call("/acs/encoders/simulate/next_credential_encode_will_succeed",
		map[string]string{"acs_encoder_id": frontDesk}, nil); st != http.StatusOK {
		t.Fatalf("simulate success: status %d", st)
	}
	ok := c.waitAttempt(c.encode(credID, frontDesk).ActionAttemptID)
	if ok.Status != seam.StatusSuccess || ok.Result.CardNumber == nil {
		t.Fatalf("simulated encode ended %s %+v, want success with a card number", ok.Status, ok.Error)
	}

	// A restart on the same database keeps credentials and attempts.
	if err := srv.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	srv2 := start(t, cfg)
	c.url = srv2.URL()
	again := c.waitAttempt(ok.ActionAttemptID)
	if again.Status != seam.StatusSuccess || *again.Result.CardNumber != *ok.Result.CardNumber {
		t.Errorf("after restart the attempt is %s %+v, want the same success", again.Status, again.Error)
	}
	var got struct {
		Credential *seam.Credential `json:"acs_credential"`
	}
	if st := c.call("/acs/credentials/get", map[string]string{"acs_credential_id": credID}, &got); st != http.StatusOK ||
		got.Credential.IsIssued == nil || !*got.Credential.IsIssued {
		t.Errorf("after restart the credential is %+v (status %d), want it issued", got.Credential, st)
	}
}

func TestStartRejectsUnknownDriver(t *testing.T) {
	cfg := testConfig(t)
	cfg.Lab = fixtures.Bundled()
	cfg.Lab.Workspaces[0].Encoders[1].Driver = "magstripe"
	srv, err := server.Start(context.Background(), cfg)
	if err == nil {
		srv.Close()
		t.Fatal("Start accepted an encoder with an unknown driver")
	}
	for _, want := range []string{"front-desk-2", `"magstripe"`, "pms"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q should mention %s", err, want)
		}
	}
}

// fixedCard is a driver that reports the same card without a word on the
// line, so a test can tell its encodes from the built-in driver's.
type fixedCard struct{ number string }

func (d fixedCard) Encode(_ context.Context, _ driver.Port, job driver.Job) (driver.Card, error) {
	return driver.Card{Number: d.number, Technology: "mifare-classic-1k", CardID: job.CardID}, nil
}

func TestDriversAddToTheBuiltIns(t *testing.T) {
	cfg := testConfig(t)
	cfg.Lab = fixtures.Bundled()
	ws := cfg.Lab.Workspaces[0]
	ws.Encoders[1].Driver = "vendor"
	var scale timescale.Scale
	cfg.Drivers = map[string]func(timescale.Scale) driver.Driver{
		"vendor": func(s timescale.Scale) driver.Driver { scale = s; return fixedCard{"04VEND0R000001"} },
	}
	// The encoder's port must open for its driver to be called: a pty
	// stands in for the device.
	line, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { line.Close() })
	if err := line.Link(filepath.Join(cfg.LinkDir, ws.Encoders[1].DisplayName)); err != nil {
		t.Fatal(err)
	}

	srv := start(t, cfg)
	if scale != cfg.Scale {
		t.Errorf("the vendor driver was built for scale %v, want the server's %v", scale, cfg.Scale)
	}
	drivers := map[string]string{}
	for _, e := range srv.Encoders() {
		drivers[e.DisplayName] = e.Driver
	}
	if drivers["front-desk-1"] != "pms" || drivers["front-desk-2"] != "vendor" {
		t.Fatalf("encoder drivers %v; want front-desk-1 on the built-in pms and front-desk-2 on vendor", drivers)
	}

	c := &client{t: t, url: srv.URL(), token: ws.APIKeys[0]}
	var created struct {
		Credential *seam.Credential `json:"acs_credential"`
	}
	if st := c.call("/acs/credentials/create",
		map[string]string{"acs_user_id": ws.System("vostio-hotel").Users[0].ID, "access_method": "card"}, &created); st != http.StatusOK {
		t.Fatalf("/acs/credentials/create: status %d", st)
	}
	done := c.waitAttempt(c.encode(created.Credential.ACSCredentialID, fixtures.EncoderID(ws.ID, "front-desk-2")).ActionAttemptID)
	if done.Status != seam.StatusSuccess || done.Result.CardNumber == nil || *done.Result.CardNumber != "04VEND0R000001" {
		t.Fatalf("encode on the vendor driver ended %s %+v %+v, want success with card 04VEND0R000001",
			done.Status, done.Error, done.Result)
	}
}

func TestStartRejectsDriverWithoutConstructor(t *testing.T) {
	cfg := testConfig(t)
	cfg.Drivers = map[string]func(timescale.Scale) driver.Driver{"vendor": nil}
	if srv, err := server.Start(context.Background(), cfg); err == nil {
		srv.Close()
		t.Fatal("Start accepted a driver without a constructor")
	} else if !strings.Contains(err.Error(), `"vendor"`) {
		t.Errorf("error %q should name the driver", err)
	}
}

func TestStartRejectsBadSettings(t *testing.T) {
	for name, mutate := range map[string]func(*server.Config){
		"scale":         func(c *server.Config) { c.Scale = -1 },
		"deadline":      func(c *server.Config) { c.AttemptDeadline = -time.Second },
		"address":       func(c *server.Config) { c.Addr = "127.0.0.1:not-a-port" },
		"database":      func(c *server.Config) { c.DBPath = filepath.Join(t.TempDir(), "missing-dir", "x.db") },
		"read timeout":  func(c *server.Config) { c.ReadTimeout = -time.Second },
		"write timeout": func(c *server.Config) { c.WriteTimeout = -time.Second },
		"idle timeout":  func(c *server.Config) { c.IdleTimeout = -time.Second },
		"max conns":     func(c *server.Config) { c.MaxConns = -1 },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := testConfig(t)
			mutate(&cfg)
			if srv, err := server.Start(context.Background(), cfg); err == nil {
				srv.Close()
				t.Fatal("Start accepted the config")
			}
		})
	}
}

func TestURLOnEveryInterface(t *testing.T) {
	cfg := testConfig(t)
	cfg.Addr = ":0"
	srv := start(t, cfg)
	if !strings.HasPrefix(srv.URL(), "http://127.0.0.1:") {
		t.Errorf("URL() = %q, want the loopback address", srv.URL())
	}
	resp, err := http.Get(srv.URL() + "/acs/encoders/list")
	if err != nil {
		t.Fatalf("GET through URL(): %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET without a token: status %d, want 401", resp.StatusCode)
	}
}

func TestDisplayStoreHidesPasswords(t *testing.T) {
	for in, want := range map[string]string{
		"encoderd.db": "encoderd.db",
		"postgres://encoderd:s3cret@db.internal/e":      "postgres://encoderd:xxxxx@db.internal/e",
		"postgresql://encoderd:s3cret@db.internal/e":    "postgresql://encoderd:xxxxx@db.internal/e",
		"postgres://db.internal/e?password=s3cret&x=1":  "postgres://db.internal/e?password=xxxxx&x=1",
		"postgres://encoderd@db.internal/e":             "postgres://encoderd@db.internal/e",
		"postgres://encoderd:s3cret@db.internal:bad/e%": "a PostgreSQL URL that does not parse",
	} {
		if got := server.DisplayStore(in); got != want {
			t.Errorf("DisplayStore(%q) = %q, want %q", in, got, want)
		}
	}
}
