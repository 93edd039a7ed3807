// Command encodersim runs virtual card encoders on pseudo-terminals, each
// playing a scenario, so that encoderd (or any program that speaks an
// encoder's protocol) can drive them as if they were desk encoders.
//
//	encodersim run [--links DIR] [--scale F] [--bundled] FILE|NAME...
//	encodersim lint FILE...
//	encodersim list
//	encodersim show [-o OUT.html] [--outcome TEXT] TRACE
//
// Run publishes each encoder as DIR/<encoder id>, by default under the
// user's own $XDG_RUNTIME_DIR/encoderlab (or $TMPDIR/encoderlab-<uid>
// without XDG_RUNTIME_DIR), where the bundled lab (fixtures/lab.yaml)
// tells encoderd to look, so the two find each other with no
// configuration. A links directory another user owns or may write is
// refused, and so is an encoder whose link another running simulator
// holds.
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
  encodersim run [--links DIR] [--scale F] [--bundled] FILE|NAME...
  encodersim lint FILE...
  encodersim list
  encodersim show [-o OUT.html] [--outcome TEXT] TRACE
  encodersim record --device PATH --link PATH [--protocol P] [--out FILE] [--redact LIST]
  encodersim convert [--encoder ID] [--expect OUTCOME] [--system KEY] [--scale F] TRACE
  encodersim help [COMMAND]

Commands:
  run      start an encoder for each scenario and play its timeline
  lint     check scenario files and print every problem
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
func newFlags(name, text string, stderr io.Writer) *flag.FlagSet {
	return cli.NewFlagSet("encodersim", name, text, stderr, true)
}

// parse parses args, returning an exit code when the command must stop:
// exitOK after --help, exitUsage on a bad flag.
func parse(fs *flag.FlagSet, args []string) (int, bool) { return cli.Parse(fs, args) }

// defaultLinks is where encoderd's bundled lab looks for encoders.
func defaultLinks() string { return linkdir.Default() }

const runUsage = `Usage: encodersim run [--links DIR] [--scale F] [--bundled] FILE|NAME...

Start a virtual encoder for each scenario, print one line per encoder
(id, model, tty, link), play each scenario's timeline and print how it
ended, then keep the encoders running until interrupted (Ctrl-C or
SIGTERM). An argument ending in .yaml or .yml is a file; any other
argument, or every argument with --bundled, names a bundled scenario
("encodersim list" shows them).

Links. Each encoder is published as DIR/<encoder id>, a symlink to its
pty. DIR defaults to $XDG_RUNTIME_DIR/encoderlab, or to
$TMPDIR/encoderlab-<uid> when XDG_RUNTIME_DIR is not set: where encoderd
looks by default. DIR is created with mode 0700; a DIR another user owns,
or that group or others may write, is refused, since whoever controls it
controls what encoderd talks to. An encoder whose link another running
simulator holds is refused too, naming that simulator; the link of one
that was killed is taken over.

Examples:
  encodersim run first-issue
  encodersim run --scale 0.1 empty-reader busy-then-success
  encodersim run --links /run/encoderlab ./my-desk.yaml
`

func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("run", runUsage, stderr)
	links := fs.String("links", defaultLinks(), "publish each encoder as `DIR`/<encoder id> (a directory of your own; see Links above)")
	scale := fs.Float64("scale", 1, "time scale `F` for every device and timeline duration (0.01 runs 100 times faster)")
	bundled := fs.Bool("bundled", false, "read every argument as a bundled scenario name")
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
	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	var scs []*scenario.Scenario
	failed := false
	ids := map[string]string{}
	for _, arg := range fs.Args() {
		sc, err := load(arg, *bundled)
		if err != nil {
			fmt.Fprintln(stderr, err)
			failed = true
			continue
		}
		if prev, dup := ids[sc.Encoder.ID]; dup {
			fmt.Fprintf(stderr, "%s: encoder %q is already run by %s\n", arg, sc.Encoder.ID, prev)
			failed = true
			continue
		}
		ids[sc.Encoder.ID] = arg
		scs = append(scs, sc)
	}
	if failed {
		return exitFail
	}

	opts := sim.Options{LinkDir: *links, Scale: timescale.Scale(*scale), Logger: log}
	var encs []*sim.Encoder
	closeAll := func() int {
		code := exitOK
		for _, e := range slices.Backward(encs) {
			if err := e.Close(); err != nil {
				log.Error("close", "encoder", e.ID(), "err", err)
				code = exitFail
			}
		}
		return code
	}
	out := &syncWriter{w: stdout}
	for _, sc := range scs {
		e, err := sim.Start(ctx, sc, opts)
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", sc.File, err)
			closeAll()
			return exitFail
		}
		encs = append(encs, e)
		out.printf("%s\tmodel %s\ttty %s\tlink %s\n", e.ID(), e.Model(), e.TTY(), e.Link())
	}

	var wg sync.WaitGroup
	var playFailed atomic.Bool
	for _, e := range encs {
		wg.Go(func() {
			err := e.Play(ctx)
			switch {
			case err == nil:
				out.printf("%s\t%s: timeline done\n", e.ID(), e.Scenario().File)
			case ctx.Err() != nil:
				out.printf("%s\t%s: timeline stopped before its end\n", e.ID(), e.Scenario().File)
			default:
				out.printf("%s\t%s: timeline failed: %v\n", e.ID(), e.Scenario().File, err)
				playFailed.Store(true)
			}
		})
	}
	<-ctx.Done()
	wg.Wait()
	log.Info("stopping", "encoders", len(encs))
	if c := closeAll(); c != exitOK || playFailed.Load() {
		return exitFail
	}
	return exitOK
}

// load reads a scenario file, or a bundled scenario by name.
func load(arg string, bundled bool) (*scenario.Scenario, error) {
	if !bundled && (strings.HasSuffix(arg, ".yaml") || strings.HasSuffix(arg, ".yml")) {
		return scenario.LoadFile(arg)
	}
	sc, err := scenarios.Load(arg)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: no bundled scenario of that name (encodersim list shows them; a file must end in .yaml)", arg)
	}
	return sc, err
}

const lintUsage = `Usage: encodersim lint FILE...

Check scenario files and print every problem as FILE:LINE:COL: MESSAGE.
Exit status 1 if any file has a problem.

Examples:
  encodersim lint my-desk.yaml
  encodersim lint scenarios/*.yaml
`

func lintCmd(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("lint", lintUsage, stderr)
	if code, stop := parse(fs, args); stop {
		return code
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "encodersim lint: no file given")
		fs.Usage()
		return exitUsage
	}
	code := exitOK
	for _, file := range fs.Args() {
		if _, err := scenario.LoadFile(file); err != nil {
			// A *scenario.LoadError prints one FILE:LINE:COL line per problem.
			fmt.Fprintln(stdout, err)
			code = exitFail
		}
	}
	return code
}

const listUsage = `Usage: encodersim list

List the bundled scenarios with what each one is about.

Example:
  encodersim list
`

func listCmd(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("list", listUsage, stderr)
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
