package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/encoderlab/encoderlab/fixtures"
	"github.com/encoderlab/encoderlab/sim"
	"github.com/encoderlab/encoderlab/sim/card"
	"github.com/encoderlab/encoderlab/sim/scenario"
	"github.com/encoderlab/encoderlab/timescale"
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
	// encodes are the scenario's encode_credential calls, scans its
	// scan_credential calls, each in the order the scenario lists them
	// (calls has both).
	encodes, scans []*encodeRecord
	// timeline is how the scenario's timeline ended (nil: ran to its end),
	// commands how the device's command counts compared.
	timeline, commands error
	// cardsStart and cardsEnd are every card of the desk before the
	// first encode and once the timeline ended (nil on hardware).
	cardsStart, cardsEnd map[string]card.Contents
	// writtenAt is when each card of the desk was last written (zero:
	// never), read once the timeline ended.
	writtenAt map[string]time.Time
	// overlaps is, per encoder whose device model counts them (PMS), the
	// commands it received while another was outstanding.
	overlaps map[string]int
	// hardware is set when a real encoder ran the scenario: the suite
	// cannot read its cards back, so checks of card contents fall back
	// to what the answers alone show.
	hardware bool
	// started and ended bound the run: from the encoder's start to the
	// end of its timeline.
	started, ended time.Time
	// events is /events/list of the scenario's credential once the
	// timeline ended, its answer eventsRead (nil when it was not asked:
	// no credential).
	events     []map[string]any
	eventsRead *response
	// cleanups undo the run's set-up, last first (close).
	cleanups []func() error

	// verdicts are the problems verify found, by requirement id: a
	// recording is judged once when it is made (the stall re-run) and
	// once by its spec, and the recording does not change between.
	mu       sync.Mutex
	verdicts map[string][]string
}

// problems is what verify finds of req on r, judged once.
func (r *recording) problems(req Requirement, cfg *Config) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p, ok := r.verdicts[req.ID]; ok {
		return p
	}
	if r.verdicts == nil {
		r.verdicts = map[string][]string{}
	}
	p := verify(req, r, cfg)
	r.verdicts[req.ID] = p
	return p
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

// calls are the scenario's encode and scan calls, in its order.
func (r *recording) calls() []*encodeRecord {
	out := append(slices.Clone(r.encodes), r.scans...)
	slices.SortFunc(out, func(a, b *encodeRecord) int { return a.index - b.index })
	return out
}

// encodeRecord is one encode_credential call, or one scan_credential
// call (encode.Scan), and everything that followed.
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
	// afterAt is when the /acs/credentials/get answer that gave after
	// arrived.
	afterAt time.Time
	// cardsBefore and cardsAfter are every card of the desk around the
	// encode, by name (nil on hardware).
	cardsBefore, cardsAfter map[string]card.Contents
	// overlapped: the encode ran beside others (concurrent), so the
	// credential may have changed under it by their doing.
	overlapped bool
	// lost is why the encode_credential call got no answer (first is
	// nil): the server was killed under it. Whether it made an attempt,
	// and what came of it, no client can know.
	lost error
}

// turnedAway reports whether the encode made no attempt to judge: its
// call went unanswered (lost), or, in a scenario whose timeline fills
// the store's disk or kills the server, was refused with 503
// service_unavailable, which docs/api.md promises is safe to retry:
// nothing recorded, no card written.
func (e *encodeRecord) turnedAway(sc *scenario.Scenario) bool {
	if e.first == nil {
		return true
	}
	return sc.SystemSteps() && apiError(e.first, 503, "service_unavailable") == ""
}

// expects reports whether the encode is to be judged as one that ended
// with status: the scenario expects that status, or expects any and the
// attempt ended so.
func (e *encodeRecord) expects(status string) bool {
	switch e.encode.Expect.Status {
	case status:
		return true
	case scenario.StatusAny:
		return e.final != nil && e.final["status"] == status
	}
	return false
}

// where names the encode in failure messages.
func (e *encodeRecord) where(sc *scenario.Scenario) string {
	what := "encode"
	if e.encode.Scan {
		what = "scan"
	}
	return fmt.Sprintf("%s:%d (%s %d)", sc.File, e.encode.Line, what, e.index+1)
}

// endpoint is the call the record made: encode_credential or
// scan_credential.
func (e *encodeRecord) endpoint() string {
	if e.encode.Scan {
		return "scan_credential"
	}
	return "encode_credential"
}

// attempts returns every action attempt the encode's answers carried,
// each decoded once (attemptOf): the maps are shared, to be read, not
// changed.
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

// attemptOf is the action_attempt of r's body. The map is shared by
// every caller: read it, never change it.
func attemptOf(r *response) (map[string]any, error) {
	r.attempt.once.Do(func() { r.attempt.v, r.attempt.err = decodeAttempt(r) })
	return r.attempt.v, r.attempt.err
}

func decodeAttempt(r *response) (map[string]any, error) {
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
// everything that came back. It returns an error only when the run
// cannot be made at all (no pty, no server, no credential); what the
// system under test answered is judged afterwards, requirement by
// requirement. lines, when not nil, receives the virtual encoder's line
// trace; step is told what the run is doing, as Ginkgo's By is.
//
// record uses nothing of Ginkgo, so runs can be made ahead of their
// specs, several at once (Config.Concurrency). What it starts, rec.close
// stops; on an error it has already stopped it.
func record(ctx context.Context, cfg *Config, sc *scenario.Scenario, lines *lineLog, step func(string)) (rec *recording, err error) {
	rec = &recording{sc: sc, started: time.Now()}
	defer func() {
		if err != nil {
			err = errors.Join(err, rec.close())
			rec = nil
		}
	}()
	rec.ws, rec.sys, err = lookUp(cfg.Lab, sc)
	if err != nil {
		return rec, err
	}
	tmp, err := os.MkdirTemp("", "encoderlab-"+sc.Name+"-")
	if err != nil {
		return rec, fmt.Errorf("scenario %s: %w", sc.File, err)
	}
	rec.onClose(func() error { return os.RemoveAll(tmp) })
	linkDir := fixedLinkDir(cfg.Target)
	if linkDir == "" {
		linkDir = filepath.Join(tmp, "links")
	}

	// desk stays nil on hardware: nothing but the API answers is known.
	var desk *sim.Desk
	var play func(context.Context) error
	if cfg.Hardware != nil {
		step(fmt.Sprintf("attaching real encoder %s at %s for %s", sc.Encoder.ID, cfg.Hardware.Ports[sc.Encoder.ID], sc.File))
		rec.hardware = true
		if play, err = attachHardware(cfg, sc, linkDir, rec.onClose); err != nil {
			return rec, err
		}
	} else {
		for _, e := range sc.AllEncoders() {
			step(fmt.Sprintf("starting virtual encoder %s (model %s) for %s", e.ID, e.Model, sc.File))
		}
		opts := sim.Options{LinkDir: linkDir, Scale: cfg.TimeScale, Logger: cfg.Logger}
		if lines != nil {
			opts.Trace = lines.add
			lines.started(time.Now(), filepath.Join(linkDir, sc.Encoder.ID))
		}
		desk, err = sim.StartDesk(ctx, sc, opts)
		if err != nil {
			return rec, fmt.Errorf("%s: starting the virtual encoders: %w", sc.File, err)
		}
		rec.onClose(desk.Close)
		play = desk.Play
	}

	step("starting the system under test")
	api, sut, err := startTarget(ctx, cfg, linkDir, tmp, rec.ws, rec.onClose)
	if err != nil {
		return rec, err
	}
	if sc.SystemSteps() {
		// The timeline kills the server or fills its disk: reads are made
		// again while it restarts, and an encode call it never answered
		// is kept as such (encodeRecord.lost).
		api.outage = cfg.TimeScale.Of(cfg.AttemptDeadline) + 10*time.Second
	}
	if desk != nil {
		steps := suiteSteps{api: api, credentialID: func() string {
			id, _ := rec.credential["acs_credential_id"].(string)
			return id
		}}
		steps.sys, _ = sut.(scenario.System)
		play = func(ctx context.Context) error { return desk.PlayWith(ctx, steps) }
	}

	encoderIDs := map[string]string{}
	for _, e := range sc.AllEncoders() {
		step("finding encoder " + e.ID + " with /acs/encoders/list")
		if encoderIDs[e.ID], err = findEncoder(ctx, api, rec.ws, e.ID); err != nil {
			return rec, fmt.Errorf("scenario %s: %w", sc.File, err)
		}
	}

	step(fmt.Sprintf("creating a %s credential on %s with /acs/credentials/create", sc.Credential.AccessMethod, rec.sys.Key))
	rec.created, rec.credential, rec.request, err = createCredential(ctx, api, rec.sys, sc)
	if err != nil {
		return rec, err
	}

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

	rec.cardsStart = snapshot(desk, sc)
	calls, err := recordEncodes(ctx, cfg, api, desk, sc, encoderIDs, rec.credential, step)
	if err != nil {
		// A timeline that already failed is often why (a server step
		// that could not start the server again): say so beside it.
		select {
		case rec.timeline = <-played:
			playDone = true
			if rec.timeline != nil {
				err = fmt.Errorf("%w\nthe timeline had failed before: %w", err, rec.timeline)
			}
		default:
		}
		return rec, err
	}
	for _, er := range calls {
		if er.encode.Scan {
			rec.scans = append(rec.scans, er)
		} else {
			rec.encodes = append(rec.encodes, er)
		}
	}

	step("waiting for the timeline to run to its end")
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
		rec.timeline = fmt.Errorf("stopped waiting for the timeline: %w", context.Cause(ctx))
		if err := <-played; err != nil {
			rec.timeline = fmt.Errorf("%w (%w)", rec.timeline, err)
		}
	}
	playDone = true
	if desk != nil {
		var devs []scenario.Device
		for _, e := range desk.Encoders() {
			devs = append(devs, e.Device())
		}
		quiesce(ctx, devs, cfg.TimeScale.Of(2*time.Second))
		var errs []error
		for _, e := range desk.Encoders() {
			if err := scenario.CheckCommands(e.Scenario(), e.Device()); err != nil {
				if len(devs) > 1 {
					err = fmt.Errorf("encoder %s: %w", e.ID(), err)
				}
				errs = append(errs, err)
			}
		}
		rec.commands = errors.Join(errs...)
		rec.overlaps = map[string]int{}
		for _, e := range desk.Encoders() {
			if o, ok := e.Device().(interface{ Overlaps() int }); ok {
				rec.overlaps[e.ID()] = o.Overlaps()
			}
		}
	}
	rec.cardsEnd = snapshot(desk, sc)
	if desk != nil {
		rec.writtenAt = map[string]time.Time{}
		for _, c := range sc.Cards {
			rec.writtenAt[c.Name] = desk.Card(c.Name).WrittenAt()
		}
	}
	rec.ended = time.Now()
	if id, _ := rec.credential["acs_credential_id"].(string); id != "" {
		rec.eventsRead, rec.events = readEvents(ctx, api, id, rec.started)
	}
	return rec, nil
}

// readEvents lists the events of a credential since the run began. A
// server without events (an older one) answers an error, recorded as
// such: only the profiles that demand events judge it.
func readEvents(ctx context.Context, api *client, credentialID string, since time.Time) (*response, []map[string]any) {
	res, err := api.read(ctx, func() (*response, error) {
		return api.post(ctx, "/events/list", map[string]any{
			"acs_credential_id": credentialID, "since": since.Add(-time.Second).UTC().Format(time.RFC3339Nano)})
	})
	if err != nil {
		return nil, nil
	}
	var body struct {
		Events []map[string]any `json:"events"`
	}
	if res.Status != 200 || json.Unmarshal(res.Body, &body) != nil {
		return res, nil
	}
	return res, body.Events
}

// recordEncodes makes the scenario's encodes in order: each waits for the
// attempts before it to end, except a concurrent one, which is called as
// soon as the encode before it has been answered; the encodes of such a
// run are then followed side by side. A credential whose creation was
// refused (cred nil) has no encodes.
func recordEncodes(ctx context.Context, cfg *Config, api *client, desk *sim.Desk, sc *scenario.Scenario,
	encoderIDs map[string]string, cred map[string]any, step func(string)) ([]*encodeRecord, error) {
	if cred == nil {
		return nil, nil
	}
	var out []*encodeRecord
	// lost: an encode call before went unanswered. The attempt it may
	// have made can run beside every encode after it (the server resumes
	// it after a restart), so they are judged as overlapped.
	lost := false
	for i := 0; i < len(sc.Encodes); {
		j := i + 1
		for j < len(sc.Encodes) && sc.Encodes[j].Concurrent {
			j++
		}
		run := make([]*encodeRecord, 0, j-i)
		for k := i; k < j; k++ {
			er, err := callEncode(ctx, api, desk, sc, k, encoderIDs, cred, step)
			if err != nil {
				return out, err
			}
			er.overlapped = j-i > 1 || lost
			run = append(run, er)
		}
		errs := make([]error, len(run))
		if len(run) == 1 {
			errs[0] = finishEncode(ctx, cfg, api, desk, sc, run[0], step)
		} else {
			var wg sync.WaitGroup
			for n, er := range run {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[n] = finishEncode(ctx, cfg, api, desk, sc, er, step)
				}()
			}
			wg.Wait()
		}
		if err := errors.Join(errs...); err != nil {
			return out, err
		}
		for _, er := range run {
			if er.after != nil {
				cred = er.after
			}
			lost = lost || er.lost != nil
		}
		out = append(out, run...)
		i = j
	}
	return out, nil
}

// quiesce returns once the device has received no new command for a
// whole window (at most ten windows in all), so a command the system
// under test sends late, such as an extra encode queued behind the last
// one, is counted before the counts are judged.
func quiesce(ctx context.Context, devs []scenario.Device, window time.Duration) {
	count := func() [3]int {
		var c [3]int
		for _, dev := range devs {
			c[0] += dev.Count("encode")
			c[1] += dev.Count("read")
			c[2] += dev.Count("cancel")
		}
		return c
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
func startTarget(ctx context.Context, cfg *Config, linkDir, tmp string, ws *fixtures.Workspace, onClose func(func() error)) (*client, System, error) {
	if d := fixedLinkDir(cfg.Target); d != "" {
		linkDir = d
	}
	sut, err := cfg.Target.Start(ctx, Env{LinkDir: linkDir, TempDir: tmp, TimeScale: cfg.TimeScale,
		AttemptDeadline: cfg.AttemptDeadline, Lab: cfg.Lab, Profile: cfg.Profile, Logger: cfg.Logger})
	if err != nil {
		return nil, nil, fmt.Errorf("starting the system under test: %w", err)
	}
	onClose(sut.Close)
	token, workspace := cfg.token(ws)
	return newClient(sut.URL(), token, workspace), sut, nil
}

// callEncode makes encode i's encode_credential call.
func callEncode(ctx context.Context, api *client, desk *sim.Desk, sc *scenario.Scenario,
	i int, encoderIDs map[string]string, before map[string]any, step func(string)) (*encodeRecord, error) {
	e := sc.Encodes[i]
	er := &encodeRecord{index: i, encode: e, before: before}
	credID, _ := before["acs_credential_id"].(string)
	if e.Credential == scenario.Unknown {
		credID = uuid.NewString()
	}
	encoderID := encoderIDs[sc.EncodeOn(e)]
	if e.Encoder == scenario.Unknown {
		encoderID = uuid.NewString()
	}
	if e.Expect.Card != "" && desk != nil {
		er.cardBefore = desk.Card(e.Expect.Card).Contents()
	}
	er.cardsBefore = snapshot(desk, sc)

	on := ""
	if len(sc.AllEncoders()) > 1 {
		on = " on " + sc.EncodeOn(e)
	}
	path, body := "/acs/encoders/encode_credential", map[string]any{"acs_credential_id": credID, "acs_encoder_id": encoderID}
	what := "encode"
	if e.Scan {
		path, body, what = "/acs/encoders/scan_credential", map[string]any{"acs_encoder_id": encoderID}, "scan"
	}
	step(fmt.Sprintf("%s %d of %d%s: POST %s, expecting %s", what, i+1, len(sc.Encodes), on, path, describe(e.Expect)))
	er.credentialID = credID
	er.started = time.Now()
	res, err := api.post(ctx, path, body)
	if err != nil && api.outage > 0 && ctx.Err() == nil {
		// The server went away under the call (a kill step): whether it
		// made an attempt is not known, and never will be by this client.
		er.lost = err
		return er, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", er.where(sc), err)
	}
	er.first = res
	return er, nil
}

// finishEncode follows the attempt er's call started to its end, then
// reads the credential and the card back.
func finishEncode(ctx context.Context, cfg *Config, api *client, desk *sim.Desk, sc *scenario.Scenario, er *encodeRecord, step func(string)) error {
	if er.first == nil {
		// The call went unanswered (lost): there is no attempt to follow.
	} else if a, err := attemptOf(er.first); err == nil && er.first.Status == 200 {
		id, _ := a["action_attempt_id"].(string)
		if a["status"] != "pending" {
			er.final = a
		} else {
			step("following action attempt " + id + " with /action_attempts/get until it ends")
			if er.final, err = follow(ctx, cfg, api, er, id); err != nil {
				return err
			}
		}
		if er.final != nil {
			if er.again, err = getAttempt(ctx, api, id, len(er.polls)%2 == 0); err != nil {
				return err
			}
		}
	}
	er.ended = time.Now()
	if res, err := api.read(ctx, func() (*response, error) {
		return api.post(ctx, "/acs/credentials/get", map[string]any{"acs_credential_id": er.before["acs_credential_id"]})
	}); err == nil {
		er.after, _ = credentialOf(res)
		er.afterAt = res.Received
	}
	if x := er.encode.Expect; x.Card != "" && desk != nil {
		er.cardAfter = desk.Card(x.Card).Contents()
		er.cardWritten = desk.Card(x.Card).WrittenAt()
	}
	er.cardsAfter = snapshot(desk, sc)
	return nil
}

// snapshot is what every card of the desk holds now; nil without one.
func snapshot(desk *sim.Desk, sc *scenario.Scenario) map[string]card.Contents {
	if desk == nil {
		return nil
	}
	out := make(map[string]card.Contents, len(sc.Cards))
	for _, c := range sc.Cards {
		out[c.Name] = desk.Card(c.Name).Contents()
	}
	return out
}

// follow polls the attempt, alternately with POST and GET as Seam's SDKs
// do, until it leaves pending or its deadline is well past, and returns
// the terminal attempt (nil if it never ended).
//
// It polls every PollInterval, and every FinePollInterval from one
// PollInterval before the attempt's deadline to one after: the deadline
// check (LIFECYCLE-DEADLINE) judges the first poll sent after the
// deadline, so that poll comes as soon after it as the machine allows,
// while the rest of a long wait costs the server and the suite a
// fraction of the requests.
func follow(ctx context.Context, cfg *Config, api *client, er *encodeRecord, id string) (map[string]any, error) {
	d := cfg.TimeScale.Of(cfg.AttemptDeadline)
	due := er.first.Received.Add(d)
	giveUp := time.Now().Add(d + 5*time.Second)
	coarse := PollInterval(cfg.TimeScale)
	for n := 0; ; n++ {
		res, err := getAttempt(ctx, api, id, n%2 == 1)
		if err != nil {
			return nil, err
		}
		er.polls = append(er.polls, res)
		a, err := attemptOf(res)
		if err == nil && res.Status == 200 && a["status"] != "pending" {
			return a, nil
		}
		now := time.Now()
		if now.After(giveUp) || ctx.Err() != nil {
			return nil, nil
		}
		wait := coarse
		if now.After(due.Add(-coarse)) && now.Before(due.Add(coarse)) {
			wait = FinePollInterval
		}
		select {
		case <-ctx.Done():
			return nil, nil
		case <-time.After(wait):
		}
	}
}

// FinePollInterval is how often the suite polls a pending attempt close
// to its deadline.
const FinePollInterval = 2 * time.Millisecond

// PollInterval is how often the suite polls a pending attempt away from
// its deadline: 200 ms of device time, kept between FinePollInterval
// and 50 ms (10 ms at the default scale of 0.05).
func PollInterval(s timescale.Scale) time.Duration {
	return min(max(s.Of(200*time.Millisecond), FinePollInterval), 50*time.Millisecond)
}

func getAttempt(ctx context.Context, api *client, id string, withGET bool) (*response, error) {
	res, err := api.read(ctx, func() (*response, error) {
		if withGET {
			return api.get(ctx, "/action_attempts/get", url.Values{"action_attempt_id": {id}})
		}
		return api.post(ctx, "/action_attempts/get", map[string]any{"action_attempt_id": id})
	})
	if err != nil {
		return nil, fmt.Errorf("following attempt %s: %w", id, err)
	}
	return res, nil
}
