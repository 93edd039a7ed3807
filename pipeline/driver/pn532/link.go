package pn532

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/encoderlab/encoderlab/pipeline/driver"
)

// drainWait is how long one read of stale input waits: bytes already on
// the line come back at once.
const drainWait = 2 * time.Millisecond

var _ driver.FrameDecoder[event] = (*decoder)(nil)

// session runs commands over a port: frames, ACK and NACK, re-sends, and
// the abort of a command in progress when the caller's context ends.
type session struct {
	p   driver.Port
	t   Timing
	ctx context.Context

	dec decoder
	r   *driver.FrameReader[event]

	unwake func()
}

func newSession(ctx context.Context, p driver.Port, t Timing) *session {
	s := &session{p: p, t: t, ctx: ctx}
	// A frame that stops arriving for Ack is dropped and the decoder
	// looks for a start code again, so that the next frame is not
	// counted into the length of one that will never end.
	s.r = driver.NewFrameReader(p, &s.dec, t.Ack, func() (event, bool) {
		s.dec.Reset()
		return event{}, false
	})
	// A cancelled context must wake a read blocked on a protocol timeout.
	s.unwake = driver.WakeOnDone(ctx, p)
	return s
}

// detach stops watching the caller's context.
func (s *session) detach() {
	s.unwake()
	s.ctx = context.Background()
}

// drain discards what the line holds from before this encode.
func (s *session) drain() error {
	return named(s.r.Drain(s.ctx, drainWait, s.t.Ack))
}

// command sends the command code with params and returns the response
// data after the response code. Input left on the line from before is
// discarded first. A command the chip does not ACK is sent again, at most
// Retries times; a damaged response is NACKed, and the chip sends it
// again, at most Retries times.
func (s *session) command(code byte, params ...byte) ([]byte, error) {
	data, sent, err := s.exchange(code, params)
	if err != nil && sent && driver.IsContextErr(err) {
		return nil, s.abort(commandName(code), err)
	}
	return data, err
}

// exchange is command without the abort; sent reports whether the
// command may have reached the chip.
func (s *session) exchange(code byte, params []byte) (data []byte, sent bool, err error) {
	name := commandName(code)
	frame := appendFrame(nil, append([]byte{code}, params...))
	// A response sent twice, or one to a command given up on, must not
	// be taken for this command's.
	if err := s.drain(); err != nil {
		return nil, false, err
	}
	sends, made, nacks, acks := s.t.Retries+1, 0, 0, 0
	var early *event // a response that overtook a lost ACK
send:
	for range sends {
		sent = true
		made++
		if err := s.write(frame, name); err != nil {
			return nil, sent, err
		}
		deadline := time.Now().Add(s.t.Ack)
		for {
			ev, err := s.next(deadline)
			if errors.Is(err, driver.ErrTimeout) {
				continue send
			}
			if err != nil {
				return nil, sent, err
			}
			switch ev.kind {
			case evACK:
				acks++
				break send
			case evNACK:
				nacks++
				continue send
			case evError:
				return nil, sent, driver.Errorf(driver.Device, "%s: the chip answered with the error frame", name)
			case evInfo:
				// A frame that is not this command's response (a TFI
				// other than the chip's, such as an ACK damaged into a
				// frame with good checksums, or an earlier command's
				// response) is no ACK: wait on.
				if !isResponse(ev, code) {
					continue
				}
				// The ACK was lost on the line, and here is the response.
				e := ev
				early = &e
				break send
			case evBad:
				// A damaged response that overtook a lost ACK.
				e := ev
				early = &e
				break send
			}
			// A bad LCS here is most likely the ACK itself, damaged: the
			// response, or the re-send after Ack, follows.
		}
	}
	if acks == 0 && early == nil {
		switch nacks {
		case sends:
			return nil, sent, driver.Errorf(driver.Link, "NACK to %s on every send (%d sends)", name, sends)
		case 0:
			return nil, sent, driver.Errorf(driver.NotAnswering, "no ACK to %s after %d sends", name, sends)
		}
		return nil, sent, driver.Errorf(driver.Link, "no ACK to %s after %d sends (%d NACK)", name, sends, nacks)
	}
	data, late, err := s.response(code, early)
	if err != nil {
		return nil, sent, err
	}
	// The response answers the last copy ACKed so far (a copy the chip
	// takes aborts the one in progress), or, its ACK lost, some copy. A
	// copy sent after it (again, after a late ACK) may be answered too.
	if owed := made - nacks - max(acks+late, 1); owed > 0 {
		if err := s.settle(code, owed); err != nil {
			return nil, sent, err
		}
	}
	return data, sent, nil
}

// isResponse reports whether ev is the chip's response to the command
// code.
func isResponse(ev event, code byte) bool {
	return ev.kind == evInfo && ev.tfi == tfiChip && len(ev.data) > 0 && ev.data[0] == code+1
}

// response reads the response to code, starting with first when the
// response already arrived. It also returns how many ACK frames came
// meanwhile: ACKs of copies of the command sent before.
func (s *session) response(code byte, first *event) (data []byte, acks int, err error) {
	name := commandName(code)
	deadline := time.Now().Add(s.t.Answer)
	bad := 0
	for {
		var ev event
		if first != nil {
			ev, first = *first, nil
		} else {
			var err error
			ev, err = s.next(deadline)
			if errors.Is(err, driver.ErrTimeout) {
				return nil, acks, driver.Errorf(driver.NotAnswering, "no response to %s within %v", name, s.t.Answer)
			}
			if err != nil {
				return nil, acks, err
			}
		}
		switch ev.kind {
		case evInfo:
			if isResponse(ev, code) {
				return ev.data[1:], acks, nil
			}
			// Not from the chip, or the response to an earlier command
			// sent twice: not the answer, wait on within the deadline.
		case evError:
			return nil, acks, driver.Errorf(driver.Device, "%s: the chip answered with the error frame", name)
		case evBad, evBadLen:
			bad++
			if bad > s.t.Retries {
				return nil, acks, &driver.Error{Kind: driver.Link, Detail: fmt.Sprintf("damaged response to %s %d times", name, bad), Err: ev.err}
			}
			// The rest of the damaged frame must not be read as frames.
			if err := s.drain(); err != nil {
				return nil, acks, err
			}
			if err := s.write(nack, "NACK"); err != nil {
				return nil, acks, err
			}
			deadline = time.Now().Add(s.t.Answer)
		case evACK:
			acks++
		}
		// A NACK here is a late echo of the link layer.
	}
}

// settle takes off the line the answers to owed further copies of the
// command code, sent again after a late ACK, so that none is taken for
// the next command's response. It waits Ack for a copy's ACK, then Answer
// for its response; a copy the chip never took costs one Ack.
func (s *session) settle(code byte, owed int) error {
	deadline := time.Now().Add(s.t.Ack)
	for owed > 0 {
		ev, err := s.next(deadline)
		if errors.Is(err, driver.ErrTimeout) {
			return nil
		}
		if err != nil {
			return err
		}
		switch {
		case ev.kind == evACK:
			deadline = time.Now().Add(s.t.Answer)
		case isResponse(ev, code):
			owed--
			deadline = time.Now().Add(s.t.Ack)
		}
	}
	return nil
}

// abort tells the chip to drop the command in progress (an ACK frame from
// the host) after the caller's context ended, and returns an error
// wrapping cause. It reads what the chip sends for Ack, so a response
// that crossed the abort does not linger on the line.
func (s *session) abort(name string, cause error) error {
	s.detach()
	outcome := "aborted"
	if err := s.write(ackFrame, "ACK"); err != nil {
		outcome = "abort failed: " + err.Error()
	} else {
		deadline := time.Now().Add(s.t.Ack)
		for {
			ev, err := s.next(deadline)
			if err != nil {
				break
			}
			if ev.kind == evInfo {
				outcome = "the response crossed the abort"
			}
		}
	}
	return fmt.Errorf("pn532: %s %s: %w", name, outcome, cause)
}

// pause waits d, or until the context ends.
func (s *session) pause(d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-s.ctx.Done():
		return fmt.Errorf("pn532: %w", s.ctx.Err())
	}
}

// next returns the next frame from the chip, reading until deadline or
// the context's deadline, whichever comes first. A frame that stops
// arriving for Ack is dropped.
func (s *session) next(deadline time.Time) (event, error) {
	ev, err := s.r.Next(s.ctx, deadline)
	return ev, named(err)
}

// write sends b (what names it in errors), bounded by Ack.
func (s *session) write(b []byte, what string) error {
	err := driver.WriteWithin(s.ctx, s.p, b, s.t.Ack, "write "+what)
	if errors.Is(err, driver.ErrTimeout) {
		return &driver.Error{Kind: driver.NotAnswering, Detail: fmt.Sprintf("write %s: chip not reading", what), Err: err}
	}
	return named(err)
}

// named says which driver a context error ended.
func named(err error) error {
	if driver.IsContextErr(err) {
		return fmt.Errorf("pn532: %w", err)
	}
	return err
}
