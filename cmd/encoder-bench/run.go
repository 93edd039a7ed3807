package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/encoderlab/encoderlab/internal/cli"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/encoderlab/encoderlab/bench"
)

const runUsage = `Usage: encoder-bench run [flags]

Measure the raw limits of this machine (a pty round trip through Go's
poller, a bare HTTP JSON handler under the same load generator, bare
SQLite durable writes), then the pipeline: encoderd and a fleet of
virtual encoders as separate processes, driven by the load generator as
a third. Prints the table (figure, value, limit measured in this run,
ratio, target) and the growth curves, and writes them as Markdown.

BENCH_FULL=1 in the environment is --full: the long curves (encoders up
to 4,000, attempts up to 100,000).
`

type runConfig struct {
	encoderd string
	out      string
	work     string
	profile  string
	scale    float64
	quiet    float64
	clients  int
	encoders int
	alive    int
	duration time.Duration
	full     bool
	keep     bool
}

func runMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := cli.NewFlagSet("encoder-bench", "run", runUsage, stdout, stderr, true)
	var c runConfig
	fs.StringVar(&c.encoderd, "encoderd", "", "encoderd `BINARY` (default: next to this one, else on PATH)")
	fs.StringVar(&c.out, "out", "reports/bench.md", "write the report as Markdown to `FILE` (empty: do not)")
	fs.StringVar(&c.work, "work", "", "working `DIR` for databases, links, logs (default: a temporary one)")
	fs.StringVar(&c.profile, "profile", "", "also run a profiling pass and write CPU profiles to `DIR`")
	fs.Float64Var(&c.scale, "scale", 0.05, "time scale `F` of devices and server under load")
	fs.Float64Var(&c.quiet, "quiet-scale", 0.001, "time scale `F` of the creation→success run (1 encoder, 1 client)")
	fs.IntVar(&c.clients, "clients", 256, "load generator clients for the main figure")
	fs.IntVar(&c.encoders, "encoders", 256, "virtual encoders for the main figure")
	fs.IntVar(&c.alive, "alive", 4000, "virtual encoders to start in one process for the capacity figure")
	fs.DurationVar(&c.duration, "duration", 8*time.Second, "length of each load run")
	fs.BoolVar(&c.full, "full", os.Getenv("BENCH_FULL") == "1", "long curves (BENCH_FULL=1)")
	fs.BoolVar(&c.keep, "keep", false, "keep the working directory")
	if code, stop := cli.Parse(fs, args); stop {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "encoder-bench run: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if c.clients < 1 || c.encoders < 1 || c.alive < 1 || c.duration <= 0 || !(c.scale > 0 && c.scale <= 1000) || !(c.quiet > 0 && c.quiet <= 1000) {
		fmt.Fprintln(stderr, "encoder-bench run: --clients, --encoders, --alive, --duration, --scale and --quiet-scale must be positive (scales at most 1000)")
		return exitUsage
	}
	if err := orchestrate(ctx, c, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "encoder-bench run: %v\n", err)
		return exitFail
	}
	return exitOK
}

// point is one run of the pipeline under load.
type point struct {
	Encoders, Clients int
	Attempts          int64 // the bound, 0 for none
	Fleet             FleetReport
	Load              LoadResult
	Restocked         int64
}

// results is everything one run measured.
type results struct {
	start         time.Time
	took          time.Duration
	cfg           runConfig
	echo          bench.Summary
	simENQ, simRC bench.Summary
	sqlite        SQLiteLimit
	bare          LoadResult
	alive         FleetReport
	ptyFree       int
	main          *point
	quiet         *point
	byEnc, byAtt  []*point
	profiles      []string // "name\ntop" blocks
}

func orchestrate(ctx context.Context, c runConfig, stdout, stderr io.Writer) error {
	r := &results{start: time.Now(), cfg: c}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if c.encoderd == "" {
		c.encoderd = filepath.Join(filepath.Dir(self), "encoderd")
		if _, err := os.Stat(c.encoderd); err != nil {
			if c.encoderd, err = exec.LookPath("encoderd"); err != nil {
				return errors.New("no encoderd next to encoder-bench nor on PATH; build it (make build) or pass --encoderd")
			}
		}
	}
	if c.work == "" {
		if c.work, err = os.MkdirTemp("", "encoder-bench-"); err != nil {
			return err
		}
		if !c.keep {
			defer os.RemoveAll(c.work)
		}
	}
	if err := os.MkdirAll(c.work, 0o755); err != nil {
		return err
	}
	h := &harness{ctx: ctx, cfg: c, self: self, log: stderr}

	step := func(what string) {
		fmt.Fprintf(stderr, "encoder-bench: %s (%v in)\n", what, time.Since(r.start).Round(time.Second))
	}

	step("raw limits: pty echo, simulator frames, SQLite, bare HTTP")
	if r.echo, err = ptyEcho(5000); err != nil {
		return fmt.Errorf("pty echo: %w", err)
	}
	if r.simENQ, r.simRC, err = simFrames(5000); err != nil {
		return fmt.Errorf("simulator frames: %w", err)
	}
	if r.sqlite, err = sqliteLimit(c.work, time.Second); err != nil {
		return err
	}
	if err := h.bareHTTP(&r.bare); err != nil {
		return err
	}

	step(fmt.Sprintf("%d virtual encoders in one process", c.alive))
	r.ptyFree = ptysFree()
	if err := h.aliveFleet(&r.alive); err != nil {
		return err
	}

	step(fmt.Sprintf("creation→success: 1 encoder, 1 client, scale %v", c.quiet))
	if r.quiet, err = h.encodeRun("quiet", 1, 1, 0, 3*time.Second, c.quiet, ""); err != nil {
		return err
	}

	encs := []int{1, 16, c.encoders}
	atts := []int64{100, 1000}
	if c.full {
		encs = append(encs, 1024, c.alive)
		atts = append(atts, 10_000, 100_000)
	}
	encs = uniqueSorted(encs)
	for _, n := range encs {
		clients := min(n, c.clients)
		step(fmt.Sprintf("encodes: %d encoders, %d clients, %v", n, clients, c.duration))
		p, err := h.encodeRun(fmt.Sprintf("enc-%d", n), n, clients, 0, c.duration, c.scale, "")
		if err != nil {
			return err
		}
		r.byEnc = append(r.byEnc, p)
		if n == c.encoders {
			r.main = p
		}
	}
	for _, a := range atts {
		step(fmt.Sprintf("encodes: %d attempts on %d encoders", a, c.encoders))
		limit := max(c.duration, time.Duration(a)*time.Second/100) // at least 100 encodes/s
		p, err := h.encodeRun(fmt.Sprintf("att-%d", a), c.encoders, min(c.encoders, c.clients), a, limit, c.scale, "")
		if err != nil {
			return err
		}
		r.byAtt = append(r.byAtt, p)
	}
	if c.profile != "" {
		step("profiling pass")
		if err := os.MkdirAll(c.profile, 0o755); err != nil {
			return err
		}
		abs, _ := filepath.Abs(c.profile)
		if _, err := h.encodeRun("profile", c.encoders, min(c.encoders, c.clients), 0, c.duration, c.scale, abs); err != nil {
			return err
		}
		for _, name := range []string{"encoderd.cpu.pprof", "fleet.cpu.pprof"} {
			r.profiles = append(r.profiles, name+"\n"+pprofTop(filepath.Join(abs, name)))
		}
	}
	r.took = time.Since(r.start)

	var md bytes.Buffer
	if err := r.report(stdout, &md); err != nil {
		return err
	}
	if c.out != "" {
		if err := os.MkdirAll(filepath.Dir(c.out), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(c.out, md.Bytes(), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "encoder-bench: wrote %s\n", c.out)
	}
	return nil
}

// harness starts the processes of a run.
type harness struct {
	ctx  context.Context
	cfg  runConfig
	self string
	log  io.Writer
}

func (h *harness) bareHTTP(out *LoadResult) error {
	srv, err := startBare()
	if err != nil {
		return err
	}
	defer srv.Close()
	ld, err := startChild("load (bare)", h.self, []string{"load", "--bare", "--url", srv.URL(),
		"--clients", strconv.Itoa(h.cfg.clients), "--duration", "3s"}, filepath.Join(h.cfg.work, "load-bare.log"))
	if err != nil {
		return err
	}
	if err := ld.readJSON(h.ctx, time.Minute, out); err != nil {
		ld.stop(time.Second)
		return err
	}
	return ld.wait(10 * time.Second)
}

func (h *harness) aliveFleet(out *FleetReport) error {
	dir := filepath.Join(h.cfg.work, "alive")
	fl, err := startChild("fleet (capacity)", h.self, []string{"fleet", "--encoders", strconv.Itoa(h.cfg.alive),
		"--links", filepath.Join(dir, "links"), "--scale", fmtFloat(h.cfg.scale), "--probe", "--raw-idle", "200", "--partial"},
		filepath.Join(h.cfg.work, "fleet-alive.log"))
	if err != nil {
		return err
	}
	if err := fl.readJSON(h.ctx, 5*time.Minute, out); err != nil {
		fl.stop(10 * time.Second)
		return err
	}
	return fl.stop(time.Minute)
}

// encodeRun starts a fleet of n encoders, encoderd on its lab (or, with
// a profile directory, the profiling stand-in) and the load generator,
// at time scale scale.
func (h *harness) encodeRun(name string, n, clients int, attempts int64, d time.Duration, scale float64, profDir string) (*point, error) {
	dir := filepath.Join(h.cfg.work, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	links, lab := filepath.Join(dir, "links"), filepath.Join(dir, "lab.yaml")
	p := &point{Encoders: n, Clients: clients, Attempts: attempts}
	fargs := []string{"fleet", "--encoders", strconv.Itoa(n), "--links", links, "--lab", lab, "--scale", fmtFloat(scale)}
	if profDir != "" {
		fargs = append(fargs, "--cpuprofile", filepath.Join(profDir, "fleet.cpu.pprof"))
	}
	fl, err := startChild("fleet", h.self, fargs, filepath.Join(dir, "fleet.log"))
	if err != nil {
		return nil, err
	}
	defer fl.stop(time.Minute)
	if err := fl.readJSON(h.ctx, 5*time.Minute, &p.Fleet); err != nil {
		return nil, err
	}

	// A deadline of 10 s once scaled: long enough that no attempt expires
	// in a queue on a loaded machine, so every outcome is the device's.
	deadline := time.Duration(float64(10*time.Second) / scale)
	sargs := []string{"--lab", lab, "--links", links, "--db", filepath.Join(dir, "encoderd.db"),
		"--scale", fmtFloat(scale), "--addr", "127.0.0.1:0", "--deadline", deadline.String()}
	bin := h.cfg.encoderd
	if profDir != "" {
		bin = h.self
		sargs = append([]string{"serve", "--cpuprofile", filepath.Join(profDir, "encoderd.cpu.pprof")}, sargs...)
	} else {
		sargs = append(sargs, "--log-level", "warn")
	}
	srv, err := startChild("encoderd", bin, sargs, filepath.Join(dir, "encoderd.log"))
	if err != nil {
		return nil, err
	}
	defer srv.stop(time.Minute)
	const banner = "serving the API at "
	l, err := srv.line(h.ctx, time.Minute, func(l string) bool { return strings.Contains(l, banner) })
	if err != nil {
		return nil, err
	}
	url := strings.TrimSpace(l[strings.Index(l, banner)+len(banner):])

	largs := []string{"load", "--url", url, "--lab", lab, "--clients", strconv.Itoa(clients),
		"--duration", d.String(), "--attempts", strconv.FormatInt(attempts, 10), "--poll-max", pollMax(clients).String(),
		// One client measures latency: it polls finely from the start.
		"--adaptive-poll=" + strconv.FormatBool(clients > 1)}
	ld, err := startChild("load", h.self, largs, filepath.Join(dir, "load.log"))
	if err != nil {
		return nil, err
	}
	if err := ld.readJSON(h.ctx, d+time.Minute, &p.Load); err != nil {
		ld.stop(time.Second)
		return nil, err
	}
	if err := ld.wait(10 * time.Second); err != nil {
		return nil, err
	}
	if err := srv.stop(time.Minute); err != nil {
		return nil, err
	}
	var final FleetFinal
	fl.stdin.Close()
	if err := fl.readJSON(h.ctx, time.Minute, &final); err == nil {
		p.Restocked = final.Restocked
	}
	return p, fl.stop(time.Minute)
}

// pollMax is the longest pause between two polls of an attempt: 100 µs
// per client, at least 200 µs, so that polling alone asks at most 10,000
// requests a second of the server, well under what a bare handler serves
// on this machine kind, while one client still sees an outcome within
// 200 µs of it being stored.
func pollMax(clients int) time.Duration {
	return max(200*time.Microsecond, time.Duration(clients)*100*time.Microsecond)
}

// pprofTop is the head of "go tool pprof -top" for a profile, or why
// there is none.
func pprofTop(path string) string {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "(go not on PATH: run go tool pprof -top " + path + ")"
	}
	out, err := exec.Command(goBin, "tool", "pprof", "-top", "-nodecount=15", path).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("(go tool pprof: %v)\n%s", err, out)
	}
	return strings.TrimSpace(string(out))
}

// ptysFree is how many more ptys the kernel would hand out now.
func ptysFree() int {
	read := func(p string) int {
		b, err := os.ReadFile(p)
		if err != nil {
			return -1
		}
		n, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			return -1
		}
		return n
	}
	mx, nr := read("/proc/sys/kernel/pty/max"), read("/proc/sys/kernel/pty/nr")
	if mx < 0 || nr < 0 {
		return -1
	}
	// The kernel refuses the last one (REFERENCE §4: 4,095 of 4,096).
	return mx - 1 - nr
}

func uniqueSorted(v []int) []int {
	sort.Ints(v)
	out := v[:0]
	for i, x := range v {
		if i == 0 || x != v[i-1] {
			out = append(out, x)
		}
	}
	return out
}

func fmtFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// machine describes the host for the report.
func machine() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	return fmt.Sprintf("%d CPUs (nproc), %s, %s %s/%s", runtime.NumCPU(), cpu, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
