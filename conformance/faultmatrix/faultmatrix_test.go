package faultmatrix_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/encoderlab/encoderlab/fixtures"
	"github.com/encoderlab/encoderlab/pipeline/server"
	"github.com/encoderlab/encoderlab/sim"
	"github.com/encoderlab/encoderlab/sim/model"
	"github.com/encoderlab/encoderlab/sim/scenario"
)

// parallel bounds the cases running at once on a small machine.
const parallel = 4

// row is one line of the expectation table in docs/faults.md.
type row struct {
	model, fault, params, phase, status, errorType string
	line                                           int
}

func (r row) name() string { return r.model + "/" + r.fault + "/" + r.params + "/" + r.phase }

// readTable parses the table between the matrix markers.
func readTable(t *testing.T) []row {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "docs", "faults.md"))
	if err != nil {
		t.Fatalf("reading the expectations: %v", err)
	}
	var rows []row
	in := false
	for i, l := range strings.Split(string(data), "\n") {
		switch {
		case strings.Contains(l, "<!-- matrix:begin -->"):
			in = true
			continue
		case strings.Contains(l, "<!-- matrix:end -->"):
			in = false
		}
		if !in || !strings.HasPrefix(l, "|") || strings.HasPrefix(l, "| model") || strings.HasPrefix(l, "| ---") {
			continue
		}
		cells := strings.Split(strings.Trim(l, "|"), "|")
		if len(cells) != 6 {
			t.Fatalf("docs/faults.md:%d: want 6 cells, got %d", i+1, len(cells))
		}
		for j := range cells {
			cells[j] = strings.Trim(strings.TrimSpace(cells[j]), "`")
		}
		r := row{cells[0], cells[1], cells[2], cells[3], cells[4], cells[5], i + 1}
		if r.params == "—" {
			r.params = ""
		}
		if r.errorType == "—" {
			r.errorType = ""
		}
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		t.Fatal("docs/faults.md has no matrix rows")
	}
	return rows
}

// scenarioFor writes the scenario of one row: the model and the phase
// decide the timeline and the fault's window.
func scenarioFor(r row) (string, error) {
	m, ok := model.Lookup(r.model)
	if !ok || m.Faults == nil {
		return "", fmt.Errorf("model %q has no fault phases (model.Model.Faults)", r.model)
	}
	ph := m.Faults
	steps, ok := ph.Steps[r.phase]
	if !ok {
		return "", fmt.Errorf("model %s has no phase %q", r.model, r.phase)
	}
	encoderID := labEncoder(r.model)
	if encoderID == "" {
		return "", fmt.Errorf("the bundled lab has no encoder whose driver is %s", r.model)
	}
	f := "fault: " + r.fault
	if r.params != "" {
		f += ", " + r.params
	}
	if n := ph.From[r.phase]; n > 0 {
		f += fmt.Sprintf(", from_step: %d", n)
	}
	writeTime := ""
	if r.phase == "answer" {
		writeTime = ", write_time: " + ph.WriteTime.String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "name: fault-matrix\nencoder: {model: %s, id: %s%s}\n", r.model, encoderID, writeTime)
	b.WriteString("cards:\n  blank: {tech: mifare-classic-1k, uid: 04B2C3D4E5F6A7}\n")
	b.WriteString("credential: {system: visionline-hotel}\nsteps:\n")
	for _, s := range steps {
		b.WriteString("  - " + s + "\n")
	}
	fmt.Fprintf(&b, "faults:\n  - {%s}\n", f)
	if r.errorType != "" {
		fmt.Fprintf(&b, "expect: {status: %s, error: {type: %s}}\n", r.status, r.errorType)
	} else {
		fmt.Fprintf(&b, "expect: {status: %s}\n", r.status)
	}
	return b.String(), nil
}

func TestFaultMatrix(t *testing.T) {
	rows := readTable(t)
	// Goroutines running before the matrix (the test framework's, an
	// earlier test's idle HTTP connections) are not the matrix's.
	before := goleak.IgnoreCurrent()
	sem := make(chan struct{}, parallel)
	t.Run("cases", func(t *testing.T) {
		for _, r := range rows {
			if r.status == notApplicable {
				continue
			}
			t.Run(r.name(), func(t *testing.T) {
				t.Parallel()
				sem <- struct{}{}
				defer func() { <-sem }()
				runRow(t, r)
			})
		}
	})
	// Every case has closed its encoder and server: each goroutine they
	// started must be gone. The client's idle keep-alive connections are
	// the client's, not the pipeline's.
	http.DefaultClient.CloseIdleConnections()
	goleak.VerifyNone(t, before)
}

// notApplicable is the status of a row for a fault that does not apply
// in that phase; its last cell says why.
const notApplicable = "n/a"

// labEncoder is the display name of the bundled lab's first encoder
// whose driver is the model, "" if none.
func labEncoder(name string) string {
	for _, ws := range fixtures.Bundled().Workspaces {
		for _, e := range ws.Encoders {
			if e.Driver == name {
				return e.DisplayName
			}
		}
	}
	return ""
}

// TestFaultMatrixCoversEveryModel: the table has a row, run or n/a, for
// every registered device model (all but the replay), every fault of the catalogue
// and every phase, and each such model says how its timeline reaches the
// phases; a row names no model, fault or phase that is not there.
func TestFaultMatrixCoversEveryModel(t *testing.T) {
	rows := readTable(t)
	has := map[[3]string]bool{}
	for _, r := range rows {
		if _, ok := model.Lookup(r.model); !ok || r.model == scenario.ReplayModel {
			t.Errorf("docs/faults.md:%d: model %q is no registered device model", r.line, r.model)
		}
		if !slices.Contains(scenario.Faults, r.fault) {
			t.Errorf("docs/faults.md:%d: %q is no fault of the catalogue", r.line, r.fault)
		}
		if !slices.Contains(model.FaultMatrixPhases, r.phase) {
			t.Errorf("docs/faults.md:%d: %q is no phase (%s)", r.line, r.phase, strings.Join(model.FaultMatrixPhases, ", "))
		}
		if r.status == notApplicable && r.errorType == "" {
			t.Errorf("docs/faults.md:%d: an n/a row says why in its last cell", r.line)
		}
		has[[3]string{r.model, r.fault, r.phase}] = true
	}
	for _, name := range model.Names() {
		if name == scenario.ReplayModel {
			continue // the format's own: it plays back what a trace recorded
		}
		m, _ := model.Lookup(name)
		if m.Faults == nil {
			t.Errorf("model %s has no fault phases (model.Model.Faults)", name)
		} else {
			for _, ph := range model.FaultMatrixPhases {
				if _, ok := m.Faults.Steps[ph]; !ok {
					t.Errorf("model %s has no timeline for phase %s", name, ph)
				}
			}
		}
		for _, f := range scenario.Faults {
			for _, ph := range model.FaultMatrixPhases {
				if !has[[3]string{name, f, ph}] {
					t.Errorf("docs/faults.md has no row for model %s, fault %s, phase %s (add its outcome, or n/a and why)", name, f, ph)
				}
			}
		}
	}
}

func runRow(t *testing.T, r row) {
	src, err := scenarioFor(r)
	if err != nil {
		t.Fatalf("docs/faults.md:%d: %v", r.line, err)
	}
	sc, err := scenario.Load(fmt.Sprintf("docs/faults.md:%d", r.line), []byte(src))
	if err != nil {
		t.Fatalf("generated scenario does not load: %v\n%s", err, src)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tmp := t.TempDir()
	links := filepath.Join(tmp, "links")
	if err := os.Mkdir(links, 0o755); err != nil {
		t.Fatal(err)
	}
	m, _ := model.Lookup(r.model)
	scale := m.Faults.Scale
	enc, err := sim.Start(ctx, sc, sim.Options{LinkDir: links, Scale: scale})
	if err != nil {
		t.Fatalf("starting the encoder: %v", err)
	}
	defer enc.Close()
	lab := fixtures.Bundled()
	srv, err := server.Start(ctx, server.Config{
		Lab: lab, LinkDir: links, DBPath: filepath.Join(tmp, "encoderd.db"),
		Addr: "127.0.0.1:0", Scale: scale, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatalf("starting the pipeline: %v", err)
	}
	defer srv.Close()
	api := newClient(t, srv.URL(), lab, sc)

	encoderID := api.encoder(ctx, sc.Encoder.ID)
	credID := api.credential(ctx)

	played := make(chan error, 1)
	playCtx, stopPlay := context.WithCancel(ctx)
	defer stopPlay()
	go func() { played <- enc.Play(playCtx) }()

	// The attempt must end by its deadline (30 s scaled) plus a margin
	// for a loaded machine.
	limit := scale.Of(30*time.Second) + 5*time.Second
	status, errType := api.encode(ctx, encoderID, credID, limit)
	if status != r.status || errType != r.errorType {
		t.Errorf("docs/faults.md:%d: %s %s in phase %s: got %s %q, want %s %q",
			r.line, r.model, r.fault, r.phase, status, errType, r.status, r.errorType)
	}

	// The timeline must have ended (or be blocked only on a command the
	// fault kept from arriving): give it a bound, then stop it.
	select {
	case <-played:
	case <-time.After(limit):
		stopPlay()
		<-played
	}

	// The next encode on the same encoder, faults lifted, must succeed.
	enc.LiftFaults()
	if err := enc.Device().Place(enc.Card("blank")); err != nil && !strings.Contains(err.Error(), "already") {
		t.Logf("placing the card again: %v", err)
	}
	status, errType = api.encode(ctx, encoderID, credID, limit)
	if status != "success" {
		t.Errorf("docs/faults.md:%d: the next encode after %s (%s): got %s %q, want success",
			r.line, r.fault, r.phase, status, errType)
	}
}

// client speaks the Seam-compatible API of one workspace.
type client struct {
	t      *testing.T
	base   string
	token  string
	userID string
	sys    *fixtures.System
}

func newClient(t *testing.T, base string, lab *fixtures.Lab, sc *scenario.Scenario) *client {
	for _, ws := range lab.Workspaces {
		for _, e := range ws.Encoders {
			if e.DisplayName != sc.Encoder.ID {
				continue
			}
			sys := ws.System(sc.Credential.System)
			if sys == nil || len(ws.APIKeys) == 0 {
				continue
			}
			u := sys.User(sc.Credential.User)
			if u == nil {
				continue
			}
			return &client{t: t, base: base, token: ws.APIKeys[0], userID: u.ID, sys: sys}
		}
	}
	t.Fatalf("the lab has no workspace for encoder %s and system %s", sc.Encoder.ID, sc.Credential.System)
	return nil
}

func (c *client) post(ctx context.Context, path string, body any) map[string]json.RawMessage {
	c.t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		c.t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(b))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("POST %s: %v", path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatalf("POST %s: %v", path, err)
	}
	var out map[string]json.RawMessage
	if res.StatusCode != http.StatusOK || json.Unmarshal(raw, &out) != nil {
		c.t.Fatalf("POST %s: %d %s", path, res.StatusCode, raw)
	}
	return out
}

func field[T any](t *testing.T, m map[string]json.RawMessage, key string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(m[key], &v); err != nil {
		t.Fatalf("answer field %s: %v", key, err)
	}
	return v
}

func (c *client) encoder(ctx context.Context, name string) string {
	encs := field[[]map[string]any](c.t, c.post(ctx, "/acs/encoders/list", map[string]any{}), "acs_encoders")
	for _, e := range encs {
		if e["display_name"] == name {
			id, _ := e["acs_encoder_id"].(string)
			return id
		}
	}
	c.t.Fatalf("encoder %s is not listed", name)
	return ""
}

func (c *client) credential(ctx context.Context) string {
	req := map[string]any{"acs_user_id": c.userID, "access_method": "card"}
	if c.sys.ExternalType == "visionline_card" {
		req["visionline_metadata"] = map[string]any{"card_function_type": "guest"}
	}
	cred := field[map[string]any](c.t, c.post(ctx, "/acs/credentials/create", req), "acs_credential")
	id, _ := cred["acs_credential_id"].(string)
	return id
}

// encode starts an encode and polls its attempt until it leaves pending,
// failing the test if that takes longer than limit.
func (c *client) encode(ctx context.Context, encoderID, credID string, limit time.Duration) (status, errType string) {
	c.t.Helper()
	a := field[map[string]any](c.t, c.post(ctx, "/acs/encoders/encode_credential",
		map[string]any{"acs_encoder_id": encoderID, "acs_credential_id": credID}), "action_attempt")
	id, _ := a["action_attempt_id"].(string)
	deadline := time.Now().Add(limit)
	for a["status"] == "pending" {
		if time.Now().After(deadline) {
			c.t.Fatalf("attempt %s still pending after %v", id, limit)
		}
		select {
		case <-ctx.Done():
			c.t.Fatal(errors.Join(errors.New("attempt polling"), ctx.Err()))
		case <-time.After(5 * time.Millisecond):
		}
		a = field[map[string]any](c.t, c.post(ctx, "/action_attempts/get", map[string]any{"action_attempt_id": id}), "action_attempt")
	}
	status, _ = a["status"].(string)
	if e, ok := a["error"].(map[string]any); ok {
		errType, _ = e["type"].(string)
		msg, _ := e["message"].(string)
		c.t.Logf("attempt %s: %s %s: %s", id, status, errType, msg)
	}
	return status, errType
}
