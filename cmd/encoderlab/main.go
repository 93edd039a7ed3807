// Command encoderlab runs a whole encoding lab in one process: encoderd,
// one virtual encoder for every lab encoder, all on one time scale, and
// the /lab page where the desks are driven by hand.
//
//	encoderlab up [--addr HOST:PORT] [--ui HOST:PORT] [--scale F] [--deadline D]
//	              [--lab FILE] [--db FILE] [--links DIR] [--play NAME=SCENARIO]...
//
// Each encoder is a desk (a card stack driven from the page or its
// control API: place, remove, swap, stack, unplug, queue a behaviour) or
// plays a scenario (--play front-desk-1=empty-reader). It is built from
// the packages encoderd (pipeline/server) and encodersim (sim) use, and
// docs/lab.md describes it.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/encoderlab/encoderlab/fixtures"
	"github.com/encoderlab/encoderlab/internal/cli"
	"github.com/encoderlab/encoderlab/pipeline/attempt"
	"github.com/encoderlab/encoderlab/timescale"
)

// Exit codes.
const (
	exitOK    = cli.ExitOK
	exitFail  = cli.ExitFail // the lab could not start or stop cleanly
	exitUsage = cli.ExitUsage
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, nil)
	stop()
	os.Exit(code)
}

const usage = `encoderlab runs a whole encoding lab in one process.

Usage:
  encoderlab up [flags]
  encoderlab help [COMMAND]

Commands:
  up   start encoderd, a virtual encoder for every lab encoder and the /lab page

Run "encoderlab up --help" for its flags, the control API and examples.
`

// run is the whole program. ready, when set, receives the lab once it is
// up (for tests); the lab stops when ctx ends.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, ready func(*Lab)) int {
	return cli.Dispatch("encoderlab", usage, args, stdout, stderr,
		cli.Command{Name: "up", Run: func(a []string) int { return upCmd(ctx, a, stdout, stderr, ready) }},
	)
}

const upUsage = `Usage: encoderlab up [flags]

Start the encode server (encoderd's API) and, for every lab encoder whose
port is a link ("{links}/NAME"), a virtual encoder of its model on a pty,
all on one time scale (--scale), so their waits and the attempt deadline
agree. Print the API's URL, the test-only key, the encoders', systems' and
users' ids and ready curl and SDK lines, then serve until interrupted
(Ctrl-C or SIGTERM). The store and the links live in a temporary directory
removed on exit unless --db and --links name others.

Each encoder is either a desk, whose card stack you drive, or plays a
scenario: --play NAME=SCENARIO, as often as needed (a bundled scenario,
"encodersim list" shows them, or a .yaml file; its model must be the
encoder's driver). A scenario's own encoder id is replaced by NAME.

The page. http://127.0.0.1:8451/lab (--ui) shows every encoder, the cards
on it, the action attempts as they happen and each line's traffic, with
buttons for the desk actions and an "encode" button.

The control API (JSON over HTTP at --ui; every POST needs
Content-Type: application/json; errors are {"error": "..."} with 400, 404
or 409):
  GET  /lab/api/state                      everything the page shows
  POST /lab/api/encoders/NAME/place  CARD  put a card on an empty reader
  POST /lab/api/encoders/NAME/stack  CARD  put another card on top (PN532 only)
  POST /lab/api/encoders/NAME/swap   CARD  take every card off, put this one on
  POST /lab/api/encoders/NAME/remove {"card": "card-1"}   (default: the top card)
  POST /lab/api/encoders/NAME/unplug {}    pull the cable for good (its link goes away)
  POST /lab/api/encoders/NAME/behave {"behaviour": B, "count": N}
       B: busy (answer busy to the next N encodes), nak (NAK the next N
       frames), garble (corrupt the next N frames sent), silent (answer
       nothing, ACKs included, until the next attempt on it ends)
  POST /lab/api/encoders/NAME/encode {"user": "guest"}
       create a card credential for a user of the encoder's system and
       encode it, as a client would (default: the system's first user)
  CARD is {"kind": K, "tech": T, "uid": HEX, "card_id": HEX}, every field
  optional: K blank (default), guest, staff (a credential of the encoder's
  own system) or foreign (another system's card); T mifare-classic-1k
  (default), mifare-classic-4k, mifare-ultralight, desfire, prox-125khz;
  a random 7-byte UID and card id by default.

Examples:
  encoderlab up
  encoderlab up --scale 0.1 --play front-desk-2=empty-reader --play nfc-desk-1=pn532-first-issue
  curl -s -H 'Content-Type: application/json' -d '{"kind": "blank"}' \
    http://127.0.0.1:8451/lab/api/encoders/front-desk-1/place
`

// plays is the repeatable --play NAME=SCENARIO flag.
type plays map[string]string

func (p plays) String() string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(p)) {
		out = append(out, k+"="+p[k])
	}
	return strings.Join(out, ",")
}

func (p plays) Set(v string) error {
	name, sc, ok := strings.Cut(v, "=")
	if !ok || name == "" || sc == "" {
		return fmt.Errorf("want NAME=SCENARIO, such as front-desk-1=empty-reader")
	}
	if prev, dup := p[name]; dup {
		return fmt.Errorf("encoder %s already plays %s", name, prev)
	}
	p[name] = sc
	return nil
}

func upCmd(ctx context.Context, args []string, stdout, stderr io.Writer, ready func(*Lab)) int {
	fs := cli.NewFlagSet("encoderlab", "up", upUsage, stdout, stderr, true)
	var cfg Config
	play := plays{}
	fs.StringVar(&cfg.APIAddr, "addr", DefaultAPIAddr, "serve the encode API at `HOST:PORT` (port 0 picks a free one)")
	fs.StringVar(&cfg.UIAddr, "ui", DefaultUIAddr, "serve the /lab page and its control API at `HOST:PORT` (keep it on loopback)")
	scale := fs.Float64("scale", 1, "time scale `F` of the server and every virtual encoder (0.1 runs ten times faster)")
	fs.DurationVar(&cfg.Deadline, "deadline", attempt.DefaultDeadline, "attempt deadline `D`, before --scale applies")
	labPath := fs.String("lab", "", "lab `FILE` (workspaces, keys, systems, encoders); default: the bundled fixtures/lab.yaml")
	fs.StringVar(&cfg.DBPath, "db", "", "the store, a SQLite `FILE`; default: a fresh one, removed on exit")
	fs.StringVar(&cfg.LinkDir, "links", "", "publish the virtual encoders in `DIR`; default: a fresh directory, removed on exit")
	fs.Var(play, "play", "`NAME=SCENARIO`: encoder NAME plays SCENARIO instead of being a desk (repeatable)")
	level := fs.String("log-level", "warn", "log `LEVEL` of the server and encoders: debug, info, warn or error")
	if code, stop := cli.Parse(fs, args); stop {
		return code
	}
	bad := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "encoderlab up: "+format+"\n", a...)
		return exitUsage
	}
	if fs.NArg() > 0 {
		return bad("unexpected argument %q (up takes flags only; see --help)", fs.Arg(0))
	}
	cfg.Scale = timescale.Scale(*scale)
	if cfg.Scale.Validate() != nil || *scale == 0 {
		return bad("--scale %v: want a factor in (0, 1000]", *scale)
	}
	if cfg.Deadline <= 0 {
		return bad("--deadline %v: want a positive duration such as 30s", cfg.Deadline)
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		return bad("--log-level %q: want debug, info, warn or error", *level)
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl}))
	cfg.Play = play
	cfg.Lab = fixtures.Bundled()
	if *labPath != "" {
		var err error
		if cfg.Lab, err = fixtures.Load(*labPath); err != nil {
			fmt.Fprintf(stderr, "encoderlab up: %v\n", err)
			return exitFail
		}
	}

	lab, err := Start(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "encoderlab up: %v\n", err)
		return exitFail
	}
	banner(stdout, lab)
	if ready != nil {
		ready(lab)
	}
	<-ctx.Done()
	if err := lab.Close(); err != nil {
		fmt.Fprintf(stderr, "encoderlab up: stopping: %v\n", err)
		return exitFail
	}
	return exitOK
}

// banner prints what a client needs.
func banner(w io.Writer, l *Lab) {
	st := l.State()
	fmt.Fprintf(w, "encoderlab up: time scale %v, attempt deadline %s\n", st.Scale, st.Deadline)
	fmt.Fprintf(w, "  encode API  %s\n", st.APIURL)
	fmt.Fprintf(w, "  lab page    %s/lab\n", l.UIURL())
	fmt.Fprintf(w, "  store       %s\n  links       %s\n", l.Server().DBPath(), l.cfg.LinkDir)

	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "\nencoders:")
	for _, e := range st.Encoders {
		what := e.Mode
		switch e.Mode {
		case "scenario":
			what = "plays " + e.Scenario
		case "unavailable":
			what = "not started: " + e.Unavailable
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", e.Name, e.ID, e.Driver, e.System, what)
	}
	tw.Flush()

	var first struct{ key, user, encoder string }
	for _, ws := range l.cfg.Lab.Workspaces {
		fmt.Fprintf(w, "\nworkspace %s (%s), test-only API keys: %s\n", ws.Name, ws.ID, strings.Join(ws.APIKeys, ", "))
		for _, sys := range ws.Systems {
			fmt.Fprintf(tw, "  system %s\t%s\t%s\n", sys.Key, sys.ID, sys.Name)
			for _, u := range sys.Users {
				fmt.Fprintf(tw, "    user %s\t%s\t%s\n", u.Key, u.ID, u.FullName)
			}
		}
		tw.Flush()
		if first.key == "" && len(ws.APIKeys) > 0 && len(ws.Encoders) > 0 {
			if sys := ws.System(ws.Encoders[0].System); sys != nil && len(sys.Users) > 0 {
				first.key, first.user, first.encoder = ws.APIKeys[0], sys.Users[0].ID, ws.Encoders[0].ID
			}
		}
	}
	if first.key == "" {
		return
	}
	desk := ""
	for _, e := range st.Encoders {
		if e.ID == first.encoder {
			desk = e.Name
		}
	}
	fmt.Fprintf(w, `
try it with curl:
  K='Authorization: Bearer %[1]s'; J='Content-Type: application/json'; U=%[2]s
  curl -s -H "$J" -d '{"kind": "blank"}' %[5]s/lab/api/encoders/%[6]s/place
  curl -s -H "$K" -H "$J" $U/acs/credentials/create -d '{"acs_user_id": "%[3]s", "access_method": "card"}'
  curl -s -H "$K" -H "$J" $U/acs/encoders/encode_credential -d '{"acs_credential_id": "<acs_credential_id>", "acs_encoder_id": "%[4]s"}'
  curl -s -H "$K" "$U/action_attempts/get?action_attempt_id=<action_attempt_id>"

or with Seam's JavaScript SDK (npm install @seamapi/http):
  import { SeamHttp } from '@seamapi/http'
  const seam = new SeamHttp({ apiKey: '%[1]s', endpoint: '%[2]s' })
  const cred = await seam.acs.credentials.create({ acs_user_id: '%[3]s', access_method: 'card' })
  const attempt = await seam.acs.encoders.encodeCredential({ acs_credential_id: cred.acs_credential_id, acs_encoder_id: '%[4]s' })
`, first.key, st.APIURL, first.user, first.encoder, l.UIURL(), desk)
}
