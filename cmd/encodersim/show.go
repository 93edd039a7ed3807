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

const showUsage = `Usage: encodersim show [-o OUT.html] [--outcome TEXT] [--title TEXT] TRACE|RUN_DIR

Draw a serial trace (JSON Lines, as encodersim record and the conformance
suite write them) as a self-contained HTML page: a timeline with the host's
and the device's lanes, each chunk of bytes a mark labelled with its
frames (hover a mark for its hex), long silences cut out and marked, and
hangups and redactions noted. The page has no scripts and loads nothing.

RUN_DIR is the directory the conformance suite keeps for a failed scenario
(next to its reports): the page shows that run's trace and the outcome of
its encodes, unless --outcome says otherwise.

By default the page is written next to the trace, as TRACE with the
extension .html, and its path printed; -o - writes it to standard output.

Examples:
  encodersim show field-17.jsonl
  encodersim show reports/conformance/empty-reader
  encodersim show --outcome error/no_credential_on_encoder -o /tmp/t.html TRACE.jsonl
`

func showCmd(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("show", showUsage, stderr)
	out := fs.String("o", "", "write the page to `FILE` (- for standard output)")
	outcome := fs.String("outcome", "", "the attempt's outcome to show in the header, e.g. `error/no_credential_on_encoder`")
	title := fs.String("title", "", "the page's title (default: the trace's file name)")
	maxLabels := fs.Int("max-labels", timeline.DefaultMaxLabels, "label at most `N` events; the rest keep their marks")
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
