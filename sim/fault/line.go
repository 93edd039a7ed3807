package fault

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Line is what a device model serves on: a pty master or a wrapper of it.
type Line interface {
	io.ReadWriter
	SetReadDeadline(t time.Time) error
	SetWriteDeadline(t time.Time) error
}

// Wrap returns l seen through the chain: what the device reads has passed
// the host>device faults, what it writes passes the device>host faults on
// its way to l. Delays end early when ctx does, as the line is then being
// closed; Read and Write then fail with os.ErrDeadlineExceeded.
func (c *Chain) Wrap(ctx context.Context, l Line) Line {
	return &faultLine{Line: l, c: c, done: ctx.Done()}
}

// faultLine applies a chain to one line. Reads come from one goroutine
// and writes from another (the device models' shape), each guarded by
// its own lock.
type faultLine struct {
	Line
	c    *Chain
	done <-chan struct{}

	rmu    sync.Mutex
	queued []timed // host bytes waiting for their delivery time
	ready  []byte  // host bytes due, not yet read
	rerr   error   // the inner read's error, reported once the queue is empty

	wmu sync.Mutex
}

type timed struct {
	at time.Time
	b  []byte
}

func (f *faultLine) Read(p []byte) (int, error) {
	f.rmu.Lock()
	defer f.rmu.Unlock()
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if len(f.ready) > 0 {
			n := copy(p, f.ready)
			f.ready = f.ready[n:]
			return n, nil
		}
		if len(f.queued) > 0 {
			next := f.queued[0]
			if err := f.sleepUntil(next.at); err != nil {
				return 0, err
			}
			f.queued = f.queued[1:]
			f.ready = next.b
			continue
		}
		if f.rerr != nil {
			err := f.rerr
			f.rerr = nil
			return 0, err
		}
		buf := make([]byte, max(len(p), 512))
		n, err := f.Line.Read(buf)
		if n > 0 {
			t := time.Now()
			for _, pc := range f.c.transform(HostToDevice, buf[:n]) {
				t = t.Add(pc.wait)
				if len(pc.b) > 0 {
					f.queued = append(f.queued, timed{at: t, b: pc.b})
				}
			}
		}
		if err != nil {
			f.rerr = err
		}
	}
}

// Write sends p through the device>host faults. It reports all of p
// written once the faults had their way, dropped bytes included: the
// device cannot tell a line that loses bytes from one that does not.
func (f *faultLine) Write(p []byte) (int, error) {
	f.wmu.Lock()
	defer f.wmu.Unlock()
	for _, pc := range f.c.transform(DeviceToHost, append([]byte(nil), p...)) {
		if pc.wait > 0 {
			if err := f.sleepUntil(time.Now().Add(pc.wait)); err != nil {
				return 0, err
			}
		}
		if len(pc.b) == 0 {
			continue
		}
		if _, err := f.Line.Write(pc.b); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// sleepUntil waits for t, or fails when the line is being closed.
func (f *faultLine) sleepUntil(t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-f.done:
		return fmt.Errorf("fault line: delay cut short: %w", os.ErrDeadlineExceeded)
	}
}
