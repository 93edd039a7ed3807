package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/encoderlab/encoderlab/conformance"
	"github.com/encoderlab/encoderlab/fixtures"
	"github.com/encoderlab/encoderlab/sim/scenario"
	"github.com/encoderlab/encoderlab/timescale"
)

const runUsage = `Usage: encoder-conformance run [flags]

Run the conformance suite against a system under test and write, in the
report directory: junit.xml, ginkgo.json, certification.yaml and
certification.html. A summary goes to stdout, progress to stderr.

System under test:
  --target inprocess|external|encoderd
                               the bundled pipeline in this process (default),
                               a server you run (needs --api-url, --links), or
                               encoderd run by the suite, a process per scenario
                               (the target a timeline's server and store steps
                               need: it kills the process and fills its store's
                               disk, a tmpfs it mounts as root)
  --encoderd FILE              the encoderd binary of --target encoderd (default:
                               encoderd beside this program, else on PATH)
  --api-url URL                the external server's base URL
  --links DIR                  where the external server looks for its encoders'
                               ports; the suite puts virtual encoders there
  --api-key KEY                authenticate with this API key instead of the lab's
  --pat TOKEN --workspace ID   authenticate with a personal access token
  --hardware                   real encoders: only scenarios a person can carry
                               out, with prompts on the terminal
  --port NAME=DEVICE           an encoder's serial device (repeatable), with --hardware

What to run:
  --scenarios FILE|DIR         run these scenario files instead of the bundled
                               set (repeatable): a file, or every *.yaml and
                               *.yml file directly in a directory
  --bundled                    with --scenarios: run the bundled set too (alone:
                               the bundled set, the default)
  --profile current|older|latest  spec revision to certify against: a seed
                               revision, or Seam's published types (default current)
  --label-filter EXPR          Ginkgo label filter, e.g. 'api || scenario:first-issue'
  --focus REGEXP               only specs whose text matches
  --shard I/N                  only the I-th of N equal parts of the suite (1-based),
                               to split one run across several machines
  --scale F                    time scale (default $ENCODERLAB_TIME_SCALE, else 0.05)
  --procs N                    run in N parallel processes (default 1)
  --concurrency N              play up to N scenarios at once in each process,
                               each on its own virtual encoders and pipeline, so
                               their waits overlap (default 1; in process only)
  --certified                  fail unless every requirement of the profile is
                               checked by a passing spec (nothing filtered out)
  --stall-reruns N             run a scenario again, at most N times (default 2),
                               when its checks failed while the machine stalled
                               (a CPU, or the kernel's pty delivery, held up for
                               50 ms or more); each re-run is in the summary and
                               the reports. 0: never

Reports:
  --report-dir DIR             where reports go (default reports)
  --product NAME               product name for the certification report
  --version V                  product version for the certification report
  -v                           verbose: every spec as it runs

Scenarios. Without --scenarios the run plays every bundled scenario
("encodersim list" shows them). --scenarios replaces that set with your
files; add --bundled to play both. Before anything runs, each file must
load and fit the suite's lab (fixtures/lab.yaml): its encoder is one of
the lab's, driven with the scenario's model, and its credential's ACS
system and user are that encoder's own ("encodersim lint FILE" checks
the same); and no two scenarios may share a name. Your scenarios run on
every target: in process, against an external server (which must serve
the lab's encoders), and on real encoders (only those a person can
carry out, with a --port for their encoder).

Setup. Before any spec runs, the run checks what would otherwise fail
every spec alike, and stops with exit status 2 and what to fix: a
scenario that does not load or fit the lab, two scenarios of one name,
an external server that does not answer at --api-url, a --port encoder
the lab lacks or a device that does not exist, a report directory that
cannot be written.

Examples:
  encoder-conformance run
  encoder-conformance run --scenarios ./my-scenarios --scenarios bug-123.yaml
  encoder-conformance run --scenarios ./my-scenarios --bundled
  encoder-conformance run --certified --procs 2 --profile older --report-dir reports/older
  encoder-conformance run --label-filter 'api || scenario:first-issue'
  encoder-conformance run --target external --api-url http://127.0.0.1:8450 \
      --links "$XDG_RUNTIME_DIR/encoderlab" --product acme-encode --version 1.4.2
  encoder-conformance run --hardware --scale 1 --port front-desk-1=/dev/ttyUSB0

Exit status:
  0  every requirement that ran passed (with --certified: and every
     requirement of the profile was checked)
  1  a requirement failed, or with --certified one was not checked
  2  nothing ran: a usage error (a bad flag or combination of flags) or a
     setup error (see Setup)
  130, 143  interrupted by SIGINT (Ctrl-C) or SIGTERM: the parts stop their
     specs and clean up, and the summary and reports of what ran are
     written, marked interrupted
`

// options are run's flags.
type options struct {
	profile     string
	target      string
	apiURL      string
	links       string
	encoderd    string
	apiKey      string
	pat         string
	workspace   string
	hardware    bool
	ports       portsFlag
	labelFilter string
	focus       string
	shard       part
	scale       float64
	procs       int
	concurrency int
	certified   bool
	reportDir   string
	product     string
	version     string
	verbose     bool
	stallReruns int
	scenarios   []string
	bundled     bool

	// Set by the parent on the processes it starts: which part of the
	// (sharded) plan the process runs, and where its Ginkgo JSON goes.
	process       part
	processReport string
}

// part is "I/N", the I-th (1-based) of N parts.
type part struct{ i, n int }

func (p *part) String() string {
	if p.n == 0 {
		return ""
	}
	return fmt.Sprintf("%d/%d", p.i, p.n)
}

func (p *part) Set(s string) error {
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 1 || i > n {
		return fmt.Errorf("want I/N with 1 ≤ I ≤ N, e.g. 2/3")
	}
	p.i, p.n = i, n
	return nil
}

// portsFlag collects --port NAME=DEVICE.
type portsFlag map[string]string

func (p *portsFlag) String() string { return "" }

func (p *portsFlag) Set(s string) error {
	name, dev, ok := strings.Cut(s, "=")
	if !ok || name == "" || dev == "" {
		return fmt.Errorf("want NAME=DEVICE, e.g. front-desk-1=/dev/ttyUSB0")
	}
	if *p == nil {
		*p = portsFlag{}
	}
	if _, dup := (*p)[name]; dup {
		return fmt.Errorf("encoder %q given twice", name)
	}
	(*p)[name] = dev
	return nil
}

// parseRun parses run's flags; on a usage error it has told the user and
// returns the exit code.
func parseRun(args []string, stdout, stderr io.Writer) (*options, int, bool) {
	o := &options{}
	fs := runFlags(o, stdout, stderr)
	if code, stop := parse(fs, args); stop {
		return nil, code, false
	}
	if msg := o.validate(); msg != "" {
		return nil, usageError(stderr, "run", "%s", msg), false
	}
	return o, 0, true
}

// hiddenRunFlags are run's flags that only its own parallel processes
// use; runUsage does not list them.
var hiddenRunFlags = map[string]bool{"process": true, "process-report": true}

// runFlags defines run's flags on o. Their help is runUsage, written by
// hand to group them; TestRunUsageListsEveryFlag keeps the two in step.
func runFlags(o *options, stdout, stderr io.Writer) *flag.FlagSet {
	fs := newFlags("run", runUsage, stdout, stderr)
	fs.StringVar(&o.profile, "profile", "current", "")
	fs.StringVar(&o.target, "target", "inprocess", "")
	fs.StringVar(&o.apiURL, "api-url", "", "")
	fs.StringVar(&o.links, "links", "", "")
	fs.StringVar(&o.encoderd, "encoderd", "", "")
	fs.StringVar(&o.apiKey, "api-key", "", "")
	fs.StringVar(&o.pat, "pat", "", "")
	fs.StringVar(&o.workspace, "workspace", "", "")
	fs.BoolVar(&o.hardware, "hardware", false, "")
	fs.Var(&o.ports, "port", "")
	fs.StringVar(&o.labelFilter, "label-filter", "", "")
	fs.StringVar(&o.focus, "focus", "", "")
	fs.Var(&o.shard, "shard", "")
	fs.Float64Var(&o.scale, "scale", 0, "")
	fs.IntVar(&o.procs, "procs", 1, "")
	fs.IntVar(&o.concurrency, "concurrency", 1, "")
	fs.BoolVar(&o.certified, "certified", false, "")
	fs.StringVar(&o.reportDir, "report-dir", "reports", "")
	fs.StringVar(&o.product, "product", "", "")
	fs.StringVar(&o.version, "version", "", "")
	fs.BoolVar(&o.verbose, "v", false, "")
	fs.IntVar(&o.stallReruns, "stall-reruns", conformance.DefaultStallReruns, "")
	fs.Func("scenarios", "", func(s string) error {
		if s == "" {
			return fmt.Errorf("want a scenario file or a directory of them")
		}
		o.scenarios = append(o.scenarios, s)
		return nil
	})
	fs.BoolVar(&o.bundled, "bundled", false, "")
	fs.Var(&o.process, "process", "")
	fs.StringVar(&o.processReport, "process-report", "", "")
	return fs
}

// validate returns what is wrong with the combination of flags, or "".
func (o *options) validate() string {
	reg := conformance.Requirements()
	switch {
	case reg.Profile(o.profile) == nil:
		return fmt.Sprintf("unknown profile %q (%s)", o.profile, profileIDs(reg))
	case !slices.Contains([]string{"inprocess", "external", "encoderd"}, o.target):
		return fmt.Sprintf("unknown target %q: want inprocess, external or encoderd", o.target)
	case o.target == "external" && (o.apiURL == "" || o.links == ""):
		return "--target external needs --api-url and --links"
	case o.target != "external" && (o.apiURL != "" || o.links != ""):
		return "--api-url and --links go with --target external"
	case o.target != "encoderd" && o.encoderd != "":
		return "--encoderd goes with --target encoderd"
	case o.apiKey != "" && o.pat != "":
		return "--api-key and --pat are alternatives: give one"
	case (o.pat == "") != (o.workspace == ""):
		return "--pat and --workspace go together"
	case o.workspace != "" && !labHasWorkspace(o.workspace):
		return fmt.Sprintf("--workspace %q is not a workspace of the suite's lab (fixtures/lab.yaml): the server must serve the lab's workspaces with the same ids", o.workspace)
	case len(o.ports) > 0 && !o.hardware:
		return "--port goes with --hardware"
	case o.hardware && len(o.ports) == 0:
		return "--hardware needs at least one --port NAME=DEVICE"
	case o.scale < 0 || (o.scale > 0 && timescale.Scale(o.scale).Validate() != nil):
		return fmt.Sprintf("--scale %v is not a valid time scale", o.scale)
	case o.stallReruns < 0:
		return "--stall-reruns must be 0 (never) or more"
	case o.procs < 1:
		return "--procs must be at least 1"
	case o.procs > 1 && (o.target == "external" || o.hardware):
		return "an external server or real encoders run one scenario at a time: drop --procs"
	case o.concurrency < 1:
		return "--concurrency must be at least 1"
	case o.concurrency > 1 && (o.target == "external" || o.hardware):
		return "an external server or real encoders play one scenario at a time: drop --concurrency"
	case o.reportDir == "" && o.processReport == "":
		return "--report-dir must not be empty"
	}
	return ""
}

// labHasWorkspace reports whether the bundled lab has a workspace with
// that id. The suite sends the lab's workspace id as seam-workspace, so a
// personal access token is tried against that workspace only.
func labHasWorkspace(id string) bool {
	for _, ws := range fixtures.Bundled().Workspaces {
		if ws.ID == id {
			return true
		}
	}
	return false
}

// config is the suite's configuration for these options. It fails when
// the --scenarios files do not load.
func (o *options) config() (conformance.Config, error) {
	cfg := conformance.NewConfig()
	if len(o.scenarios) > 0 {
		scs, err := scenario.LoadPaths(o.scenarios...)
		if err != nil {
			return cfg, &conformance.SetupError{Problems: []string{fmt.Sprintf(
				"the --scenarios files do not load; fix each problem below (encodersim lint FILE shows the same):\n%v", err)}}
		}
		if o.bundled {
			cfg.Profile = o.profile
			bundled, err := conformance.Bundled(&cfg)
			if err != nil {
				return cfg, err
			}
			var problems []string
			for _, sc := range scs {
				if slices.ContainsFunc(bundled, func(b *scenario.Scenario) bool { return b.Name == sc.Name }) {
					problems = append(problems, fmt.Sprintf("%s is named %q, as a bundled scenario is, and --bundled runs both: the suite tells scenarios apart by name; give yours another name (its name: key)", sc.File, sc.Name))
				}
			}
			if len(problems) > 0 {
				return cfg, &conformance.SetupError{Problems: problems}
			}
			scs = append(bundled, scs...)
		}
		cfg.Scenarios = scs
	}
	cfg.Profile = o.profile
	cfg.Certified = o.certified
	// A failed scenario's line trace and timeline go next to the reports,
	// where certification.html links them.
	cfg.ArtifactDir = o.reportDir
	cfg.StallReruns = o.stallReruns
	cfg.Concurrency = o.concurrency
	if o.stallReruns == 0 {
		cfg.StallReruns = conformance.NoStallReruns
	}
	if o.scale > 0 {
		cfg.TimeScale = timescale.Scale(o.scale)
	}
	switch o.target {
	case "external":
		cfg.Target = conformance.External(o.apiURL, o.links)
	case "encoderd":
		bin, err := encoderdBinary(o.encoderd)
		if err != nil {
			return cfg, err
		}
		cfg.Target = conformance.Encoderd(bin)
	}
	cfg.APIKey = o.apiKey
	if o.pat != "" {
		cfg.PersonalAccessToken = true
		cfg.PAT = o.pat
	}
	if o.hardware {
		cfg.Hardware = &conformance.Hardware{
			Ports:    o.ports,
			Operator: conformance.TerminalOperator(os.Stdin, os.Stderr),
		}
	}
	return cfg, nil
}

// targetInfo describes the system under test for the reports.
func (o *options) targetInfo() (kind, url string) {
	kind, url = "in-process", "in-process"
	switch o.target {
	case "external":
		kind, url = "external", o.apiURL
	case "encoderd":
		kind, url = "encoderd", "a process per scenario"
	}
	if o.hardware {
		kind = "hardware"
	}
	return kind, url
}

// encoderdBinary is the encoderd of --target encoderd: flag when given,
// else encoderd beside this program, else on PATH.
func encoderdBinary(flag string) (string, error) {
	if flag != "" {
		abs, err := filepath.Abs(flag)
		if err != nil {
			return "", err
		}
		if _, err := os.Stat(abs); err != nil {
			return "", fmt.Errorf("--encoderd: %w", err)
		}
		return abs, nil
	}
	if self, err := os.Executable(); err == nil {
		beside := filepath.Join(filepath.Dir(self), "encoderd")
		if _, err := os.Stat(beside); err == nil {
			return beside, nil
		}
	}
	if p, err := exec.LookPath("encoderd"); err == nil {
		return filepath.Abs(p)
	}
	return "", errors.New("--target encoderd: no encoderd beside this program or on PATH; build one (go build -o encoderd ./cmd/encoderd) and pass --encoderd ./encoderd")
}
