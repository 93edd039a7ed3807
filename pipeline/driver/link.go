package driver

import (
	"context"
	"errors"
	"sync"
	"time"
)

// What every link layer does the same way, whatever its frames look like:
// read with a deadline into a streaming decoder, notice a frame that stops
// part-way, write within a bound, clear stale input, and let a cancelled
// context wake a blocked call. Each protocol keeps its frame codec and what
// its exchanges mean.

// ErrTimeout is a protocol timeout: the deadline the link layer chose
// passed, not the caller's context's.
var ErrTimeout = errors.New("timeout")

// FrameDecoder turns the byte stream of a line into events of type E, one
// byte at a time, so it works on whatever chunks a port delivers.
type FrameDecoder[E any] interface {
	// Feed consumes b and returns the event it completes, if any.
	Feed(b byte) (E, bool)
	// InFrame reports whether a frame has started and not yet ended.
	InFrame() bool
	// Reset drops a frame begun: the decoder looks for a frame's start.
	Reset()
}

// FrameReader reads the events of a FrameDecoder from a Port. A frame that
// stops arriving for the stall time is handed to the stall function, which
// either turns it into an event (a bad frame to reject) or drops it and
// reads on. A FrameReader is not safe for concurrent use.
type FrameReader[E any] struct {
	port    Port
	dec     FrameDecoder[E]
	stall   time.Duration
	stalled func() (E, bool)

	pending []byte // read from the port, not yet fed to dec
	buf     [512]byte
}

// NewFrameReader returns a FrameReader of dec's events from p. When a
// frame has started and nothing more arrives for stall, it calls stalled:
// the event it returns with true is Next's result; with false, Next reads
// on (stalled has then reset dec, or the stall repeats).
func NewFrameReader[E any](p Port, dec FrameDecoder[E], stall time.Duration, stalled func() (E, bool)) *FrameReader[E] {
	return &FrameReader[E]{port: p, dec: dec, stall: stall, stalled: stalled}
}

// Next returns the next event, reading the port as needed until deadline
// or ctx's deadline, whichever comes first. It returns ErrTimeout when
// deadline passed, ctx.Err() when ctx ended or its deadline passed, and a
// Hangup *Error when the port failed otherwise.
func (r *FrameReader[E]) Next(ctx context.Context, deadline time.Time) (E, error) {
	var zero E
	for {
		for len(r.pending) > 0 {
			c := r.pending[0]
			r.pending = r.pending[1:]
			if ev, ok := r.dec.Feed(c); ok {
				return ev, nil
			}
		}
		dl, ctxBound := Earlier(ctx, deadline)
		stalled := false
		if r.dec.InFrame() {
			if t := time.Now().Add(r.stall); t.Before(dl) {
				dl, ctxBound, stalled = t, false, true
			}
		}
		if err := r.port.SetReadDeadline(dl); err != nil {
			return zero, HungUp("read", err)
		}
		if err := ctx.Err(); err != nil {
			return zero, err
		}
		n, err := r.port.Read(r.buf[:])
		if n > 0 {
			// An error alongside data recurs on the next read.
			r.pending = r.buf[:n]
			continue
		}
		switch {
		case err == nil:
			continue
		case !IsTimeout(err):
			return zero, HungUp("read", err)
		case stalled && ctx.Err() == nil:
			if ev, ok := r.stalled(); ok {
				return ev, nil
			}
			continue
		}
		return zero, expired(ctx, ctxBound)
	}
}

// Discard drops the bytes read from the port and not yet decoded. The
// decoder's state is its owner's to reset.
func (r *FrameReader[E]) Discard() { r.pending = nil }

// Drain clears the line of everything from before now (see Drain): what
// the port holds, what r has read ahead, and a frame its decoder has
// begun.
func (r *FrameReader[E]) Drain(ctx context.Context, quiet, bound time.Duration) error {
	if err := Drain(ctx, r.port, quiet, bound); err != nil {
		return err
	}
	r.Discard()
	r.dec.Reset()
	return nil
}

// WriteWithin writes b to p, giving up after within or when ctx ends,
// whichever comes first. op names the write in a Hangup error. It returns
// ErrTimeout when within passed with the write incomplete (the other end
// is not reading), and ctx.Err() when ctx ended or its deadline passed.
func WriteWithin(ctx context.Context, p Port, b []byte, within time.Duration, op string) error {
	dl, ctxBound := Earlier(ctx, time.Now().Add(within))
	if err := p.SetWriteDeadline(dl); err != nil {
		return HungUp(op, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	_, err := p.Write(b)
	switch {
	case err == nil:
		return nil
	case !IsTimeout(err):
		return HungUp(op, err)
	}
	return expired(ctx, ctxBound)
}

// expired says which deadline a port timeout was: ctx's error when ctx
// ended or its deadline was the port's, ErrTimeout otherwise.
func expired(ctx context.Context, ctxBound bool) error {
	if ctxBound {
		// The port's clock may run a hair ahead of the context's timer.
		<-ctx.Done()
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return ErrTimeout
}

// Drain discards what p holds from before an exchange: late answers,
// stray acknowledgements, noise. A port that is an InputFlusher discards
// its queued input at once (what arrives later is the protocol's to sort
// out); any other is read until a read finds nothing for quiet, or for
// bound on a line that keeps talking. It returns ctx.Err() when ctx ends
// first, and a Hangup *Error when the port fails.
func Drain(ctx context.Context, p Port, quiet, bound time.Duration) error {
	if f, ok := p.(InputFlusher); ok {
		if err := f.FlushInput(); err != nil {
			return HungUp("drain", err)
		}
		return nil
	}
	var buf [512]byte
	end := time.Now().Add(bound)
	for time.Now().Before(end) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := p.SetReadDeadline(time.Now().Add(quiet)); err != nil {
			return HungUp("drain", err)
		}
		n, err := p.Read(buf[:])
		if n > 0 {
			continue
		}
		if IsTimeout(err) {
			return ctx.Err()
		}
		if err != nil {
			return HungUp("drain", err)
		}
	}
	return nil
}

// WakeOnDone moves p's read and write deadlines to now when ctx ends, so
// that a call blocked on a protocol timeout returns at once and its caller
// sees ctx.Err(), even when ctx has no deadline. The returned stop undoes
// it, waiting for the move if it already began so that it cannot cut
// short the I/O that follows (a cancel handshake, say); stop may be called
// more than once.
func WakeOnDone(ctx context.Context, p Port) (stop func()) {
	woken := make(chan struct{})
	stopHook := context.AfterFunc(ctx, func() {
		defer close(woken)
		now := time.Now()
		_ = p.SetReadDeadline(now)
		_ = p.SetWriteDeadline(now)
	})
	return sync.OnceFunc(func() {
		if !stopHook() {
			<-woken
		}
	})
}
