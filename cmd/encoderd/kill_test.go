package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/fixtures"
	"github.com/encoderlab/encoderlab/sim/card"
)

// Crash test timing. At time scale 0.1 the attempt deadline is 3 s and the
// virtual encoder takes 200 ms to write a card, so kill moments drawn from
// [0, killWindow) land before the encode call, while it is queued, while
// the command is on the line, while the card is being written, and while
// the outcome is being recorded.
const (
	crashScale    = 0.1
	crashDeadline = 3 * time.Second // the attempt deadline at crashScale
	killWindow    = 350 * time.Millisecond
	// settle is how long past its deadline an attempt may take to show a
	// terminal status: the restart, a loaded machine, the store's write.
	settle = 10 * time.Second
)

// The encoder the test crashes the server on: a PMS desk encoder of the
// bundled lab writing Visionline guest cards, slowed to write for 2 s
// (200 ms at crashScale) so kills land mid-write too.
const crashScenario = `
name: crash-desk
description: A desk encoder that stays up while the server in front of it is killed and restarted.
encoder: {model: pms, id: front-desk-1, write_time: 2s}
cards: {}
credential: {system: visionline-hotel}
steps: []
expect: {status: success}
`

// TestSurvivesSIGKILL runs encoderd as its own process in front of a
// virtual encoder, starts an encode, kills the server with SIGKILL at a
// random moment, restarts it on the same store and checks, each round:
//
//   - the attempt the server acknowledged before the kill is found;
//   - it reaches a terminal status, never staying pending past its
//     deadline;
//   - a credential the server marks issued is on the card it names: the
//     virtual encoder holds that card with that credential's card id
//     (docs/protocols/pms.md: the device answers OK only after writing);
//     a successful attempt always has an issued credential;
//
// and at the end that the encoder still encodes. ENCODERLAB_KILL_ROUNDS
// sets the number of rounds (default 5; `make kill-test` runs 100) and
// ENCODERLAB_KILL_SEED replays a run's kill moments.
func TestSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("runs encoderd as a process and kills it; skipped with -short")
	}
	rounds := envInt(t, "ENCODERLAB_KILL_ROUNDS", 5)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("ENCODERLAB_KILL_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("ENCODERLAB_KILL_SEED=%q: %v", s, err)
		}
		seed = v
	}
	t.Logf("kill moments from seed %d (ENCODERLAB_KILL_SEED=%d replays them)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	ws := fixtures.Bundled().Workspaces[0]
	encoderID := encoderIDOf(t, ws, "front-desk-1")
	enc, links := startDesk(t, "crash-desk.yaml", crashScenario)
	db := filepath.Join(t.TempDir(), "encoderd.db")
	ctx := context.Background()

	args := []string{"--db", db, "--links", links, "--scale", fmt.Sprint(crashScale), "--log-level", "debug"}
	run := 0
	start := func() (*daemon, *apiClient) {
		run++
		d := startDaemon(t, fmt.Sprintf("encoderd-%d.log", run), args...)
		return d, newAPIClient(t, d.url, ws.APIKeys[0])
	}
	d, api := start()

	var tally struct{ acknowledged, success, expired, failed, unacknowledged int }
	for r := range rounds {
		c := newBlankCard(t, rng, fmt.Sprintf("card-%d", r))
		if err := enc.Device().Place(c); err != nil {
			t.Fatalf("round %d: placing %s: %v", r, c.Name, err)
		}
		credID, err := api.guestCredential(ctx)
		if err != nil {
			t.Fatalf("round %d: %v", r, err)
		}

		type acked struct {
			id  string
			err error
		}
		encoded := make(chan acked, 1)
		sent := time.Now()
		go func() {
			a, err := api.object(ctx, "/acs/encoders/encode_credential", "action_attempt", map[string]any{
				"acs_credential_id": credID, "acs_encoder_id": encoderID,
			})
			if err != nil {
				encoded <- acked{err: err}
				return
			}
			id, _ := a["action_attempt_id"].(string)
			encoded <- acked{id: id}
		}()
		killAt := time.Duration(rng.Int64N(int64(killWindow)))
		<-time.After(killAt) // the kill moment is the stimulus, drawn at random
		d.kill()
		ack := <-encoded
		d, api = start()

		if ack.err != nil {
			// Killed before it answered: the attempt may or may not exist.
			// Whatever exists has ended once its deadline has passed.
			tally.unacknowledged++
			<-time.After(time.Until(sent.Add(crashDeadline + settle/2)))
		} else {
			tally.acknowledged++
			final := awaitTerminal(ctx, t, api, ack.id, sent.Add(crashDeadline+settle), r, killAt)
			switch {
			case final == nil:
				continue // reported
			case final["status"] == "success":
				tally.success++
			case errorType(final) == "action_attempt_expired":
				tally.expired++
			default:
				tally.failed++
				e, _ := final["error"].(map[string]any)
				t.Logf("round %d (kill at %v): attempt %s ended %s: %v", r, killAt, ack.id, errorType(final), e["message"])
			}
			if final["status"] == "success" {
				got, err := api.object(ctx, "/acs/credentials/get", "acs_credential", map[string]any{"acs_credential_id": credID})
				if err != nil {
					t.Fatalf("round %d: %v", r, err)
				}
				if got["is_issued"] != true {
					t.Errorf("round %d (kill at %v): attempt %s succeeded but credential %s is not issued: %v", r, killAt, ack.id, credID, got)
				}
			}
		}
		checkIssuedOnCard(ctx, t, api, credID, c, r, killAt)
		if err := enc.Device().Remove(c.Name); err != nil {
			t.Fatalf("round %d: removing %s: %v", r, c.Name, err)
		}
	}

	// The encoder works again after all that.
	c := newBlankCard(t, rng, "after")
	if err := enc.Device().Place(c); err != nil {
		t.Fatal(err)
	}
	credID, err := api.guestCredential(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a, err := api.object(ctx, "/acs/encoders/encode_credential", "action_attempt", map[string]any{
		"acs_credential_id": credID, "acs_encoder_id": encoderID,
	})
	if err != nil {
		t.Fatalf("encoding after the last restart: %v", err)
	}
	final := awaitTerminal(ctx, t, api, a["action_attempt_id"].(string), time.Now().Add(crashDeadline+settle), rounds, 0)
	if final != nil && final["status"] != "success" {
		t.Errorf("the encode after the last restart ended %v, want success", final)
	}
	checkIssuedOnCard(ctx, t, api, credID, c, rounds, 0)
	t.Logf("%d SIGKILLs: %d attempts acknowledged before the kill and found after it (%d succeeded, %d expired, %d failed otherwise), %d encode calls cut off before their answer",
		rounds, tally.acknowledged, tally.success, tally.expired, tally.failed, tally.unacknowledged)
}

// awaitTerminal polls the attempt until it leaves pending and returns it;
// it reports (and returns nil) when the attempt is not found, or is still
// pending at bound.
func awaitTerminal(ctx context.Context, t *testing.T, api *apiClient, id string, bound time.Time, round int, killAt time.Duration) map[string]any {
	t.Helper()
	for {
		status, out, err := api.call(ctx, "/action_attempts/get", map[string]any{"action_attempt_id": id})
		switch {
		case err != nil:
			t.Errorf("round %d (kill at %v): action_attempts/get %s: %v", round, killAt, id, err)
			return nil
		case status == http.StatusNotFound:
			t.Errorf("round %d (kill at %v): attempt %s was acknowledged before the kill but is not found after the restart: %v", round, killAt, id, out)
			return nil
		case status != http.StatusOK:
			t.Errorf("round %d (kill at %v): action_attempts/get %s: status %d: %v", round, killAt, id, status, out)
			return nil
		}
		a, _ := out["action_attempt"].(map[string]any)
		if a["status"] != "pending" {
			return a
		}
		if time.Now().After(bound) {
			t.Errorf("round %d (kill at %v): attempt %s still pending %v after its deadline", round, killAt, id, settle)
			return nil
		}
		<-time.After(20 * time.Millisecond) // polling for the status, bounded above
	}
}

// checkIssuedOnCard checks that a credential the server calls issued is
// on c: its card_number is c's UID, and c holds a guest credential whose
// card id is the credential's (Visionline's card_id). An unissued
// credential has no card_number.
func checkIssuedOnCard(ctx context.Context, t *testing.T, api *apiClient, credID string, c *card.Card, round int, killAt time.Duration) {
	t.Helper()
	got, err := api.object(ctx, "/acs/credentials/get", "acs_credential", map[string]any{"acs_credential_id": credID})
	if err != nil {
		t.Fatalf("round %d: %v", round, err)
	}
	if got["is_issued"] != true {
		if got["card_number"] != nil {
			t.Errorf("round %d (kill at %v): credential %s is not issued but has card_number %v", round, killAt, credID, got["card_number"])
		}
		return
	}
	on := c.Contents()
	meta, _ := got["visionline_metadata"].(map[string]any)
	cardID, _ := meta["card_id"].(string)
	if got["card_number"] != c.UID || on.Kind != card.Guest || !strings.EqualFold(on.CardID, cardID) {
		t.Errorf("round %d (kill at %v): credential %s is issued (card_number %v, card_id %q), but the encoder's card %s holds %+v",
			round, killAt, credID, got["card_number"], cardID, c.UID, on)
	}
}

func errorType(a map[string]any) string {
	e, _ := a["error"].(map[string]any)
	s, _ := e["type"].(string)
	return s
}

// newBlankCard is a blank MIFARE Classic 1K card with a fresh 7-byte UID,
// drawn from rng (nil: the global source).
func newBlankCard(t *testing.T, rng *rand.Rand, name string) *card.Card {
	t.Helper()
	r := rand.Uint64
	if rng != nil {
		r = rng.Uint64
	}
	uid := fmt.Sprintf("04%012X", r()&0xFFFFFFFFFFFF)
	c, err := card.New(name, card.MifareClassic1K, uid, card.Contents{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func encoderIDOf(t *testing.T, ws *fixtures.Workspace, name string) string {
	t.Helper()
	for _, e := range ws.Encoders {
		if e.DisplayName == name {
			return e.ID
		}
	}
	t.Fatalf("the bundled lab has no encoder %s", name)
	return ""
}

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive whole number", name, s)
	}
	return n
}
