package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/fixtures"
	"github.com/encoderlab/encoderlab/pipeline/seam"
)

// A webhook the lab configures receives the workspace's events: a
// credential deleted through the API arrives as acs_credential.deleted,
// signed (the signature itself is Svix's to check: pipeline/webhook).
func TestLabWebhooksReceiveEvents(t *testing.T) {
	got := make(chan *http.Request, 4)
	bodies := make(chan []byte, 4)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- r
		bodies <- b
	}))
	defer rcv.Close()
	lab := fixtures.Bundled()
	ws := lab.Workspaces[0]
	ws.Webhooks = []*fixtures.Webhook{{URL: rcv.URL + "/hook", Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
		EventTypes: []string{seam.EventCredentialDeleted}}}
	cfg := testConfig(t)
	cfg.Lab = lab
	srv := start(t, cfg)
	c := &client{t: t, url: srv.URL(), token: ws.APIKeys[0]}
	cred := c.createCard(ws)
	if st := c.call("/acs/credentials/delete", map[string]string{"acs_credential_id": cred.ACSCredentialID}, nil); st != http.StatusOK {
		t.Fatalf("delete: status %d", st)
	}
	select {
	case r := <-got:
		var e seam.Event
		if err := json.Unmarshal(<-bodies, &e); err != nil || e.EventType != seam.EventCredentialDeleted || e.ACSCredentialID != cred.ACSCredentialID {
			t.Errorf("the webhook got %+v (%v); want the deletion of %s", e, err, cred.ACSCredentialID)
		}
		if r.URL.Path != "/hook" || r.Header.Get("svix-id") != e.EventID || r.Header.Get("svix-signature") == "" || r.Header.Get("svix-timestamp") == "" {
			t.Errorf("delivery to %s with headers %v; want /hook, svix-id the event id, a signature and a timestamp", r.URL.Path, r.Header)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no webhook delivery within 30 s of the delete")
	}
}
