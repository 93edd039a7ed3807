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

var _ driver.FrameDecoder[event] = (*decoder)(nil)

// session runs one command exchange over a port: the link layer (ENQ,
// ACK/NAK, resends, duplicate answers) and the cancel handshake.
type session struct {
	p    driver.Port
	t    Timing
	addr string
	ctx  context.Context

	dec decoder
	r   *driver.FrameReader[event]

	// last is the answer frame most recently ACKed, on this line and not
	// only in this exchange (the driver hands it on between exchanges on
	// a line it left idle); an identical frame is a retransmission until
	// the device ACKs the next command.
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

	// unwake undoes the context hook that unblocks I/O.
	unwake func()
}

func newSession(ctx context.Context, p driver.Port, t Timing, addr string) *session {
	s := &session{p: p, t: t, addr: addr, ctx: ctx}
	// A frame that stops arriving for Ack is an event to NAK.
	s.r = driver.NewFrameReader(p, &s.dec, t.Ack, func() (event, bool) { return s.dec.abort(), true })
	// A context without a deadline can still be cancelled while a read
	// waits on a protocol timeout: the hook wakes the blocked call so
	// that it sees ctx.Err().
	s.unwake = driver.WakeOnDone(ctx, p)
	return s
}

// detach stops watching the caller's context, waiting for the hook if it
// already started so that it cannot cut short the I/O that follows.
func (s *session) detach() {
	s.unwake()
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
	return named(s.r.Drain(s.ctx, drainWait, s.t.Ack))
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
			if errors.Is(err, driver.ErrTimeout) {
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
			if errors.Is(err, driver.ErrTimeout) {
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
		if errors.Is(err, driver.ErrTimeout) {
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
		if errors.Is(err, driver.ErrTimeout) {
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
			if errors.Is(err, driver.ErrTimeout) {
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
		if errors.Is(err, driver.ErrTimeout) {
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
	ev, err := s.r.Next(s.ctx, deadline)
	return ev, named(err)
}

// write sends b (what names it in errors), bounded by Ack.
func (s *session) write(b []byte, what string) error {
	err := driver.WriteWithin(s.ctx, s.p, b, s.t.Ack, "write "+what)
	if errors.Is(err, driver.ErrTimeout) {
		return &driver.Error{Kind: driver.NotAnswering, Detail: fmt.Sprintf("write %s: device not reading", what), Err: err}
	}
	return named(err)
}

// named says which driver a context error ended.
func named(err error) error {
	if driver.IsContextErr(err) {
		return fmt.Errorf("pms: %w", err)
	}
	return err
}
