package main

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/encoderlab/encoderlab/sim/card"
)

//go:embed web
var webFiles embed.FS

// State is what GET /lab/api/state answers: everything the page shows.
type State struct {
	// Version changes whenever anything below does.
	Version  uint64         `json:"version"`
	APIURL   string         `json:"api_url"`
	Scale    float64        `json:"scale"`
	Deadline string         `json:"attempt_deadline"`
	Encoders []EncoderState `json:"encoders"`
	// Attempts are the action attempts since the lab started, newest first.
	Attempts []attemptView `json:"attempts"`
	// Behaviours and Kinds and Techs are what the desk actions take.
	Behaviours []string          `json:"behaviours"`
	Kinds      []card.Kind       `json:"kinds"`
	Techs      []card.Technology `json:"techs"`
}

// EncoderState is one encoder on the page.
type EncoderState struct {
	Name     string `json:"name"`
	ID       string `json:"acs_encoder_id"`
	Driver   string `json:"driver"`
	System   string `json:"acs_system"`
	SystemID string `json:"acs_system_id"`
	// Mode is "desk", "scenario", "real" (a real port: nothing simulated)
	// or "unavailable" (a virtual encoder this machine cannot run, as
	// Unavailable says).
	Mode        string `json:"mode"`
	Unavailable string `json:"unavailable,omitempty"`
	Scenario    string `json:"scenario,omitempty"`
	Timeline    string `json:"timeline,omitempty"`
	Plugged     bool   `json:"plugged"`
	Link        string `json:"link,omitempty"`
	TTY         string `json:"tty,omitempty"`
	// Cards are a desk's cards on the reader, bottom first; for a
	// scenario, the scenario's cards wherever they are.
	Cards   []CardState `json:"cards"`
	Queued  []string    `json:"queued"`
	Traffic struct {
		BytesIn  int         `json:"bytes_in"`
		BytesOut int         `json:"bytes_out"`
		Frames   int         `json:"frames"`
		Events   []lineEvent `json:"events"`
	} `json:"traffic"`
}

// CardState is one card as the page shows it.
type CardState struct {
	Name   string `json:"name"`
	Tech   string `json:"tech"`
	UID    string `json:"uid"`
	Kind   string `json:"kind"`
	CardID string `json:"card_id,omitempty"`
	Writes int    `json:"writes"`
}

func cardState(c *card.Card) CardState {
	v := c.Contents()
	return CardState{Name: c.Name, Tech: string(c.Tech), UID: c.UID, Kind: string(v.Kind), CardID: v.CardID, Writes: v.Writes}
}

// State returns the lab as the page shows it.
func (l *Lab) State() State {
	l.mu.Lock()
	st := State{Version: l.version, APIURL: l.srv.URL(), Scale: float64(l.cfg.Scale),
		Deadline:   l.cfg.Scale.Of(l.cfg.Deadline).String(),
		Behaviours: Behaviours, Kinds: card.Kinds, Techs: card.Technologies}
	for _, a := range slices.Backward(l.attempts) {
		st.Attempts = append(st.Attempts, *a)
	}
	type pending struct {
		i   int
		sim interface {
			Link() string
			TTY() string
		}
		cards []*card.Card
		e     *encoder
	}
	var tail []pending
	for i, e := range l.encoders {
		es := EncoderState{Name: e.Name, ID: e.ID, Driver: e.Driver, Mode: "desk", Scenario: e.Scenario,
			Timeline: e.timeline, Plugged: e.sim != nil, Queued: append([]string{}, e.queued...), Cards: []CardState{}}
		if e.System != nil {
			es.System, es.SystemID = e.System.Name, e.System.ID
		}
		switch {
		case linkName(e.Port) == "":
			es.Mode = "real"
		case e.unavailable != "":
			es.Mode, es.Unavailable = "unavailable", e.unavailable
		case e.Scenario != "":
			es.Mode = "scenario"
		}
		p := pending{i: i, e: e, cards: slices.Clone(e.cards)}
		if e.sim != nil {
			p.sim = e.sim
			if e.Scenario != "" {
				for _, spec := range e.sim.Scenario().Cards {
					if c := e.sim.Card(spec.Name); c != nil {
						p.cards = append(p.cards, c)
					}
				}
			}
		}
		st.Encoders = append(st.Encoders, es)
		tail = append(tail, p)
	}
	l.mu.Unlock()
	// Cards, ttys and traffic have locks of their own.
	for _, p := range tail {
		es := &st.Encoders[p.i]
		for _, c := range p.cards {
			es.Cards = append(es.Cards, cardState(c))
		}
		if p.sim != nil {
			es.Link, es.TTY = p.sim.Link(), p.sim.TTY()
		}
		t := &p.e.traffic
		t.mu.Lock()
		es.Traffic.BytesIn, es.Traffic.BytesOut, es.Traffic.Frames = t.bytesIn, t.bytesOut, t.frames
		es.Traffic.Events = slices.Clone(t.events)
		t.mu.Unlock()
		if es.Traffic.Events == nil {
			es.Traffic.Events = []lineEvent{}
		}
	}
	return st
}

// handler serves the page, its files and the control API.
func (l *Lab) handler() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(webFiles, "web")
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/lab", http.StatusFound)
	})
	mux.HandleFunc("GET /lab", func(w http.ResponseWriter, r *http.Request) {
		serveFile(w, static, "lab.html")
	})
	mux.HandleFunc("GET /lab/static/{file}", func(w http.ResponseWriter, r *http.Request) {
		serveFile(w, static, r.PathValue("file"))
	})
	mux.HandleFunc("GET /lab/api/state", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, l.State())
	})
	card := func(do func(name string, spec CardSpec) (*card.Card, error)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			var spec CardSpec
			if !readJSON(w, r, &spec) {
				return
			}
			c, err := do(r.PathValue("name"), spec)
			if err != nil {
				writeError(w, err)
				return
			}
			writeJSON(w, http.StatusOK, map[string]any{"card": cardState(c)})
		}
	}
	mux.HandleFunc("POST /lab/api/encoders/{name}/place", card(l.Place))
	mux.HandleFunc("POST /lab/api/encoders/{name}/stack", card(l.Stack))
	mux.HandleFunc("POST /lab/api/encoders/{name}/swap", card(l.Swap))
	mux.HandleFunc("POST /lab/api/encoders/{name}/remove", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Card string `json:"card"`
		}
		if !readJSON(w, r, &body) {
			return
		}
		done(w, l.Remove(r.PathValue("name"), body.Card))
	})
	mux.HandleFunc("POST /lab/api/encoders/{name}/unplug", func(w http.ResponseWriter, r *http.Request) {
		var body struct{}
		if !readJSON(w, r, &body) {
			return
		}
		done(w, l.Unplug(r.PathValue("name")))
	})
	mux.HandleFunc("POST /lab/api/encoders/{name}/behave", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Behaviour string `json:"behaviour"`
			Count     int    `json:"count"`
		}
		if !readJSON(w, r, &body) {
			return
		}
		done(w, l.Queue(r.PathValue("name"), body.Behaviour, body.Count))
	})
	mux.HandleFunc("POST /lab/api/encoders/{name}/encode", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			User string `json:"user"`
		}
		if !readJSON(w, r, &body) {
			return
		}
		out, err := l.Encode(r.Context(), r.PathValue("name"), body.User)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, out)
	})
	return mux
}

func serveFile(w http.ResponseWriter, fsys fs.FS, name string) {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		http.NotFound(w, nil)
		return
	}
	ct := mime.TypeByExtension(name[strings.LastIndexByte(name, '.'):])
	if ct == "" {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(b)
}

// readJSON decodes a POST's JSON body into v. It requires the JSON
// content type, which a page of another origin cannot send without the
// browser asking first, so such a page cannot drive the desks.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		writeJSON(w, http.StatusUnsupportedMediaType, map[string]string{"error": "send the body as JSON, with Content-Type: application/json"})
		return false
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	if err != nil {
		writeError(w, fmt.Errorf("%w: reading the body: %v", ErrBadInput, err))
		return false
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return true
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, fmt.Errorf("%w: %v", ErrBadInput, err))
		return false
	}
	return true
}

func done(w http.ResponseWriter, err error) {
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

func writeError(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrNoEncoder):
		status = http.StatusNotFound
	case errors.Is(err, ErrConflict):
		status = http.StatusConflict
	case errors.Is(err, ErrBadInput):
		status = http.StatusBadRequest
	}
	writeJSON(w, status, map[string]string{"error": err.Error()})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Encoded is what an encode from the page started.
type Encoded struct {
	CredentialID    string `json:"acs_credential_id"`
	ActionAttemptID string `json:"action_attempt_id"`
}

// Encode does what a client would, through the encode API with the
// workspace's first test key: it creates a card credential for the
// encoder's system's user (its key, default the first) and encodes it
// on the encoder.
func (l *Lab) Encode(ctx context.Context, name, userKey string) (*Encoded, error) {
	e := l.byName[name]
	if e == nil {
		return nil, fmt.Errorf("%w %q (the lab has %s)", ErrNoEncoder, name, strings.Join(l.names(), ", "))
	}
	ws := l.cfg.Lab.Workspace(e.WorkspaceID)
	if ws == nil || len(ws.APIKeys) == 0 || e.System == nil || len(e.System.Users) == 0 {
		return nil, fmt.Errorf("%w: %s's workspace has no API key or its system no user", ErrConflict, name)
	}
	user := e.System.Users[0]
	if userKey != "" {
		if user = e.System.User(userKey); user == nil {
			return nil, fmt.Errorf("%w: system %s has no user %q", ErrBadInput, e.System.Key, userKey)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var created struct {
		Credential struct {
			ID string `json:"acs_credential_id"`
		} `json:"acs_credential"`
	}
	if err := l.call(ctx, ws.APIKeys[0], "/acs/credentials/create",
		map[string]string{"acs_user_id": user.ID, "access_method": "card"}, &created); err != nil {
		return nil, err
	}
	var encoded struct {
		Attempt struct {
			ID string `json:"action_attempt_id"`
		} `json:"action_attempt"`
	}
	if err := l.call(ctx, ws.APIKeys[0], "/acs/encoders/encode_credential",
		map[string]string{"acs_credential_id": created.Credential.ID, "acs_encoder_id": e.ID}, &encoded); err != nil {
		return nil, err
	}
	return &Encoded{CredentialID: created.Credential.ID, ActionAttemptID: encoded.Attempt.ID}, nil
}

// call POSTs body to the encode API and decodes a 200 answer into out.
func (l *Lab) call(ctx context.Context, key, path string, body, out any) error {
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.srv.URL()+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: %s answered %d: %s", ErrConflict, path, resp.StatusCode, bytes.TrimSpace(raw))
	}
	return json.Unmarshal(raw, out)
}
