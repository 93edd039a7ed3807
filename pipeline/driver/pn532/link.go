package pn532

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
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

	// ackWait is how long to wait for an ACK before sending again: Ack,
	// doubled (up to Answer) each time an ACK or response comes only
	// after a re-send, so that a slow line costs one re-send per encode,
	// not one per command.
	ackWait time.Duration
}

func newSession(ctx context.Context, p driver.Port, t Timing) *session {
	s := &session{p: p, t: t, ctx: ctx, ackWait: t.Ack}
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
	data, taken, err := s.exchange(code, params, nil)
	if err == nil && taken > 1 {
		// The chip may have taken the command more than once and owe
		// answers that carry the same response code as a later command
		// (InDataExchange after InDataExchange).
		err = s.resync()
	}
	if err != nil && taken > 0 && driver.IsContextErr(err) {
		return nil, s.abort(commandName(code), err)
	}
	return data, err
}

// diagLineTest is Diagnose's communication line test (NumTst 00): the
// chip echoes the data (UM0701-02 7.2.1).
const diagLineTest byte = 0x00

// resync clears the line of answers the chip may still owe to copies of
// a command it took more than once. The chip handles commands in the
// order they arrive and a new command ends the one in progress, so once
// it has echoed a line test sent after them, nothing of theirs can
// follow. The echo carries a fresh random tag, so an echo owed to an
// earlier line test (its copy sent twice) is not taken for this one; such
// an echo, whose response code no other command shares, is discarded by
// any later command. This costs a round trip only after a re-send, and
// does not depend on how late the owed answers are.
func (s *session) resync() error {
	probe := make([]byte, 5)
	probe[0] = diagLineTest
	binary.BigEndian.PutUint32(probe[1:], rand.Uint32())
	_, _, err := s.exchange(cmdDiagnose, probe, func(data []byte) bool { return bytes.Equal(data, probe) })
	if err != nil {
		return fmt.Errorf("line test after a re-send: %w", err)
	}
	return nil
}

// exchange is command without the abort and the line test: it returns
// the response to code whose data satisfies match (nil: any), and how
// many copies of the command the chip may have taken (those it did not
// NACK).
func (s *session) exchange(code byte, params []byte, match func([]byte) bool) (data []byte, taken int, err error) {
	name := commandName(code)
	frame := appendFrame(nil, append([]byte{code}, params...))
	answers := func(ev event) bool { return isResponse(ev, code) && (match == nil || match(ev.data[1:])) }
	// A response sent twice, or one to a command given up on, must not
	// be taken for this command's.
	if err := s.drain(); err != nil {
		return nil, 0, err
	}
	sends, made, nacks, acks := s.t.Retries+1, 0, 0, 0
	var early *event // a response that overtook a lost ACK
send:
	for range sends {
		made++
		if err := s.write(frame, name); err != nil {
			return nil, made - nacks, err
		}
		deadline := time.Now().Add(s.ackWait)
		for {
			ev, err := s.next(deadline)
			if errors.Is(err, driver.ErrTimeout) {
				continue send
			}
			if err != nil {
				return nil, made - nacks, err
			}
			switch ev.kind {
			case evACK:
				acks++
				break send
			case evNACK:
				nacks++
				continue send
			case evError:
				return nil, made - nacks, driver.Errorf(driver.Device, "%s: the chip answered with the error frame", name)
			case evInfo:
				// A frame that is not this command's response (a TFI
				// other than the chip's, such as an ACK damaged into a
				// frame with good checksums, or an earlier command's
				// response) is no ACK: wait on.
				if !answers(ev) {
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
			return nil, 0, driver.Errorf(driver.Link, "NACK to %s on every send (%d sends)", name, sends)
		case 0:
			return nil, made, driver.Errorf(driver.NotAnswering, "no ACK to %s after %d sends", name, sends)
		}
		return nil, made - nacks, driver.Errorf(driver.Link, "no ACK to %s after %d sends (%d NACK)", name, sends, nacks)
	}
	if made-nacks > 1 {
		// The chip took a copy after all: it is slower than ackWait.
		s.ackWait = min(2*s.ackWait, s.t.Answer)
	}
	data, err = s.response(name, answers, early)
	return data, made - nacks, err
}

// isResponse reports whether ev is the chip's response to the command
// code.
func isResponse(ev event, code byte) bool {
	return ev.kind == evInfo && ev.tfi == tfiChip && len(ev.data) > 0 && ev.data[0] == code+1
}

// response reads the response to the command name, the first frame
// answers accepts, starting with first when the response already
// arrived. Other frames (ACKs of copies sent before, responses owed to
// earlier commands) are passed over.
func (s *session) response(name string, answers func(event) bool, first *event) ([]byte, error) {
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
				return nil, driver.Errorf(driver.NotAnswering, "no response to %s within %v", name, s.t.Answer)
			}
			if err != nil {
				return nil, err
			}
		}
		switch ev.kind {
		case evInfo:
			if answers(ev) {
				return ev.data[1:], nil
			}
			// Not from the chip, or the response to an earlier command
			// sent twice: not the answer, wait on within the deadline.
		case evError:
			return nil, driver.Errorf(driver.Device, "%s: the chip answered with the error frame", name)
		case evBad, evBadLen:
			bad++
			if bad > s.t.Retries {
				return nil, &driver.Error{Kind: driver.Link, Detail: fmt.Sprintf("damaged response to %s %d times", name, bad), Err: ev.err}
			}
			// The rest of the damaged frame must not be read as frames.
			if err := s.drain(); err != nil {
				return nil, err
			}
			if err := s.write(nack, "NACK"); err != nil {
				return nil, err
			}
			deadline = time.Now().Add(s.t.Answer)
		}
		// An ACK here belongs to a copy sent before; a NACK is a late
		// echo of the link layer.
	}
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
