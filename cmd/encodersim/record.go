package main

import (
	"context"
	"errors"
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
Each event is written out as it happens, so the trace is whole up to the
moment the recording ends, however it ends. With the bundled lab, encoderd
opens front-desk-1 at DIR/front-desk-1, DIR being its --links directory:
by default $XDG_RUNTIME_DIR/encoderlab, or $TMPDIR/encoderlab-<uid> when
XDG_RUNTIME_DIR is not set. The link's directory is created with mode
0700 and must be your own (one another user owns or may write is
refused), and a link another running simulator or recorder holds is
refused, naming it.

It stops on Ctrl-C (or SIGTERM), or when the device hangs up (unplugged,
powered off: end of file or an I/O error on its line); then it notes the
hangup as the trace's last event and says so. Either way it removes the
link, and the pipeline sees its line hang up. The trace file is created
only once the device is open.

--redact blanks fields out of the trace (never out of what is forwarded),
keeping frame lengths and checksums valid, so a trace can go into a public
bug: label and card-id (pms), keys and all-data (pn532).

Exit status: 0 when stopped by Ctrl-C or SIGTERM; 1 when the device hung
up (the trace is complete up to the hangup), could not be opened, or the
trace could not be written; 2 for bad usage.

Examples:
  encodersim record --device /dev/ttyUSB0 --link "$XDG_RUNTIME_DIR/encoderlab/front-desk-1" --protocol pms --out desk.jsonl
  encodersim record --device /dev/ttyUSB0 --link "$XDG_RUNTIME_DIR/encoderlab/front-desk-1" --protocol pms --redact label,card-id --out bug-123.jsonl
`

func recordCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("record", recordUsage, stdout, stderr)
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
	// A protocol or redaction field the recorder does not know is a usage
	// error, found before the device is touched.
	if *protocol != "" {
		if _, err := trace.NewDecoder(*protocol); err != nil {
			fmt.Fprintf(stderr, "encodersim record: --protocol: %v\n", err)
			return exitUsage
		}
	}
	if len(fields) > 0 {
		if _, err := trace.NewRedactor(*protocol, fields); err != nil {
			fmt.Fprintf(stderr, "encodersim record: --redact: %v\n", err)
			return exitUsage
		}
	}
	var file *os.File
	create := func() (io.Writer, error) {
		if *out == "-" {
			return stdout, nil
		}
		f, err := os.Create(*out)
		if err != nil {
			return nil, err
		}
		file = f
		return f, nil
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	err := rec.Run(ctx, create, log, func(tty string) {
		fmt.Fprintf(stderr, "recording %s at %s (tty %s) to %s; Ctrl-C to stop\n", *device, *link, tty, *out)
	})
	if file != nil {
		if cerr := file.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("trace %s: %w", *out, cerr)
		}
	}
	switch {
	case errors.Is(err, ErrDeviceHungUp):
		fmt.Fprintf(stderr, "encodersim record: %v; the trace %s is complete up to the hangup\n", err, *out)
		return exitFail
	case err != nil:
		fmt.Fprintf(stderr, "encodersim record: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(stderr, "recording stopped; the trace is in %s\n", *out)
	return exitOK
}

// ErrDeviceHungUp is a recording that ended because the device went
// away (end of file or an I/O error on its line), not because it was
// stopped.
var ErrDeviceHungUp = errors.New("the device hung up")

// Recording is one record run's settings.
type Recording struct {
	Device, Link string
	Protocol     string
	Redact       []string
	Baud         int
	Note         string
}

// Run records until ctx ends (then it returns nil) or the device hangs
// up (an error wrapping ErrDeviceHungUp). The trace goes to the writer
// create returns; Run calls it once the device is open, so a device that
// cannot be opened leaves an earlier trace at the same path untouched.
// ready, when set, is called with the pty once the link is up. When Run
// returns, every event is written and the link is removed.
func (r Recording) Run(ctx context.Context, create func() (io.Writer, error), log *slog.Logger, ready func(tty string)) error {
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
	w, err := create()
	if err != nil {
		return err
	}
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
		return t.Close()
	case <-t.HungUp():
		return errors.Join(fmt.Errorf("%s: %w", r.Device, ErrDeviceHungUp), t.Close())
	}
}
