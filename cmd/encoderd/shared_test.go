package main

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/fixtures"
	"github.com/encoderlab/encoderlab/pipeline/store/postgres/pgtest"
)

// sharedDeadline is the attempt deadline of the scale-out test, long
// enough (6 s at crashScale) for a takeover: the dead instance's lease
// runs out (1 s), the survivor polls and runs the attempt from the start.
const sharedDeadline = 60 * time.Second

// TestTwoInstancesOneStore runs two encoderd instances with --shared on
// one store, a PostgreSQL database and a SQLite file, and checks that:
//
//   - either instance answers any call: an encode accepted by the instance
//     that does not drive the encoder is run by the one that does, and both
//     show the same outcome;
//   - an attempt survives the death (SIGKILL) of the instance driving its
//     encoder mid-write: the other instance takes the encoder over when the
//     lease expires and brings the attempt to its terminal status, success
//     here, with the credential issued on the card the encoder holds;
//   - the survivor goes on encoding.
func TestTwoInstancesOneStore(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two encoderd processes; skipped with -short")
	}
	t.Run("postgres", func(t *testing.T) { testTwoInstances(t, pgtest.ForTest(t)) })
	t.Run("sqlite", func(t *testing.T) { testTwoInstances(t, filepath.Join(t.TempDir(), "shared.db")) })
}

func testTwoInstances(t *testing.T, db string) {
	ws := fixtures.Bundled().Workspaces[0]
	encoderID := encoderIDOf(t, ws, "front-desk-1")
	// Writing takes 5 s (500 ms at crashScale): time to kill the writer.
	enc, links := startDesk(t, "shared-desk.yaml", strings.Replace(crashScenario, "write_time: 2s", "write_time: 5s", 1))
	ctx := context.Background()

	start := func(name string) (*daemon, *apiClient) {
		d := startDaemon(t, "encoderd-"+name+".log", "--shared", "--instance", name, "--lease-ttl", "1s",
			"--db", db, "--links", links, "--scale", fmt.Sprint(crashScale), "--deadline", sharedDeadline.String(), "--log-level", "debug")
		return d, newAPIClient(t, d.url, ws.APIKeys[0])
	}
	a, apiA := start("a")
	b, apiB := start("b")
	daemons := map[string]*daemon{"a": a, "b": b}
	clients := map[string]*apiClient{"a": apiA, "b": apiB}
	holder := awaitHolder(t, daemons, "front-desk-1")
	other := map[string]string{"a": "b", "b": "a"}[holder]
	t.Logf("instance %s drives front-desk-1", holder)

	newCredential := func(api *apiClient) string {
		t.Helper()
		id, err := api.guestCredential(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	encode := func(api *apiClient, credID string) (string, time.Time) {
		t.Helper()
		at, err := api.object(ctx, "/acs/encoders/encode_credential", "action_attempt",
			map[string]any{"acs_credential_id": credID, "acs_encoder_id": encoderID})
		if err != nil {
			t.Fatal(err)
		}
		return at["action_attempt_id"].(string), time.Now()
	}
	deadline := crashScale * float64(sharedDeadline)

	// 1. An encode accepted by the instance that does not drive the encoder.
	first := newBlankCard(t, nil, "first")
	if err := enc.Device().Place(first); err != nil {
		t.Fatal(err)
	}
	cred := newCredential(clients[other])
	id, sent := encode(clients[other], cred)
	final := awaitTerminal(ctx, t, clients[other], id, sent.Add(time.Duration(deadline)+settle), 0, 0)
	if final == nil || final["status"] != "success" {
		t.Fatalf("an encode accepted by instance %s for the encoder %s drives ended %v, want success", other, holder, final)
	}
	_, seen, err := clients[holder].call(ctx, "/action_attempts/get", map[string]any{"action_attempt_id": id})
	if err != nil || seen["action_attempt"].(map[string]any)["status"] != "success" {
		t.Errorf("instance %s shows attempt %s as %v (%v), want success as instance %s does", holder, id, seen, err, other)
	}
	checkIssuedOnCard(ctx, t, clients[holder], cred, first, 0, 0)
	if err := enc.Device().Remove(first.Name); err != nil {
		t.Fatal(err)
	}

	// 2. The driving instance dies mid-write.
	second := newBlankCard(t, nil, "second")
	if err := enc.Device().Place(second); err != nil {
		t.Fatal(err)
	}
	cred = newCredential(clients[other])
	id, sent = encode(clients[other], cred)
	if err := enc.Device().Await(ctx, "encode", 2); err != nil {
		t.Fatal(err)
	}
	daemons[holder].kill()
	final = awaitTerminal(ctx, t, clients[other], id, sent.Add(time.Duration(deadline)+settle), 1, 0)
	if final == nil || final["status"] != "success" {
		t.Fatalf("the attempt whose instance died mid-write ended %v, want success after the takeover", final)
	}
	if !regexp.MustCompile(`driving encoder.*encoder=front-desk-1`).MatchString(daemons[other].logTail(400)) {
		t.Errorf("instance %s never took front-desk-1 over:\n%s", other, daemons[other].logTail(40))
	}
	checkIssuedOnCard(ctx, t, clients[other], cred, second, 1, 0)
	if err := enc.Device().Remove(second.Name); err != nil {
		t.Fatal(err)
	}

	// 3. The survivor goes on encoding.
	third := newBlankCard(t, nil, "third")
	if err := enc.Device().Place(third); err != nil {
		t.Fatal(err)
	}
	cred = newCredential(clients[other])
	id, sent = encode(clients[other], cred)
	final = awaitTerminal(ctx, t, clients[other], id, sent.Add(time.Duration(deadline)+settle), 2, 0)
	if final == nil || final["status"] != "success" {
		t.Errorf("an encode on the survivor ended %v, want success", final)
	}
	checkIssuedOnCard(ctx, t, clients[other], cred, third, 2, 0)
	if status, out, err := clients[other].call(ctx, "/acs/encoders/list", map[string]any{}); err != nil || status != http.StatusOK {
		t.Errorf("encoders/list on the survivor: %d %v %v", status, out, err)
	}
}

// awaitHolder waits until one of the instances logs that it drives the
// named encoder, and returns that instance's name.
func awaitHolder(t *testing.T, daemons map[string]*daemon, encoder string) string {
	t.Helper()
	taken := regexp.MustCompile(`driving encoder.*encoder=` + regexp.QuoteMeta(encoder) + `\b`)
	bound := time.Now().Add(waitBound)
	for time.Now().Before(bound) {
		for name, d := range daemons {
			if taken.MatchString(d.logTail(200)) {
				return name
			}
		}
		<-time.After(20 * time.Millisecond) // polling the logs, bounded above
	}
	t.Fatalf("no instance took encoder %s within %v", encoder, waitBound)
	return ""
}
