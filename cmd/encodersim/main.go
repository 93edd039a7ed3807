// Command encodersim runs virtual card encoders on pseudo-terminals, each
// playing a scenario, so that encoderd (or any program that speaks an
// encoder's protocol) can drive them as if they were desk encoders.
//
//	encodersim run [--links DIR] [--scale F] [--bundled] [--encoder [SCENARIO=]NAME]... FILE|NAME...
//	encodersim lint [--lab FILE] FILE...
//	encodersim list
//	encodersim show [-o OUT.html] [--outcome TEXT] TRACE
//
// Run publishes each encoder as DIR/<encoder id>, by default under the
// user's own $XDG_RUNTIME_DIR/encoderlab (or $TMPDIR/encoderlab-<uid>
// without XDG_RUNTIME_DIR), where the bundled lab (fixtures/lab.yaml)
// tells encoderd to look, so the two find each other with no
// configuration. A links directory another user owns or may write is
// refused, and so is an encoder whose link another running simulator
// holds. Each encoder plays one scenario: --encoder moves a scenario to
// another lab encoder of its model, and a scenario whose encoder an
// earlier one took plays on the lab's next free one.
//
// Lint checks scenario files, and that each fits the lab
// (scenario.CheckLab), as the conformance suite does before it runs.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"

	"github.com/encoderlab/encoderlab/fixtures"
	"github.com/encoderlab/encoderlab/internal/cli"
	"github.com/encoderlab/encoderlab/internal/linkdir"
	"github.com/encoderlab/encoderlab/scenarios"
	"github.com/encoderlab/encoderlab/sim"
	"github.com/encoderlab/encoderlab/sim/scenario"
	"github.com/encoderlab/encoderlab/timescale"
)

// Exit codes.
const (
	exitOK    = cli.ExitOK
	exitFail  = cli.ExitFail // a scenario failed to load, to start or to play; a recording failed or its device hung up
	exitUsage = cli.ExitUsage
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `encodersim runs virtual card encoders on pseudo-terminals.

Usage:
  encodersim run [--links DIR] [--scale F] [--bundled] [--encoder [SCENARIO=]NAME]... FILE|NAME...
  encodersim lint [--lab FILE] FILE...
  encodersim list
  encodersim show [-o OUT.html] [--outcome TEXT] TRACE
  encodersim record --device PATH --link PATH [--protocol P] [--out FILE] [--redact LIST]
  encodersim convert [--encoder ID] [--expect OUTCOME] [--system KEY] [--scale F] TRACE
  encodersim help [COMMAND]

Commands:
  run      start an encoder for each scenario and play its timeline
  lint     check scenario files, and that they fit the lab, and print every problem
  list     list the bundled scenarios
  show     draw a serial trace as an HTML timeline
  record   forward between an encoder and the pipeline, writing a trace
  convert  turn a trace into a replay scenario

Run "encodersim COMMAND --help" for a command's flags and examples.
`

// run is the whole program, with its environment passed in.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return cli.Dispatch("encodersim", usage, args, stdout, stderr,
		cli.Command{Name: "run", Run: func(a []string) int { return runCmd(ctx, a, stdout, stderr) }},
		cli.Command{Name: "lint", Run: func(a []string) int { return lintCmd(a, stdout, stderr) }},
		cli.Command{Name: "list", Run: func(a []string) int { return listCmd(a, stdout, stderr) }},
		cli.Command{Name: "show", Run: func(a []string) int { return showCmd(a, stdout, stderr) }},
		cli.Command{Name: "record", Run: func(a []string) int { return recordCmd(ctx, a, stdout, stderr) }},
		cli.Command{Name: "convert", Run: func(a []string) int { return convertCmd(a, stdout, stderr) }},
	)
}

// newFlags returns a flag set for a subcommand whose --help prints text
// and the flags.
func newFlags(name, text string, stdout, stderr io.Writer) *flag.FlagSet {
	return cli.NewFlagSet("encodersim", name, text, stdout, stderr, true)
}

// parse parses args, returning an exit code when the command must stop:
// exitOK after --help, exitUsage on a bad flag.
func parse(fs *flag.FlagSet, args []string) (int, bool) { return cli.Parse(fs, args) }

// defaultLinks is where encoderd's bundled lab looks for encoders.
func defaultLinks() string { return linkdir.Default() }

const runUsage = `Usage: encodersim run [--links DIR] [--scale F] [--bundled] [--encoder [SCENARIO=]NAME]... [--lab FILE] FILE|NAME...

Start the virtual encoders of each scenario (one, or the scenario's
encoders list), print one line per encoder
(id, model, tty, link), play each scenario's timeline and print how it
ended, then keep the encoders running until interrupted (Ctrl-C or
SIGTERM). An argument ending in .yaml or .yml is a file; any other
argument, or every argument with --bundled, names a bundled scenario
("encodersim list" shows them).

Encoders. A scenario plays on the encoder its file names (encoder.id),
unless --encoder puts it on another encoder of the lab that the lab
drives with the same model: --encoder NAME with one scenario,
--encoder SCENARIO=NAME (the scenario's name, or the argument as
written) with several. One encoder plays one scenario: when several
scenarios name the same encoder, the first keeps it and each of the
others plays on the lab's next free encoder of its model, in the lab's
order (fixtures/lab.yaml: front-desk-1, front-desk-2, station-desk for
pms; nfc-desk-1, nfc-station-desk for pn532), which stderr says and the
encoder's line shows. A scenario of several encoders plays on its own
(they share its cards); --encoder does not move it, and no other
scenario takes its encoders. A model's encoders all taken is an error. The
credential you encode is up to you: give encoderd one of the new
encoder's own ACS system. --lab FILE takes the encoders from another
lab (the one encoderd runs with, encoderd --lab FILE).

Links. Each encoder is published as DIR/<encoder id>, a symlink to its
pty. DIR defaults to $XDG_RUNTIME_DIR/encoderlab, or to
$TMPDIR/encoderlab-<uid> when XDG_RUNTIME_DIR is not set: where encoderd
looks by default. DIR is created with mode 0700; a DIR another user owns,
or that group or others may write, is refused, since whoever controls it
controls what encoderd talks to. An encoder whose link another running
simulator holds is refused too, naming that simulator; the link of one
that was killed is taken over.

Exit status: 0 stopped by a signal with no timeline failed; 1 a scenario
failed to load, to start or to play, or a model's encoders were all
taken; 2 a usage error, an --encoder the lab lacks or drives with
another model among them.

Examples:
  encodersim run first-issue
  encodersim run --scale 0.1 empty-reader busy-then-success
  encodersim run --encoder station-desk first-issue
  encodersim run --encoder busy-then-success=station-desk empty-reader busy-then-success
  encodersim run --links /run/encoderlab ./my-desk.yaml
`

func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("run", runUsage, stdout, stderr)
	links := fs.String("links", defaultLinks(), "publish each encoder as `DIR`/<encoder id> (a directory of your own; see Links above)")
	scale := fs.Float64("scale", 1, "time scale `F` for every device and timeline duration (0.01 runs 100 times faster)")
	bundled := fs.Bool("bundled", false, "read every argument as a bundled scenario name")
	var encoders encoderFlags
	fs.Var(&encoders, "encoder", "play a scenario on another lab encoder of its model, as `[SCENARIO=]NAME` (repeatable; see Encoders above)")
	labFile := fs.String("lab", "", "take the lab's encoders from `FILE` instead of the bundled fixtures/lab.yaml")
	debug := fs.Bool("debug", false, "log every byte on the lines")
	if code, stop := parse(fs, args); stop {
		return code
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "encodersim run: no scenario given")
		fs.Usage()
		return exitUsage
	}
	if err := timescale.Scale(*scale).Validate(); err != nil || *scale == 0 {
		fmt.Fprintf(stderr, "encodersim run: --scale %v: want a factor in (0, 1000]\n", *scale)
		return exitUsage
	}
	lab, err := loadLab(*labFile)
	if err != nil {
		fmt.Fprintf(stderr, "encodersim run: --lab: %v\n", err)
		return exitUsage
	}
	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	var scs []*scenario.Scenario
	var argOf []string
	failed := false
	for _, arg := range fs.Args() {
		sc, err := load(arg, *bundled)
		if err != nil {
			fmt.Fprintln(stderr, err)
			failed = true
			continue
		}
		scs = append(scs, sc)
		argOf = append(argOf, arg)
	}
	if failed {
		return exitFail
	}
	if code, ok := assignEncoders(scs, argOf, encoders, lab, stderr); !ok {
		return code
	}

	opts := sim.Options{LinkDir: *links, Scale: timescale.Scale(*scale), Logger: log}
	// One desk per scenario: its encoders (most have one) on its cards.
	var desks []*sim.Desk
	closeAll := func() int {
		code := exitOK
		for _, d := range slices.Backward(desks) {
			if err := d.Close(); err != nil {
				log.Error("close", "err", err)
				code = exitFail
			}
		}
		return code
	}
	out := &syncWriter{w: stdout}
	for _, sc := range scs {
		d, err := sim.StartDesk(ctx, sc, opts)
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", sc.File, err)
			closeAll()
			return exitFail
		}
		desks = append(desks, d)
		for _, e := range d.Encoders() {
			out.printf("%s\tmodel %s\ttty %s\tlink %s\n", e.ID(), e.Model(), e.TTY(), e.Link())
		}
	}

	var wg sync.WaitGroup
	var playFailed atomic.Bool
	for i, d := range desks {
		var ids []string
		for _, e := range d.Encoders() {
			ids = append(ids, e.ID())
		}
		who, file := strings.Join(ids, ","), scs[i].File
		wg.Go(func() {
			err := d.Play(ctx)
			switch {
			case err == nil:
				out.printf("%s\t%s: timeline done\n", who, file)
			case ctx.Err() != nil:
				out.printf("%s\t%s: timeline stopped before its end\n", who, file)
			default:
				out.printf("%s\t%s: timeline failed: %v\n", who, file, err)
				playFailed.Store(true)
			}
		})
	}
	<-ctx.Done()
	wg.Wait()
	log.Info("stopping", "scenarios", len(desks))
	if c := closeAll(); c != exitOK || playFailed.Load() {
		return exitFail
	}
	return exitOK
}

// load reads a scenario file, or a bundled scenario by name.
func load(arg string, bundled bool) (*scenario.Scenario, error) {
	if !bundled && scenario.IsFileName(arg) {
		return scenario.LoadFile(arg)
	}
	sc, err := scenarios.Load(arg)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: no bundled scenario of that name (encodersim list shows them; a file must end in .yaml)", arg)
	}
	return sc, err
}

const lintUsage = `Usage: encodersim lint [--lab FILE] FILE...

Check scenario files and print every problem as FILE:LINE:COL: MESSAGE:
first what the file says (the format, docs/scenarios.md), then, once it
loads, whether it fits the lab, as "encoder-conformance run --scenarios"
checks before it runs anything: the encoder encoder.id names is one of
the lab's, the lab drives it with the scenario's model, and the
credential's ACS system and user are that encoder's own. The lab is the
bundled one (fixtures/lab.yaml), or FILE with --lab (a lab you run
encoderd with, encoderd --lab FILE).
Exit status 1 if any file has a problem, 2 on a usage error.

Examples:
  encodersim lint my-desk.yaml
  encodersim lint scenarios/*.yaml
  encodersim lint --lab my-lab.yaml my-desk.yaml
`

func lintCmd(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("lint", lintUsage, stdout, stderr)
	labFile := fs.String("lab", "", "check against the lab in `FILE` instead of the bundled fixtures/lab.yaml")
	if code, stop := parse(fs, args); stop {
		return code
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "encodersim lint: no file given")
		fs.Usage()
		return exitUsage
	}
	lab, err := loadLab(*labFile)
	if err != nil {
		fmt.Fprintf(stderr, "encodersim lint: --lab: %v\n", err)
		return exitUsage
	}
	code := exitOK
	for _, file := range fs.Args() {
		sc, err := scenario.LoadFile(file)
		if err == nil {
			err = scenario.CheckLab(sc, lab)
		}
		if err != nil {
			// A *scenario.LoadError prints one FILE:LINE:COL line per problem.
			fmt.Fprintln(stdout, err)
			code = exitFail
		}
	}
	return code
}

// loadLab is the lab in file, or the bundled one when file is "".
func loadLab(file string) (*fixtures.Lab, error) {
	if file == "" {
		return fixtures.Bundled(), nil
	}
	return fixtures.Load(file)
}

const listUsage = `Usage: encodersim list

List the bundled scenarios with what each one is about.

Example:
  encodersim list
`

func listCmd(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("list", listUsage, stdout, stderr)
	if code, stop := parse(fs, args); stop {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "encodersim list: takes no arguments, got %q\n", fs.Args())
		return exitUsage
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	code := exitOK
	for _, name := range scenarios.Names() {
		sc, err := scenarios.Load(name)
		if err != nil {
			fmt.Fprintf(tw, "%s\t(does not load: %v)\n", name, firstLine(err.Error()))
			code = exitFail
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\n", name, sc.Description)
	}
	if err := tw.Flush(); err != nil {
		return exitFail
	}
	return code
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// syncWriter serialises lines written from several goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) printf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(s.w, format, args...)
}
