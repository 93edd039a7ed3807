package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/scenarios"
)

// The explorer's and the bundled suite's speed, in process at the
// suite's time scale (0.05), as the README's figures are measured:
//
//	go test -run '^$' -bench Explore -benchtime 1000x ./cmd/encoder-conformance
//	go test -run '^$' -bench BundledSuite -benchtime 5x ./cmd/encoder-conformance
//
// Each iteration of BenchmarkExplore is one generated desk; the figure
// counts everything a user waits for (the processes' start, the check
// of the target, the batches' reports), not only the desks' play.

func BenchmarkExplore(b *testing.B) {
	out := b.TempDir()
	start := time.Now()
	b.ResetTimer()
	stdout, stderr, code := runBin(b, b.TempDir(), "explore", "--seed", "20261204", "--runs", strconv.Itoa(b.N), "--out", out)
	elapsed := time.Since(start)
	b.StopTimer()
	if code != exitOK {
		sum, _ := os.ReadFile(filepath.Join(out, "explore.json"))
		b.Fatalf("explore exited %d: a figure of a run that broke something or failed says nothing\nstdout:\n%s\nstderr:\n%s\n%s", code, stdout, stderr, sum)
	}
	var sum exploreSummary
	if b2, err := os.ReadFile(filepath.Join(out, "explore.json")); err != nil || json.Unmarshal(b2, &sum) != nil || sum.Runs != b.N {
		b.Fatalf("explore.json: %+v (%v), want %d desks", sum, err, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "desks/s")
}

// BenchmarkBundledSuite runs the whole bundled suite once per
// iteration, its scenarios eight at a time in one process.
func BenchmarkBundledSuite(b *testing.B) {
	all, err := scenarios.All()
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	b.ResetTimer()
	for range b.N {
		stdout, stderr, code := runBin(b, b.TempDir(), "run", "--concurrency", "8", "--report-dir", b.TempDir())
		if code != exitOK {
			b.Fatalf("run exited %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(len(all)*b.N)/elapsed.Seconds(), "scenarios/s")
}
