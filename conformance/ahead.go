package conformance

import (
	"context"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"

	"github.com/encoderlab/encoderlab/sim/scenario"
)

// aheadPool plays the scenarios of one process ahead of their
// containers, Config.Concurrency at a time. Ginkgo runs one spec at a
// time per process, and most of a scenario's time is scaled waits (a
// card that comes late, a deadline that must pass), so playing several
// at once is what makes a long list of scenarios (an exploration's
// desks) quick. Only the playing overlaps: each container still checks
// its own recording, in its own specs.
type aheadPool struct {
	cfg   *Config
	plan  []Group
	lines map[*scenario.Scenario]*lineLog

	start sync.Once
	ctx   context.Context
	stop  context.CancelFunc
	wg    sync.WaitGroup

	mu   sync.Mutex
	runs map[*scenario.Scenario]*aheadRun
}

// aheadRun is one scenario played ahead.
type aheadRun struct {
	done   chan struct{}
	cancel context.CancelFunc
	run    *steadyRun
	// steps are what the run did, told to Ginkgo (By) when its
	// container takes it.
	steps []string
	mu    sync.Mutex
}

func (r *aheadRun) step(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.steps = append(r.steps, s)
}

// newAheadPool returns the pool for cfg's plan, or nil when its
// scenarios must play one at a time: Concurrency of 1 or less, an
// external target, hardware.
func newAheadPool(cfg *Config, plan []Group, lines map[*scenario.Scenario]*lineLog) *aheadPool {
	if cfg.Concurrency <= 1 || cfg.Hardware != nil || fixedLinkDir(cfg.Target) != "" {
		return nil
	}
	return &aheadPool{cfg: cfg, plan: plan, lines: lines, runs: map[*scenario.Scenario]*aheadRun{}}
}

// aheadOf is cfg's pool, nil when there is none or Ginkgo shares the
// containers out among processes (ginkgo -p), where a process cannot
// know which scenarios are its own.
func aheadOf(cfg *Config) *aheadPool {
	if cfg.ahead == nil {
		return nil
	}
	if suite, _ := GinkgoConfiguration(); suite.ParallelTotal > 1 {
		return nil
	}
	return cfg.ahead
}

// selected are the pool's scenario groups that the run's label filter
// lets a spec of run.
func (p *aheadPool) selected() []Group {
	filter, err := types.ParseLabelFilter(GinkgoLabelFilter())
	if err != nil {
		// Ginkgo refuses such a filter before any spec runs.
		return nil
	}
	var out []Group
	for _, g := range p.plan {
		if g.Scenario == nil {
			continue
		}
		// The labels a spec of the scenario's container carries, as
		// Register gives them.
		labels := append(suiteLabels(p.cfg), scenarioLabels(p.cfg, g.Scenario)...)
		for _, req := range g.Requirements {
			if filter(append(labels[:len(labels):len(labels)], req.ID)) {
				out = append(out, g)
				break
			}
		}
	}
	return out
}

// begin starts playing every selected scenario, Concurrency at a time,
// in plan order. Each recording is closed as soon as it is made: the
// checks read only what it kept, and a closed one holds no pty, server
// or temporary directory while it waits for its container.
func (p *aheadPool) begin() {
	p.ctx, p.stop = context.WithCancel(context.Background())
	slots := make(chan struct{}, p.cfg.Concurrency)
	for _, g := range p.selected() {
		ctx, cancel := context.WithCancel(p.ctx)
		r := &aheadRun{done: make(chan struct{}), cancel: cancel}
		p.mu.Lock()
		p.runs[g.Scenario] = r
		p.mu.Unlock()
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer close(r.done)
			defer cancel()
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				r.run = &steadyRun{err: context.Cause(ctx)}
				return
			}
			defer func() { <-slots }()
			r.run = playSteady(ctx, p.cfg, g.Scenario, g.Requirements, p.lines[g.Scenario], r.step)
			if r.run.rec != nil {
				if err := r.run.rec.close(); err != nil {
					r.run.err = err
				}
			}
		}()
	}
}

// take returns sc's run, waiting for it; a scenario the pool did not
// play (a focus the label filter did not show) is played now. When ctx
// ends first (a timeout, an interrupt), the run is stopped.
func (p *aheadPool) take(ctx SpecContext, sc *scenario.Scenario) *steadyRun {
	GinkgoHelper()
	p.start.Do(p.begin)
	p.mu.Lock()
	r := p.runs[sc]
	delete(p.runs, sc)
	p.mu.Unlock()
	if r == nil {
		var reqs []Requirement
		for _, g := range p.plan {
			if g.Scenario == sc {
				reqs = g.Requirements
			}
		}
		return playSteady(ctx, p.cfg, sc, reqs, p.lines[sc], func(s string) { By(s) })
	}
	select {
	case <-r.done:
	case <-ctx.Done():
		r.cancel()
		<-r.done
	}
	for _, s := range r.steps {
		By(s + " (played ahead)")
	}
	return r.run
}

// close stops what is still playing and waits for it.
func (p *aheadPool) close() {
	p.start.Do(func() {}) // a pool never begun has nothing to stop
	if p.stop != nil {
		p.stop()
	}
	p.wg.Wait()
}
