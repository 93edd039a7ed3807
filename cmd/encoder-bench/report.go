package main

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/encoderlab/encoderlab/bench"
)

// Targets from issue 8.
const (
	targetRateGroup   = 5000
	targetRateOneTx   = 2000
	targetP99         = 5 * time.Millisecond
	targetAlive       = 4000
	targetIdleBytes   = 16 << 10
	targetFrameAdded  = 20 * time.Microsecond
	targetToTerminal  = 5 * time.Millisecond
	deviceWriteTime   = 300 * time.Millisecond // sim/device/pms T_write at real time
	frameRoundsPerEnc = 4                      // ENQ, CN+ACK, answer+ACK, as the issue counts them
)

func durationRatio(v, l time.Duration) string { return bench.Ratio(float64(v), float64(l)) }

// figures builds the main table.
func (r *results) figures() *bench.Table {
	t := bench.NewFigureTable()
	m := r.main
	bareRate := r.bare.RequestRate()
	bare := r.bare.Latency[latBare]

	if m != nil {
		rate := m.Load.SuccessRate()
		reqPerEnc := 0.0
		if n := m.Load.Outcomes["success"]; n > 0 {
			reqPerEnc = float64(m.Load.Requests) / float64(n)
		}
		httpCeil := 0.0
		if reqPerEnc > 0 {
			httpCeil = bareRate / reqPerEnc
		}
		// The store commits concurrent writes together (group commit), so
		// its ceiling is the batched one; the HTTP requests an encode
		// takes usually bound it first on this machine kind.
		limit := min(r.sqlite.PairsPerTx100, httpCeil)
		v := bench.Verdict(fmt.Sprintf("%s ≥ 2,000; %s ≥ 5,000", bench.Judge(rate >= targetRateOneTx), bench.Judge(rate >= targetRateGroup)))
		t.AddFigure(bench.Row{
			Figure: fmt.Sprintf("encodes/s over HTTP, %d encoders, %d clients", m.Encoders, m.Clients),
			Value:  bench.Rate(rate),
			Limit:  fmt.Sprintf("%s (min of SQLite pairs/s in batches, bare HTTP ÷ %.1f req/encode)", bench.Rate(limit), reqPerEnc),
			Ratio:  bench.Ratio(rate, limit), Target: "≥ 5,000 (group commit); ≥ 2,000", Verdict: v,
		})
		for _, name := range []string{latEncode, latGet} {
			s := m.Load.Latency[name]
			t.AddFigure(bench.Row{Figure: name + " p50 at that load", Value: bench.Duration(s.P50),
				Limit: "bare HTTP p50 " + bench.Duration(bare.P50), Ratio: durationRatio(s.P50, bare.P50)})
			t.AddFigure(bench.Row{Figure: name + " p99 at that load", Value: bench.Duration(s.P99),
				Limit: "bare HTTP p99 " + bench.Duration(bare.P99), Ratio: durationRatio(s.P99, bare.P99),
				Target: "≤ 5 ms", Verdict: bench.Judge(s.N > 0 && s.P99 <= targetP99)})
		}
	}
	floor := time.Duration(float64(deviceWriteTime)*r.cfg.quiet) + frameRoundsPerEnc*r.echo.P50
	if q := r.quiet; q != nil {
		s := q.Load.Latency[latSuccess]
		t.AddFigure(bench.Row{
			Figure: fmt.Sprintf("creation→success p50, 1 encoder, 1 client, scale %v", r.cfg.quiet),
			Value:  bench.Duration(s.P50),
			Limit:  fmt.Sprintf("%s (scaled write time + %d pty round trips)", bench.Duration(floor), frameRoundsPerEnc),
			Ratio:  durationRatio(s.P50, floor), Target: "≤ 5 ms", Verdict: bench.Judge(s.N > 0 && s.P50 <= targetToTerminal),
		})
	}
	if m != nil {
		s := m.Load.Latency[latSuccess]
		floor := time.Duration(float64(deviceWriteTime)*r.cfg.scale) + frameRoundsPerEnc*r.echo.P50
		t.AddFigure(bench.Row{Figure: fmt.Sprintf("creation→success p50 / p99 at %d encoders, scale %v", m.Encoders, r.cfg.scale),
			Value: bench.Duration(s.P50) + " / " + bench.Duration(s.P99), Limit: bench.Duration(floor), Ratio: durationRatio(s.P50, floor)})
	}

	a := r.alive
	t.AddFigure(bench.Row{
		Figure: "virtual encoders alive in one process, each answering ENQ",
		Value:  bench.Count(int64(a.Answered)) + " of " + bench.Count(int64(a.Wanted)),
		Limit:  bench.Count(int64(r.ptyFree)) + " ptys free at the start",
		Ratio:  bench.Ratio(float64(a.Answered), float64(r.ptyFree)), Target: "4,000",
		Verdict: bench.Judge(a.Answered >= targetAlive),
	})
	t.AddFigure(bench.Row{
		Figure: fmt.Sprintf("user-space memory per idle encoder (heap+stacks, %s encoders)", bench.Count(int64(a.Up))),
		Value:  bench.Bytes(a.HeapPerEncoder),
		Limit:  bench.Bytes(a.RawPerPair) + " (bare pty pair + idle reader)",
		Ratio:  bench.Ratio(a.HeapPerEncoder, a.RawPerPair), Target: "≤ 16 KiB",
		Verdict: bench.Judge(a.Up > 0 && a.HeapPerEncoder <= targetIdleBytes),
	})
	t.AddFigure(bench.Row{
		Figure: fmt.Sprintf("OS threads with %s encoders up", bench.Count(int64(a.Up))),
		Value:  strconv.Itoa(a.Threads), Limit: strconv.Itoa(a.ThreadsBase) + " before the first encoder",
		Ratio: bench.Ratio(float64(a.Threads), float64(a.ThreadsBase)), Target: "no thread per encoder",
		Verdict: bench.Judge(a.Up > 0 && a.Threads-a.ThreadsBase < max(a.Up/100, 8)),
	})
	for _, f := range []struct {
		name string
		s    bench.Summary
	}{{"simulator ENQ→ACK", r.simENQ}, {"simulator RC command (frame, ACK, answer frame)", r.simRC}} {
		added := f.s.P50 - r.echo.P50
		t.AddFigure(bench.Row{
			Figure: f.name + ": p50 added over a raw pty echo",
			Value:  fmt.Sprintf("%s (round trip %s)", bench.Duration(added), bench.Duration(f.s.P50)),
			Limit:  "16-byte pty echo p50 " + bench.Duration(r.echo.P50),
			Ratio:  durationRatio(f.s.P50, r.echo.P50), Target: "≤ 20 µs added",
			Verdict: bench.Judge(f.s.N > 0 && added <= targetFrameAdded),
		})
	}
	t.AddFigure(bench.Row{Figure: fmt.Sprintf("limit: bare HTTP JSON handler, %d clients", r.bare.Clients),
		Value: bench.Rate(bareRate), Limit: fmt.Sprintf("p50 %s, p99 %s", bench.Duration(bare.P50), bench.Duration(bare.P99))})
	t.AddFigure(bench.Row{Figure: "limit: bare SQLite insert+update pairs, one tx each / 100 per tx",
		Value: bench.Rate(r.sqlite.PairsPerTx1) + " / " + bench.Rate(r.sqlite.PairsPerTx100), Limit: "WAL, synchronous=FULL"})
	return t
}

// curve lays out a series of runs.
func curve(points []*point) *bench.Table {
	t := &bench.Table{Header: []string{"encoders", "clients", "attempts bound", "encodes", "encodes/s",
		"encode_credential p50 / p99", "get p50 / p99", "creation→success p50 / p99", "polls/attempt", "not success"}}
	for _, p := range points {
		l := p.Load
		bound := bench.None
		if p.Attempts > 0 {
			bound = bench.Count(p.Attempts)
		}
		enc, get, ok := l.Latency[latEncode], l.Latency[latGet], l.Latency[latSuccess]
		polls := bench.None
		if l.Attempts > 0 {
			polls = fmt.Sprintf("%.1f", float64(get.N)/float64(l.Attempts))
		}
		t.Add(strconv.Itoa(p.Encoders), strconv.Itoa(p.Clients), bound, bench.Count(int64(l.Outcomes["success"])),
			bench.Rate(l.SuccessRate()),
			bench.Duration(enc.P50)+" / "+bench.Duration(enc.P99),
			bench.Duration(get.P50)+" / "+bench.Duration(get.P99),
			bench.Duration(ok.P50)+" / "+bench.Duration(ok.P99),
			polls, failures(l))
	}
	return t
}

// failures lists what was not a success: error outcomes, non-200
// answers, attempts left pending at the bound.
func failures(l LoadResult) string {
	var parts []string
	keys := make([]string, 0, len(l.Outcomes))
	for k := range l.Outcomes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k != "success" {
			parts = append(parts, fmt.Sprintf("%s %d", k, l.Outcomes[k]))
		}
	}
	for k, v := range l.Statuses {
		if k != "200" {
			parts = append(parts, fmt.Sprintf("HTTP %s ×%d", k, v))
		}
	}
	if n := l.Attempts - l.Terminal; n > 0 {
		parts = append(parts, fmt.Sprintf("%d pending at the bound", n))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// report prints the tables as text to w and as Markdown to md.
func (r *results) report(w, md io.Writer) error {
	fig := r.figures()
	byEnc, byAtt := curve(r.byEnc), curve(r.byAtt)
	fmt.Fprintf(w, "\nencoder-bench, %s, %s; took %v\n\n", r.start.Format("2006-01-02 15:04 MST"), machine(), r.took.Round(time.Second))
	if err := fig.WriteText(w); err != nil {
		return err
	}
	fmt.Fprintln(w, "\ngrowth with encoders:")
	if err := byEnc.WriteText(w); err != nil {
		return err
	}
	fmt.Fprintf(w, "\ngrowth with attempts (%d encoders):\n", r.cfg.encoders)
	if err := byAtt.WriteText(w); err != nil {
		return err
	}
	for _, p := range r.profiles {
		name, top, _ := strings.Cut(p, "\n")
		fmt.Fprintf(w, "\nprofile %s:\n%s\n", name, top)
	}

	fmt.Fprintf(md, "# encoder-bench\n\n- date: %s\n- machine: %s\n- command: `make bench`%s (took %v)\n- time scale %v under load, %v for creation→success; each load run %v; encoderd attempt deadline 10 s once scaled\n\n",
		r.start.Format("2006-01-02 15:04 MST"), machine(), map[bool]string{true: " with BENCH_FULL=1", false: ""}[r.cfg.full], r.took.Round(time.Second), r.cfg.scale, r.cfg.quiet, r.cfg.duration)
	if err := fig.WriteMarkdown(md); err != nil {
		return err
	}
	fmt.Fprint(md, "\n## Growth with encoders\n\n")
	if err := byEnc.WriteMarkdown(md); err != nil {
		return err
	}
	fmt.Fprintf(md, "\n## Growth with attempts (%d encoders)\n\n", r.cfg.encoders)
	if err := byAtt.WriteMarkdown(md); err != nil {
		return err
	}
	for _, p := range r.profiles {
		name, top, _ := strings.Cut(p, "\n")
		fmt.Fprintf(md, "\n## Profile %s\n\n```\n%s\n```\n", name, top)
	}
	fmt.Fprint(md, "\n## How the figures are taken\n\n"+howNote)
	return nil
}

const howNote = `- encoderd, the virtual encoders (encoder-bench fleet) and the load generator (encoder-bench load) are three processes on loopback and ptys. Each client creates two credentials and re-encodes them by turns on its encoder (consecutive encodes differ, as at a desk), polling action_attempts/get (the API offers no way to wait): first after three quarters of its recent attempts' time, then at pauses of at most 100 µs per client (200 µs for one client, 25.6 ms at 256), so polling alone never asks more than 10,000 requests a second. The single client of the creation→success run polls every 200 µs from the start. Latencies are the client's.
- Each virtual encoder holds a blank card; once written it is replaced by a new blank card with a new UID (pms.Device.Restock).
- Limits come from the same run: a 16-byte echo through a pty with both ends on Go's poller; a bare net/http JSON handler driven by the same load generator at the same concurrency; bare SQLite (modernc, WAL, synchronous=FULL) insert+update pairs.
- Memory per idle encoder is the growth of heap in use plus goroutine stacks after a GC, divided by the encoders; its limit is the same for bare pty pairs with one idle reader each.
- Profiles (with --profile) come from a separate pass in which the server is encoder-bench serve: pipeline/server wired as encoderd wires it, with a CPU profile, since encoderd has no profiling flag.
`
