package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/encoderlab/encoderlab/fixtures"
	"github.com/encoderlab/encoderlab/internal/linkdir"
	"github.com/encoderlab/encoderlab/pipeline/api"
	"github.com/encoderlab/encoderlab/pipeline/attempt"
	"github.com/encoderlab/encoderlab/pipeline/driver"
	// The bundled drivers register themselves (driver.Register).
	_ "github.com/encoderlab/encoderlab/pipeline/driver/acr122"
	_ "github.com/encoderlab/encoderlab/pipeline/driver/pms"
	_ "github.com/encoderlab/encoderlab/pipeline/driver/pn532"
	"github.com/encoderlab/encoderlab/pipeline/store"
	"github.com/encoderlab/encoderlab/pipeline/store/postgres"
	"github.com/encoderlab/encoderlab/pipeline/store/sqlite"
	"github.com/encoderlab/encoderlab/pipeline/webhook"
	"github.com/encoderlab/encoderlab/timescale"
)

// Defaults of Config.
const (
	DefaultAddr   = "127.0.0.1:8450"
	DefaultDBPath = "encoderd.db"
)

// LinksPlaceholder in an encoder's port stands for Config.LinkDir.
const LinksPlaceholder = "{links}"

// shutdownTimeout bounds how long Close waits for requests in flight.
const shutdownTimeout = 10 * time.Second

// DefaultLinkDir is where the simulator publishes its encoders unless told
// otherwise, a directory of the user's own: $XDG_RUNTIME_DIR/encoderlab,
// or $TMPDIR/encoderlab-<uid> when XDG_RUNTIME_DIR is not set
// (linkdir.Default).
func DefaultLinkDir() string { return linkdir.Default() }

// Config configures a Server. Zero values select the documented defaults.
type Config struct {
	// Lab is the fixture set to serve; default fixtures.Bundled().
	Lab *fixtures.Lab
	// LinkDir replaces "{links}" in encoder ports; default DefaultLinkDir().
	// Before it opens such a port the server checks the directory and the
	// link (linkdir.CheckLink): one another user owns or may write, or a
	// link leading to another user's pty, fails the encode with a message
	// that says what to fix, since whoever controls the link receives the
	// card data and chooses the card a credential is issued on.
	LinkDir string
	// DBPath is the store: a SQLite file, or a PostgreSQL URL
	// ("postgres://…" or "postgresql://…"); default DefaultDBPath.
	DBPath string
	// Sharing, when set, makes the server one of several on one store
	// (PostgreSQL, or a SQLite file on one machine), each encoder driven
	// by one of them at a time (attempt.Sharing). Its zero durations
	// default to attempt's defaults scaled by Scale, but a lease lasts at
	// least a second.
	Sharing *attempt.Sharing
	// AcceptStoreReset opens a SQLite store that was emptied, replaced or
	// lost its WAL since it was initialised as it is now, instead of
	// refusing it (sqlite.Options.AcceptReset); the server logs what it
	// accepted.
	AcceptStoreReset bool
	// Addr is the listen address; default DefaultAddr. A port of 0 picks
	// a free one (see URL).
	Addr string
	// Scale compresses protocol time; default 1 (real time).
	Scale timescale.Scale
	// AttemptDeadline is how long an encode attempt may stay pending, in
	// unscaled time: the server multiplies it by Scale like every other
	// protocol duration. Default attempt.DefaultDeadline (30 s).
	AttemptDeadline time.Duration
	// Logger receives the server's logs; default slog.Default().
	Logger *slog.Logger
	// ReadTimeout bounds reading a whole request, header and body;
	// default DefaultReadTimeout (20 s). The header alone must come within
	// DefaultReadHeaderTimeout (10 s), or ReadTimeout if shorter.
	ReadTimeout time.Duration
	// WriteTimeout bounds a request from the end of its header to the end
	// of its answer; default DefaultWriteTimeout (30 s).
	WriteTimeout time.Duration
	// IdleTimeout is how long a keep-alive connection may wait for its
	// next request; default DefaultIdleTimeout (60 s).
	IdleTimeout time.Duration
	// MaxConns caps the API's open connections. Default: the soft limit
	// on open files (RLIMIT_NOFILE) less 128 for the store, logs and the
	// runtime and 3 per encoder (its port, a simulator's pty), at most
	// 4096 and at least 16 (896 under the common limit of 1024 with no
	// encoders). At the cap a new connection is taken, not refused: the
	// connection waiting longest without a request in progress (idle
	// keep-alive, or connected without sending a byte) is closed to make
	// room, so clients that connect and say nothing cannot starve real
	// ones. When every connection is serving a request, the new one waits
	// for one to finish, which the timeouts bound.
	MaxConns int
	// Drivers adds protocol drivers by the name an encoder's "driver"
	// field uses, over the built-in ones (a name of both means this one):
	// a vendor runs the server with its own driver this way. Each
	// function builds the driver for a time scale.
	Drivers map[string]func(timescale.Scale) driver.Driver
	// Attempts, when set, is told of every action attempt: once when it
	// is created (pending), once when its outcome is decided, just
	// before it is written to the store (attempt.Config.Observe). It gets a copy, is
	// called from the goroutine that decided, and must be quick. A lab's
	// page follows encodes this way; the API's answers do not depend on it.
	Attempts func(store.Attempt)
}

// Encoder describes one encoder the server drives.
type Encoder struct {
	WorkspaceID string
	ID          string
	DisplayName string
	Driver      string
	// Port is the resolved path ("{links}" replaced).
	Port string
	Baud int
}

// Server is a running encode server.
type Server struct {
	log      *slog.Logger
	dbPath   string
	encoders []Encoder
	store    store.Store
	svc      *attempt.Service
	hooks    *webhook.Dispatcher
	ln       net.Listener
	http     *http.Server
	served   chan struct{} // closed when Serve returns

	closeOnce sync.Once
	closeErr  error
}

// Start opens the store, starts the attempt service (resolving attempts
// left pending by an earlier run) and serves the API on cfg.Addr. ctx
// bounds the start-up only; Close stops the server.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Lab == nil {
		cfg.Lab = fixtures.Bundled()
	}
	if cfg.LinkDir == "" {
		cfg.LinkDir = DefaultLinkDir()
	}
	if cfg.DBPath == "" {
		cfg.DBPath = DefaultDBPath
	}
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if cfg.Scale == 0 {
		cfg.Scale = timescale.Real
	}
	if err := cfg.Scale.Validate(); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	if cfg.AttemptDeadline < 0 {
		return nil, fmt.Errorf("server: attempt deadline %v is negative", cfg.AttemptDeadline)
	}
	if cfg.AttemptDeadline == 0 {
		cfg.AttemptDeadline = attempt.DefaultDeadline
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"read timeout", &cfg.ReadTimeout, DefaultReadTimeout},
		{"write timeout", &cfg.WriteTimeout, DefaultWriteTimeout},
		{"idle timeout", &cfg.IdleTimeout, DefaultIdleTimeout},
	} {
		if *d.v < 0 {
			return nil, fmt.Errorf("server: %s %v is negative", d.name, *d.v)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if cfg.MaxConns < 0 {
		return nil, fmt.Errorf("server: connection cap %d is negative", cfg.MaxConns)
	}

	encoders, encoderCfgs, linked, err := buildEncoders(cfg)
	if err != nil {
		return nil, err
	}
	scales := &scaleCheck{scale: cfg.Scale, log: cfg.Logger, linked: linked, warned: map[string]float64{}}
	scales.all()
	if cfg.MaxConns == 0 {
		cfg.MaxConns = defaultMaxConns(len(encoders))
	}

	s := &Server{log: cfg.Logger, dbPath: cfg.DBPath, encoders: encoders, served: make(chan struct{})}
	s.store, err = openStore(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s.dbPath = DisplayStore(cfg.DBPath)
	var sharing *attempt.Sharing
	if cfg.Sharing != nil {
		sh := *cfg.Sharing
		if sh.LeaseTTL == 0 {
			sh.LeaseTTL = max(time.Second, cfg.Scale.Of(attempt.DefaultLeaseTTL))
		}
		if sh.Poll == 0 {
			sh.Poll = max(20*time.Millisecond, cfg.Scale.Of(attempt.DefaultPoll))
		}
		if sh.Instance == "" {
			host, _ := os.Hostname()
			sh.Instance = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), uuid.NewString()[:8])
		}
		sharing = &sh
	}
	hooks := webhook.Config{Hooks: labHooks(cfg.Lab), Store: s.store, Scale: cfg.Scale, Logger: cfg.Logger}
	if sharing != nil {
		// One server delivers each hook's events: the one holding its lease.
		hooks.Lease = &webhook.Lease{Holder: sharing.Instance, TTL: sharing.LeaseTTL}
	}
	if s.hooks, err = webhook.Start(ctx, hooks); err != nil {
		return nil, errors.Join(fmt.Errorf("server: %w", err), s.store.Close())
	}
	observe := func(a store.Attempt) {
		if cfg.Attempts != nil {
			cfg.Attempts(a)
		}
		if len(a.Events) > 0 {
			s.hooks.Nudge()
		}
	}
	s.svc, err = attempt.New(attempt.Config{
		Store:    s.store,
		Lab:      cfg.Lab,
		Encoders: encoderCfgs,
		Deadline: cfg.Scale.Of(cfg.AttemptDeadline),
		Open:     openPort(scales),
		Logger:   cfg.Logger,
		Sharing:  sharing,
		Observe:  observe,
	})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("server: %w", err), s.hooks.Close(), s.store.Close())
	}
	if err := s.svc.Start(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("server: %w", err), s.svc.Close(), s.hooks.Close(), s.store.Close())
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.Addr)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("server: listening on %s: %w", cfg.Addr, err), s.svc.Close(), s.hooks.Close(), s.store.Close())
	}
	limiter := newConnLimiter(ln, cfg.MaxConns)
	s.ln = limiter
	s.http = &http.Server{
		Handler: api.New(api.Deps{
			Lab:      cfg.Lab,
			Store:    s.svc.View(),
			Encoding: s.svc,
			Encoders: s.svc,
			Logger:   cfg.Logger,
		}),
		ReadHeaderTimeout: min(DefaultReadHeaderTimeout, cfg.ReadTimeout),
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		ConnState:         limiter.connState,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
	}
	go func() {
		defer close(s.served)
		if err := s.http.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("serving the API stopped", "err", err)
		}
	}()
	s.log.Info("encode server listening", "url", s.URL(), "db", s.dbPath, "shared", sharing != nil, "encoders", len(encoders),
		"scale", float64(cfg.Scale), "attempt_deadline", cfg.Scale.Of(cfg.AttemptDeadline), "max_conns", cfg.MaxConns)
	return s, nil
}

// buildEncoders resolves every workspace's encoders, reporting every
// encoder whose driver is unknown at once. linked holds the ports that
// are links in cfg.LinkDir, each with its encoder's display name.
func buildEncoders(cfg Config) (out []Encoder, cfgs []attempt.EncoderConfig, linked map[string]string, err error) {
	var problems []string
	linked = map[string]string{}
	built := map[string]driver.Driver{} // one driver per protocol: drivers keep no per-port state
	// The registered drivers (driver.Register), the bundled among them,
	// and this server's own over them.
	known := driver.Registered()
	for name, newDriver := range cfg.Drivers {
		if newDriver == nil {
			problems = append(problems, fmt.Sprintf("driver %q has no constructor", name))
			continue
		}
		known[name] = newDriver
	}
	for _, ws := range cfg.Lab.Workspaces {
		for _, e := range ws.Encoders {
			newDriver, ok := known[e.Driver]
			if !ok {
				problems = append(problems, fmt.Sprintf("encoder %s: unknown driver %q (known drivers: %s)",
					e.DisplayName, e.Driver, strings.Join(slices.Sorted(maps.Keys(known)), ", ")))
				continue
			}
			sys := ws.System(e.System)
			if sys == nil {
				problems = append(problems, fmt.Sprintf("encoder %s: unknown acs system %q", e.DisplayName, e.System))
				continue
			}
			d := built[e.Driver]
			if d == nil {
				d = newDriver(cfg.Scale)
				built[e.Driver] = d
			}
			port := strings.ReplaceAll(e.Port, LinksPlaceholder, cfg.LinkDir)
			if strings.Contains(e.Port, LinksPlaceholder) {
				linked[port] = e.DisplayName
			}
			out = append(out, Encoder{WorkspaceID: ws.ID, ID: e.ID, DisplayName: e.DisplayName,
				Driver: e.Driver, Port: port, Baud: e.Baud})
			cfgs = append(cfgs, attempt.EncoderConfig{
				ID: e.ID, WorkspaceID: ws.ID, SystemID: sys.ID, ConnectedAccountID: ws.ConnectedAccountID,
				DisplayName: e.DisplayName, Driver: d, Port: port, Baud: e.Baud,
			})
		}
	}
	if len(problems) > 0 {
		return nil, nil, nil, fmt.Errorf("server: %s", strings.Join(problems, "; "))
	}
	return out, cfgs, linked, nil
}

// openPort opens encoders' ports as the attempt service's default does,
// first checking the ports that are links in the links directory: a
// directory or link another user could have made or changed is refused
// (linkdir.CheckLink), and warning when the simulator holding a link
// runs at another time scale (scaleCheck). A missing link is left to the
// open, whose error says to check the path.
func openPort(scales *scaleCheck) func(attempt.EncoderConfig) (driver.Port, error) {
	return func(e attempt.EncoderConfig) (driver.Port, error) {
		if _, ok := scales.linked[e.Port]; ok {
			if err := linkdir.CheckLink(e.Port); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
			scales.port(e.Port)
		}
		return attempt.OpenPort(e)
	}
}

// scaleCheck warns when the simulator that holds an encoder's link
// (linkdir.HolderScale) runs at another time scale than the server: its
// card wait, write time and answers then no longer fit the driver's
// waits and the attempt deadline, and an encode ends in an outcome that
// says nothing of the scenario (an empty reader's no_credential_on_encoder
// becomes action_attempt_expired). It warns once per link and scale seen.
type scaleCheck struct {
	scale  timescale.Scale
	log    *slog.Logger
	linked map[string]string // port → encoder display name

	mu     sync.Mutex
	warned map[string]float64 // port → the simulator scale last warned of
}

// all checks every linked port whose simulator is already up.
func (c *scaleCheck) all() {
	for _, port := range slices.Sorted(maps.Keys(c.linked)) {
		c.port(port)
	}
}

// port checks one linked port.
func (c *scaleCheck) port(path string) {
	sim, holder, ok := linkdir.HolderScale(path)
	if !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if timescale.Scale(sim) == c.scale {
		delete(c.warned, path)
		return
	}
	if prev, seen := c.warned[path]; seen && prev == sim {
		return
	}
	c.warned[path] = sim
	c.log.Warn(fmt.Sprintf("time scale mismatch: encoder %s's simulator runs at scale %v, this server at %v; "+
		"its card waits and answers no longer fit the driver's waits and the attempt deadline, so encodes end in outcomes "+
		"the scenario does not describe (an empty reader ends action_attempt_expired): start encodersim and encoderd with the same --scale",
		c.linked[path], sim, float64(c.scale)),
		"encoder", c.linked[path], "link", path, "simulator", holder, "simulator_scale", sim, "server_scale", float64(c.scale))
}

// URL is the base URL of the API, e.g. "http://127.0.0.1:8450". A server
// listening on every interface is reached through the loopback address.
func (s *Server) URL() string {
	addr, ok := s.ln.Addr().(*net.TCPAddr)
	if !ok {
		return "http://" + s.ln.Addr().String()
	}
	host := addr.IP
	if host == nil || host.IsUnspecified() {
		host = net.IPv4(127, 0, 0, 1)
	}
	return "http://" + net.JoinHostPort(host.String(), fmt.Sprint(addr.Port))
}

// DBPath names the store: the SQLite file, or the PostgreSQL URL without
// its password.
func (s *Server) DBPath() string { return s.dbPath }

// Encoders lists the encoders the server drives, in lab order.
func (s *Server) Encoders() []Encoder { return slices.Clone(s.encoders) }

// Shutdown stops the server gracefully, within ctx: it refuses new encodes
// (503 service_unavailable) and waits until every attempt in flight has
// reached its terminal status, which each does by its deadline, while the
// rest of the API keeps answering so clients can read those outcomes; then
// it stops as Close does. If ctx ends first, Shutdown stops at once and the
// attempts still in flight stay pending, to resume on the next start; the
// error then says how many. A deadline of the attempt deadline (scaled)
// plus a little lets every attempt end.
func (s *Server) Shutdown(ctx context.Context) error {
	left, err := s.svc.Drain(ctx)
	if err != nil {
		s.log.Warn("stopping with action attempts still in flight; they stay pending and resume on the next start",
			"in_flight", left, "err", err)
		return errors.Join(fmt.Errorf("server: %d action attempts still in flight when the shutdown bound passed: %w", left, err), s.Close())
	}
	s.log.Info("every action attempt in flight has finished")
	return s.Close()
}

// Close stops the server gracefully: it stops accepting requests and waits
// (up to 10 s) for those in flight, then stops the workers, cancelling
// encodes in flight (their attempts stay pending and resume on the next
// Start), and closes the store. Calling it again returns the first result.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		var errs []error
		if err := s.http.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("server: stopping HTTP: %w", err), s.http.Close())
		}
		<-s.served
		errs = append(errs, s.svc.Close(), s.hooks.Close())
		if err := s.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("server: closing store: %w", err))
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// openStore opens the store cfg.DBPath names: PostgreSQL for a
// postgres:// or postgresql:// URL, otherwise a SQLite file, which other
// processes may share only when the server shares its store.
func openStore(ctx context.Context, cfg Config) (store.Store, error) {
	dbPath := cfg.DBPath
	if isPostgresURL(dbPath) {
		st, err := postgres.Open(ctx, dbPath)
		if err != nil {
			return nil, err
		}
		return st, nil
	}
	st, err := sqlite.OpenWith(dbPath, sqlite.Options{Shared: cfg.Sharing != nil, AcceptReset: cfg.AcceptStoreReset})
	if err != nil {
		return nil, err
	}
	if a := st.Accepted(); a != "" {
		cfg.Logger.Warn("store reset accepted: what was lost cannot be recovered by this server", "db", dbPath, "accepted", a)
	}
	return st, nil
}

func isPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// DisplayStore is dbPath as logs and banners may show it: a PostgreSQL
// URL loses its password, in the user part ("user:xxxxx@") or in the
// query ("?password=xxxxx"), which PostgreSQL clients accept too.
func DisplayStore(dbPath string) string {
	if !isPostgresURL(dbPath) {
		return dbPath
	}
	u, err := url.Parse(dbPath)
	if err != nil {
		return "a PostgreSQL URL that does not parse"
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// labHooks are the lab's webhooks, each known in the store by its
// workspace and URL.
func labHooks(lab *fixtures.Lab) []webhook.Hook {
	var out []webhook.Hook
	for _, ws := range lab.Workspaces {
		for _, h := range ws.Webhooks {
			sum := sha256.Sum256([]byte(ws.ID + " " + h.URL))
			out = append(out, webhook.Hook{ID: "webhook-" + hex.EncodeToString(sum[:8]), WorkspaceID: ws.ID,
				URL: h.URL, Secret: h.Secret, Types: h.EventTypes})
		}
	}
	return out
}
