package conformance

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/encoderlab/encoderlab/fixtures"
	"github.com/encoderlab/encoderlab/pipeline/seam"
	"github.com/encoderlab/encoderlab/pipeline/server"
	"github.com/encoderlab/encoderlab/sim/model"
	"github.com/encoderlab/encoderlab/sim/scenario"
	"github.com/encoderlab/encoderlab/timescale"
)

// DefaultTimeScale compresses every protocol timeout, device wait and
// attempt deadline twenty-fold, so the bundled scenarios run in seconds
// while keeping each ACK wait (25 ms) well above scheduling noise on a
// loaded CI machine. Set ENCODERLAB_TIME_SCALE=1 to run at real time.
const DefaultTimeScale timescale.Scale = 0.05

// Config says what the suite runs and against what. NewConfig fills in
// documented defaults; the zero value of each field means "default".
type Config struct {
	// Scenarios to run, one container each. Default (nil): every
	// bundled scenario. Files of your own load with
	// scenario.LoadPaths(files or directories...); append
	// Bundled(cfg) to run them with the bundled set. Each must fit
	// Lab (scenario.CheckLab) and have a name of its own: Plan and
	// Preflight refuse the run otherwise, with a *SetupError.
	Scenarios []*scenario.Scenario
	// TimeScale multiplies every duration on both sides of the line.
	// Default: $ENCODERLAB_TIME_SCALE, else DefaultTimeScale.
	TimeScale timescale.Scale
	// Target starts the system under test. Default: InProcess().
	Target Target
	// Lab holds the workspaces, keys, systems and users the suite uses;
	// the target must serve the same lab, each workspace the revision of
	// Seam's API the run certifies (Profile). Default: fixtures.Bundled()
	// with every workspace served Profile.
	Lab *fixtures.Lab
	// AttemptDeadline is the target's action-attempt deadline at real
	// time; the suite waits that long (scaled) plus a margin for a
	// terminal status. Default 30 s, encoderd's default.
	AttemptDeadline time.Duration
	// PersonalAccessToken makes the suite authenticate with the
	// workspace's personal access token and the seam-workspace header
	// instead of its API key.
	PersonalAccessToken bool
	// APIKey, when set, authenticates instead of the lab workspace's first
	// API key (an external server configured with its own keys for the
	// same workspace). PersonalAccessToken then uses PAT instead.
	APIKey string
	PAT    string
	// Hardware, when not nil, runs against real encoders instead of
	// virtual ones: see Hardware.
	Hardware *Hardware
	// Certified fails the run when any requirement of the profile is not
	// checked: a spec skipped, pending, focused or filtered out.
	Certified bool
	// Profile is the spec revision to certify against: "current" (the
	// newer seed), "older" (the older seed) or "latest" (Seam's published
	// types, seam.LatestTypesVersion). Default: current.
	Profile string
	// Registry holds the requirements. Default: Requirements(), the
	// bundled conformance/requirements.yaml.
	Registry *Registry
	// Logger receives the pipeline's and the virtual encoders' logs.
	// Default: discarded.
	Logger *slog.Logger
	// ArtifactDir, when set, receives the line trace of every scenario
	// with a failed spec, as ArtifactDir/<scenario>/TRACE.jsonl, and its
	// timeline page, TRACE.html; the certification report links each
	// page relative to ArtifactDir, so write the report there too.
	ArtifactDir string
	// StallReruns is how many times, at most, a scenario whose checks
	// failed is run again when the machine stalled during the run (see
	// StallThreshold). Default DefaultStallReruns; NoStallReruns turns
	// re-runs off. Real encoders are never re-run.
	StallReruns int
	// Stalls, when set, replaces the suite's own measure of the machine
	// (internal/stall) in that decision: it returns the longest stall
	// between from and to, and what stalled, in words.
	Stalls func(from, to time.Time) (time.Duration, string)
	// Concurrency is how many scenarios one process plays at once: 0
	// or 1 plays each in its container's BeforeAll, one after the
	// other. Above 1, the first scenario container to run starts
	// playing every scenario the run's label filter selects, in plan
	// order, that many at a time, each on its own virtual encoders and
	// system under test, so their scaled waits overlap; each container
	// then checks the recording made for it. It applies to in-process
	// and driver targets in a process Ginkgo does not share out
	// (ginkgo -p): an external target (one set of links) and hardware
	// play one scenario at a time whatever it says.
	Concurrency int

	// ahead plays scenarios ahead of their containers (Concurrency).
	ahead *aheadPool
	// defaultLab is the profile Lab was made for when the suite made it
	// (the bundled lab), "" when the caller gave Lab.
	defaultLab string
}

// NoStallReruns as Config.StallReruns never runs a scenario again.
const NoStallReruns = -1

// NewConfig returns the default configuration: every bundled scenario
// against the in-process pipeline, time compressed.
func NewConfig() Config {
	c := Config{}
	c.setDefaults()
	return c
}

func (c *Config) setDefaults() {
	if c.TimeScale == 0 {
		c.TimeScale = DefaultTimeScale
		if v := os.Getenv("ENCODERLAB_TIME_SCALE"); v != "" {
			if f, err := strconv.ParseFloat(v, 64); err == nil && timescale.Scale(f).Validate() == nil && f > 0 {
				c.TimeScale = timescale.Scale(f)
			}
		}
	}
	if c.Target == nil {
		c.Target = InProcess()
	}
	if c.AttemptDeadline == 0 {
		c.AttemptDeadline = 30 * time.Second
	}
	if c.StallReruns == 0 {
		c.StallReruns = DefaultStallReruns
	}
	if c.Profile == "" {
		c.Profile = "current"
	}
	if c.Lab == nil || (c.defaultLab != "" && c.defaultLab != c.Profile) {
		// The default lab follows Profile, also when Profile is set
		// after NewConfig.
		c.Lab, c.defaultLab = fixtures.Bundled(), c.Profile
		if p, err := seam.ParseProfile(c.Profile); err == nil {
			c.Lab = c.Lab.WithProfile(string(p))
		}
	}
	if c.Registry == nil {
		c.Registry = Requirements()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

// forScenario is c as sc runs under it: at the largest of c's time scale
// and the floors of sc's encoders' models (model.Model.MinScale), so a
// model whose transport has waits no scale shortens is not played faster
// than they allow (real hardware runs at 1, above every floor). A target
// whose links stay put (a system started once, outside the suite) runs
// at the one it was started with: c unchanged.
func (c *Config) forScenario(sc *scenario.Scenario) *Config {
	scale := c.TimeScale
	for _, e := range sc.AllEncoders() {
		if m, ok := model.Lookup(e.Model); ok && m.MinScale > scale {
			scale = m.MinScale
		}
	}
	if scale == c.TimeScale || fixedLinkDir(c.Target) != "" {
		return c
	}
	scaled := *c
	scaled.TimeScale = scale
	return &scaled
}

// Target starts a system under test: an encode pipeline serving the
// Seam-compatible API.
type Target interface {
	// Start brings up the system for one spec. Its encoders' serial
	// ports are the symlinks in env.LinkDir, one per encoder, named by
	// the encoder's display name.
	Start(ctx context.Context, env Env) (System, error)
}

// Env is what a target gets from the suite for one spec.
type Env struct {
	// LinkDir holds the virtual encoders' tty symlinks.
	LinkDir string
	// TempDir is a fresh directory the target may use (its database).
	TempDir   string
	TimeScale timescale.Scale
	// AttemptDeadline is Config.AttemptDeadline: the deadline before the
	// time scale applies, which the system must use.
	AttemptDeadline time.Duration
	Lab             *fixtures.Lab
	// Profile is the revision of Seam's API the run certifies
	// (Config.Profile); Lab's workspaces are served it.
	Profile string
	Logger  *slog.Logger
}

// System is a running system under test.
type System interface {
	// URL is the API's base URL, e.g. http://127.0.0.1:8450.
	URL() string
	Close() error
}

// InProcess is the bundled pipeline (pipeline/server) started in this
// process: real HTTP on loopback, a real SQLite file, the real drivers on
// the virtual encoders' ptys.
func InProcess() Target { return inProcess{} }

type inProcess struct{}

func (inProcess) Start(ctx context.Context, env Env) (System, error) {
	s, err := server.Start(ctx, server.Config{
		Lab:     env.Lab,
		LinkDir: env.LinkDir,
		DBPath:  filepath.Join(env.TempDir, "encoderd.db"),
		Addr:    "127.0.0.1:0",
		Scale:   env.TimeScale,
		Logger:  env.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("starting the in-process pipeline: %w", err)
	}
	return s, nil
}

// Hardware describes real encoders for a run: the same scenarios, with a
// person (the Operator) doing what the timeline's physical steps say.
// Only scenarios whose timeline has nothing but physical steps (place,
// remove, wait, await) can run this way; the others need a virtual
// encoder and are left out, which certified mode reports.
type Hardware struct {
	// Ports maps an encoder's display name to its serial device, e.g.
	// "front-desk-1" → "/dev/ttyUSB0".
	Ports map[string]string
	// Operator carries out the physical steps. Default: prompts on the
	// terminal and waits for Enter.
	Operator Operator
}

// Operator is the person at the desk during a hardware run.
type Operator interface {
	// Perform asks for one physical step ("place the MIFARE Classic 1K
	// card 04A224B1C3D4E5 on encoder front-desk-1") and returns when it
	// is done, or with an error if the operator gave up or ctx ended.
	Perform(ctx context.Context, instruction string) error
}
