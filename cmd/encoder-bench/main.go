// Command encoder-bench measures the encode pipeline as its users feel
// it, next to the raw limits of the machine measured in the same run.
//
//	encoder-bench run [flags]     orchestrate everything, print the table, write reports/bench.md
//	encoder-bench load [flags]    HTTP load generator (a separate process)
//	encoder-bench fleet [flags]   N virtual PMS encoders in one process
//	encoder-bench serve [flags]   the encode server as encoderd wires it, with a CPU profile
//
// run starts the others by re-executing itself, and a real encoderd, so
// the figures are those of separate processes talking over loopback and
// ptys, as in production.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

const usage = `Usage: encoder-bench COMMAND [flags]

Commands:
  run     measure everything and print the table (make bench)
  load    drive the encode API over HTTP from K clients; print JSON
  fleet   run N virtual PMS encoders in this process; print JSON
  serve   the encode server as encoderd wires it, writing a CPU profile

"encoder-bench COMMAND --help" describes each.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := dispatch(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func dispatch(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "run":
		return runMain(ctx, rest, stdout, stderr)
	case "load":
		return loadMain(ctx, rest, stdout, stderr)
	case "fleet":
		return fleetMain(ctx, rest, stdin, stdout, stderr)
	case "serve":
		return serveMain(ctx, rest, stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "encoder-bench: unknown command %q\n\n%s", cmd, usage)
		return exitUsage
	}
}

// usageCode is the exit code for a flag parse error: 0 after --help.
func usageCode(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	return exitUsage
}
