package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/fixtures"
	"github.com/encoderlab/encoderlab/pipeline/api"
	"github.com/encoderlab/encoderlab/pipeline/seam"
	"github.com/encoderlab/encoderlab/pipeline/store/sqlite"
	"github.com/google/uuid"
)

// Fixture values from the bundled lab.
const (
	ws1         = "dc3f2560-2a53-42b3-b9b0-75b0d45d2494"
	ws2         = "af39f843-bc0d-49bd-8526-a9d7a09c4b26"
	key1        = "seam_testlab_1_TESTONLY_not_a_secret"
	key2        = "seam_testlab_2_TESTONLY_not_a_secret"
	pat1        = "seam_at_testlab_1_TESTONLY_not_a_secret"
	visionline1 = "c06acec5-637c-4f55-b057-2658e07ae19b"
	vostio1     = "21798598-6f4d-42fa-8b2a-a26d615b5105"
	guest1      = "92ca4ebd-dc40-44f1-984c-3725071f353b"
	staff1      = "558fe328-ff0f-44f2-814e-d8bcb140ab9b"
	vostioUser1 = "7c43aab7-fc30-4e57-9bcf-7145414ab877"
	guest2      = "0b8f4a52-5a7e-4e0b-9f63-1c1d2e3f4a5b"
)

var (
	frontDesk1 = fixtures.EncoderID(ws1, "front-desk-1")
	frontDesk2 = fixtures.EncoderID(ws1, "front-desk-2")
	nfcDesk1   = fixtures.EncoderID(ws1, "nfc-desk-1")
	pcscDesk1  = fixtures.EncoderID(ws1, "pcsc-desk-1")
	// panicEncoder makes the fake Encoding panic, to exercise recovery.
	panicEncoder = uuid.NewString()
)

var now = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// registry serves the lab's encoders, as the real registry would.
type registry struct{ lab *fixtures.Lab }

func (r registry) Encoders(workspaceID string) []seam.Encoder {
	ws := r.lab.Workspace(workspaceID)
	if ws == nil {
		return nil
	}
	var out []seam.Encoder
	for _, e := range ws.Encoders {
		out = append(out, seam.Encoder{
			ACSEncoderID:       e.ID,
			ACSSystemID:        ws.System(e.System).ID,
			ConnectedAccountID: ws.ConnectedAccountID,
			WorkspaceID:        ws.ID,
			DisplayName:        e.DisplayName,
			CreatedAt:          seam.At(now),
		})
	}
	return out
}

func (r registry) Encoder(workspaceID, encoderID string) (seam.Encoder, bool) {
	for _, e := range r.Encoders(workspaceID) {
		if e.ACSEncoderID == encoderID {
			return e, true
		}
	}
	return seam.Encoder{}, false
}

// encoding records what the API asks of it and answers with pending
// attempts.
type encoding struct {
	encoders registry
	mu       sync.Mutex
	attempts map[string]*seam.ActionAttempt // by workspace/id
	encodes  []string                       // "workspace credential encoder"
	simulate []string                       // "workspace encoder errorType"
}

func (f *encoding) Encode(_ context.Context, ws, cred, enc string) (*seam.ActionAttempt, error) {
	if enc == panicEncoder {
		panic("encoder exploded")
	}
	if _, ok := f.encoders.Encoder(ws, enc); !ok {
		return nil, seam.NotFound("acs_encoder", enc)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	a := &seam.ActionAttempt{ActionAttemptID: uuid.NewString(), ActionType: seam.ActionTypeEncodeCredential, Status: seam.StatusPending}
	f.attempts[ws+"/"+a.ActionAttemptID] = a
	f.encodes = append(f.encodes, ws+" "+cred+" "+enc)
	return a, nil
}

func (f *encoding) Scan(_ context.Context, ws, enc string) (*seam.ActionAttempt, error) {
	if _, ok := f.encoders.Encoder(ws, enc); !ok {
		return nil, seam.NotFound("acs_encoder", enc)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	a := &seam.ActionAttempt{ActionAttemptID: uuid.NewString(), ActionType: seam.ActionTypeScanCredential, Status: seam.StatusPending}
	f.attempts[ws+"/"+a.ActionAttemptID] = a
	return a, nil
}

func (f *encoding) SimulateNextScan(_ context.Context, ws, enc, errorType, scenario, cred string) error {
	if _, ok := f.encoders.Encoder(ws, enc); !ok {
		return seam.NotFound("acs_encoder", enc)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.simulate = append(f.simulate, strings.TrimSpace(strings.Join([]string{ws, enc, "scan", errorType, scenario, cred}, " ")))
	return nil
}

func (f *encoding) Attempt(_ context.Context, ws, id string) (*seam.ActionAttempt, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.attempts[ws+"/"+id]
	if !ok {
		return nil, seam.NotFound("action_attempt", id)
	}
	return a, nil
}

func (f *encoding) SimulateNext(_ context.Context, ws, enc, errorType string) error {
	if _, ok := f.encoders.Encoder(ws, enc); !ok {
		return seam.NotFound("acs_encoder", enc)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.simulate = append(f.simulate, strings.TrimSpace(ws+" "+enc+" "+errorType))
	return nil
}

// end makes the workspace's attempt id end with errorType.
func (f *encoding) end(ws, id, errorType string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := f.attempts[ws+"/"+id]
	a.Status, a.Error = seam.StatusError, &seam.ActionAttemptErr{Type: errorType, Message: "the encode failed: " + errorType}
}

func (f *encoding) calls() (encodes, simulate []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string{}, f.encodes...), append([]string{}, f.simulate...)
}

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type env struct {
	t    *testing.T
	tick atomic.Int64
	srv  *httptest.Server
	enc  *encoding
	logs *syncBuffer
}

// labEncoders is how many encoders the bundled lab's first workspace has.
var labEncoders = len(fixtures.Bundled().Workspaces[0].Encoders)

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, fixtures.Bundled())
}

// newEnvWith serves lab, for tests of what a workspace's profile and
// sandbox setting change.
func newEnvWith(t *testing.T, lab *fixtures.Lab) *env {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "encoderlab.db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	reg := registry{lab}
	e := &env{t: t, enc: &encoding{encoders: reg, attempts: map[string]*seam.ActionAttempt{}}, logs: &syncBuffer{}}
	e.srv = httptest.NewServer(api.New(api.Deps{
		Lab:          lab,
		Store:        st,
		Encoding:     e.enc,
		Encoders:     reg,
		Logger:       slog.New(slog.NewJSONHandler(e.logs, nil)),
		Now:          e.clock,
		MaxBodyBytes: 4096,
	}))
	t.Cleanup(e.srv.Close)
	return e
}

// clock starts at now and moves a second per reading, so records made
// one after another have distinct, ordered creation times.
func (e *env) clock() time.Time {
	return now.Add(time.Duration(e.tick.Add(1)-1) * time.Second)
}

// reply is a decoded answer.
type reply struct {
	status int
	header http.Header
	body   map[string]any
}

// do sends a request and checks what every answer must carry: a fresh
// seam-request-id, a JSON content type, a JSON object body with ok, and
// for errors the Seam envelope naming the same request id.
func (e *env) do(method, path, body string, header map[string]string) reply {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatalf("new request: %v", err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+key1)
	for k, v := range header {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	r := reply{status: resp.StatusCode, header: resp.Header}
	if err := json.Unmarshal(raw, &r.body); err != nil {
		e.t.Fatalf("%s %s: body is not a JSON object: %v: %q", method, path, err, raw)
	}
	rid := resp.Header.Get("seam-request-id")
	if _, err := uuid.Parse(rid); err != nil || len(rid) != 36 {
		e.t.Errorf("%s %s: seam-request-id = %q, want a UUID", method, path, rid)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		e.t.Errorf("%s %s: Content-Type = %q, want application/json", method, path, ct)
	}
	ok := resp.StatusCode == http.StatusOK
	if r.body["ok"] != ok {
		e.t.Errorf("%s %s: status %d with ok = %v", method, path, resp.StatusCode, r.body["ok"])
	}
	if !ok {
		env, _ := r.body["error"].(map[string]any)
		if s, _ := env["type"].(string); s == "" {
			e.t.Errorf("%s %s: error envelope without type: %s", method, path, raw)
		}
		if s, _ := env["message"].(string); s == "" {
			e.t.Errorf("%s %s: error envelope without message: %s", method, path, raw)
		}
		if env["request_id"] != rid {
			e.t.Errorf("%s %s: error request_id = %v, want the header's %s", method, path, env["request_id"], rid)
		}
	}
	return r
}

func (e *env) post(path, body string) reply {
	e.t.Helper()
	return e.do(http.MethodPost, path, body, nil)
}

// wantError checks an error answer's status and type.
func (e *env) wantError(r reply, status int, typ string) {
	e.t.Helper()
	got, _ := r.body["error"].(map[string]any)
	if r.status != status || got["type"] != typ {
		e.t.Errorf("got %d %v, want %d %s (%v)", r.status, got["type"], status, typ, got["message"])
	}
}

// createCard creates a card credential through the API and returns its id.
func (e *env) createCard(key, userID string) string {
	e.t.Helper()
	r := e.do(http.MethodPost, "/acs/credentials/create",
		fmt.Sprintf(`{"acs_user_id": %q, "access_method": "card"}`, userID),
		map[string]string{"Authorization": "Bearer " + key})
	if r.status != http.StatusOK {
		e.t.Fatalf("create credential: %d %v", r.status, r.body)
	}
	c, _ := r.body["acs_credential"].(map[string]any)
	id, _ := c["acs_credential_id"].(string)
	if id == "" {
		e.t.Fatalf("create credential: no id in %v", r.body)
	}
	return id
}

func obj(t *testing.T, m map[string]any, key string) map[string]any {
	t.Helper()
	v, ok := m[key].(map[string]any)
	if !ok {
		t.Fatalf("%s = %#v, want an object", key, m[key])
	}
	return v
}

func list(t *testing.T, m map[string]any, key string) []any {
	t.Helper()
	v, ok := m[key].([]any)
	if !ok {
		t.Fatalf("%s = %#v, want a list", key, m[key])
	}
	return v
}

func want(t *testing.T, m map[string]any, key string, value any) {
	t.Helper()
	got, ok := m[key]
	if !ok {
		t.Errorf("%s: absent, want %#v", key, value)
	} else if got != value {
		t.Errorf("%s = %#v, want %#v", key, got, value)
	}
}
