package pms

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/encoderlab/encoderlab/pipeline/driver"
)

// drainWait is how long one read of stale input waits. Bytes already
// buffered on the line come back at once; the wait only has to outlast
// the scheduler between setting the deadline and reading.
const drainWait = 2 * time.Millisecond

// errTimeout is a protocol timeout: the deadline the session chose passed
// (not the caller's context).
var errTimeout = errors.New("timeout")

// session runs one command exchange over a port: the link layer (ENQ,
// ACK/NAK, resends, duplicate answers) and the cancel handshake.
type session struct {
	p    driver.Port
	t    Timing
	addr string
	ctx  context.Context

	dec     decoder
	pending []byte // read from the port, not yet decoded
	rbuf    [256]byte

	// last is the answer frame most recently ACKed; an identical frame
	// is a retransmission until the device ACKs the next command.
	last []byte
	// bad counts NAKed frames since the last good one.
	bad int
	// outstanding is set once a command may have reached the device and
	// its answer has not been read: a cancel must then send CC.
	outstanding bool
	// settled is set when the exchange ends with the device owing
	// nothing: the answer to the command was read, or a cancel was
	// answered CC.
	settled bool

	// stopWake and woken undo the context hook that unblocks I/O.
	stopWake func() bool
	woken    chan struct{}
	detached bool
}

func newSession(ctx context.Context, p driver.Port, t Timing, addr string) *session {
	s := &session{p: p, t: t, addr: addr, ctx: ctx, woken: make(chan struct{})}
	// A context without a deadline can still be cancelled while a read
	// waits on a protocol timeout: move the port's deadlines to now so the
	// blocked call returns and sees ctx.Err().
	s.stopWake = context.AfterFunc(ctx, func() {
		defer close(s.woken)
		now := time.Now()
		_ = p.SetReadDeadline(now)
		_ = p.SetWriteDeadline(now)
	})
	return s
}

// detach stops watching the caller's context, waiting for the hook if it
// already started so that it cannot cut short the I/O that follows.
func (s *session) detach() {
	if s.detached {
		return
	}
	s.detached = true
	if !s.stopWake() {
		<-s.woken
	}
	s.ctx = context.Background()
}

// exchange sends the command frame cmd (whose code is code) and returns
// the answer's fields, re-sending on BY. Before the command it drains
// stale input, checks the device with ENQ and, when resync is set,
// resynchronises with CC.
func (s *session) exchange(code string, cmd []byte, resync bool) ([]string, error) {
	if err := s.drain(); err != nil {
		return nil, err
	}
	if err := s.enquire(); err != nil {
		return nil, err
	}
	if resync {
		if _, err := s.settle(); err != nil {
			var de *driver.Error
			if errors.As(err, &de) {
				// Say which CC failed: no command was sent.
				return nil, &driver.Error{Kind: de.Kind, Detail: "resynchronising: " + de.Detail, Err: de.Err}
			}
			return nil, err
		}
	}
	for sends := 1; ; sends++ {
		answer, err := s.send(code, cmd)
		if err == nil && answer == nil {
			answer, err = s.awaitAnswer(code, s.t.Answer)
		}
		if err != nil {
			if driver.IsContextErr(err) && s.outstanding {
				return nil, s.cancel(code, err)
			}
			return nil, err
		}
		s.outstanding = false
		if len(answer) < 2 {
			return nil, driver.Errorf(driver.Device, "answer %q to %s has no address", answer[0], code)
		}
		if answer[1] != s.addr {
			return nil, driver.Errorf(driver.Device, "answer %s to %s for address %q, want %q", answer[0], code, answer[1], s.addr)
		}
		if answer[0] != "BY" {
			s.settled = true
			return answer, nil
		}
		if sends > s.t.Retries {
			return nil, driver.Errorf(driver.Busy, "answer BY to %s on all %d sends", code, sends)
		}
		if err := s.pause(s.t.Busy); err != nil {
			return nil, err
		}
	}
}

// drain discards whatever the line holds from before this exchange: late
// answers, stray ACKs, noise. It stops when a read finds nothing, or after
// Ack on a line that keeps talking.
func (s *session) drain() error {
	if f, ok := s.p.(driver.InputFlusher); ok {
		// The kernel discards what is queued at once; what comes later
		// is the protocol's to sort out.
		if err := f.FlushInput(); err != nil {
			return driver.HungUp("drain", err)
		}
		return nil
	}
	end := time.Now().Add(s.t.Ack)
	for time.Now().Before(end) {
		if err := s.ctx.Err(); err != nil {
			return fmt.Errorf("pms: %w", err)
		}
		if err := s.p.SetReadDeadline(time.Now().Add(drainWait)); err != nil {
			return driver.HungUp("drain", err)
		}
		n, err := s.p.Read(s.rbuf[:])
		if n > 0 {
			continue
		}
		if driver.IsTimeout(err) {
			if err := s.ctx.Err(); err != nil {
				return fmt.Errorf("pms: %w", err)
			}
			return nil
		}
		if err != nil {
			return driver.HungUp("drain", err)
		}
	}
	return nil
}

// enquire sends ENQ until the device ACKs it.
func (s *session) enquire() error {
	sends := s.t.Retries + 1
	for range sends {
		if err := s.write([]byte{enq}, "ENQ"); err != nil {
			return err
		}
		deadline := time.Now().Add(s.t.Ack)
	wait:
		for {
			ev, err := s.next(deadline)
			if errors.Is(err, errTimeout) {
				break wait
			}
			if err != nil {
				return err
			}
			switch ev.kind {
			case evACK:
				return nil
			case evNAK:
				break wait
			case evFrame, evBadFrame:
				// Nothing is outstanding: a frame now is stale. Settle
				// it so the device stops re-sending it.
				if _, _, err := s.receive(ev); err != nil {
					return err
				}
			}
		}
	}
	return driver.Errorf(driver.NotAnswering, "no ACK to ENQ after %d sends", sends)
}

// send writes the command frame until the device ACKs it. If the answer
// arrives before the ACK (the ACK was lost on the line), send returns it.
func (s *session) send(code string, cmd []byte) ([]string, error) {
	s.bad = 0
	if err := s.ctx.Err(); err != nil {
		return nil, fmt.Errorf("pms: %w", err)
	}
	sends, naks := s.t.Retries+1, 0
	for range sends {
		s.outstanding = true
		if err := s.write(cmd, code); err != nil {
			return nil, err
		}
		deadline := time.Now().Add(s.t.Ack)
	wait:
		for {
			ev, err := s.next(deadline)
			if errors.Is(err, errTimeout) {
				break wait
			}
			if err != nil {
				return nil, err
			}
			switch ev.kind {
			case evACK:
				// The device has the new command: from now on an answer
				// identical to the previous one is a new answer, not a
				// retransmission (a re-send after BY may well be answered
				// BY again). Until this ACK, an identical frame is the
				// device re-sending the old answer it thinks we missed.
				s.last = nil
				return nil, nil
			case evNAK:
				naks++
				break wait
			case evFrame, evBadFrame:
				answer, ok, err := s.receive(ev)
				if err != nil {
					return nil, err
				}
				if ok {
					return answer, nil
				}
			}
		}
	}
	s.outstanding = false
	switch naks {
	case sends:
		return nil, driver.Errorf(driver.Link, "NAK to %s on every send (%d sends)", code, sends)
	case 0:
		return nil, driver.Errorf(driver.NotAnswering, "no ACK to %s after %d sends", code, sends)
	default:
		// The device is there but the line corrupts what it hears.
		return nil, driver.Errorf(driver.Link, "no ACK to %s after %d sends (%d NAK)", code, sends, naks)
	}
}

// awaitAnswer reads until a new answer frame arrives or within passes.
func (s *session) awaitAnswer(code string, within time.Duration) ([]string, error) {
	deadline := time.Now().Add(within)
	for {
		ev, err := s.next(deadline)
		if errors.Is(err, errTimeout) {
			return nil, driver.Errorf(driver.NotAnswering, "no answer to %s within %v", code, within)
		}
		if err != nil {
			return nil, err
		}
		answer, ok, err := s.receive(ev)
		if err != nil {
			return nil, err
		}
		if ok {
			return answer, nil
		}
		// ACK, NAK and ENQ here are late echoes of the link layer.
	}
}

// pause waits d while still serving the line, so a retransmitted answer
// is ACKed rather than left to block the device.
func (s *session) pause(d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		ev, err := s.next(deadline)
		if errors.Is(err, errTimeout) {
			return nil
		}
		if err != nil {
			return err
		}
		if _, _, err := s.receive(ev); err != nil {
			return err
		}
	}
}

// receive settles a frame event: it ACKs a good frame and NAKs a bad one.
// It returns the fields and true for a good frame that is not a
// retransmission of the last answer, and a Link error once bad frames
// exceed the retries. Other events are ignored.
func (s *session) receive(ev event) ([]string, bool, error) {
	switch ev.kind {
	case evFrame:
		if err := s.write([]byte{ack}, "ACK"); err != nil {
			return nil, false, err
		}
		s.bad = 0
		if s.last != nil && string(ev.raw) == string(s.last) {
			return nil, false, nil
		}
		s.last = ev.raw
		return ev.fields, true, nil
	case evBadFrame:
		if err := s.write([]byte{nak}, "NAK"); err != nil {
			return nil, false, err
		}
		s.bad++
		if s.bad > s.t.Retries {
			return nil, false, &driver.Error{
				Kind:   driver.Link,
				Detail: fmt.Sprintf("bad answer frame %d times in a row", s.bad),
				Err:    ev.err,
			}
		}
	}
	return nil, false, nil
}

// cancel runs the CC handshake after the caller's context ended with a
// command outstanding, then returns an error wrapping cause (the context
// error) that says how the device answered. The handshake has its own
// bounds (settle's), independent of the expired context.
func (s *session) cancel(code string, cause error) error {
	s.detach()
	s.outstanding = false
	crossed, err := s.settle()
	var outcome string
	switch {
	case crossed != nil:
		// The real answer crossed the CC on the line.
		outcome = "device answered " + describe(crossed)
	case err != nil:
		outcome = err.Error()
	default:
		outcome = "device answered " + describe([]string{"CC", s.addr})
	}
	s.settled = err == nil
	return fmt.Errorf("pms: %s cancelled (%s): %w", code, outcome, cause)
}

// settle sends CC and reads up to the device's CC answer, ACKing and
// setting aside every frame before it. The protocol answers every CC with
// exactly one CC frame, queued behind any answer already due, so once it
// has arrived the device owes nothing: it is how a cancel ends, and how a
// host that cannot vouch for the line (a freshly opened port, whose
// device may still be working on, or re-sending the answer to, a command
// of an earlier host) resynchronises. It returns the first other answer
// seen, the real answer when a command's answer crossed the CC.
//
// Bounds: CC is sent at most 1 + Retries times, Ack apart; once ACKed, the
// CC answer may wait behind one answer still being re-sent, so the wait
// for it is twice what one answer's sends take.
func (s *session) settle() (crossed []string, err error) {
	s.bad = 0
	cc := appendFrame(nil, "CC", s.addr)
	// take settles a frame; done reports the CC answer.
	take := func(ev event) (done bool, err error) {
		a, ok, err := s.receive(ev)
		if err != nil || !ok {
			return false, err
		}
		if len(a) >= 2 && a[0] == "CC" && a[1] == s.addr {
			return true, nil
		}
		if crossed == nil {
			crossed = a
		}
		return false, nil
	}

	sends, naks, acked := s.t.Retries+1, 0, false
send:
	for range sends {
		if err := s.write(cc, "CC"); err != nil {
			return crossed, err
		}
		deadline := time.Now().Add(s.t.Ack)
		for {
			ev, err := s.next(deadline)
			if errors.Is(err, errTimeout) {
				continue send
			}
			if err != nil {
				return crossed, err
			}
			switch ev.kind {
			case evACK:
				// From the ACK on, a frame identical to the last one
				// ACKed is new (see send): the device answers this CC
				// even when an earlier CC's answer looked the same.
				s.last = nil
				acked = true
				break send
			case evNAK:
				naks++
				continue send
			case evFrame, evBadFrame:
				// The CC answer itself when the ACK was lost; any other
				// frame was due before it.
				done, err := take(ev)
				if err != nil || done {
					return crossed, err
				}
			}
		}
	}
	if !acked {
		switch naks {
		case sends:
			return crossed, driver.Errorf(driver.Link, "NAK to CC on every send (%d sends)", sends)
		case 0:
			return crossed, driver.Errorf(driver.NotAnswering, "no ACK to CC after %d sends", sends)
		default:
			return crossed, driver.Errorf(driver.Link, "no ACK to CC after %d sends (%d NAK)", sends, naks)
		}
	}

	within := 2 * s.t.Ack * time.Duration(s.t.Retries+1)
	deadline := time.Now().Add(within)
	for {
		ev, err := s.next(deadline)
		if errors.Is(err, errTimeout) {
			return crossed, driver.Errorf(driver.NotAnswering, "no answer to CC within %v", within)
		}
		if err != nil {
			return crossed, err
		}
		done, err := take(ev)
		if err != nil || done {
			return crossed, err
		}
	}
}

// next returns the next link event, reading the port as needed until
// deadline or the context's deadline, whichever comes first. A frame that
// stops arriving for Ack is returned as an evBadFrame to NAK.
func (s *session) next(deadline time.Time) (event, error) {
	for {
		for len(s.pending) > 0 {
			c := s.pending[0]
			s.pending = s.pending[1:]
			if ev, ok := s.dec.feed(c); ok {
				return ev, nil
			}
		}
		dl, ctxBound := driver.Earlier(s.ctx, deadline)
		stalled := false
		if s.dec.inFrame() {
			if t := time.Now().Add(s.t.Ack); t.Before(dl) {
				dl, ctxBound, stalled = t, false, true
			}
		}
		if err := s.p.SetReadDeadline(dl); err != nil {
			return event{}, driver.HungUp("read", err)
		}
		if err := s.ctx.Err(); err != nil {
			return event{}, fmt.Errorf("pms: %w", err)
		}
		n, err := s.p.Read(s.rbuf[:])
		if n > 0 {
			// An error alongside data recurs on the next read.
			s.pending = s.rbuf[:n]
			continue
		}
		switch {
		case err == nil:
			continue
		case !driver.IsTimeout(err):
			return event{}, driver.HungUp("read", err)
		case stalled && s.ctx.Err() == nil:
			return s.dec.abort(), nil
		}
		return event{}, s.timeout(ctxBound)
	}
}

// write sends b (what names it in errors), bounded by Ack.
func (s *session) write(b []byte, what string) error {
	dl, ctxBound := driver.Earlier(s.ctx, time.Now().Add(s.t.Ack))
	if err := s.p.SetWriteDeadline(dl); err != nil {
		return driver.HungUp("write "+what, err)
	}
	if err := s.ctx.Err(); err != nil {
		return fmt.Errorf("pms: %w", err)
	}
	_, err := s.p.Write(b)
	switch {
	case err == nil:
		return nil
	case !driver.IsTimeout(err):
		return driver.HungUp("write "+what, err)
	}
	if err := s.timeout(ctxBound); !errors.Is(err, errTimeout) {
		return err
	}
	return &driver.Error{Kind: driver.NotAnswering, Detail: fmt.Sprintf("write %s: device not reading", what), Err: err}
}

// timeout turns a port timeout into the context's error when the context
// ended or its deadline was the one that passed, and errTimeout otherwise.
func (s *session) timeout(ctxBound bool) error {
	if ctxBound {
		// The port's clock may run a hair ahead of the context's timer.
		<-s.ctx.Done()
	}
	if err := s.ctx.Err(); err != nil {
		return fmt.Errorf("pms: %w", err)
	}
	return errTimeout
}
