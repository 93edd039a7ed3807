// Command encoder-conformance certifies an encode pipeline against Seam's
// encode_credential: the conformance suite (package conformance) compiled
// into one program, in the manner of csi-sanity.
//
//	encoder-conformance run [flags]
//	encoder-conformance requirements [--profile P]
//
// Run plays every bundled scenario (or the files --scenarios names)
// against the system under test (the bundled pipeline in process by
// default, an external server, or real encoders), optionally split over
// several processes, and writes JUnit
// XML, Ginkgo JSON and a certification report (YAML and HTML) to the
// report directory. Requirements prints which spec checks each
// requirement of a profile. Before anything runs, run checks what would
// fail every spec alike (conformance.Preflight, and the report
// directory) and stops with exit status 2 and what to fix.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/encoderlab/encoderlab/internal/cli"
)

// Exit codes.
const (
	exitOK    = cli.ExitOK
	exitFail  = cli.ExitFail // a requirement failed, or the run could not certify
	exitUsage = cli.ExitUsage
	// exitSetup: the run could not start (a scenario that does not fit
	// the lab, a server that does not answer, a missing device, a report
	// directory that cannot be written); like a usage error, nothing ran.
	exitSetup = cli.ExitUsage
)

func main() {
	ctx, stop := notifySignals()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `encoder-conformance certifies an encode pipeline against Seam's encode_credential.

Usage:
  encoder-conformance run [flags]
  encoder-conformance requirements [--profile P]
  encoder-conformance help [COMMAND]

Commands:
  run           run the conformance suite and write its reports
  requirements  print which specs check each requirement of a profile

Run "encoder-conformance COMMAND --help" for a command's flags and examples.
Exit status: 0 all requirements passed, 1 a requirement failed (or was not
checked, with --certified), 2 nothing ran: a usage error, or a setup error
(a scenario that does not fit the lab, a server that does not answer, a
missing device, a report directory that cannot be written);
130 (SIGINT) or 143 (SIGTERM) interrupted: partial reports written.
`

// run is the whole program, with its environment passed in.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return cli.Dispatch("encoder-conformance", usage, args, stdout, stderr,
		cli.Command{Name: "run", Run: func(a []string) int { return runCmd(ctx, a, stdout, stderr) }},
		cli.Command{Name: "requirements", Run: func(a []string) int { return requirementsCmd(a, stdout, stderr) }},
		cli.Command{Name: "explore", Run: func(a []string) int { return exploreCmd(ctx, a, stdout, stderr) }},
	)
}

// newFlags returns a flag set for a subcommand whose --help prints text,
// which documents the flags itself (so internal flags stay out of it).
func newFlags(name, text string, stdout, stderr io.Writer) *flag.FlagSet {
	return cli.NewFlagSet("encoder-conformance", name, text, stdout, stderr, false)
}

// parse parses args, returning an exit code when the command must stop:
// exitOK after --help, exitUsage on a bad flag or a stray argument.
func parse(fs *flag.FlagSet, args []string) (int, bool) {
	if code, stop := cli.Parse(fs, args); stop {
		return code, true
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q (every option is a flag)\n", fs.Name(), fs.Arg(0))
		return exitUsage, true
	}
	return 0, false
}

// usageError reports a bad combination of flags.
func usageError(stderr io.Writer, cmd string, format string, args ...any) int {
	fmt.Fprintf(stderr, "encoder-conformance %s: %s\nRun \"encoder-conformance %s --help\" for usage.\n",
		cmd, fmt.Sprintf(format, args...), cmd)
	return exitUsage
}

// firstLines returns at most n lines of s.
func firstLines(s string, n int) []string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[:n]
	}
	return lines
}
