// Command encoder-conformance certifies an encode pipeline against Seam's
// encode_credential: the conformance suite (package conformance) compiled
// into one program, in the manner of csi-sanity.
//
//	encoder-conformance run [flags]
//	encoder-conformance requirements [--profile P]
//
// Run plays every bundled scenario against the system under test (the
// bundled pipeline in process by default, an external server, or real
// encoders), optionally split over several processes, and writes JUnit
// XML, Ginkgo JSON and a certification report (YAML and HTML) to the
// report directory. Requirements prints which spec checks each
// requirement of a profile.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1 // a requirement failed, or the run could not certify
	exitUsage = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
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
Exit status: 0 all requirements passed, 1 a failure, 2 a usage error.
`

// run is the whole program, with its environment passed in.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "run":
		return runCmd(ctx, rest, stdout, stderr)
	case "requirements":
		return requirementsCmd(rest, stdout, stderr)
	case "help", "-h", "-help", "--help":
		if len(rest) > 0 && rest[0] != "help" {
			return run(ctx, []string{rest[0], "--help"}, stdout, stderr)
		}
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "encoder-conformance: unknown command %q\n\n%s", cmd, usage)
		return exitUsage
	}
}

// newFlags returns a flag set for a subcommand whose --help prints text,
// which documents the flags itself (so internal flags stay out of it).
func newFlags(name, text string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("encoder-conformance "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), text) }
	return fs
}

// parse parses args, returning an exit code when the command must stop:
// exitOK after --help, exitUsage on a bad flag or a stray argument.
func parse(fs *flag.FlagSet, args []string) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, true
		}
		return exitUsage, true
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
