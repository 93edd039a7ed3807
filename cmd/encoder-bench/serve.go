package main

import (
	"context"
	"fmt"
	"github.com/encoderlab/encoderlab/internal/cli"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"time"

	"github.com/encoderlab/encoderlab/fixtures"
	"github.com/encoderlab/encoderlab/pipeline/server"
	"github.com/encoderlab/encoderlab/timescale"
)

const serveUsage = `Usage: encoder-bench serve [flags]

Run the encode server exactly as encoderd wires it (pipeline/server.Start
with the same configuration), with a CPU profile of the process written to
--cpuprofile when it stops: encoderd itself has no profiling flag. Prints
"encoderd serving the API at URL" like encoderd, then serves until SIGTERM.
`

func serveMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := cli.NewFlagSet("encoder-bench", "serve", serveUsage, stdout, stderr, true)
	var cfg server.Config
	var labPath, prof string
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:0", "listen on `HOST:PORT`")
	fs.StringVar(&cfg.DBPath, "db", "", "SQLite database `FILE` (required)")
	fs.StringVar(&labPath, "lab", "", "lab `FILE` (default: the bundled lab)")
	fs.StringVar(&cfg.LinkDir, "links", server.DefaultLinkDir(), "`DIR` that replaces {links} in encoder ports")
	scale := fs.Float64("scale", 1, "time scale `F`")
	fs.DurationVar(&cfg.AttemptDeadline, "deadline", 30*time.Second, "attempt deadline `D`, before --scale applies")
	fs.StringVar(&prof, "cpuprofile", "", "write a CPU profile to `FILE`")
	if code, stop := cli.Parse(fs, args); stop {
		return code
	}
	cfg.Scale = timescale.Scale(*scale)
	switch {
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "encoder-bench serve: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	case cfg.DBPath == "":
		fmt.Fprintln(stderr, "encoder-bench serve: --db is required")
		return exitUsage
	case cfg.Scale.Validate() != nil || *scale == 0:
		fmt.Fprintf(stderr, "encoder-bench serve: --scale %v: want a factor in (0, 1000]\n", *scale)
		return exitUsage
	}
	cfg.Lab = fixtures.Bundled()
	if labPath != "" {
		var err error
		if cfg.Lab, err = fixtures.Load(labPath); err != nil {
			fmt.Fprintf(stderr, "encoder-bench serve: %v\n", err)
			return exitFail
		}
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if prof != "" {
		f, err := os.Create(prof)
		if err != nil {
			fmt.Fprintf(stderr, "encoder-bench serve: %v\n", err)
			return exitFail
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "encoder-bench serve: %v\n", err)
			return exitFail
		}
		defer pprof.StopCPUProfile()
	}
	srv, err := server.Start(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "encoder-bench serve: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(stdout, "encoderd serving the API at %s\n", srv.URL())
	<-ctx.Done()
	if err := srv.Close(); err != nil {
		fmt.Fprintf(stderr, "encoder-bench serve: %v\n", err)
		return exitFail
	}
	return exitOK
}
