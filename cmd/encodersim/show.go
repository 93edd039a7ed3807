package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/encoderlab/encoderlab/sim/timeline"
	"github.com/encoderlab/encoderlab/sim/trace"
)

const showUsage = `Usage: encodersim show [-o OUT.html] [--text] [--outcome TEXT] [--title TEXT] TRACE|RUN_DIR

Draw a serial trace (JSON Lines, as encodersim record and the conformance
suite write them) as a self-contained HTML page: a timeline with the host's
and the device's lanes and one row per frame, however many chunks it came
in, decoded from the protocol's documentation (docs/protocols): PN532
commands by name (InListPassiveTarget, InDataExchange with its MIFARE
authenticate, read and write, SAMConfiguration, GetFirmwareVersion, …),
PMS commands and answers with their fields. Error statuses and answers
are highlighted, fields the recorder redacted are marked ‹redacted›,
retransmissions (a frame sent again after a NAK or NACK, or for want of
an ACK) are badged, and the failing exchange of a failed encode is
outlined. The clock starts at the first byte; long silences are cut out
and marked; a legend explains the marks. The page has no scripts and
loads nothing. --text prints the same frames as text, one line each.

RUN_DIR is the directory the conformance suite keeps for a failed scenario
(next to its reports): the page shows that run's trace and the outcome of
its encodes, unless --outcome says otherwise.

By default the page is written next to the trace, as TRACE with the
extension .html, and its path printed; -o - writes it to standard output.
With --text the text goes to standard output unless -o names a file.

Examples:
  encodersim show field-17.jsonl
  encodersim show reports/conformance/empty-reader
  encodersim show --text reports/conformance/pn532-empty-reader
  encodersim show --outcome error/no_credential_on_encoder -o /tmp/t.html TRACE.jsonl
`

func showCmd(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("show", showUsage, stdout, stderr)
	out := fs.String("o", "", "write the page to `FILE` (- for standard output)")
	outcome := fs.String("outcome", "", "the attempt's outcome to show in the header, e.g. `error/no_credential_on_encoder`")
	title := fs.String("title", "", "the page's title (default: the trace's file name)")
	maxLabels := fs.Int("max-labels", timeline.DefaultMaxLabels, "label at most `N` frames; the rest keep their marks")
	asText := fs.Bool("text", false, "print the frames as text, one line each, instead of drawing the page")
	if code, stop := parse(fs, args); stop {
		return code
	}
	// Flags may follow the trace's name too.
	var files []string
	for fs.NArg() > 0 {
		files = append(files, fs.Arg(0))
		if code, stop := parse(fs, fs.Args()[1:]); stop {
			return code
		}
	}
	if len(files) != 1 {
		fmt.Fprintf(stderr, "encodersim show: want one trace file, got %d\n", len(files))
		fs.Usage()
		return exitUsage
	}
	in := files[0]
	// A run's directory (the suite keeps one per failed scenario) holds
	// its trace under the suite's name for it.
	if fi, err := os.Stat(in); err == nil && fi.IsDir() {
		in = filepath.Join(in, runTraceFile)
	}
	if *title == "" {
		*title = filepath.Base(in)
	}
	tr, err := readTrace(in)
	if err != nil {
		fmt.Fprintf(stderr, "encodersim show: %v\n", err)
		return exitFail
	}
	if *outcome == "" {
		*outcome = tr.Header.Outcome
	}
	if *asText {
		w := stdout
		if *out != "" && *out != "-" {
			f, err := os.Create(*out)
			if err != nil {
				fmt.Fprintf(stderr, "encodersim show: %v\n", err)
				return exitFail
			}
			defer f.Close()
			w = f
		}
		if err := timeline.WriteText(w, tr, *outcome); err != nil {
			fmt.Fprintf(stderr, "encodersim show: %v\n", err)
			return exitFail
		}
		return exitOK
	}
	opts := timeline.Options{Title: *title, Outcome: *outcome, MaxLabels: *maxLabels}
	if *out == "-" {
		if err := timeline.Render(stdout, tr, opts); err != nil {
			fmt.Fprintf(stderr, "encodersim show: %v\n", err)
			return exitFail
		}
		return exitOK
	}
	path := *out
	if path == "" {
		path = strings.TrimSuffix(in, filepath.Ext(in)) + ".html"
	}
	if err := writePage(path, tr, opts); err != nil {
		fmt.Fprintf(stderr, "encodersim show: %v\n", err)
		return exitFail
	}
	fmt.Fprintln(stdout, path)
	return exitOK
}

// runTraceFile is the trace's name in a run's directory, as the
// conformance suite writes it (conformance.TraceFile).
const runTraceFile = "TRACE.jsonl"

func readTrace(path string) (*trace.Trace, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tr, err := trace.Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return tr, nil
}

// writePage renders the page into path, leaving no half-written page
// behind on failure.
func writePage(path string, tr *trace.Trace, opts timeline.Options) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		err = errors.Join(err, f.Close())
		if err != nil {
			os.Remove(path)
		}
	}()
	if err := timeline.Render(f, tr, opts); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
