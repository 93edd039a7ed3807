// Command testsummary reads `go test -json` on standard input and prints
// what `go test` prints without -v (each package's result line, and the
// output of what failed), then every skipped test with its reason, so a
// green run says what it did not check. It exits 1 if anything failed or
// the input ended early.
//
//	go test -json ./... | go run ./internal/tools/testsummary
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

type key struct{ pkg, test string }

func main() {
	os.Exit(summarize(os.Stdin, os.Stdout))
}

func summarize(in io.Reader, out io.Writer) int {
	var (
		output  = map[key][]string{} // what a test (or a package, test "") printed
		skipped []string
		failed  bool
		ended   = map[string]bool{}
		started = map[string]bool{}
	)
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if err := json.Unmarshal(line, &e); err != nil || e.Action == "" {
			// go test prints build failures as plain text.
			fmt.Fprintln(out, string(line))
			continue
		}
		k := key{e.Package, e.Test}
		switch e.Action {
		case "start":
			started[e.Package] = true
		case "build-output":
			fmt.Fprint(out, e.Output) // compiler errors (Go 1.24 and later)
		case "output":
			output[k] = append(output[k], e.Output)
		case "skip":
			if e.Test == "" {
				ended[e.Package] = true // a package with no test files
				fmt.Fprintf(out, "?   \t%s\t[no test files]\n", e.Package)
			} else {
				skipped = append(skipped, fmt.Sprintf("%s %s: %s", e.Package, e.Test, reason(output[k])))
			}
			delete(output, k)
		case "pass":
			if e.Test == "" {
				ended[e.Package] = true
				fmt.Fprintf(out, "ok  \t%s\t%.3fs\n", e.Package, e.Elapsed)
			}
			delete(output, k)
		case "fail":
			failed = true
			if e.Test == "" {
				ended[e.Package] = true
				// What the package printed outside any test: a panic, a
				// timeout, TestMain's words.
				for _, s := range output[k] {
					fmt.Fprint(out, s)
				}
				fmt.Fprintf(out, "FAIL\t%s\t%.3fs\n", e.Package, e.Elapsed)
			} else {
				for _, s := range output[k] {
					fmt.Fprint(out, s)
				}
			}
			delete(output, k)
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintf(out, "testsummary: reading go test's output: %v\n", err)
		failed = true
	}
	var unfinished []string
	for p := range started {
		if !ended[p] {
			unfinished = append(unfinished, p)
		}
	}
	sort.Strings(unfinished)
	for _, p := range unfinished {
		fmt.Fprintf(out, "FAIL\t%s\t(the test binary ended without a result)\n", p)
		failed = true
	}
	if len(skipped) == 0 {
		fmt.Fprintln(out, "skipped: none")
	} else {
		fmt.Fprintf(out, "skipped: %d\n", len(skipped))
		for _, s := range skipped {
			fmt.Fprintf(out, "  %s\n", s)
		}
	}
	if failed {
		return 1
	}
	return 0
}

// reason picks the skip message out of a skipped test's output: the
// lines after its "=== RUN" line, without the "--- SKIP" line itself.
func reason(lines []string) string {
	var parts []string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- SKIP") {
			continue
		}
		parts = append(parts, t)
	}
	if len(parts) == 0 {
		return "(no reason given)"
	}
	return strings.Join(parts, " ")
}
