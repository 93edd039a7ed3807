package conformance

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/encoderlab/encoderlab/pipeline/seam"
	"github.com/encoderlab/encoderlab/sim/scenario"
)

// SetupError says why a run cannot start, before any spec runs: each
// problem is one paragraph naming what is wrong and what to fix. A run
// that would fail this way fails the same in every spec (no encoder to
// find, no server to answer), so the suite reports it once instead.
type SetupError struct {
	Problems []string
}

func (e *SetupError) Error() string {
	if len(e.Problems) == 1 {
		return e.Problems[0]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d problems:", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n- ")
		b.WriteString(strings.ReplaceAll(p, "\n", "\n  "))
	}
	return b.String()
}

// PreflightTarget is a Target that can say, before any spec runs,
// whether the system under test can be reached at all. Preflight calls
// it; External implements it.
type PreflightTarget interface {
	Target
	// Preflight returns what keeps the target from starting, with what
	// to fix, or nil.
	Preflight(ctx context.Context) error
}

// Preflight checks, before anything runs, what would otherwise fail
// every spec of a run alike: that each scenario fits the lab
// (scenario.CheckLab) and that the scenarios' names are unique (see
// CheckScenarios); that the target can be reached (a PreflightTarget:
// an external server must answer HTTP); and, with Hardware, that each
// port names an encoder of the lab and a serial device that exists. It
// returns a *SetupError listing every problem found, or nil.
//
// Test calls it before running the suite; a program that calls
// Register and RunSpecs itself calls it first.
func Preflight(ctx context.Context, cfg *Config) error {
	cfg.setDefaults()
	var problems []string
	var se *SetupError
	if err := CheckScenarios(cfg); errors.As(err, &se) {
		problems = append(problems, se.Problems...)
	} else if err != nil {
		problems = append(problems, err.Error())
	}
	if t, ok := cfg.Target.(PreflightTarget); ok {
		if err := t.Preflight(ctx); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if cfg.Hardware != nil {
		problems = append(problems, checkPorts(cfg)...)
	}
	if len(problems) > 0 {
		return &SetupError{Problems: problems}
	}
	return nil
}

// CheckScenarios checks the run's scenarios (Config.Scenarios, or the
// bundled set) against Config.Lab with scenario.CheckLab, and that no
// two share a name (the suite's containers, labels and artifact
// directories are named after them). It returns a *SetupError with one
// problem per scenario file that does not fit, or nil. Plan and
// Preflight both call it.
func CheckScenarios(cfg *Config) error {
	cfg.setDefaults()
	scs, err := cfg.scenarios()
	if err != nil {
		return &SetupError{Problems: []string{fmt.Sprintf("the scenarios do not load:\n%v", err)}}
	}
	var problems []string
	byName := map[string]string{}
	for _, sc := range scs {
		if err := scenario.CheckLab(sc, cfg.Lab); err != nil {
			problems = append(problems, fmt.Sprintf("scenario %s does not fit the lab the suite runs against, so it cannot run; "+
				"change the file to name an encoder, model, ACS system and user of the lab (encodersim lint %s shows the same):\n%v",
				sc.File, sc.File, err))
		}
		if prev, dup := byName[sc.Name]; dup && prev != sc.File {
			problems = append(problems, fmt.Sprintf("scenarios %s and %s are both named %q: the suite tells scenarios apart by name; rename one (its name: key)",
				prev, sc.File, sc.Name))
		}
		byName[sc.Name] = sc.File
		if sc.Scans() && !cfg.profileScans() {
			problems = append(problems, fmt.Sprintf("scenario %s scans a card (scan: true), but profile %s has no /acs/encoders/scan_credential: run it with --profile latest",
				sc.File, cfg.Profile))
		}
	}
	problems = append(problems, labProfileProblems(cfg)...)
	if cfg.Hardware == nil {
		// On hardware such scenarios are left out (hardwareFilter).
		problems = append(problems, systemStepsProblems(cfg.Target, scs)...)
	}
	if len(problems) > 0 {
		return &SetupError{Problems: problems}
	}
	return nil
}

// labProfileProblems names each workspace of the lab that is served
// another revision of Seam's API than the run certifies: its answers would
// be judged by the wrong page. The two seed revisions share one wire
// form, so only latest against a seed profile is a mismatch.
func labProfileProblems(cfg *Config) []string {
	runLatest := cfg.Profile == string(seam.ProfileLatest)
	var problems []string
	for _, ws := range cfg.Lab.Workspaces {
		if (ws.Profile == string(seam.ProfileLatest)) != runLatest {
			problems = append(problems, fmt.Sprintf("the lab serves workspace %s profile %s, but the run certifies profile %s: set the workspace's profile: in the lab file to %s, or run --profile %s",
				ws.ID, ws.Profile, cfg.Profile, cfg.Profile, ws.Profile))
		}
	}
	return problems
}

// checkPorts checks Hardware.Ports: each name an encoder of the lab,
// each device a character device that exists.
func checkPorts(cfg *Config) []string {
	var problems []string
	names := make([]string, 0, len(cfg.Hardware.Ports))
	for name := range cfg.Hardware.Ports {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		dev := cfg.Hardware.Ports[name]
		if _, e := scenario.LabEncoder(cfg.Lab, name); e == nil {
			problems = append(problems, fmt.Sprintf("port %s=%s: the lab has no encoder %s, so no scenario plays there; give the display name of one of the lab's encoders (%s)",
				name, dev, name, labEncoderNames(cfg)))
			continue
		}
		fi, err := os.Stat(dev)
		if sock, _, named := strings.Cut(dev, "#"); named && errors.Is(err, os.ErrNotExist) {
			// A PC/SC reader's port may name the reader after its
			// pcscd's socket (SOCKET#READER).
			if sfi, serr := os.Stat(sock); serr == nil && sfi.Mode()&os.ModeSocket != 0 {
				fi, err = sfi, nil
			}
		}
		switch {
		case errors.Is(err, os.ErrNotExist):
			problems = append(problems, fmt.Sprintf("port %s=%s: no such device; plug the encoder in, or give the serial device it appears as (ls /dev/ttyUSB* /dev/ttyACM* /dev/serial/by-id/)", name, dev))
		case err != nil:
			problems = append(problems, fmt.Sprintf("port %s=%s: %v; give a serial device this user may open", name, dev, err))
		case fi.Mode()&os.ModeSocket != 0:
			// A PC/SC reader's port is its pcscd's socket
			// (/run/pcscd/pcscd.comm; docs/protocols/acr122.md).
		case fi.Mode()&os.ModeCharDevice == 0:
			problems = append(problems, fmt.Sprintf("port %s=%s: not a serial device (a character device, such as /dev/ttyUSB0), but a %s; give the encoder's serial device", name, dev, fileKind(fi)))
		}
	}
	return problems
}

func fileKind(fi os.FileInfo) string {
	switch {
	case fi.IsDir():
		return "directory"
	case fi.Mode().IsRegular():
		return "regular file"
	}
	return fi.Mode().Type().String()
}

func labEncoderNames(cfg *Config) string {
	var out []string
	for _, ws := range cfg.Lab.Workspaces {
		for _, e := range ws.Encoders {
			out = append(out, e.DisplayName)
		}
	}
	return strings.Join(out, ", ")
}

// preflightTimeout bounds the external server's first answer.
const preflightTimeout = 5 * time.Second

// Preflight checks that the server answers HTTP at its URL: any status
// will do (the suite judges the answers), but a refused connection, an
// unknown host or no answer in 5 s means nothing can be checked.
func (t external) Preflight(ctx context.Context) error {
	if _, err := t.Start(ctx, Env{}); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, preflightTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(t.url, "/")+"/acs/encoders/list", nil)
	if err != nil {
		return fmt.Errorf("external server: API URL %q: %v", t.url, err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("external server at %s does not answer (%v); start it (encoderd --links %s), or give the URL it listens on (encoder-conformance run --api-url)", t.url, unwrapURLError(err), t.linkDir)
	}
	res.Body.Close()
	return nil
}

// unwrapURLError drops the "Get URL:" that *url.Error adds, since the
// message names the server already.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}
