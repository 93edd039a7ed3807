// Command encoderd is the encode server: a Seam-compatible API
// (/acs/encoders/encode_credential, /action_attempts/get, …) over a
// SQLite store (or PostgreSQL, for several instances on one database),
// driving desk encoders on serial ports — real ones, or the virtual
// encoders encodersim publishes.
//
//	encoderd [--addr HOST:PORT] [--db FILE|postgres://…] [--lab FILE] [--links DIR]
//	         [--scale F] [--deadline D] [--shutdown-grace D] [--log-level LEVEL]
//	         [--shared [--instance NAME] [--lease-ttl D]] [--accept-store-reset]
//	         [--pprof HOST:PORT]
//
// On start it prints the API's URL, the store, each encoder and the
// lab's test-only API keys with a ready curl line. SIGINT or SIGTERM stops
// it gracefully: new encodes are refused (503) while the attempts in
// flight finish or expire, at most --shutdown-grace (by default the
// attempt deadline and a second); a second signal stops it at once, and
// the attempts still in flight then stay pending and resume on the next
// start.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/encoderlab/encoderlab/fixtures"
	"github.com/encoderlab/encoderlab/internal/cli"
	"github.com/encoderlab/encoderlab/pipeline/attempt"
	"github.com/encoderlab/encoderlab/pipeline/seam"
	"github.com/encoderlab/encoderlab/pipeline/server"
	"github.com/encoderlab/encoderlab/pipeline/store/sqlite"
	"github.com/encoderlab/encoderlab/timescale"
)

// Exit codes.
const (
	exitOK    = cli.ExitOK
	exitFail  = cli.ExitFail // the server could not start or stop cleanly
	exitUsage = cli.ExitUsage
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `Usage: encoderd [flags]

Serve a Seam-compatible encoding API and drive the lab's encoders over
their serial ports. The lab (workspaces, test-only API keys, ACS systems,
encoders) is the bundled one unless --lab names another file. Each
workspace is served the revision of Seam's API its lab entry names
(profile: current, the default, or older: the two revisions of the
"Encode a Credential" page; latest: Seam's published types), or the one
--profile names for all. An encoder port written "{links}/NAME" is looked up in the --links directory, where
"encodersim run" publishes its virtual encoders.

Every encode attempt ends by its deadline (--deadline, 30s by default),
with action_attempt_expired if the encoder has not answered by then.
Its waits and that deadline follow --scale; a virtual encoder running at
another scale than the server's is named in a "time scale mismatch"
warning (at start, and when its link is opened), since every outcome it
reaches then is one its scenario does not describe.

SIGINT or SIGTERM stops the server gracefully: it refuses new encodes
(503 service_unavailable) and keeps answering everything else until the
attempts in flight have finished or expired, for at most --shutdown-grace;
a second signal stops it at once. Attempts still in flight when it stops
stay pending and resume when it starts again on the same store.

Examples:
  # Virtual encoders and the server, a hundred times faster than real time:
  encodersim run --scale 0.01 first-issue &
  encoderd --scale 0.01

  # Real encoders described in your own lab file, on another port:
  encoderd --lab ./my-lab.yaml --addr 0.0.0.0:8450 --db /var/lib/encoderd.db

  # Two instances on one PostgreSQL database; either answers any call:
  encoderd --shared --addr 127.0.0.1:8450 --db postgres://encoderd@db.internal/encoderd
  encoderd --shared --addr 127.0.0.1:8451 --db postgres://encoderd@db.internal/encoderd
`

// options are the parsed flags.
type options struct {
	cfg      server.Config
	labPath  string
	profile  seam.Profile // "" serves each workspace the profile the lab gives it
	logLevel slog.Level
	grace    time.Duration // 0: the scaled attempt deadline and a second
	pprof    string        // debug listener address; "" for none
}

// parseFlags parses args; it returns an exit code when the program must
// stop (after --help or --version, which print to stdout, or on a bad
// flag, which is reported on stderr).
func parseFlags(args []string, stdout, stderr io.Writer) (options, int, bool) {
	var (
		o     options
		lease time.Duration
	)
	fs := flag.NewFlagSet("encoderd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	// Usage goes to stdout on --help; a bad flag gets its error and a
	// pointer to --help on stderr.
	fs.Usage = func() {}
	fs.StringVar(&o.cfg.Addr, "addr", server.DefaultAddr, "listen on `HOST:PORT` (port 0 picks a free one)")
	fs.StringVar(&o.cfg.DBPath, "db", server.DefaultDBPath, "the store: a SQLite database `FILE` (created if missing) or a PostgreSQL URL (postgres://user:password@host/db)")
	shared := fs.Bool("shared", false, "share the store with other encoderd instances: each encoder is driven by one instance at a time, holding its lease")
	fs.BoolVar(&o.cfg.AcceptStoreReset, "accept-store-reset", false, "start on a SQLite store that was emptied, replaced or lost its WAL since it was initialised, as it is now, instead of refusing it (what it lost stays lost; give it once, on purpose)")
	instance := fs.String("instance", "", "with --shared, this instance's `NAME` in leases (default: host, pid and a random suffix)")
	fs.DurationVar(&lease, "lease-ttl", 0, "with --shared, how long an encoder's lease lasts unrenewed (`D`, real time; default 5s scaled, at least 1s)")
	fs.StringVar(&o.labPath, "lab", "", "lab `FILE` (workspaces, keys, systems, encoders); default: the bundled fixtures/lab.yaml")
	fs.StringVar(&o.cfg.LinkDir, "links", server.DefaultLinkDir(), "`DIR` that replaces {links} in encoder ports; by default your own $XDG_RUNTIME_DIR/encoderlab, or $TMPDIR/encoderlab-<uid> without XDG_RUNTIME_DIR (a DIR or link another user owns or may write is refused)")
	profile := fs.String("profile", "", "serve every workspace of the lab Seam's API as `P` describes it (current, older or latest) instead of the profile the lab gives each")
	scale := fs.Float64("scale", 1, "time scale `F` for protocol timeouts and the attempt deadline (0.01 runs 100 times faster; must match encodersim's)")
	fs.DurationVar(&o.cfg.AttemptDeadline, "deadline", attempt.DefaultDeadline, "attempt deadline `D`, in real time before --scale applies")
	fs.DurationVar(&o.grace, "shutdown-grace", 0, "on SIGINT/SIGTERM, wait at most `D` (real time) for attempts in flight; default: the scaled attempt deadline and a second")
	fs.StringVar(&o.pprof, "pprof", "", "serve Go's profiles (net/http/pprof, with block and mutex profiling on) at `HOST:PORT`, apart from the API; keep it on loopback")
	level := fs.String("log-level", "info", "log `LEVEL`: debug, info, warn or error")
	showVersion := fs.Bool("version", false, "print encoderd's version (module version, commit, Go release) and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usage)
			fmt.Fprintln(stdout, "\nFlags:")
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return o, exitOK, true
		}
		fmt.Fprintln(stderr, "encoderd --help lists the flags")
		return o, exitUsage, true
	}
	if *showVersion {
		fmt.Fprintln(stdout, cli.Version("encoderd"))
		return o, exitOK, true
	}
	bad := func(format string, args ...any) (options, int, bool) {
		fmt.Fprintf(stderr, "encoderd: "+format+"\n", args...)
		return o, exitUsage, true
	}
	if fs.NArg() > 0 {
		return bad("unexpected argument %q (encoderd takes flags only; see --help)", fs.Arg(0))
	}
	if *profile != "" {
		p, err := seam.ParseProfile(*profile)
		if err != nil {
			return bad("--profile %q: want current, older or latest", *profile)
		}
		o.profile = p
	}
	o.cfg.Scale = timescale.Scale(*scale)
	if err := o.cfg.Scale.Validate(); err != nil || *scale == 0 {
		return bad("--scale %v: want a factor in (0, 1000]", *scale)
	}
	if o.cfg.AttemptDeadline <= 0 {
		return bad("--deadline %v: want a positive duration such as 30s", o.cfg.AttemptDeadline)
	}
	if (*instance != "" || lease != 0) && !*shared {
		return bad("--instance and --lease-ttl go with --shared")
	}
	if lease < 0 {
		return bad("--lease-ttl %v: want a positive duration such as 5s", lease)
	}
	if *shared {
		o.cfg.Sharing = &attempt.Sharing{Instance: *instance, LeaseTTL: lease}
	}
	if o.grace < 0 {
		return bad("--shutdown-grace %v: want a duration of 0 or more, such as 31s", o.grace)
	}
	if o.grace == 0 {
		o.grace = o.cfg.Scale.Of(o.cfg.AttemptDeadline) + time.Second
	}
	if err := o.logLevel.UnmarshalText([]byte(*level)); err != nil {
		return bad("--log-level %q: want debug, info, warn or error", *level)
	}
	return o, 0, false
}

// run is the whole program, with its environment passed in. It serves
// until ctx ends.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, code, stop := parseFlags(args, stdout, stderr)
	if stop {
		return code
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: o.logLevel}))
	lab := fixtures.Bundled()
	if o.labPath != "" {
		var err error
		if lab, err = fixtures.Load(o.labPath); err != nil {
			fmt.Fprintf(stderr, "encoderd: %v\n", err)
			return exitFail
		}
	}
	if o.profile != "" {
		lab = lab.WithProfile(string(o.profile))
	}
	o.cfg.Lab = lab
	o.cfg.Logger = log

	if o.pprof != "" {
		stop, err := serveProfiles(o.pprof, log)
		if err != nil {
			fmt.Fprintf(stderr, "encoderd: --pprof %s: %v\n", o.pprof, err)
			return exitFail
		}
		defer stop()
	}
	srv, err := server.Start(ctx, o.cfg)
	if err != nil {
		fmt.Fprintf(stderr, "encoderd: %v\n", err)
		if hint := storeHint(err); hint != "" {
			fmt.Fprintf(stderr, "encoderd: %s\n", hint)
		}
		return exitFail
	}
	banner(stdout, srv, lab, o.cfg)
	<-ctx.Done()
	log.Info("stopping: no new encodes; waiting for the attempts in flight", "bound", o.grace)
	// A second signal cuts the wait short.
	graceCtx, cancel := context.WithTimeout(context.Background(), o.grace)
	defer cancel()
	graceCtx, stopSignals := signal.NotifyContext(graceCtx, os.Interrupt, syscall.SIGTERM)
	defer stopSignals()
	if err := srv.Shutdown(graceCtx); err != nil {
		fmt.Fprintf(stderr, "encoderd: %v\n", err)
		return exitFail
	}
	return exitOK
}

// storeHint says which flag answers a store that refused to open.
func storeHint(err error) string {
	switch {
	case errors.Is(err, sqlite.ErrInUse):
		return "another encoderd (or another program) has this SQLite store open; to run several encoderd on one file, start every one of them with --shared"
	case errors.Is(err, sqlite.ErrDamaged):
		return "the store refused is not the one this server wrote; restore it from a backup, or start once with --accept-store-reset to go on with it as it is (what it lost stays lost)"
	}
	return ""
}

// banner prints what a person needs to use the server.
func banner(w io.Writer, srv *server.Server, lab *fixtures.Lab, cfg server.Config) {
	fmt.Fprintf(w, "encoderd serving the API at %s\n", srv.URL())
	fmt.Fprintf(w, "store: %s\n", srv.DBPath())
	fmt.Fprintf(w, "attempt deadline: %v (scale %v)\n", cfg.Scale.Of(cfg.AttemptDeadline), float64(cfg.Scale))

	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	encs := srv.Encoders()
	fmt.Fprintf(w, "\nencoders (%d):\n", len(encs))
	for _, e := range encs {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%d baud\n", e.DisplayName, e.ID, e.Driver, e.Port, e.Baud)
	}
	tw.Flush()

	fmt.Fprintln(w, "\nworkspaces (TEST-ONLY keys from the lab file; they grant nothing elsewhere):")
	for _, ws := range lab.Workspaces {
		fmt.Fprintf(tw, "  %s\t%s\tapi keys: %s\n", ws.Name, ws.ID, strings.Join(ws.APIKeys, ", "))
	}
	tw.Flush()

	for _, ws := range lab.Workspaces {
		if len(ws.APIKeys) > 0 {
			fmt.Fprintf(w, "\ntry:\n  curl -s -H 'Authorization: Bearer %s' %s/acs/encoders/list\n", ws.APIKeys[0], srv.URL())
			break
		}
	}
}

// serveProfiles serves net/http/pprof's handlers on their own listener, so
// the API's mux never exposes them, and turns on block and mutex
// profiling, which cost nothing until asked for. Its cmdline endpoint
// shows the command line as the banner and logs would: without the
// PostgreSQL password.
func serveProfiles(addr string, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	runtime.SetBlockProfileRate(int(10 * time.Microsecond))
	runtime.SetMutexProfileFraction(10)
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", redactedCmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	log.Info("serving profiles", "url", "http://"+ln.Addr().String()+"/debug/pprof/")
	return func() {
		_ = srv.Close()
		<-done
		runtime.SetBlockProfileRate(0)
		runtime.SetMutexProfileFraction(0)
	}, nil
}

// redactedCmdline answers as pprof.Cmdline does, the arguments separated
// by NUL bytes, with every store URL as server.DisplayStore shows it.
func redactedCmdline(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprint(w, strings.Join(redactArgs(os.Args), "\x00"))
}

// redactArgs returns args with each PostgreSQL URL, alone ("--db" "URL")
// or in a flag ("--db=URL"), replaced by its display form.
func redactArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if name, value, ok := strings.Cut(a, "="); ok && strings.HasPrefix(name, "-") {
			out[i] = name + "=" + server.DisplayStore(value)
			continue
		}
		out[i] = server.DisplayStore(a)
	}
	return out
}
