package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"time"

	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"

	"github.com/encoderlab/encoderlab/fixtures"
	"github.com/encoderlab/encoderlab/sim"
	"github.com/encoderlab/encoderlab/sim/card"
	"github.com/encoderlab/encoderlab/sim/scenario"
)

// recording is everything one scenario's run said and did, kept so each
// requirement is checked on its own against the same exchange.
type recording struct {
	sc  *scenario.Scenario
	ws  *fixtures.Workspace
	sys *fixtures.System
	// created is the /acs/credentials/create answer.
	created *response
	// credential is the credential as created.
	credential map[string]any
	// request is the /acs/credentials/create request's body.
	request map[string]any
	encodes []*encodeRecord
	// timeline is how the scenario's timeline ended (nil: ran to its end),
	// commands how the device's command counts compared.
	timeline, commands error
	// hardware is set when a real encoder ran the scenario: the suite
	// cannot read its cards back, so checks of card contents fall back
	// to what the answers alone show.
	hardware bool
	// started and ended bound the run: from the encoder's start to the
	// end of its timeline.
	started, ended time.Time
	// cleanups undo the run's set-up, last first (close).
	cleanups []func() error
}

// onClose adds f to what close undoes.
func (r *recording) onClose(f func() error) { r.cleanups = append(r.cleanups, f) }

// close stops the run's encoder and system under test, last started
// first. It may be called more than once.
func (r *recording) close() error {
	var errs []error
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		errs = append(errs, r.cleanups[i]())
	}
	r.cleanups = nil
	return errors.Join(errs...)
}

// encodeRecord is one encode_credential call and everything that followed.
type encodeRecord struct {
	index   int
	encode  scenario.Encode
	started time.Time
	// credentialID is the acs_credential_id the call named.
	credentialID string
	// first is the encode_credential answer.
	first *response
	// polls are the /action_attempts/get answers in order; the last is
	// the first terminal one, unless the attempt never ended.
	polls []*response
	// again is one more get after the terminal status.
	again *response
	// final is the terminal attempt, nil if it stayed pending.
	final map[string]any
	ended time.Time
	// before and after are the credential around the encode.
	before, after map[string]any
	// cardBefore and cardAfter are the expectation's card around it;
	// cardWritten is when the virtual encoder last finished writing it.
	cardBefore, cardAfter card.Contents
	cardWritten           time.Time
}

// where names the encode in failure messages.
func (e *encodeRecord) where(sc *scenario.Scenario) string {
	return fmt.Sprintf("%s:%d (encode %d)", sc.File, e.encode.Line, e.index+1)
}

// attempts returns every action attempt the encode's answers carried.
func (e *encodeRecord) attempts() []labelled {
	var out []labelled
	add := func(what string, r *response) {
		if r == nil || r.Status != 200 {
			return
		}
		if m, err := attemptOf(r); err == nil {
			out = append(out, labelled{what, m})
		}
	}
	add("encode_credential", e.first)
	for i, p := range e.polls {
		add(fmt.Sprintf("action_attempts/get #%d", i+1), p)
	}
	add("action_attempts/get after the end", e.again)
	return out
}

type labelled struct {
	what string
	v    map[string]any
}

func attemptOf(r *response) (map[string]any, error) {
	m, err := r.object()
	if err != nil {
		return nil, err
	}
	raw, ok := m["action_attempt"]
	if !ok {
		return nil, fmt.Errorf("%s: no action_attempt in the body", r)
	}
	var a map[string]any
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, fmt.Errorf("%s: action_attempt is not an object", r)
	}
	return a, nil
}

func credentialOf(r *response) (map[string]any, error) {
	m, err := r.object()
	if err != nil {
		return nil, err
	}
	var c map[string]any
	if err := json.Unmarshal(m["acs_credential"], &c); err != nil || c == nil {
		return nil, fmt.Errorf("%s: no acs_credential object in the body", r)
	}
	return c, nil
}

// record plays a scenario against a fresh system under test and keeps
// everything that came back. It fails the spec only when the run cannot
// be made at all (no pty, no server, no credential); what the system
// under test answered is judged afterwards, requirement by requirement.
// lines, when not nil, receives the virtual encoder's line trace.
//
// What record starts, rec.close stops; it is also deferred to the end of
// the container, so a run cut short by a failure is cleaned up too.
func record(ctx SpecContext, cfg *Config, sc *scenario.Scenario, lines *lineLog) *recording {
	GinkgoHelper()
	rec := &recording{sc: sc, started: time.Now()}
	DeferCleanup(rec.close)
	rec.ws, rec.sys = scenarioSystem(cfg.Lab, sc)
	tmp := GinkgoT().TempDir()
	linkDir := fixedLinkDir(cfg.Target)
	if linkDir == "" {
		linkDir = filepath.Join(tmp, "links")
	}

	// enc stays nil on hardware: nothing but the API answers is known.
	var enc *sim.Encoder
	var play func(context.Context) error
	if cfg.Hardware != nil {
		By(fmt.Sprintf("attaching real encoder %s at %s for %s", sc.Encoder.ID, cfg.Hardware.Ports[sc.Encoder.ID], sc.File))
		rec.hardware = true
		play = attachHardware(cfg, sc, linkDir)
	} else {
		By(fmt.Sprintf("starting virtual encoder %s (model %s) for %s", sc.Encoder.ID, sc.Encoder.Model, sc.File))
		var err error
		opts := sim.Options{LinkDir: linkDir, Scale: cfg.TimeScale, Logger: cfg.Logger}
		if lines != nil {
			opts.Trace = lines.add
			lines.started(time.Now(), filepath.Join(linkDir, sc.Encoder.ID))
		}
		enc, err = sim.Start(ctx, sc, opts)
		if err != nil {
			Fail(fmt.Sprintf("%s: starting the virtual encoder: %v", sc.File, err))
		}
		rec.onClose(enc.Close)
		play = enc.Play
	}

	api := startTarget(ctx, cfg, linkDir, tmp, rec.ws, rec.onClose)

	By("finding encoder " + sc.Encoder.ID + " with /acs/encoders/list")
	encoderID := findEncoder(ctx, api, sc.Encoder.ID)

	By(fmt.Sprintf("creating a card credential on %s with /acs/credentials/create", rec.sys.Key))
	rec.created, rec.credential, rec.request = createCredential(ctx, api, rec.sys, sc)

	playCtx, stopPlay := context.WithCancel(context.Background())
	played := make(chan error, 1)
	go func() { played <- play(playCtx) }()
	playDone := false
	rec.onClose(func() error {
		stopPlay()
		if !playDone {
			<-played
			playDone = true
		}
		return nil
	})

	cred := rec.credential
	for i, e := range sc.Encodes {
		er := recordEncode(ctx, cfg, api, enc, sc, i, e, encoderID, cred)
		rec.encodes = append(rec.encodes, er)
		if er.after != nil {
			cred = er.after
		}
	}

	By("waiting for the timeline to run to its end")
	grace := cfg.TimeScale.Of(cfg.AttemptDeadline) + 5*time.Second
	select {
	case rec.timeline = <-played:
	case <-time.After(grace):
		stopPlay()
		rec.timeline = fmt.Errorf("still waiting %v after the last encode ended: %w", grace, <-played)
	case <-ctx.Done():
		// Interrupted or timed out: stop the encoder's side and return,
		// so the cleanup runs while Ginkgo still lets it.
		stopPlay()
		rec.timeline = fmt.Errorf("stopped waiting for the timeline: %w (%w)", context.Cause(ctx), <-played)
	}
	playDone = true
	if enc != nil {
		quiesce(ctx, enc.Device(), cfg.TimeScale.Of(2*time.Second))
		rec.commands = scenario.CheckCommands(sc, enc.Device())
	}
	rec.ended = time.Now()
	return rec
}

// quiesce returns once the device has received no new command for a
// whole window (at most ten windows in all), so a command the system
// under test sends late, such as an extra encode queued behind the last
// one, is counted before the counts are judged.
func quiesce(ctx context.Context, dev scenario.Device, window time.Duration) {
	count := func() [3]int {
		return [3]int{dev.Count("encode"), dev.Count("read"), dev.Count("cancel")}
	}
	last := count()
	quiet := time.NewTimer(window)
	defer quiet.Stop()
	giveUp := time.NewTimer(10 * window)
	defer giveUp.Stop()
	tick := time.NewTicker(window / 10)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-quiet.C:
			return
		case <-giveUp.C:
			return
		case <-tick.C:
			if c := count(); c != last {
				last = c
				quiet.Reset(window)
			}
		}
	}
}

// startTarget starts the system under test and returns a client for it;
// onClose receives what stops it.
func startTarget(ctx context.Context, cfg *Config, linkDir, tmp string, ws *fixtures.Workspace, onClose func(func() error)) *client {
	GinkgoHelper()
	By("starting the system under test")
	if d := fixedLinkDir(cfg.Target); d != "" {
		linkDir = d
	}
	sut, err := cfg.Target.Start(ctx, Env{LinkDir: linkDir, TempDir: tmp, TimeScale: cfg.TimeScale, Lab: cfg.Lab, Logger: cfg.Logger})
	if err != nil {
		Fail(fmt.Sprintf("starting the system under test: %v", err))
	}
	onClose(sut.Close)
	token, workspace := cfg.token(ws)
	return newClient(sut.URL(), token, workspace)
}

func recordEncode(ctx context.Context, cfg *Config, api *client, enc *sim.Encoder, sc *scenario.Scenario,
	i int, e scenario.Encode, encoderID string, before map[string]any) *encodeRecord {
	GinkgoHelper()
	er := &encodeRecord{index: i, encode: e, before: before}
	credID, _ := before["acs_credential_id"].(string)
	if e.Credential == scenario.Unknown {
		credID = uuid.NewString()
	}
	if e.Encoder == scenario.Unknown {
		encoderID = uuid.NewString()
	}
	if e.Expect.Card != "" && enc != nil {
		er.cardBefore = enc.Card(e.Expect.Card).Contents()
	}

	By(fmt.Sprintf("encode %d of %d: POST /acs/encoders/encode_credential, expecting %s", i+1, len(sc.Encodes), describe(e.Expect)))
	er.credentialID = credID
	er.started = time.Now()
	res, err := api.post(ctx, "/acs/encoders/encode_credential", map[string]any{
		"acs_credential_id": credID, "acs_encoder_id": encoderID,
	})
	if err != nil {
		Fail(fmt.Sprintf("%s: %v", er.where(sc), err))
	}
	er.first = res
	if a, err := attemptOf(res); err == nil && res.Status == 200 {
		id, _ := a["action_attempt_id"].(string)
		if a["status"] != "pending" {
			er.final = a
		} else {
			By("following action attempt " + id + " with /action_attempts/get until it ends")
			er.final = follow(ctx, cfg, api, er, id)
		}
		if er.final != nil {
			er.again = getAttempt(ctx, api, id, len(er.polls)%2 == 0)
		}
	}
	er.ended = time.Now()
	if res, err := api.post(ctx, "/acs/credentials/get", map[string]any{"acs_credential_id": before["acs_credential_id"]}); err == nil {
		er.after, _ = credentialOf(res)
	}
	if e.Expect.Card != "" && enc != nil {
		er.cardAfter = enc.Card(e.Expect.Card).Contents()
		er.cardWritten = enc.Card(e.Expect.Card).WrittenAt()
	}
	return er
}

// follow polls the attempt, alternately with POST and GET as Seam's SDKs
// do, until it leaves pending or its deadline is well past, and returns
// the terminal attempt (nil if it never ended).
func follow(ctx context.Context, cfg *Config, api *client, er *encodeRecord, id string) map[string]any {
	GinkgoHelper()
	deadline := time.Now().Add(cfg.TimeScale.Of(cfg.AttemptDeadline) + 5*time.Second)
	for n := 0; ; n++ {
		res := getAttempt(ctx, api, id, n%2 == 1)
		er.polls = append(er.polls, res)
		a, err := attemptOf(res)
		if err == nil && res.Status == 200 && a["status"] != "pending" {
			return a
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(2 * time.Millisecond):
		}
	}
}

func getAttempt(ctx context.Context, api *client, id string, withGET bool) *response {
	GinkgoHelper()
	var res *response
	var err error
	if withGET {
		res, err = api.get(ctx, "/action_attempts/get", url.Values{"action_attempt_id": {id}})
	} else {
		res, err = api.post(ctx, "/action_attempts/get", map[string]any{"action_attempt_id": id})
	}
	if err != nil {
		Fail(fmt.Sprintf("following attempt %s: %v", id, err))
	}
	return res
}
