package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/encoderlab/encoderlab/fixtures"
	"github.com/encoderlab/encoderlab/pipeline/attempt"
	"github.com/encoderlab/encoderlab/pipeline/server"
	"github.com/encoderlab/encoderlab/pipeline/store"
	"github.com/encoderlab/encoderlab/scenarios"
	"github.com/encoderlab/encoderlab/sim"
	"github.com/encoderlab/encoderlab/sim/card"
	"github.com/encoderlab/encoderlab/sim/model"
	"github.com/encoderlab/encoderlab/sim/scenario"
	"github.com/encoderlab/encoderlab/sim/trace"
	"github.com/encoderlab/encoderlab/timescale"
)

// Defaults of Config.
const (
	DefaultAPIAddr = server.DefaultAddr // encoderd's own default
	DefaultUIAddr  = "127.0.0.1:8451"
)

// Config is one lab. Zero values select the documented defaults.
type Config struct {
	// Lab is the fixture set; default fixtures.Bundled().
	Lab *fixtures.Lab
	// APIAddr is where the encode API listens; default DefaultAPIAddr.
	APIAddr string
	// UIAddr is where the /lab page and its control API listen; default
	// DefaultUIAddr. Keep it on loopback: whoever reaches it controls
	// the cards on every desk.
	UIAddr string
	// DBPath is the store; "" for a fresh SQLite file in a temporary
	// directory removed at Close.
	DBPath string
	// LinkDir is where the virtual encoders are published; "" for a
	// fresh directory removed at Close.
	LinkDir string
	// Scale is the one time scale of the server and every virtual
	// encoder; default real time.
	Scale timescale.Scale
	// Deadline is the attempt deadline before Scale; default 30 s.
	Deadline time.Duration
	// Play maps an encoder's display name to the scenario it plays (a
	// bundled name or a .yaml file); every other encoder is a desk.
	Play map[string]string
	// Logger receives the server's and the encoders' logs; default none.
	Logger *slog.Logger
}

// Lab is a running lab: encoderd, one virtual encoder per lab encoder
// whose port is a link, and the /lab page's server.
type Lab struct {
	cfg    Config
	srv    *server.Server
	ui     *http.Server
	uiLn   net.Listener
	served chan struct{}
	tmp    string // removed at Close; "" when none was made
	ctx    context.Context
	stop   context.CancelFunc
	plays  sync.WaitGroup

	encoders []*encoder // lab order
	byName   map[string]*encoder
	byID     map[string]*encoder // acs_encoder_id → encoder

	mu       sync.Mutex
	version  uint64 // bumped on every change the page shows
	attempts []*attemptView
	attByID  map[string]*attemptView
}

// attemptView is an action attempt as the page shows it.
type attemptView struct {
	ID           string    `json:"action_attempt_id"`
	Encoder      string    `json:"encoder"`
	CredentialID string    `json:"acs_credential_id"`
	Status       string    `json:"status"`
	ErrorType    string    `json:"error_type,omitempty"`
	ErrorMessage string    `json:"error_message,omitempty"`
	CardNumber   string    `json:"card_number,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	FinishedAt   time.Time `json:"finished_at,omitzero"`
}

// encoder is one lab encoder and its virtual device.
type encoder struct {
	Name, ID, Driver, Port string
	WorkspaceID            string
	System                 *fixtures.System
	Scenario               string // "" for a desk

	// act serialises the desk actions on this encoder, device calls
	// included; it is never held while l.mu is wanted by a device.
	act  sync.Mutex
	made int // cards made so far, for their names; guarded by act

	// Guarded by the lab's mu.
	sim       *sim.Encoder // nil when the port is not a link, or unplugged
	unplugged bool
	cards     []*card.Card // a desk's cards on the reader, bottom first
	queued    []string     // behaviours queued for the next command
	silent    bool         // silent until the next attempt on it ends
	timeline  string       // a scenario's: "playing", "done", "failed: …"
	// unavailable says why this machine cannot run the encoder's
	// virtual device (model.ErrUnavailable); "" when it runs.
	unavailable string

	traffic traffic
}

// maxEvents is how many line events per encoder the page keeps.
const maxEvents = 80

// traffic is an encoder's line as the page shows it: byte counts and
// the latest events. It has its own lock: the device's serving goroutine
// records here, and must never wait on a desk action.
type traffic struct {
	mu        sync.Mutex
	seq       uint64
	bytesIn   int // host to device
	bytesOut  int // device to host
	frames    int
	events    []lineEvent
	onChanged func()
}

// lineEvent is one chunk of bytes on a line.
type lineEvent struct {
	Seq    uint64   `json:"seq"`
	At     string   `json:"at"` // wall clock, 15:04:05.000
	Dir    string   `json:"dir"`
	Hex    string   `json:"hex"`
	Frames []string `json:"frames,omitempty"`
	Note   string   `json:"note,omitempty"`
}

func (t *traffic) record(ev trace.Event) {
	t.mu.Lock()
	t.seq++
	n := len(ev.Hex) / 2
	if ev.Dir == trace.HostToDevice {
		t.bytesIn += n
	} else {
		t.bytesOut += n
	}
	t.frames += len(ev.Frames)
	t.events = append(t.events, lineEvent{Seq: t.seq, At: time.Now().Format("15:04:05.000"),
		Dir: string(ev.Dir), Hex: ev.Hex, Frames: ev.Frames, Note: ev.Note})
	if len(t.events) > maxEvents {
		t.events = slices.Delete(t.events, 0, len(t.events)-maxEvents)
	}
	changed := t.onChanged
	t.mu.Unlock()
	if changed != nil {
		changed()
	}
}

// Start starts a lab: the server, then a virtual encoder for every lab
// encoder whose port is under the links directory, each a desk or
// playing its scenario, then the page's server. ctx bounds the start.
func Start(ctx context.Context, cfg Config) (_ *Lab, err error) {
	if cfg.Lab == nil {
		cfg.Lab = fixtures.Bundled()
	}
	if cfg.APIAddr == "" {
		cfg.APIAddr = DefaultAPIAddr
	}
	if cfg.UIAddr == "" {
		cfg.UIAddr = DefaultUIAddr
	}
	if cfg.Scale == 0 {
		cfg.Scale = timescale.Real
	}
	if err := cfg.Scale.Validate(); err != nil {
		return nil, err
	}
	if cfg.Deadline == 0 {
		cfg.Deadline = attempt.DefaultDeadline
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	l := &Lab{cfg: cfg, byName: map[string]*encoder{}, byID: map[string]*encoder{},
		attByID: map[string]*attemptView{}, served: make(chan struct{})}
	l.ctx, l.stop = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			err = errors.Join(err, l.Close())
		}
	}()

	if cfg.DBPath == "" || cfg.LinkDir == "" {
		if l.tmp, err = os.MkdirTemp("", "encoderlab-"); err != nil {
			return nil, err
		}
		if cfg.DBPath == "" {
			l.cfg.DBPath = filepath.Join(l.tmp, "encoderd.db")
		}
		if cfg.LinkDir == "" {
			l.cfg.LinkDir = filepath.Join(l.tmp, "links")
		}
	}

	for _, ws := range cfg.Lab.Workspaces {
		for _, fe := range ws.Encoders {
			e := &encoder{Name: fe.DisplayName, ID: fe.ID, Driver: fe.Driver, WorkspaceID: ws.ID,
				System: ws.System(fe.System), Port: fe.Port}
			e.traffic.onChanged = l.changed
			l.encoders = append(l.encoders, e)
			l.byName[e.Name] = e
			l.byID[e.ID] = e
		}
	}
	var problems []string
	for name, sc := range cfg.Play {
		e := l.byName[name]
		switch {
		case e == nil:
			problems = append(problems, fmt.Sprintf("--play %s=%s: the lab has no encoder %q (it has %s)", name, sc, name, strings.Join(l.names(), ", ")))
		case linkName(e.Port) == "":
			problems = append(problems, fmt.Sprintf("--play %s=%s: encoder %s is on the real port %s, not a virtual one", name, sc, name, e.Port))
		default:
			e.Scenario = sc
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return nil, errors.New(strings.Join(problems, "\n"))
	}

	l.srv, err = server.Start(ctx, server.Config{
		Lab: cfg.Lab, Addr: cfg.APIAddr, DBPath: l.cfg.DBPath, LinkDir: l.cfg.LinkDir,
		Scale: cfg.Scale, AttemptDeadline: cfg.Deadline, Logger: cfg.Logger,
		Attempts: l.observe,
	})
	if err != nil {
		return nil, err
	}
	for _, e := range l.encoders {
		if linkName(e.Port) == "" {
			continue // a real device: nothing to simulate
		}
		if err := l.startEncoder(ctx, e); err != nil {
			if !errors.Is(err, model.ErrUnavailable) || e.Scenario != "" {
				return nil, err
			}
			// A lab of many encoders goes on without one this machine
			// cannot run (a PC/SC reader without pcscd, or without root);
			// its encodes end encoder_not_online.
			cfg.Logger.Warn("virtual encoder not started: this machine cannot run it", "encoder", e.Name, "model", e.Driver, "err", err)
			l.mu.Lock()
			e.unavailable = err.Error()
			l.mu.Unlock()
		}
	}
	var lc net.ListenConfig
	if l.uiLn, err = lc.Listen(ctx, "tcp", cfg.UIAddr); err != nil {
		return nil, fmt.Errorf("the lab page: listening on %s: %w", cfg.UIAddr, err)
	}
	l.ui = &http.Server{Handler: l.handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(l.served)
		if err := l.ui.Serve(l.uiLn); !errors.Is(err, http.ErrServerClosed) {
			cfg.Logger.Error("serving the lab page stopped", "err", err)
		}
	}()
	return l, nil
}

// linkName is the link an encoder's port names under the links
// directory ("{links}/front-desk-1" → "front-desk-1"), "" for a real port.
func linkName(port string) string {
	rest, ok := strings.CutPrefix(port, server.LinksPlaceholder+"/")
	if !ok || rest == "" || strings.Contains(rest, "/") {
		return ""
	}
	return rest
}

// startEncoder starts e's virtual encoder: its scenario, or a desk.
func (l *Lab) startEncoder(ctx context.Context, e *encoder) error {
	sc := &scenario.Scenario{File: "desk", Name: "desk", Encoder: scenario.Encoder{Model: e.Driver}}
	if e.Scenario != "" {
		var err error
		if sc, err = loadScenario(e.Scenario); err != nil {
			return fmt.Errorf("--play %s=%s: %w", e.Name, e.Scenario, err)
		}
		if n := len(sc.AllEncoders()); n > 1 {
			return fmt.Errorf("--play %s=%s: the scenario has %d encoders; --play gives one encoder one scenario (run it with encodersim run)", e.Name, e.Scenario, n)
		}
		model := sc.Encoder.Model
		if model == scenario.ReplayModel {
			model = sc.Encoder.Protocol
		}
		if model != e.Driver {
			return fmt.Errorf("--play %s=%s: the scenario is for a %s encoder, %s is %s", e.Name, e.Scenario, model, e.Name, e.Driver)
		}
	}
	sc = sc.MovedTo(linkName(e.Port))
	enc, err := sim.Start(ctx, sc, sim.Options{LinkDir: l.cfg.LinkDir, Scale: l.cfg.Scale,
		Logger: l.cfg.Logger, Trace: e.traffic.record})
	if err != nil {
		return err
	}
	l.mu.Lock()
	e.sim = enc
	if e.Scenario != "" {
		e.timeline = "playing"
	}
	l.mu.Unlock()
	if e.Scenario != "" {
		l.plays.Go(func() {
			err := enc.Play(l.ctx)
			l.mu.Lock()
			defer l.mu.Unlock()
			switch {
			case err == nil:
				e.timeline = "done"
			case l.ctx.Err() != nil:
				e.timeline = "stopped"
			default:
				e.timeline = "failed: " + err.Error()
			}
			l.version++
		})
	}
	return nil
}

// loadScenario reads a scenario file (.yaml, .yml) or a bundled one.
func loadScenario(arg string) (*scenario.Scenario, error) {
	if strings.HasSuffix(arg, ".yaml") || strings.HasSuffix(arg, ".yml") {
		return scenario.LoadFile(arg)
	}
	sc, err := scenarios.Load(arg)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no bundled scenario %q (encodersim list shows them; a file must end in .yaml)", arg)
	}
	return sc, err
}

func (l *Lab) names() []string {
	out := make([]string, len(l.encoders))
	for i, e := range l.encoders {
		out[i] = e.Name
	}
	return out
}

// changed marks the page's state as changed.
func (l *Lab) changed() {
	l.mu.Lock()
	l.version++
	l.mu.Unlock()
}

// observe follows the pipeline's attempts (server.Config.Attempts).
func (l *Lab) observe(a store.Attempt) {
	e := l.byID[a.EncoderID] // byID is fixed once Start has built it
	name := a.EncoderID
	if e != nil {
		name = e.Name
	}
	l.mu.Lock()
	v := l.attByID[a.ID]
	if v == nil {
		v = &attemptView{ID: a.ID, Encoder: name, CredentialID: a.CredentialID, CreatedAt: a.CreatedAt}
		l.attByID[a.ID] = v
		l.attempts = append(l.attempts, v)
	}
	v.Status, v.ErrorType, v.ErrorMessage, v.FinishedAt = a.Status, a.ErrorType, a.ErrorMessage, a.FinishedAt
	if a.Result != nil && a.Result.CardNumber != nil {
		v.CardNumber = *a.Result.CardNumber
	}
	var speak *sim.Encoder
	if e != nil && !a.FinishedAt.IsZero() {
		// What was queued for the next command has had its command.
		e.queued = nil
		if e.silent {
			e.silent = false
			speak = e.sim
		}
	}
	l.version++
	l.mu.Unlock()
	if speak != nil {
		speak.Device().Silence(false)
	}
}

// APIURL is the encode API's base URL.
func (l *Lab) APIURL() string { return l.srv.URL() }

// UIURL is the base URL of the lab page's server; the page is at /lab.
func (l *Lab) UIURL() string { return "http://" + l.uiLn.Addr().String() }

// Server is the lab's encode server.
func (l *Lab) Server() *server.Server { return l.srv }

// Close stops the page's server, every virtual encoder and the server,
// and removes the temporary store and links. It reports every error.
func (l *Lab) Close() error {
	var errs []error
	l.stop()
	if l.ui != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		errs = append(errs, l.ui.Shutdown(ctx))
		cancel()
		<-l.served
	}
	l.plays.Wait()
	if l.srv != nil {
		errs = append(errs, l.srv.Close())
	}
	l.mu.Lock()
	var sims []*sim.Encoder
	for _, e := range l.encoders {
		if e.sim != nil {
			sims = append(sims, e.sim)
			e.sim = nil
		}
	}
	l.mu.Unlock()
	for _, s := range slices.Backward(sims) {
		errs = append(errs, s.Close())
	}
	if l.tmp != "" {
		errs = append(errs, os.RemoveAll(l.tmp))
	}
	return errors.Join(errs...)
}
