package conformance

import (
	"context"
	"errors"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/sim"
	"github.com/encoderlab/encoderlab/sim/card"
	"github.com/encoderlab/encoderlab/sim/scenario"

	"github.com/encoderlab/encoderlab/internal/require"
)

var encoderdOnce struct {
	sync.Once
	bin, out string
	err      error
}

// encoderdBinary builds cmd/encoderd once for the package's tests.
func encoderdBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds encoderd; skipped with -short")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		require.Missing(t, "the go command is not on PATH; it builds encoderd")
	}
	encoderdOnce.Do(func() {
		dir, err := os.MkdirTemp("", "encoderlab-encoderd-bin-")
		if err != nil {
			encoderdOnce.err = err
			return
		}
		encoderdOnce.bin = filepath.Join(dir, "encoderd")
		out, err := exec.Command(goTool, "build", "-o", encoderdOnce.bin, "github.com/encoderlab/encoderlab/cmd/encoderd").CombinedOutput()
		encoderdOnce.out, encoderdOnce.err = string(out), err
	})
	if encoderdOnce.err != nil {
		t.Fatalf("building encoderd: %v\n%s", encoderdOnce.err, encoderdOnce.out)
	}
	return encoderdOnce.bin
}

// needsMount skips (fails under CI=true) where a tmpfs cannot be mounted.
func needsMount(t *testing.T) {
	t.Helper()
	if _, err := (encoderd{}).SystemSteps(); err != nil {
		require.Missing(t, "%v", err)
	}
}

const targetDesk = `
name: target-desk
description: One PMS encoder and a blank card, for the encoderd target's own tests.
encoder: {model: pms, id: front-desk-1}
cards:
  a: {tech: mifare-classic-1k, uid: "04A224B1C3D4E5", holds: blank}
credential: {system: visionline-hotel}
steps:
  - place: a
encodes:
  - expect: {status: any}
`

// TestEncoderdTargetKillAndFullDisk drives the target's system by hand:
// a kill gives a new process on the same URL and store (a credential
// made before it is still there), a full store's disk turns encodes away
// with 503 service_unavailable and writes no card (docs/api.md), and once
// the space is back an encode writes the card.
func TestEncoderdTargetKillAndFullDisk(t *testing.T) {
	bin := encoderdBinary(t)
	needsMount(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sc, err := scenario.Load("target-desk.yaml", []byte(targetDesk))
	if err != nil {
		t.Fatal(err)
	}
	cfg := NewConfig()
	tmp := t.TempDir()
	links := filepath.Join(tmp, "links")
	desk, err := sim.StartDesk(ctx, sc, sim.Options{LinkDir: links, Scale: cfg.TimeScale})
	if err != nil {
		t.Fatal(err)
	}
	defer desk.Close()
	if err := desk.Encoder("front-desk-1").Device().Place(desk.Card("a")); err != nil {
		t.Fatal(err)
	}
	sut, err := Encoderd(bin).Start(ctx, Env{LinkDir: links, TempDir: tmp, TimeScale: cfg.TimeScale,
		AttemptDeadline: cfg.AttemptDeadline, Lab: cfg.Lab, Logger: cfg.Logger})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			_ = sut.Close()
		}
	}()
	p := sut.(*encoderdProcess)
	if lo := ephemeralLow(t); lo > lowestRestartablePort {
		if port := portOf(t, sut.URL()); port < lowestRestartablePort || port >= lo {
			t.Errorf("encoderd listens on port %d; want one below the ephemeral range (from %d), which a connection cannot take while it is down", port, lo)
		}
	}
	ws, sys, err := lookUp(cfg.Lab, sc)
	if err != nil {
		t.Fatal(err)
	}
	api := newClient(sut.URL(), ws.APIKeys[0], "")
	encoderID, err := findEncoder(ctx, api, ws, "front-desk-1")
	if err != nil {
		t.Fatal(err)
	}
	_, cred, _, err := createCredential(ctx, api, sys, sc)
	if err != nil {
		t.Fatal(err)
	}
	credID := cred["acs_credential_id"]

	url, pid := sut.URL(), p.cmd.Process.Pid
	if err := p.Kill(ctx); err != nil {
		t.Fatalf("kill: %v", err)
	}
	if sut.URL() != url || p.cmd.Process.Pid == pid {
		t.Fatalf("after the kill: URL %s (was %s), pid %d (was %d); want the same URL and a new process", sut.URL(), url, p.cmd.Process.Pid, pid)
	}
	if err := syscall.Kill(pid, 0); err == nil {
		t.Errorf("process %d still runs after the kill", pid)
	}
	res, err := api.post(ctx, "/acs/credentials/get", map[string]any{"acs_credential_id": credID})
	if err != nil || res.Status != 200 {
		t.Fatalf("the credential made before the kill, after it: %v %v", res, err)
	}

	encode := func() *response {
		t.Helper()
		res, err := api.post(ctx, "/acs/encoders/encode_credential", map[string]any{"acs_credential_id": credID, "acs_encoder_id": encoderID})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if err := p.FillStore(ctx); err != nil {
		t.Fatalf("store: full: %v", err)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(p.store, &st); err != nil {
		t.Fatal(err)
	}
	if st.Bavail != 0 {
		t.Errorf("after store: full the store's file system has %d blocks free; want 0", st.Bavail)
	}
	// The store notices a full disk when a write fails: the first encodes
	// may still be taken while its reserve lasts, so ask until one is
	// turned away (docs/store.md), a bounded number of times.
	turnedAway := false
	for range 50 {
		res := encode()
		if res.Status == 503 {
			if msg := apiError(res, 503, "service_unavailable"); msg != "" {
				t.Errorf("encode on a full disk: %s", msg)
			}
			turnedAway = true
			break
		}
		if res.Status != 200 {
			t.Fatalf("encode on a full disk: %s; want 200 or 503 service_unavailable", res)
		}
		a, _ := attemptOf(res)
		waitTerminal(ctx, t, api, a["action_attempt_id"].(string))
	}
	if !turnedAway {
		t.Fatal("50 encodes on a full disk, none refused with 503")
	}
	before := desk.Card("a").Contents()
	if err := p.FreeStore(ctx); err != nil {
		t.Fatalf("store: free: %v", err)
	}
	var final map[string]any
	for range 50 {
		// The store takes writes again once it tried one after the space
		// came back.
		if res := encode(); res.Status == 200 {
			a, _ := attemptOf(res)
			final = waitTerminal(ctx, t, api, a["action_attempt_id"].(string))
			break
		}
		time.Sleep(cfg.TimeScale.Of(200 * time.Millisecond))
	}
	if final == nil || final["status"] != "success" {
		t.Fatalf("after store: free the encode ended %v; want success", final)
	}
	if after := desk.Card("a").Contents(); after.Writes == before.Writes || (after.Kind != card.Guest) {
		t.Errorf("card a after the encode once the disk was freed: %+v (before %+v); want it written with a guest credential", after, before)
	}
	closed = true
	if err := sut.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	if out, _ := exec.Command("findmnt", "-n", p.store).Output(); strings.TrimSpace(string(out)) != "" {
		t.Errorf("the store's tmpfs is still mounted after Close: %s", out)
	}
}

func waitTerminal(ctx context.Context, t *testing.T, api *client, id string) map[string]any {
	t.Helper()
	for {
		res, err := getAttempt(ctx, api, id, false)
		if err != nil {
			t.Fatal(err)
		}
		if a, err := attemptOf(res); err == nil && a["status"] != "pending" {
			return a
		}
		if ctx.Err() != nil {
			t.Fatalf("attempt %s still pending: %v", id, ctx.Err())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestKillStepInARecording plays a scenario whose timeline kills the
// server while its encode waits for a card: the attempt the server
// acknowledged before the kill is resumed after it (the store is the
// source of truth across restarts; docs/api.md, "Across a restart") and
// ends success on the card placed after the restart, and every
// requirement that applies holds.
func TestKillStepInARecording(t *testing.T) {
	bin := encoderdBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sc, err := scenario.Load("kill-while-waiting.yaml", []byte(`
name: kill-while-waiting
description: The server is killed while an encode waits for a card, which arrives after the restart.
encoder: {model: pms, id: front-desk-1}
cards:
  a: {tech: mifare-classic-1k, uid: "04A224B1C3D4E5", holds: blank}
credential: {system: visionline-hotel}
steps:
  - wait: 1s
  - server: kill
  - wait: 1s
  - place: a
encodes:
  - expect: {status: any}
`))
	if err != nil {
		t.Fatal(err)
	}
	cfg := NewConfig()
	kills := &countingTarget{Target: Encoderd(bin)}
	cfg.Target = kills
	rec, err := record(ctx, &cfg, sc, nil, func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	defer rec.close()
	if rec.timeline != nil {
		t.Fatalf("timeline: %v", rec.timeline)
	}
	if kills.n != 1 {
		t.Fatalf("%d kills; want 1", kills.n)
	}
	er := rec.encodes[0]
	if er.first == nil || er.first.Status != 200 || !er.first.Received.Before(kills.at) {
		t.Fatalf("the encode call was answered %v at %v; want 200 before the kill at %v", er.first, er.first.Received, kills.at)
	}
	if er.final == nil || er.final["status"] != "success" {
		t.Fatalf("the attempt ended %v; want success", compact(er.final))
	}
	result, _ := er.final["result"].(map[string]any)
	if result["card_number"] != "04A224B1C3D4E5" {
		t.Errorf("card_number %v; want card a's 04A224B1C3D4E5", result["card_number"])
	}
	if last := er.polls[len(er.polls)-1]; !last.Sent.After(kills.at) {
		t.Errorf("the terminal answer was sent for at %v, before the kill at %v", last.Sent, kills.at)
	}
	if got := rec.cardsEnd["a"].Kind; got != card.Guest {
		t.Errorf("card a holds %s; want a guest credential", got)
	}
	_, sys, _ := lookUp(cfg.Lab, sc)
	for _, req := range cfg.Registry.For(cfg.Profile) {
		if !applies(req, sc, sys) || checkedByRequests(req) {
			continue
		}
		for _, p := range rec.problems(req, &cfg) {
			t.Errorf("%s: %s", req.ID, p)
		}
	}
}

// When the server cannot be started again after a kill, the recording's
// error says so beside the polls it refused: they are what broke, the
// failed restart is why.
func TestAFailedRestartIsSaidBesideTheRefusedPolls(t *testing.T) {
	bin := encoderdBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sc, err := scenario.Load("kill-never-back.yaml", []byte(`
name: kill-never-back
description: The server is killed while an encode waits for a card, and does not come back.
encoder: {model: pms, id: front-desk-1}
cards:
  a: {tech: mifare-classic-1k, uid: "04A224B1C3D4E5", holds: blank}
credential: {system: visionline-hotel}
steps:
  - wait: 1s
  - server: kill
encodes:
  - expect: {status: any}
`))
	if err != nil {
		t.Fatal(err)
	}
	cfg := NewConfig()
	// The polls go on through an outage of the scaled deadline and 10 s.
	cfg.AttemptDeadline = 10 * time.Second
	// A kill that stops the server and fails to start it again, as a
	// port taken while it was down would.
	cfg.Target = &countingTarget{Target: Encoderd(bin), restart: errPortTaken}
	rec, err := record(ctx, &cfg, sc, nil, func(string) {})
	if rec != nil {
		defer rec.close()
	}
	if err == nil {
		t.Fatal("the recording ended without an error; want the refused polls")
	}
	for _, want := range []string{"following attempt", "connection refused", "the timeline had failed before", errPortTaken.Error()} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the recording's error does not say %q:\n%v", want, err)
		}
	}
}

var errPortTaken = errors.New("starting again after SIGKILL: bind: address already in use")

// TestKillMidWriteOfARefusedReissue kills the server while its encoder
// writes a card with a credential whose system refuses reissue, then
// swaps the card for a blank one. The attempt's outcome died with the
// server, though the card holds the credential; the restarted server
// must not write it onto the second card (README, "Faults of the
// machine": a system that refuses reissue never has a credential on two
// cards). The explorer found this (docs/explore.md, "Finds on the
// current pipeline").
func TestKillMidWriteOfARefusedReissue(t *testing.T) {
	bin := encoderdBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sc, err := scenario.Load("kill-mid-write.yaml", []byte(`
name: kill-mid-write
description: The server is killed while its encoder writes a Salto card; the clerk swaps in a blank card.
encoder: {model: pms, id: station-desk, write_time: 2s}
cards:
  c1: {tech: mifare-classic-1k, uid: "04A224B1C3D4E5", holds: blank}
  c2: {tech: mifare-classic-1k, uid: "04A224B1C3D4E6", holds: blank}
credential: {system: salto-space-hotel}
steps:
  - place: c1
  - await: encode
  - server: stop
  - await: {written: c1}
  - remove: c1
  - place: c2
  - server: start
encodes:
  - expect: {status: any}
`))
	if err != nil {
		t.Fatal(err)
	}
	cfg := NewConfig()
	cfg.Target = Encoderd(bin)
	rec := recordAnswered(ctx, t, &cfg, sc)
	if rec.timeline != nil {
		t.Fatalf("timeline: %v", rec.timeline)
	}
	if rec.encodes[0].first == nil {
		t.Fatalf("the encode call went unanswered (%v); the timeline waits for its command before stopping the server", rec.encodes[0].lost)
	}
	if got := rec.cardsEnd["c1"].Kind; got != card.Guest {
		t.Fatalf("card c1 holds %s after the kill mid-write; want the credential (the device wrote it)", got)
	}
	if c2 := rec.cardsEnd["c2"]; c2.Writes != rec.cardsStart["c2"].Writes {
		t.Errorf("card c2 was written (it holds %s): the credential is on two cards", c2.Kind)
	}
	er := rec.encodes[0]
	if er.final == nil || er.final["status"] != "error" || errorType(er.final) != "uncategorized_error" {
		t.Errorf("the attempt ended %s; want error uncategorized_error (its outcome was lost with the server, and the card may hold the credential)", compact(er.final))
	}
	_, sys, _ := lookUp(cfg.Lab, sc)
	for _, req := range cfg.Registry.For(cfg.Profile) {
		if !applies(req, sc, sys) || checkedByRequests(req) {
			continue
		}
		for _, p := range rec.problems(req, &cfg) {
			t.Errorf("%s: %s", req.ID, p)
		}
	}
}

// TestKillMidWriteThenNoCard stops the server after its encoder was
// asked to write, lets the encoder write the card and the clerk take it
// away, and starts the server again: the resumed attempt, asked again,
// finds no card, but may not answer no_credential_on_encoder, a refusal
// that says nothing was written (INVARIANT-ERROR-WRITES-NOTHING): card a
// holds the credential. The explorer found this (docs/explore.md).
func TestKillMidWriteThenNoCard(t *testing.T) {
	bin := encoderdBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sc, err := scenario.Load("kill-then-no-card.yaml", []byte(`
name: kill-then-no-card
description: The server stops after asking its encoder to write; the card is written and taken away before it starts again.
encoder: {model: pms, id: front-desk-1, write_time: 2s}
cards:
  a: {tech: mifare-classic-1k, uid: "04A224B1C3D4E5", holds: blank}
credential: {system: visionline-hotel}
steps:
  - place: a
  - await: encode
  - server: stop
  - await: {written: a}
  - remove: a
  - server: start
encodes:
  - expect: {status: any}
`))
	if err != nil {
		t.Fatal(err)
	}
	cfg := NewConfig()
	cfg.Target = Encoderd(bin)
	rec := recordAnswered(ctx, t, &cfg, sc)
	if rec.timeline != nil || rec.encodes[0].first == nil {
		t.Fatalf("timeline %v, encode answered %v", rec.timeline, rec.encodes[0].first)
	}
	if got := rec.cardsEnd["a"].Kind; got != card.Guest {
		t.Fatalf("card a holds %s; want the credential the encoder wrote while the server was down", got)
	}
	er := rec.encodes[0]
	if er.final == nil || er.final["status"] != "error" || errorType(er.final) != "uncategorized_error" {
		t.Errorf("the attempt ended %s; want error uncategorized_error: the card it had asked for was written", compact(er.final))
	}
	_, sys, _ := lookUp(cfg.Lab, sc)
	for _, req := range cfg.Registry.For(cfg.Profile) {
		if !applies(req, sc, sys) || checkedByRequests(req) {
			continue
		}
		for _, p := range rec.problems(req, &cfg) {
			t.Errorf("%s: %s", req.ID, p)
		}
	}
}

// countingTarget counts the kills of the systems it starts and keeps the
// time of the last.
// countingTarget counts its systems' kills and when the last was; with
// restart set, a kill stops the server and returns restart instead of
// starting it again.
type countingTarget struct {
	Target
	restart error
	mu      sync.Mutex
	n       int
	at      time.Time
}

func (c *countingTarget) Start(ctx context.Context, env Env) (System, error) {
	s, err := c.Target.Start(ctx, env)
	if err != nil {
		return nil, err
	}
	return &countingSystem{System: s, steps: s.(scenario.System), c: c}, nil
}

type countingSystem struct {
	System
	steps scenario.System
	c     *countingTarget
}

func (s *countingSystem) Kill(ctx context.Context) error {
	s.c.mu.Lock()
	s.c.n++
	s.c.at = time.Now()
	s.c.mu.Unlock()
	if s.c.restart != nil {
		if err := s.steps.Stop(ctx); err != nil {
			return err
		}
		return s.c.restart
	}
	return s.steps.Kill(ctx)
}
func (s *countingSystem) Stop(ctx context.Context) error      { return s.steps.Stop(ctx) }
func (s *countingSystem) Start(ctx context.Context) error     { return s.steps.Start(ctx) }
func (s *countingSystem) FillStore(ctx context.Context) error { return s.steps.FillStore(ctx) }
func (s *countingSystem) FreeStore(ctx context.Context) error { return s.steps.FreeStore(ctx) }

// recordAnswered records sc, whose timeline stops the server once its
// encoder got the encode command, until the encode call was answered
// before the stop, three times at most. The timeline cannot wait for the
// answer itself: the server may hand the command to the encoder before
// its answer to the call is written, and a busy machine may stop it in
// between, which is the machine's timing, not the pipeline's fault (the
// call is then lost, which encodeRecord.lost keeps). The recording is
// closed at the test's end.
func recordAnswered(ctx context.Context, t *testing.T, cfg *Config, sc *scenario.Scenario) *recording {
	t.Helper()
	for try := 1; ; try++ {
		rec, err := record(ctx, cfg, sc, nil, func(string) {})
		if err != nil {
			t.Fatal(err)
		}
		if len(rec.encodes) == 0 || rec.encodes[0].first != nil || try == 3 {
			t.Cleanup(func() { rec.close() })
			return rec
		}
		t.Logf("try %d: the server was stopped before it answered the encode call (%v); recording again", try, rec.encodes[0].lost)
		rec.close()
	}
}

// ephemeralLow is the first port of the kernel's ephemeral range.
func ephemeralLow(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		t.Skipf("no ephemeral port range to read: %v", err)
	}
	lo, err := strconv.Atoi(strings.Fields(string(b))[0])
	if err != nil {
		t.Fatal(err)
	}
	return lo
}

func portOf(t *testing.T, u string) int {
	t.Helper()
	parsed, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(parsed.Port())
	if err != nil {
		t.Fatalf("%s: %v", u, err)
	}
	return port
}

// A server the suite kills and starts again listens below the ephemeral
// range: a port in it, freed by the kill, is handed to an outgoing
// connection by chance, and a connected socket on the port makes the
// new server's bind fail. This shows the failure, then that the ports
// restartableAddr gives are not the kind a connection is handed.
func TestRestartablePortsAreNotEphemeral(t *testing.T) {
	lo := ephemeralLow(t)
	// The failure: a port the kernel gave a listener, freed, then bound
	// by an outgoing connection (as an ephemeral pick would), cannot be
	// listened on again while that connection lasts.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	freed := l.Addr().(*net.TCPAddr)
	l.Close()
	other, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	c, err := (&net.Dialer{LocalAddr: freed}).Dial("tcp", other.Addr().String())
	if err != nil {
		t.Fatalf("dialling from the freed port %v: %v", freed, err)
	}
	if again, err := net.Listen("tcp", freed.String()); err == nil {
		again.Close()
		t.Errorf("listening again on %v beside a connection from it worked; the restart race this guards against is not what the kernel does", freed)
	} else if !inUse(err) {
		t.Errorf("listening again on %v beside a connection from it: %v; want address already in use", freed, err)
	}
	c.Close()
	if freed.Port < lo {
		t.Errorf("the kernel gave a listener port %d, below its ephemeral range (from %d)", freed.Port, lo)
	}

	if lo <= lowestRestartablePort {
		t.Skipf("the ephemeral range starts at %d: no room below it", lo)
	}
	for range 200 {
		a := restartableAddr()
		if a == "" {
			t.Fatal("restartableAddr gave no address beside a readable range")
		}
		if port := portOf(t, "http://"+a); port < lowestRestartablePort || port >= lo {
			t.Fatalf("restartableAddr = %s; want a port in [%d, %d)", a, lowestRestartablePort, lo)
		}
	}
}
