package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/encoderlab/encoderlab/fixtures"
	"github.com/encoderlab/encoderlab/pipeline/seam"
)

// TestMain fails the package's tests if any goroutine outlives them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// waitBound bounds every wait for an outcome; the outcomes themselves
// come by their (scaled) deadlines.
const waitBound = 30 * time.Second

// testScale runs the lab ten times faster than real time: a 3 s attempt
// deadline, a 2 s wait for a card.
const testScale = 0.1

// startLab starts a lab on free ports, closed when the test ends.
func startLab(t *testing.T, play map[string]string) *Lab {
	t.Helper()
	l, err := Start(context.Background(), Config{APIAddr: "127.0.0.1:0", UIAddr: "127.0.0.1:0", Scale: testScale, Play: play})
	if err != nil {
		t.Fatalf("starting the lab: %v", err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("closing the lab: %v", err)
		}
	})
	return l
}

// post sends body as JSON and decodes the answer; it returns the status.
func post(t *testing.T, url, key string, body, out any) int {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("POST %s: decoding %s: %v", url, raw, err)
		}
	}
	return resp.StatusCode
}

// desk runs a desk action through the control API and returns the
// status and the error it answered, if any.
func desk(t *testing.T, l *Lab, name, action string, body any) (int, string) {
	t.Helper()
	var out struct {
		Error string `json:"error"`
	}
	st := post(t, l.UIURL()+"/lab/api/encoders/"+name+"/"+action, "", body, &out)
	return st, out.Error
}

// mustDesk runs a desk action that must succeed.
func mustDesk(t *testing.T, l *Lab, name, action string, body any) {
	t.Helper()
	if st, msg := desk(t, l, name, action, body); st != http.StatusOK {
		t.Fatalf("%s %s: status %d: %s", action, name, st, msg)
	}
}

// encode creates a card credential for the first user of the encoder's
// system and encodes it on the encoder, as a client does, through the
// encode API; it waits for the attempt's terminal status.
func encode(t *testing.T, l *Lab, name string) *seam.ActionAttempt {
	t.Helper()
	ws := fixtures.Bundled().Workspaces[0]
	var fe *fixtures.Encoder
	for _, e := range ws.Encoders {
		if e.DisplayName == name {
			fe = e
		}
	}
	if fe == nil {
		t.Fatalf("the bundled lab has no encoder %s", name)
	}
	key := ws.APIKeys[0]
	var created struct {
		Credential *seam.Credential `json:"acs_credential"`
	}
	if st := post(t, l.APIURL()+"/acs/credentials/create", key, map[string]string{
		"acs_user_id": ws.System(fe.System).Users[0].ID, "access_method": "card",
	}, &created); st != http.StatusOK {
		t.Fatalf("credentials/create: status %d", st)
	}
	var out struct {
		Attempt *seam.ActionAttempt `json:"action_attempt"`
	}
	if st := post(t, l.APIURL()+"/acs/encoders/encode_credential", key, map[string]string{
		"acs_credential_id": created.Credential.ACSCredentialID, "acs_encoder_id": fe.ID,
	}, &out); st != http.StatusOK {
		t.Fatalf("encode_credential on %s: status %d", name, st)
	}
	return waitAttempt(t, l, key, out.Attempt.ActionAttemptID)
}

// waitAttempt polls action_attempts/get until the attempt is terminal.
func waitAttempt(t *testing.T, l *Lab, key, id string) *seam.ActionAttempt {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	limit := time.After(waitBound)
	for {
		var out struct {
			Attempt *seam.ActionAttempt `json:"action_attempt"`
		}
		if st := post(t, l.APIURL()+"/action_attempts/get", key, map[string]string{"action_attempt_id": id}, &out); st != http.StatusOK {
			t.Fatalf("action_attempts/get: status %d", st)
		}
		if out.Attempt.Status != seam.StatusPending {
			return out.Attempt
		}
		select {
		case <-tick.C:
		case <-limit:
			t.Fatalf("action attempt %s still pending after %v", id, waitBound)
		}
	}
}

// state reads GET /lab/api/state.
func state(t *testing.T, l *Lab) State {
	t.Helper()
	resp, err := http.Get(l.UIURL() + "/lab/api/state")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st State
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

func encoderState(t *testing.T, st State, name string) EncoderState {
	t.Helper()
	for _, e := range st.Encoders {
		if e.Name == name {
			return e
		}
	}
	t.Fatalf("the state has no encoder %s", name)
	return EncoderState{}
}

func wantOutcome(t *testing.T, name string, a *seam.ActionAttempt, status, errorType string) {
	t.Helper()
	got := a.Status
	if a.Error != nil {
		got += "/" + a.Error.Type
	}
	want := status
	if errorType != "" {
		want += "/" + errorType
	}
	if got != want {
		t.Fatalf("encode on %s ended %s (%+v), want %s", name, got, a.Error, want)
	}
}

// TestDeskEncode: a blank card placed on a desk through the control API
// is the card an encode through the API writes; the lab's state shows
// the card written, the attempt's success with that card and the
// line's traffic.
func TestDeskEncode(t *testing.T) {
	l := startLab(t, nil)
	var placed struct {
		Card CardState `json:"card"`
	}
	if st := post(t, l.UIURL()+"/lab/api/encoders/front-desk-1/place", "", map[string]string{"kind": "blank"}, &placed); st != http.StatusOK {
		t.Fatalf("place: status %d", st)
	}
	a := encode(t, l, "front-desk-1")
	wantOutcome(t, "front-desk-1", a, seam.StatusSuccess, "")
	if a.Result.CardNumber == nil || *a.Result.CardNumber != placed.Card.UID {
		t.Errorf("card_number %v, want the placed card's UID %s", a.Result.CardNumber, placed.Card.UID)
	}

	st := state(t, l)
	e := encoderState(t, st, "front-desk-1")
	if len(e.Cards) != 1 || e.Cards[0].Kind != "guest" || e.Cards[0].Writes != 1 || e.Cards[0].UID != placed.Card.UID {
		t.Errorf("front-desk-1's cards after the encode: %+v, want the placed card, written once with a guest credential", e.Cards)
	}
	if len(st.Attempts) != 1 || st.Attempts[0].ID != a.ActionAttemptID || st.Attempts[0].Status != seam.StatusSuccess ||
		st.Attempts[0].Encoder != "front-desk-1" || st.Attempts[0].CardNumber != placed.Card.UID {
		t.Errorf("attempts in the state: %+v, want %s on front-desk-1, success with card %s", st.Attempts, a.ActionAttemptID, placed.Card.UID)
	}
	if e.Traffic.BytesIn == 0 || e.Traffic.BytesOut == 0 || e.Traffic.Frames == 0 {
		t.Errorf("front-desk-1's traffic: %d bytes in, %d out, %d frames; want some of each", e.Traffic.BytesIn, e.Traffic.BytesOut, e.Traffic.Frames)
	}
	var sawCN bool
	for _, ev := range e.Traffic.Events {
		for _, f := range ev.Frames {
			sawCN = sawCN || strings.HasPrefix(f, "CN")
		}
	}
	if !sawCN {
		t.Errorf("front-desk-1's line events show no CN frame: %+v", e.Traffic.Events)
	}
	if e.Mode != "desk" || !e.Plugged || e.Link == "" {
		t.Errorf("front-desk-1: mode %q, plugged %v, link %q; want a plugged-in desk with a link", e.Mode, e.Plugged, e.Link)
	}
}

// TestDeskActions: each desk action does what it says to the reader, and
// is refused, saying why, where the device could not do it.
func TestDeskActions(t *testing.T) {
	l := startLab(t, map[string]string{"front-desk-2": "empty-reader"})
	cards := func(name string) []CardState { return encoderState(t, state(t, l), name).Cards }

	refusals := []struct {
		name, action string
		body         any
		status       int
		says         string
	}{
		{"front-desk-1", "remove", map[string]string{}, http.StatusConflict, "reader is empty"},
		{"front-desk-1", "stack", map[string]string{}, http.StatusConflict, "place a card first"},
		{"front-desk-2", "place", map[string]string{}, http.StatusConflict, "plays the scenario empty-reader"},
		{"no-such-desk", "place", map[string]string{}, http.StatusNotFound, "the lab has front-desk-1"},
		{"front-desk-1", "place", map[string]string{"kind": "gold"}, http.StatusBadRequest, `kind "gold"`},
		{"front-desk-1", "place", map[string]string{"tech": "floppy"}, http.StatusBadRequest, `tech "floppy"`},
		{"front-desk-1", "place", map[string]string{"uid": "XYZ"}, http.StatusBadRequest, "uid"},
		{"front-desk-1", "place", map[string]string{"colour": "red"}, http.StatusBadRequest, "colour"},
		{"front-desk-1", "behave", map[string]any{"behaviour": "sulk"}, http.StatusBadRequest, "busy, nak, garble, silent"},
	}
	for _, r := range refusals {
		st, msg := desk(t, l, r.name, r.action, r.body)
		if st != r.status || !strings.Contains(msg, r.says) {
			t.Errorf("%s %s %v: %d %q, want %d saying %q", r.action, r.name, r.body, st, msg, r.status, r.says)
		}
	}
	// Without the JSON content type, as a form of another site would post.
	resp, err := http.Post(l.UIURL()+"/lab/api/encoders/front-desk-1/place", "text/plain", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("a place without Content-Type: application/json: %d, want 415", resp.StatusCode)
	}

	// PMS: one card at a time.
	mustDesk(t, l, "front-desk-1", "place", map[string]string{"kind": "staff", "uid": "04a1b2c3d4e5f6"})
	if st, msg := desk(t, l, "front-desk-1", "place", map[string]string{}); st != http.StatusConflict || !strings.Contains(msg, "already has card-1") {
		t.Errorf("a second place on front-desk-1: %d %q, want 409 naming card-1", st, msg)
	}
	if st, msg := desk(t, l, "front-desk-1", "stack", map[string]string{}); st != http.StatusConflict || !strings.Contains(msg, "PN532") {
		t.Errorf("stack on the PMS front-desk-1: %d %q, want 409 saying stacking is a PN532 case", st, msg)
	}
	if c := cards("front-desk-1"); len(c) != 1 || c[0].Kind != "staff" || c[0].UID != "04A1B2C3D4E5F6" || c[0].CardID == "" {
		t.Errorf("front-desk-1 holds %+v, want the staff card 04A1B2C3D4E5F6 with a card id", c)
	}
	// The staff card must not be overwritten.
	wantOutcome(t, "front-desk-1", encode(t, l, "front-desk-1"), seam.StatusError, "credential_cannot_be_reissued")
	mustDesk(t, l, "front-desk-1", "swap", map[string]string{"kind": "foreign"})
	if c := cards("front-desk-1"); len(c) != 1 || c[0].Kind != "foreign" || c[0].Name != "card-2" {
		t.Errorf("after the swap front-desk-1 holds %+v, want card-2, a foreign card, alone", c)
	}
	mustDesk(t, l, "front-desk-1", "remove", map[string]string{})
	if c := cards("front-desk-1"); len(c) != 0 {
		t.Errorf("after the remove front-desk-1 holds %+v, want nothing", c)
	}

	// PN532: stacked cards are seen, and neither is written.
	mustDesk(t, l, "nfc-desk-1", "place", map[string]string{})
	mustDesk(t, l, "nfc-desk-1", "stack", map[string]string{"kind": "guest"})
	if c := cards("nfc-desk-1"); len(c) != 2 || c[0].Kind != "blank" || c[1].Kind != "guest" {
		t.Errorf("nfc-desk-1 holds %+v, want a blank card under a guest card", c)
	}
	wantOutcome(t, "nfc-desk-1", encode(t, l, "nfc-desk-1"), seam.StatusError, "uncategorized_error")
	if c := cards("nfc-desk-1"); len(c) != 2 || c[0].Writes != 0 || c[1].Writes != 0 {
		t.Errorf("stacked cards written: %+v, want neither", c)
	}
	mustDesk(t, l, "nfc-desk-1", "remove", map[string]string{"card": "card-2"})
	wantOutcome(t, "nfc-desk-1", encode(t, l, "nfc-desk-1"), seam.StatusSuccess, "")

	// Unplugged for good: the link goes away, and the desk takes no more actions.
	link := encoderState(t, state(t, l), "station-desk").Link
	mustDesk(t, l, "station-desk", "unplug", struct{}{})
	e := encoderState(t, state(t, l), "station-desk")
	if e.Plugged {
		t.Errorf("station-desk still plugged in after unplug")
	}
	if _, err := os.Lstat(link); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("station-desk's link %s after unplug: %v, want it gone", link, err)
	}
	if st, msg := desk(t, l, "station-desk", "place", map[string]string{}); st != http.StatusConflict || !strings.Contains(msg, "unplugged") {
		t.Errorf("place on the unplugged station-desk: %d %q, want 409 saying it is unplugged", st, msg)
	}
	if a := encode(t, l, "station-desk"); a.Status != seam.StatusError {
		t.Errorf("an encode on the unplugged station-desk ended %s, want error", a.Status)
	}
}

// TestQueuedBehaviours: a behaviour queued on a desk applies to its next
// command: busy once, and the driver's retry writes the card; silent
// until that attempt ends, after which the desk answers again.
func TestQueuedBehaviours(t *testing.T) {
	l := startLab(t, nil)
	dev := l.byName["front-desk-1"].sim.Device()

	mustDesk(t, l, "front-desk-1", "place", map[string]string{})
	mustDesk(t, l, "front-desk-1", "behave", map[string]any{"behaviour": "busy", "count": 1})
	if q := encoderState(t, state(t, l), "front-desk-1").Queued; len(q) != 1 || q[0] != "busy×1" {
		t.Errorf("queued on front-desk-1: %v, want [busy×1]", q)
	}
	wantOutcome(t, "front-desk-1", encode(t, l, "front-desk-1"), seam.StatusSuccess, "")
	if n := dev.Count("encode"); n != 2 {
		t.Errorf("front-desk-1 took %d encode commands, want 2 (busy, then the retry)", n)
	}
	if q := encoderState(t, state(t, l), "front-desk-1").Queued; len(q) != 0 {
		t.Errorf("still queued after the attempt ended: %v", q)
	}

	mustDesk(t, l, "front-desk-1", "swap", map[string]string{})
	mustDesk(t, l, "front-desk-1", "behave", map[string]any{"behaviour": "silent"})
	wantOutcome(t, "front-desk-1", encode(t, l, "front-desk-1"), seam.StatusError, "uncategorized_error")
	wantOutcome(t, "front-desk-1", encode(t, l, "front-desk-1"), seam.StatusSuccess, "")
}

// TestPlay: an encoder given a scenario plays it under its own name,
// a bundled scenario for another encoder id included, while the other
// encoders stay desks; a scenario of another model, or for an encoder
// the lab does not have, is refused before anything starts.
func TestPlay(t *testing.T) {
	l := startLab(t, map[string]string{"front-desk-2": "empty-reader", "nfc-station-desk": "pn532-first-issue"})
	wantOutcome(t, "front-desk-2", encode(t, l, "front-desk-2"), seam.StatusError, "no_credential_on_encoder")
	st := state(t, l)
	if e := encoderState(t, st, "front-desk-2"); e.Mode != "scenario" || e.Scenario != "empty-reader" || filepath.Base(e.Link) != "front-desk-2" {
		t.Errorf("front-desk-2: mode %q, scenario %q, link %q; want empty-reader played at its own link", e.Mode, e.Scenario, e.Link)
	}
	if e := encoderState(t, st, "front-desk-1"); e.Mode != "desk" {
		t.Errorf("front-desk-1 is %q, want a desk", e.Mode)
	}
	// pn532-first-issue is written for nfc-desk-1; played as nfc-station-desk
	// its blank card is that encoder's.
	a := encode(t, l, "nfc-station-desk")
	wantOutcome(t, "nfc-station-desk", a, seam.StatusSuccess, "")

	for _, tc := range []struct {
		play map[string]string
		want string
	}{
		{map[string]string{"nfc-desk-1": "empty-reader"}, "the scenario is for a pms encoder, nfc-desk-1 is pn532"},
		{map[string]string{"back-office": "empty-reader"}, `the lab has no encoder "back-office"`},
		{map[string]string{"front-desk-1": "no-such-scenario"}, `no bundled scenario "no-such-scenario"`},
	} {
		_, err := Start(context.Background(), Config{APIAddr: "127.0.0.1:0", UIAddr: "127.0.0.1:0", Scale: testScale, Play: tc.play})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Start with --play %v: %v, want an error saying %q", tc.play, err, tc.want)
		}
	}
}
