package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/fixtures"
	"github.com/encoderlab/encoderlab/pipeline/server"
	"github.com/encoderlab/encoderlab/timescale"
)

func TestBenchLabLoadsBackWithItsEncoders(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lab.yaml")
	if err := writeLab(path, 3); err != nil {
		t.Fatal(err)
	}
	lab, err := fixtures.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ws := lab.Workspaces[0]
	if len(ws.APIKeys) == 0 || ws.System("visionline-hotel").User("guest") == nil {
		t.Fatalf("the lab lost the bundled workspace's key or guest: %+v", ws)
	}
	for i, e := range ws.Encoders {
		if want := "{links}/" + encoderName(i); e.Port != want || e.Driver != "pms" || e.ID == "" {
			t.Errorf("encoder %d: port %q driver %q id %q; want port %q, driver pms and an id", i, e.Port, e.Driver, e.ID, want)
		}
	}
	if len(ws.Encoders) != 3 {
		t.Fatalf("%d encoders, want 3", len(ws.Encoders))
	}
}

func TestLoadStopsAtItsRequestBound(t *testing.T) {
	srv, err := startBare()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c := loadConfig{url: srv.URL(), bare: true, clients: 4, requests: 200, duration: time.Minute,
		pollMin: time.Millisecond, pollMax: time.Millisecond}
	if err := c.check(); err != nil {
		t.Fatal(err)
	}
	res := runLoad(context.Background(), c)
	if res.Requests != 200 || res.Statuses["200"] != 200 || res.Latency[latBare].N != 200 {
		t.Fatalf("requests %d, statuses %v, %d timed; want exactly 200 answered 200 and timed", res.Requests, res.Statuses, res.Latency[latBare].N)
	}
}

func TestLoadStopsAtItsDuration(t *testing.T) {
	srv, err := startBare()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c := loadConfig{url: srv.URL(), bare: true, clients: 2, requests: 1 << 40, duration: 100 * time.Millisecond,
		pollMin: time.Millisecond, pollMax: time.Millisecond}
	res := runLoad(context.Background(), c)
	if res.Requests == 0 || res.Statuses["transport"] != 0 {
		t.Fatalf("requests %d, statuses %v; want some answered and no transport error", res.Requests, res.Statuses)
	}
}

func TestLoadConfigRefusesBadBounds(t *testing.T) {
	good := loadConfig{url: "http://127.0.0.1:1/", clients: 1, requests: 1, duration: time.Second, pollMin: time.Millisecond, pollMax: time.Millisecond}
	for name, mut := range map[string]func(*loadConfig){
		"no url":        func(c *loadConfig) { c.url = "" },
		"no clients":    func(c *loadConfig) { c.clients = 0 },
		"no requests":   func(c *loadConfig) { c.requests = 0 },
		"attempts < 0":  func(c *loadConfig) { c.attempts = -1 },
		"no duration":   func(c *loadConfig) { c.duration = 0 },
		"poll max<min":  func(c *loadConfig) { c.pollMax = 0 },
		"poll min zero": func(c *loadConfig) { c.pollMin = 0 },
	} {
		c := good
		mut(&c)
		if err := c.check(); err == nil {
			t.Errorf("%s: check accepted %+v", name, c)
		}
	}
	if err := good.check(); err != nil {
		t.Errorf("check refused a good config: %v", err)
	}
}

// TestFleetServesEncodesWithFreshCards runs the fleet, the server and the
// load generator in this process: every encode must succeed, each on a
// new blank card.
func TestFleetServesEncodesWithFreshCards(t *testing.T) {
	dir := t.TempDir()
	links, lab := filepath.Join(dir, "links"), filepath.Join(dir, "lab.yaml")
	// 0.1: a 3 s attempt deadline, which a busy machine running the
	// other packages' tests beside this one does not eat (at 0.01 it did).
	const scale = 0.1
	stdinR, stdinW := io.Pipe()
	outR, outW := io.Pipe()
	fleetDone := make(chan error, 1)
	go func() {
		fleetDone <- runFleet(context.Background(), fleetConfig{n: 2, links: links, lab: lab, scale: scale, probe: true}, stdinR, outW)
		outW.Close()
	}()
	lines := bufio.NewScanner(outR)
	next := func(v any) {
		t.Helper()
		if !lines.Scan() {
			t.Fatalf("fleet printed nothing more; it returned %v", <-fleetDone)
		}
		if err := json.Unmarshal(lines.Bytes(), v); err != nil {
			t.Fatalf("fleet printed %q: %v", lines.Text(), err)
		}
	}
	var rep FleetReport
	next(&rep)
	if rep.Up != 2 || rep.Answered != 2 || rep.Probe.N != 2 {
		t.Fatalf("fleet report %+v; want 2 encoders up and answering", rep)
	}

	l, err := fixtures.Load(lab)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.Start(context.Background(), server.Config{Lab: l, LinkDir: links, DBPath: filepath.Join(dir, "e.db"),
		Addr: "127.0.0.1:0", Scale: timescale.Scale(scale), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	c := loadConfig{url: srv.URL(), clients: 2, requests: 10_000, attempts: 6, duration: time.Minute,
		pollMin: 200 * time.Microsecond, pollMax: 2 * time.Millisecond}
	if err := c.aim(lab, "", "visionline-hotel", "guest"); err != nil {
		t.Fatal(err)
	}
	res := runLoad(context.Background(), c)
	if err := srv.Close(); err != nil {
		t.Error(err)
	}
	if res.Attempts != 6 || res.Outcomes["success"] != 6 {
		t.Fatalf("%d attempts, outcomes %v, errors %v; want 6 successes", res.Attempts, res.Outcomes, res.Errors)
	}
	for _, k := range []string{latCreate, latEncode, latTerminal, latSuccess} {
		if res.Latency[k].N == 0 {
			t.Errorf("no %s latency recorded", k)
		}
	}

	stdinW.Close()
	var final FleetFinal
	next(&final)
	if err := <-fleetDone; err != nil {
		t.Fatal(err)
	}
	// Six cards written; each encoder's last may still be queued for its
	// replacement when the fleet stops.
	if final.Restocked < 4 {
		t.Fatalf("restocked %d cards after 6 encodes, want at least 4", final.Restocked)
	}
}

func TestPtyAndSimulatorRoundTrips(t *testing.T) {
	echo, err := ptyEcho(50)
	if err != nil || echo.N != 50 || echo.P50 <= 0 {
		t.Fatalf("ptyEcho = %+v, %v; want 50 timed rounds", echo, err)
	}
	enq, rc, err := simFrames(50)
	if err != nil || enq.N != 50 || rc.N != 50 {
		t.Fatalf("simFrames = %+v, %+v, %v; want 50 timed rounds each", enq, rc, err)
	}
}

func TestSQLiteLimit(t *testing.T) {
	lim, err := sqliteLimit(t.TempDir(), 20*time.Millisecond)
	if err != nil || !(lim.PairsPerTx1 > 0) || !(lim.PairsPerTx100 > 0) {
		t.Fatalf("sqliteLimit = %+v, %v; want two positive rates", lim, err)
	}
}

func TestDispatchRefusesUnknownCommandsAndFlags(t *testing.T) {
	for _, args := range [][]string{nil, {"nope"}, {"load", "--clients", "0", "--url", "http://x", "--bare"}, {"fleet"},
		{"fleet", "--links", "/tmp/x", "--encoders", "0"}, {"run", "--duration", "0s"}, {"serve"}, {"load", "extra"}} {
		var out, errb strings.Builder
		if code := dispatch(context.Background(), args, strings.NewReader(""), &out, &errb); code != exitUsage {
			t.Errorf("dispatch(%q) = %d, want %d; stderr %q", args, code, exitUsage, errb.String())
		}
	}
	var out, errb strings.Builder
	if code := dispatch(context.Background(), []string{"load", "--help"}, nil, &out, &errb); code != exitOK || !strings.Contains(out.String(), "-requests") || errb.Len() != 0 {
		t.Errorf("load --help = %d with stdout %q, stderr %q; want 0 and the flags on stdout", code, out.String(), errb.String())
	}
}

func TestPollMaxBoundsThePollingRate(t *testing.T) {
	for _, clients := range []int{1, 2, 16, 256, 4000} {
		d := pollMax(clients)
		if d < 200*time.Microsecond {
			t.Errorf("pollMax(%d) = %v, below the 200 µs floor", clients, d)
		}
		if rate := float64(clients) / d.Seconds(); rate > 10_000.5 {
			t.Errorf("pollMax(%d) = %v lets polling ask %.0f requests/s, want at most 10,000", clients, d, rate)
		}
	}
}
