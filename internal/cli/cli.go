// Package cli is what encoderlab's commands share: one set of exit
// statuses, subcommand dispatch with a help command, and flag sets whose
// parsing says whether the command must stop and with which status.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
	"sync"

	"github.com/encoderlab/encoderlab/internal/buildinfo"
)

// Exit statuses of every encoderlab command.
const (
	ExitOK    = 0 // done, or --help
	ExitFail  = 1 // the work failed
	ExitUsage = 2 // the command line was wrong
)

// Command is a subcommand; Run gets the arguments after its name.
type Command struct {
	Name string
	Run  func(args []string) int
}

// Dispatch runs the command args[0] names. Without arguments it prints
// usage to stderr and returns ExitUsage; "help", "-h" and "--help" print
// it to stdout, and "help NAME" runs NAME with --help. An unknown name is
// a usage error that says so.
func Dispatch(prog, usage string, args []string, stdout, stderr io.Writer, cmds ...Command) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return ExitUsage
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(rest) > 0 && rest[0] != "help" {
			return Dispatch(prog, usage, []string{rest[0], "--help"}, stdout, stderr, cmds...)
		}
		fmt.Fprint(stdout, usage)
		return ExitOK
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, Version(prog))
		return ExitOK
	}
	for _, c := range cmds {
		if c.Name == name {
			return c.Run(rest)
		}
	}
	fmt.Fprintf(stderr, "%s: unknown command %q\n\n%s", prog, name, usage)
	return ExitUsage
}

// NewFlagSet returns the flag set of "prog name". Its --help prints text
// on stdout and then, with listFlags, the flags and their defaults
// (without it, text documents the flags itself); a bad flag is reported
// on stderr with a pointer to --help. Parse it with Parse.
func NewFlagSet(prog, name, text string, stdout, stderr io.Writer, listFlags bool) *flag.FlagSet {
	fs := flag.NewFlagSet(prog+" "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	// The flag package calls Usage both for -help and after a bad flag;
	// Parse tells the two apart and prints the help itself.
	fs.Usage = func() {}
	helps.Store(fs, func() {
		fmt.Fprint(stdout, text)
		if !listFlags {
			return
		}
		var b strings.Builder
		fs.SetOutput(&b)
		fs.PrintDefaults()
		fs.SetOutput(stderr)
		if b.Len() > 0 {
			fmt.Fprintf(stdout, "\nFlags:\n%s", b.String())
		}
	})
	return fs
}

// helps holds the help printer of each flag set NewFlagSet made.
var helps sync.Map // *flag.FlagSet → func()

// Parse parses args into fs. It returns (ExitOK, true) after --help,
// which it prints on stdout, (ExitUsage, true) on a bad flag (fs has
// said what is wrong on stderr), and (0, false) when the command goes on.
func Parse(fs *flag.FlagSet, args []string) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			if h, ok := helps.Load(fs); ok {
				h.(func())()
			}
			return ExitOK, true
		}
		fmt.Fprintf(fs.Output(), "Run \"%s --help\" for usage.\n", fs.Name())
		return ExitUsage, true
	}
	return 0, false
}

// Version is the line --version prints: the program, the module version
// and the VCS revision its build info records, and the Go release that
// built it. What the build did not record reads "devel" (a build from a
// source tree) or "unknown" (built without VCS stamping, as go run does).
func Version(prog string) string {
	return version(prog, debug.ReadBuildInfo)
}

func version(prog string, read func() (*debug.BuildInfo, bool)) string {
	bi, ok := read()
	if !ok {
		return prog + " devel, commit unknown (no build info)"
	}
	b := buildinfo.Of(bi, bi.Main.Path)
	modified := ""
	if b.Modified {
		modified = " (uncommitted changes)"
	}
	return fmt.Sprintf("%s %s, commit %s%s, %s", prog, b.Version, b.Revision, modified, bi.GoVersion)
}
