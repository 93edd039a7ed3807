package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/encoderlab/encoderlab/pipeline/serialport"
	"github.com/encoderlab/encoderlab/sim/tap"
	"github.com/encoderlab/encoderlab/sim/trace"
)

const recordUsage = `Usage: encodersim record --device PATH --link PATH [--protocol pms|pn532] [--out FILE] [--redact LIST] [--baud N]

Record what an encoder and the pipeline say to each other. The recorder
opens the encoder's serial device, offers the pipeline a pty published at
--link (point the encoder's path in the pipeline's config there), forwards
every byte both ways unchanged, and writes a trace: each chunk with its
direction, its time in µs and, with --protocol, the frames it completes.
It stops on Ctrl-C (or SIGTERM), or when the device goes away.

--redact blanks fields out of the trace (never out of what is forwarded),
keeping frame lengths and checksums valid, so a trace can go into a public
bug: label and card-id (pms), keys and all-data (pn532).

Examples:
  encodersim record --device /dev/ttyUSB0 --link /tmp/encoderlab/front-desk-1 --protocol pms --out desk.jsonl
  encodersim record --device /dev/ttyUSB0 --link /tmp/encoderlab/front-desk-1 --protocol pms --redact label,card-id --out bug-123.jsonl
`

func recordCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("record", recordUsage, stderr)
	device := fs.String("device", "", "the encoder's serial device (required)")
	link := fs.String("link", "", "where to publish the pty the pipeline opens (required)")
	protocol := fs.String("protocol", "", "the encoder's protocol, for decoded frames: pms or pn532")
	out := fs.String("out", "trace.jsonl", "the trace file to write (- for stdout)")
	redact := fs.String("redact", "", "comma-separated fields to blank out of the trace")
	baud := fs.Int("baud", serialport.DefaultBaud, "the device's line speed")
	note := fs.String("note", "", "free text for the trace header (the field report it belongs to)")
	if code, stop := parse(fs, args); stop {
		return code
	}
	if *device == "" || *link == "" || fs.NArg() > 0 {
		fmt.Fprintf(stderr, "encodersim record: --device and --link are required, and no arguments\n")
		return exitUsage
	}
	var fields []string
	if *redact != "" {
		fields = strings.Split(*redact, ",")
	}
	rec := Recording{Device: *device, Link: *link, Protocol: *protocol, Redact: fields, Baud: *baud, Note: *note}
	var w io.Writer = stdout
	if *out != "-" {
		f, err := os.Create(*out)
		if err != nil {
			fmt.Fprintf(stderr, "encodersim record: %v\n", err)
			return exitFail
		}
		defer f.Close()
		w = f
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	err := rec.Run(ctx, w, log, func(tty string) {
		fmt.Fprintf(stderr, "recording %s at %s (tty %s); Ctrl-C to stop\n", *device, *link, tty)
	})
	if err != nil {
		fmt.Fprintf(stderr, "encodersim record: %v\n", err)
		return exitFail
	}
	return exitOK
}

// Recording is one record run's settings.
type Recording struct {
	Device, Link string
	Protocol     string
	Redact       []string
	Baud         int
	Note         string
}

// Run records until ctx ends or the device goes away, writing the trace
// to w. ready, when set, is called with the pty once the link is up.
func (r Recording) Run(ctx context.Context, w io.Writer, log *slog.Logger, ready func(tty string)) error {
	if r.Protocol != "" {
		if _, err := trace.NewDecoder(r.Protocol); err != nil {
			return err
		}
	}
	if len(r.Redact) > 0 {
		if _, err := trace.NewRedactor(r.Protocol, r.Redact); err != nil {
			return err
		}
	}
	dev, err := serialport.Open(r.Device, serialport.Mode{Baud: r.Baud})
	if err != nil {
		return err
	}
	defer dev.Close()
	started := time.Now()
	tw, err := trace.NewWriter(w, trace.Header{
		Protocol: r.Protocol, Device: r.Device, Link: r.Link, Started: started.UTC(),
		Redacted: trace.RedactedNames(r.Protocol, r.Redact), Note: r.Note,
	})
	if err != nil {
		return err
	}
	t, err := tap.Start(dev, started, tap.Config{Link: r.Link, Protocol: r.Protocol, Redact: r.Redact, Trace: tw, Logger: log})
	if err != nil {
		return err
	}
	if ready != nil {
		ready(t.TTY())
	}
	select {
	case <-ctx.Done():
	case <-t.HungUp():
	}
	return t.Close()
}
