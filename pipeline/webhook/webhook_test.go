package webhook_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/internal/require"
	"github.com/encoderlab/encoderlab/pipeline/seam"
	"github.com/encoderlab/encoderlab/pipeline/store/sqlite"
	"github.com/encoderlab/encoderlab/pipeline/webhook"
	"github.com/encoderlab/encoderlab/timescale"
)

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" // base64 of 24 bytes

// delivery is one request the receiver got.
type delivery struct {
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
}

// receiver answers 500 to the first fail requests, 200 after.
type receiver struct {
	mu    sync.Mutex
	fail  int
	got   []delivery
	every chan struct{}
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.got = append(rc.got, delivery{Headers: map[string]string{
		"svix-id": r.Header.Get("svix-id"), "svix-timestamp": r.Header.Get("svix-timestamp"), "svix-signature": r.Header.Get("svix-signature"),
	}, Body: string(b)})
	failing := len(rc.got) <= rc.fail
	rc.mu.Unlock()
	rc.every <- struct{}{}
	if failing {
		http.Error(w, "not now", http.StatusInternalServerError)
	}
}

func (rc *receiver) deliveries() []delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]delivery(nil), rc.got...)
}

// deleteEvent stores a credential and deletes it, which records an
// acs_credential.deleted event; it returns the event.
func deleteEvent(t *testing.T, st *sqlite.Store, id string) *seam.Event {
	t.Helper()
	now := seam.At(time.Now())
	c := &seam.Credential{ACSCredentialID: id, WorkspaceID: "ws-1", ACSSystemID: "sys-1", AccessMethod: seam.AccessCard,
		CreatedAt: now, Errors: []seam.CredentialError{}, Warnings: []seam.CredentialWarning{}}
	if err := st.PutCredential(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	e := &seam.Event{EventID: "ev-" + id, EventType: seam.EventCredentialDeleted, WorkspaceID: "ws-1", CreatedAt: now, OccurredAt: now,
		ACSSystemID: "sys-1", ACSCredentialID: id}
	if err := st.DeleteCredential(context.Background(), "ws-1", id, e); err != nil {
		t.Fatal(err)
	}
	return e
}

// setUp opens a store and starts a receiver that fails its first fail
// requests, both closed at the test's end, and returns them with a hook
// that delivers ws-1's events to the receiver.
func setUp(t *testing.T, fail int) (*sqlite.Store, *receiver, webhook.Hook) {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	rc := &receiver{fail: fail, every: make(chan struct{}, 16)}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	return st, rc, webhook.Hook{ID: "hook-1", WorkspaceID: "ws-1", URL: srv.URL, Secret: secret}
}

func wait(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		t.Fatalf("no %s within 30 s", what)
	}
}

// TestDeliveryRetriesAndSurvivesARestart: a receiver that fails twice
// gets the event a third time, on the (scaled) schedule; a dispatcher
// started again on the same store sends nothing delivered again, and
// delivers what was left.
func TestDeliveryRetriesAndSurvivesARestart(t *testing.T) {
	st, rc, hook := setUp(t, 2)
	cfg := webhook.Config{Hooks: []webhook.Hook{hook}, Store: st, Scale: timescale.Scale(0.001)}
	d, err := webhook.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	first := deleteEvent(t, st, "cred-1")
	d.Nudge()
	for i := range 3 {
		wait(t, rc.every, "delivery try "+string(rune('1'+i)))
	}
	got := rc.deliveries()
	for _, dl := range got {
		if dl.Headers["svix-id"] != first.EventID {
			t.Errorf("a try carries svix-id %q, want the event id %s", dl.Headers["svix-id"], first.EventID)
		}
	}
	var body seam.Event
	if err := json.Unmarshal([]byte(got[2].Body), &body); err != nil || body.EventType != seam.EventCredentialDeleted || body.ACSCredentialID != "cred-1" {
		t.Errorf("body %s, %v; want the acs_credential.deleted event of cred-1", got[2].Body, err)
	}
	waitDelivered(t, st, hook)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}

	second := deleteEvent(t, st, "cred-2") // while no dispatcher runs
	d, err = webhook.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	wait(t, rc.every, "the delivery after the restart")
	waitDelivered(t, st, hook)
	if got := rc.deliveries(); got[len(got)-1].Headers["svix-id"] != second.EventID {
		t.Errorf("after the restart the receiver got %s, want %s", got[len(got)-1].Headers["svix-id"], second.EventID)
	}
	select {
	case <-rc.every:
		t.Errorf("a delivered event was sent again: %+v", rc.deliveries())
	case <-time.After(200 * time.Millisecond): // 200 polls at this scale
	}
}

// TestSignaturesVerifyWithSvix hands what the receiver got to Svix's own
// library, an implementation independent of this package.
func TestSignaturesVerifyWithSvix(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		require.Missing(t, "node not found: install Node.js, then make sdk-deps")
	}
	sdk, _ := filepath.Abs("../../.ci/sdk")
	if _, err := os.Stat(filepath.Join(sdk, "node_modules", "svix", "package.json")); err != nil {
		require.Missing(t, "run make sdk-deps to install svix (.ci/sdk/node_modules has no svix)")
	}
	st, rc, hook := setUp(t, 0)
	d, err := webhook.Start(context.Background(), webhook.Config{Hooks: []webhook.Hook{hook}, Store: st, Scale: timescale.Scale(0.001)})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, id := range []string{"cred-a", "cred-b"} {
		deleteEvent(t, st, id)
		d.Nudge()
		wait(t, rc.every, "delivery of "+id)
	}
	var in bytes.Buffer
	got := rc.deliveries()
	for _, dl := range got {
		line, _ := json.Marshal(map[string]any{"secret": secret, "headers": dl.Headers, "body": dl.Body})
		in.Write(append(line, '\n'))
	}
	// One more, tampered with: Svix must refuse it.
	tampered := got[0]
	tampered.Body = strings.Replace(tampered.Body, "cred-a", "cred-z", 1)
	line, _ := json.Marshal(map[string]any{"secret": secret, "headers": tampered.Headers, "body": tampered.Body})
	in.Write(append(line, '\n'))

	cmd := exec.Command(node, filepath.Join(sdk, "verify-webhook.mjs"))
	cmd.Dir = sdk
	cmd.Stdin = &in
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("verify-webhook.mjs: %v\n%s", err, out)
	}
	var verdicts []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var v map[string]any
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("verify-webhook.mjs printed %q", sc.Text())
		}
		verdicts = append(verdicts, v)
	}
	if len(verdicts) != len(got)+1 {
		t.Fatalf("%d verdicts for %d deliveries and one tampered copy: %s", len(verdicts), len(got), out)
	}
	for i := range got {
		if verdicts[i]["ok"] != true {
			t.Errorf("Svix refused delivery %d: %v", i, verdicts[i])
		}
	}
	if verdicts[len(got)]["ok"] != false {
		t.Errorf("Svix accepted a tampered body: %v", verdicts[len(got)])
	}
}

// waitDelivered waits until the store holds no undelivered event of the
// hook: the receiver's answer is recorded.
func waitDelivered(t *testing.T, st *sqlite.Store, h webhook.Hook) {
	t.Helper()
	for giveUp := time.Now().Add(30 * time.Second); ; {
		left, err := st.UndeliveredEvents(context.Background(), h.WorkspaceID, h.ID, time.Time{}, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(giveUp) {
			t.Fatalf("%d events still undelivered after 30 s", len(left))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestSharedStoreDeliversOnce: two servers sharing a store deliver each
// event once between them, from the one holding the hook's lease.
func TestSharedStoreDeliversOnce(t *testing.T) {
	st, rc, hook := setUp(t, 0)
	for _, holder := range []string{"server-a", "server-b"} {
		d, err := webhook.Start(context.Background(), webhook.Config{Hooks: []webhook.Hook{hook}, Store: st,
			Scale: timescale.Scale(0.001), Lease: &webhook.Lease{Holder: holder, TTL: time.Minute}})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
	}
	for _, id := range []string{"cred-1", "cred-2", "cred-3"} {
		deleteEvent(t, st, id)
	}
	for range 3 {
		wait(t, rc.every, "a delivery")
	}
	waitDelivered(t, st, hook)
	select {
	case <-rc.every:
		t.Errorf("an event was delivered twice: %d deliveries of 3 events", len(rc.deliveries()))
	case <-time.After(200 * time.Millisecond): // 200 polls of each at this scale
	}
}
