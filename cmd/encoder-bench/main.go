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
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/encoderlab/encoderlab/internal/cli"
)

// Exit codes.
const (
	exitOK    = cli.ExitOK
	exitFail  = cli.ExitFail
	exitUsage = cli.ExitUsage
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
	return cli.Dispatch("encoder-bench", usage, args, stdout, stderr,
		cli.Command{Name: "run", Run: func(a []string) int { return runMain(ctx, a, stdout, stderr) }},
		cli.Command{Name: "load", Run: func(a []string) int { return loadMain(ctx, a, stdout, stderr) }},
		cli.Command{Name: "fleet", Run: func(a []string) int { return fleetMain(ctx, a, stdin, stdout, stderr) }},
		cli.Command{Name: "serve", Run: func(a []string) int { return serveMain(ctx, a, stdout, stderr) }},
	)
}
