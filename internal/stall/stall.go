// Package stall measures how long the machine leaves a ready thread
// waiting: the pauses a busy or oversubscribed host (a stolen virtual CPU,
// a run queue full of other work) puts into every timing on it.
//
// A Meter runs one probe thread per CPU the process may use, each pinned
// to its CPU where the system allows it. A probe sleeps a short period and
// notes by how much it woke late. A CPU that cannot run a thread that has
// just become ready, for whatever reason, shows as a late probe on it; so
// does a Go runtime that cannot find a processor for it. One more probe
// sends a byte across a pseudo-terminal every period: the kernel hands
// tty input to its reader from a work queue, which a busy machine holds
// up while every thread still gets its CPU (measured on a 2-core CI
// machine: 650 ms, seen at once by the probes of three processes).
//
// Stalls above a small noise level are kept, with when they happened, so
// a caller can ask what the longest one was during a window of its own.
package stall

import (
	"io"
	"runtime"
	"sync"
	"time"
)

// Period is how long a probe sleeps between looks at the clock. Shorter
// periods see shorter stalls and cost more wake-ups.
const Period = 5 * time.Millisecond

// Noise is the lateness below which a probe's wake-up is not recorded:
// ordinary timer slack and scheduling jitter.
const Noise = 10 * time.Millisecond

// keep is how many stalls a Meter remembers, the most recent.
const keep = 4096

// TTY is the CPU of a stall seen on the pseudo-terminal probe.
const TTY = -2

// A Stall is one late wake-up of a probe.
type Stall struct {
	// CPU is the CPU the probe was pinned to, -1 when it was not, or
	// TTY for a byte late across a pseudo-terminal.
	CPU int
	// Start is when the probe should have woken; End when it did.
	Start, End time.Time
}

// Length is how late the probe woke.
func (s Stall) Length() time.Duration { return s.End.Sub(s.Start) }

// Meter records stalls until Stop. Its methods are safe for concurrent use.
type Meter struct {
	mu     sync.Mutex
	stalls []Stall // ring of the latest keep stalls
	next   int

	stop    chan struct{}
	closers []io.Closer // closed by Stop, to wake a probe blocked in a read
	done    sync.WaitGroup
}

// Start starts a Meter with one probe per CPU the process may run on. It
// returns once every probe is on its CPU and measuring.
func Start() *Meter {
	m := &Meter{stop: make(chan struct{})}
	cpus := allowedCPUs()
	if len(cpus) == 0 {
		cpus = make([]int, runtime.NumCPU())
		for i := range cpus {
			cpus[i] = -1
		}
	}
	var ready sync.WaitGroup
	for _, cpu := range cpus {
		m.done.Add(1)
		ready.Add(1)
		go m.probe(cpu, ready.Done)
	}
	ready.Wait()
	m.startTTYProbe()
	return m
}

// Stop ends the probes and waits for them.
func (m *Meter) Stop() {
	close(m.stop)
	for _, c := range m.closers {
		c.Close()
	}
	m.done.Wait()
}

func (m *Meter) probe(cpu int, ready func()) {
	defer m.done.Done()
	// The probe must stay on its thread and the thread on its CPU, or it
	// measures whichever CPU happened to run it.
	// It never unlocks: a goroutine that exits locked takes its thread
	// with it, so no pinned thread goes back to run other goroutines.
	runtime.LockOSThread()
	if cpu >= 0 && pin(cpu) != nil {
		cpu = -1
	}
	ready()
	for {
		select {
		case <-m.stop:
			return
		default:
		}
		due := time.Now().Add(Period)
		// A sleeping goroutine on a locked thread parks the thread and
		// gives its processor back; waking needs this thread's CPU.
		time.Sleep(Period)
		if woke := time.Now(); woke.Sub(due) >= Noise {
			m.add(Stall{CPU: cpu, Start: due, End: woke})
		}
	}
}

func (m *Meter) add(s Stall) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.stalls) < keep {
		m.stalls = append(m.stalls, s)
		return
	}
	m.stalls[m.next] = s
	m.next = (m.next + 1) % keep
}

// Longest returns the longest stall that overlaps the window from..to,
// and false when none was recorded.
func (m *Meter) Longest(from, to time.Time) (Stall, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var best Stall
	found := false
	for _, s := range m.stalls {
		if s.End.Before(from) || s.Start.After(to) {
			continue
		}
		if !found || s.Length() > best.Length() {
			best, found = s, true
		}
	}
	return best, found
}
