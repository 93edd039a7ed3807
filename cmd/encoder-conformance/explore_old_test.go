package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/sim/scenario"
)

// oldCommitEnv turns on TestExploreFindsAfbb00fBugs (make explore-old):
// it builds encoderd from git history, which a shallow checkout lacks.
const oldCommitEnv = "ENCODERLAB_EXPLORE_OLD"

// afbb00f is encoderd before the fixes of the promises issue (deadlines
// settled on read, concurrent reissue under a claim).
const afbb00f = "afbb00f"

// TestExploreFindsAfbb00fBugs is the explorer's proof on real bugs:
// encoderd built from afbb00f, explored as an external target, must be
// caught writing one credential onto two cards of a system that refuses
// reissue (the concurrent reissue its claim later fixed), shrunk to a
// scenario of at most ten steps that loads and breaks it again. The time
// it took is logged (README, Exploring).
func TestExploreFindsAfbb00fBugs(t *testing.T) {
	if os.Getenv(oldCommitEnv) == "" {
		t.Skipf("builds encoderd from commit %s of the git history; set %s=1 (make explore-old)", afbb00f, oldCommitEnv)
	}
	repo, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Fatalf("the test needs the repository's git history: %v", err)
	}
	src := t.TempDir()
	archive := exec.Command("sh", "-c", fmt.Sprintf("git -C %q archive %s | tar -x -C %q", strings.TrimSpace(string(repo)), afbb00f, src))
	if out, err := archive.CombinedOutput(); err != nil {
		t.Fatalf("extracting %s: %v\n%s (a shallow clone lacks it: git fetch --unshallow)", afbb00f, err, out)
	}
	old := filepath.Join(t.TempDir(), "encoderd-"+afbb00f)
	build := exec.Command("go", "build", "-o", old, "./cmd/encoderd")
	build.Dir = src
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building encoderd at %s: %v\n%s", afbb00f, err, out)
	}

	links := filepath.Join(t.TempDir(), "links")
	if err := os.Mkdir(links, 0o700); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	server := exec.CommandContext(ctx, old, "--addr", addr, "--db", filepath.Join(t.TempDir(), "e.db"),
		"--links", links, "--scale", "0.05", "--log-level", "warn")
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	defer server.Wait()
	defer cancel()
	url := "http://" + addr
	for deadline := time.Now().Add(30 * time.Second); ; {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("encoderd %s did not come up at %s", afbb00f, url)
		}
		time.Sleep(50 * time.Millisecond)
	}

	out := t.TempDir()
	start := time.Now()
	stdout, stderr, code := runBin(t, t.TempDir(), "explore", "--seed", "14", "--runs", "60", "--keep-going", "--out", out,
		"--target", "external", "--api-url", url, "--links", links, "--scale", "0.05")
	took := time.Since(start)
	if code != exitFail {
		t.Fatalf("explore of encoderd %s exited %d after %v, want 1 (a find); stdout:\n%s\nstderr:\n%s", afbb00f, code, took, stdout, stderr)
	}
	var sum exploreSummary
	b, err := os.ReadFile(filepath.Join(out, "explore.json"))
	if err != nil || json.Unmarshal(b, &sum) != nil || len(sum.Violations) == 0 {
		t.Fatalf("explore.json: %s, %v", b, err)
	}
	i := slices.IndexFunc(sum.Violations, func(v exploreViolation) bool { return v.Requirement == "INVARIANT-REISSUE-REFUSED-ONE-CARD" })
	if i < 0 {
		t.Fatalf("explore of encoderd %s found %+v, but not the concurrent reissue (INVARIANT-REISSUE-REFUSED-ONE-CARD)", afbb00f, sum.Violations)
	}
	v := sum.Violations[i]
	if v.Replays == 0 {
		t.Errorf("the shrunk desk broke it again in 0 of %d replays", v.Of)
	}
	sc, err := scenario.LoadFile(v.Shrunk)
	if err != nil {
		t.Fatalf("the shrunk desk does not load: %v", err)
	}
	if len(sc.Steps) > 10 {
		t.Errorf("the find shrank to %d steps, want at most 10", len(sc.Steps))
	}
	t.Logf("encoderd %s: %s broke %s after %d desks, %v in all; shrunk to %d steps, %d encodes, broke again in %d of %d replays (%s)",
		afbb00f, v.Desk, v.Requirement, sum.Runs, took.Round(time.Second), len(sc.Steps), len(sc.Encodes), v.Replays, v.Of, v.Shrunk)
}
