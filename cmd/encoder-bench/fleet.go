package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/encoderlab/encoderlab/internal/cli"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/encoderlab/encoderlab/bench"
	"github.com/encoderlab/encoderlab/pipeline/serialport"
	"github.com/encoderlab/encoderlab/sim/card"
	"github.com/encoderlab/encoderlab/sim/device/pms"
	"github.com/encoderlab/encoderlab/sim/pty"
	"github.com/encoderlab/encoderlab/timescale"
)

// FleetReport is what the fleet process prints once its encoders are up
// (and probed, with --probe): one JSON line.
type FleetReport struct {
	Wanted int `json:"wanted"`
	// Up is how many encoders were started; Answered how many answered
	// the ENQ probe (with --probe).
	Up       int    `json:"up"`
	Answered int    `json:"answered"`
	StartErr string `json:"start_error,omitempty"`
	// HeapPerEncoder is the growth of heap in use plus goroutine stacks,
	// after a GC, divided by Up: what one idle virtual encoder costs in
	// user space.
	HeapPerEncoder float64 `json:"heap_per_encoder"`
	// RawPerPair is the same for a bare pty pair with one idle reader
	// goroutine on its master through the poller: the floor.
	RawPerPair  float64       `json:"raw_per_pair"`
	Threads     int           `json:"threads"`      // OS threads with the encoders up
	ThreadsBase int           `json:"threads_base"` // before any encoder
	Probe       bench.Summary `json:"probe"`        // ENQ→ACK through the link, each encoder once
	StartTook   time.Duration `json:"start_ns"`
	NoFile      uint64        `json:"rlimit_nofile"`
}

// FleetFinal is what the fleet prints when told to stop.
type FleetFinal struct {
	Restocked int64 `json:"restocked"`
}

const fleetUsage = `Usage: encoder-bench fleet [flags]

Run N virtual PMS encoders (sim/device/pms on sim/pty) in this process,
each with a blank card that is replaced by a new blank one (a new UID)
once written, published as links DIR/bench-0001… . Writes a lab file
with those encoders when --lab is given, prints one JSON line when they
are up (memory and threads per encoder, probe results), and serves until
its standard input closes or it gets SIGTERM; then it prints a last JSON
line and exits.
`

type fleetConfig struct {
	n       int
	links   string
	lab     string
	scale   float64
	probe   bool
	rawIdle int
	partial bool
	cpuProf string
}

func fleetMain(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := cli.NewFlagSet("encoder-bench", "fleet", fleetUsage, stdout, stderr, true)
	var c fleetConfig
	fs.IntVar(&c.n, "encoders", 1, "`N` virtual encoders")
	fs.StringVar(&c.links, "links", "", "`DIR` to publish the encoders' links in (required)")
	fs.StringVar(&c.lab, "lab", "", "write a lab `FILE` with the N encoders (ports {links}/bench-NNNN)")
	fs.Float64Var(&c.scale, "scale", 0.01, "time scale `F` of the devices (must match encoderd's)")
	fs.BoolVar(&c.probe, "probe", false, "open each encoder's link once and check it answers ENQ with ACK")
	fs.IntVar(&c.rawIdle, "raw-idle", 0, "first measure `M` bare pty pairs with an idle reader each, for the memory floor")
	fs.BoolVar(&c.partial, "partial", false, "report the encoders that started when the machine runs out of ptys, instead of failing")
	fs.StringVar(&c.cpuProf, "cpuprofile", "", "write a CPU profile of this process to `FILE`")
	if code, stop := cli.Parse(fs, args); stop {
		return code
	}
	switch {
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "encoder-bench fleet: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	case c.n < 1 || c.n > 100_000:
		fmt.Fprintf(stderr, "encoder-bench fleet: --encoders %d: want 1 to 100000\n", c.n)
		return exitUsage
	case c.links == "":
		fmt.Fprintln(stderr, "encoder-bench fleet: --links is required")
		return exitUsage
	case timescale.Scale(c.scale).Validate() != nil || c.scale == 0:
		fmt.Fprintf(stderr, "encoder-bench fleet: --scale %v: want a factor in (0, 1000]\n", c.scale)
		return exitUsage
	}
	if err := runFleet(ctx, c, stdin, stdout); err != nil {
		fmt.Fprintf(stderr, "encoder-bench fleet: %v\n", err)
		return exitFail
	}
	return exitOK
}

// fleetEncoder is one virtual encoder: a device model served on a pty.
type fleetEncoder struct {
	name string
	pair *pty.Pair
	dev  *pms.Device
	done chan struct{}
}

func runFleet(ctx context.Context, c fleetConfig, stdin io.Reader, stdout io.Writer) (err error) {
	rep := FleetReport{Wanted: c.n}
	if rep.NoFile, err = raiseNoFile(); err != nil {
		return err
	}
	if c.rawIdle > 0 {
		if rep.RawPerPair, err = rawIdleCost(c.rawIdle); err != nil {
			return err
		}
	}
	rep.ThreadsBase = threads()
	base := userMemory()

	if c.cpuProf != "" {
		f, err := os.Create(c.cpuProf)
		if err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer func() {
			pprof.StopCPUProfile()
			if cerr := f.Close(); cerr != nil && err == nil {
				err = fmt.Errorf("cpu profile: %w", cerr)
			}
		}()
	}

	serveCtx, stop := context.WithCancel(context.Background())
	defer stop()
	restock := make(chan *fleetEncoder, c.n)
	var restocked atomic.Int64
	var restocker sync.WaitGroup
	restocker.Go(func() { runRestocker(serveCtx, restock, &restocked) })

	scale := timescale.Scale(c.scale)
	cfg := pms.DefaultConfig().Scaled(scale)
	encs := make([]*fleetEncoder, 0, c.n)
	defer func() {
		stop()
		for _, e := range encs {
			e.pair.Close()
			<-e.done
		}
		restocker.Wait()
	}()
	start := time.Now()
	for i := range c.n {
		e, err := startEncoder(serveCtx, i, c.links, cfg, restock)
		if err != nil {
			if !c.partial || i == 0 {
				return fmt.Errorf("encoder %d of %d: %w", i+1, c.n, err)
			}
			rep.StartErr = err.Error()
			break
		}
		encs = append(encs, e)
	}
	rep.StartTook = time.Since(start)
	rep.Up = len(encs)
	rep.HeapPerEncoder = float64(userMemory()-base) / float64(len(encs))
	rep.Threads = threads()

	if c.lab != "" {
		if err := writeLab(c.lab, len(encs)); err != nil {
			return err
		}
	}
	if c.probe {
		var rtts []time.Duration
		for _, e := range encs {
			if d, err := probe(filepath.Join(c.links, e.name)); err == nil {
				rtts = append(rtts, d)
			}
		}
		rep.Answered = len(rtts)
		rep.Probe = bench.Summarize(rtts)
	}
	if err := json.NewEncoder(stdout).Encode(rep); err != nil {
		return err
	}

	// Serve until stdin closes (the orchestrator ends) or ctx ends (SIGTERM).
	eof := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, stdin)
		close(eof)
	}()
	select {
	case <-eof:
	case <-ctx.Done():
	}
	return json.NewEncoder(stdout).Encode(FleetFinal{Restocked: restocked.Load()})
}

// startEncoder opens a pty, links it as DIR/bench-NNNN and serves a PMS
// device with one blank card on it, as sim.Start serves a scenario's
// encoder, without the scenario machinery (timeline, faults, line trace).
func startEncoder(ctx context.Context, i int, links string, cfg pms.Config, restock chan<- *fleetEncoder) (*fleetEncoder, error) {
	e := &fleetEncoder{name: encoderName(i), done: make(chan struct{})}
	cfg.Trace = func(ev pms.Event) {
		if pms.WroteCard(ev) {
			select {
			case restock <- e:
			default: // a restock of e is queued already
			}
		}
	}
	cfg.Logger = slog.New(slog.DiscardHandler)
	e.dev = pms.New(cfg)
	blank, err := blankCard(e.name)
	if err != nil {
		return nil, err
	}
	if _, err := e.dev.Restock(blank); err != nil {
		return nil, err
	}
	pair, err := pty.Open()
	if err != nil {
		return nil, err
	}
	if err := pair.Link(filepath.Join(links, e.name)); err != nil {
		return nil, errors.Join(err, pair.Close())
	}
	e.pair = pair
	go func() {
		defer close(e.done)
		_ = e.dev.Serve(ctx, pair.Master())
	}()
	return e, nil
}

// runRestocker puts a new blank card on each encoder that wrote one. An
// encoder busy with its next command already keeps its written card (the
// device overwrites a guest card) and is restocked after that write.
func runRestocker(ctx context.Context, queue <-chan *fleetEncoder, n *atomic.Int64) {
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-queue:
			blank, err := blankCard(e.name)
			if err != nil {
				continue
			}
			if ok, err := e.dev.Restock(blank); err == nil && ok {
				n.Add(1)
			}
		}
	}
}

func encoderName(i int) string { return fmt.Sprintf("bench-%04d", i+1) }

// blankCard is a new blank MIFARE Classic 1K card with a random 7-byte UID.
func blankCard(owner string) (*card.Card, error) {
	var b [7]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux
	b[0] = 0x04            // NXP's manufacturer byte
	uid := fmt.Sprintf("%X", b[:])
	return card.New(owner+"-"+uid, card.MifareClassic1K, uid, card.Contents{})
}

// probe opens path as encoderd would, sends ENQ and times the ACK.
func probe(path string) (time.Duration, error) {
	p, err := serialport.Open(path, serialport.Mode{Baud: 9600})
	if err != nil {
		return 0, err
	}
	defer p.Close()
	if err := p.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return 0, err
	}
	start := time.Now()
	if _, err := p.Write([]byte{0x05}); err != nil {
		return 0, err
	}
	var b [1]byte
	if _, err := io.ReadFull(p, b[:]); err != nil {
		return 0, err
	}
	took := time.Since(start)
	if b[0] != 0x06 {
		return 0, fmt.Errorf("%s answered ENQ with 0x%02X, want ACK", path, b[0])
	}
	return took, nil
}

// rawIdleCost opens m bare pty pairs, each with one reader goroutine
// parked on its master through the poller, and returns the user-space
// memory each costs; it closes them before returning.
func rawIdleCost(m int) (float64, error) {
	base := userMemory()
	pairs := make([]*pty.Pair, 0, m)
	var wg sync.WaitGroup
	defer func() {
		for _, p := range pairs {
			p.Close()
		}
		wg.Wait()
	}()
	for range m {
		p, err := pty.Open()
		if err != nil {
			return 0, fmt.Errorf("raw pty pair: %w", err)
		}
		pairs = append(pairs, p)
		wg.Go(func() {
			buf := make([]byte, 512)
			for {
				if _, err := p.Master().Read(buf); err != nil {
					return
				}
			}
		})
	}
	return float64(userMemory()-base) / float64(m), nil
}

// userMemory is heap in use plus goroutine stacks, after a GC.
func userMemory() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse + m.StackInuse)
}

// threads is the process's OS thread count, from /proc/self/status (0
// when it cannot be read).
func threads() int {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Threads:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
}

// raiseNoFile lifts the soft open-file limit to the hard one: each
// encoder holds a master and a slave descriptor.
func raiseNoFile() (uint64, error) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, fmt.Errorf("getrlimit: %w", err)
	}
	if r.Cur < r.Max {
		r.Cur = r.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
			return 0, fmt.Errorf("setrlimit: %w", err)
		}
	}
	return r.Cur, nil
}
