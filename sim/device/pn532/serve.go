package pn532

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// Conn is the line a device is served on: a pty master, a serial port, or
// one end of net.Pipe. SetReadDeadline must wake a pending Read; a Conn
// that also has SetWriteDeadline gets a pending Write woken the same way
// when the serving context ends.
type Conn interface {
	io.ReadWriter
	SetReadDeadline(t time.Time) error
}

type writeDeadliner interface {
	SetWriteDeadline(t time.Time) error
}

type chunk struct {
	data []byte
	err  error
}

// running is a command the chip is working on off the serving loop.
type running struct {
	cmd    byte
	cancel context.CancelFunc
	done   chan struct{} // closed when its wait returned
	then   func() []byte
}

// session is one Serve call: the chip on one line.
type session struct {
	d    *Device
	conn Conn
	chip *chip

	p        parser
	lastByte time.Time
	// last is the last response frame sent, for a NACK from the host.
	last []byte
	cur  *running
	jobs sync.WaitGroup
}

// Serve speaks the PN532 host interface on conn until ctx ends (it
// returns nil) or conn fails (it returns the error: io.EOF or EIO when
// the line hung up). Each call starts a freshly powered chip; the field,
// the cards' memories and the counters persist, so Serve may be called
// again on a new conn once it has returned.
func (d *Device) Serve(ctx context.Context, conn Conn) error {
	if conn == nil {
		return errors.New("pn532 device: serve: no line")
	}
	if !d.serving.CompareAndSwap(false, true) {
		return ErrServing
	}
	defer d.serving.Store(false)

	// A conn served before may carry the deadline that ended that Serve.
	if err := conn.SetReadDeadline(time.Time{}); err != nil {
		return fmt.Errorf("pn532 device: clear read deadline: %w", err)
	}
	if wd, ok := conn.(writeDeadliner); ok {
		if err := wd.SetWriteDeadline(time.Time{}); err != nil {
			return fmt.Errorf("pn532 device: clear write deadline: %w", err)
		}
	}
	stop := context.AfterFunc(ctx, func() {
		past := time.Unix(1, 0)
		_ = conn.SetReadDeadline(past)
		if wd, ok := conn.(writeDeadliner); ok {
			_ = wd.SetWriteDeadline(past)
		}
	})
	defer stop()

	s := &session{d: d, conn: conn, chip: newChip(d)}
	reads := make(chan chunk)
	quit := make(chan struct{})
	var reader sync.WaitGroup
	reader.Add(1)
	go func() {
		defer reader.Done()
		for {
			buf := make([]byte, 512)
			n, err := conn.Read(buf)
			if n > 0 {
				select {
				case reads <- chunk{data: buf[:n]}:
				case <-quit:
					return
				}
			}
			if err != nil {
				select {
				case reads <- chunk{err: err}:
				case <-quit:
				}
				return
			}
		}
	}()
	defer func() {
		s.abort()
		s.jobs.Wait()
		close(quit)
		reader.Wait()
	}()

	for {
		var done chan struct{}
		if s.cur != nil {
			done = s.cur.done
		}
		select {
		case <-ctx.Done():
			return nil
		case c := <-reads:
			if c.err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return c.err
			}
			if err := s.received(c.data); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
		case <-done:
			r := s.cur
			s.cur = nil
			if err := s.respond(r.then()); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
		}
	}
}

// received feeds bytes from the host to the parser and acts on each
// frame. A frame interrupted by more than Gap of silence is dropped.
func (s *session) received(b []byte) error {
	t := time.Now()
	if s.p.inFrame() && t.Sub(s.lastByte) > s.d.cfg.Gap {
		s.d.log.Debug("partial frame dropped after a gap")
		s.p.reset()
	}
	s.lastByte = t
	for _, c := range b {
		f, ok := s.p.feed(c)
		if !ok {
			continue
		}
		if err := s.frame(f); err != nil {
			return err
		}
	}
	return nil
}

// frame acts on one frame from the host.
func (s *session) frame(f frame) error {
	switch f.kind {
	case fkACK:
		// The host aborts the command in progress.
		if s.cur != nil {
			s.d.log.Debug("command aborted by the host", "cmd", fmt.Sprintf("0x%02X", s.cur.cmd))
			s.abort()
			s.d.count(cmdCancel)
		}
		return nil
	case fkNACK:
		if s.last != nil {
			return s.send(s.last, true)
		}
		return nil
	case fkBad:
		// The chip ignores a damaged frame; the host re-sends it when no
		// ACK comes.
		s.d.log.Debug("bad frame ignored", "reason", f.reason)
		return nil
	case fkError:
		return nil
	}
	if f.tfi != tfiHost {
		s.d.log.Debug("frame ignored", "tfi", fmt.Sprintf("0x%02X", f.tfi))
		return nil
	}
	if s.d.take(&s.d.naks) {
		s.d.log.Debug("frame NACKed on request", "data", fmt.Sprintf("% X", f.data))
		return s.send(nackFrame, false)
	}
	// A new command supersedes one still in progress.
	s.abort()
	if err := s.send(ackFrame, false); err != nil {
		return err
	}
	if len(f.data) == 0 {
		return s.respond(errorFrame)
	}
	s.d.log.Debug("command", "data", fmt.Sprintf("% X", f.data))
	r := s.chip.handle(f.data[0], f.data[1:])
	if r.wait == nil {
		return s.respond(r.frame)
	}
	ctx, cancel := context.WithCancel(context.Background())
	run := &running{cmd: f.data[0], cancel: cancel, done: make(chan struct{}), then: r.then}
	s.cur = run
	s.jobs.Add(1)
	go func() {
		defer s.jobs.Done()
		defer close(run.done)
		r.wait(ctx)
	}()
	return nil
}

// abort stops the command in progress, if any, without answering it.
func (s *session) abort() {
	if s.cur == nil {
		return
	}
	s.cur.cancel()
	<-s.cur.done
	s.cur = nil
}

// respond sends a response frame and keeps it for a NACK.
func (s *session) respond(b []byte) error {
	s.last = b
	return s.send(b, true)
}

// send writes b, unless the device is silenced; a response (not an ACK
// or NACK) is garbled when the scenario asked for it.
func (s *session) send(b []byte, isResponse bool) error {
	s.d.mu.Lock()
	silent := s.d.silent
	garble := isResponse && len(b) > 6 && !silent && s.d.garbles > 0
	if garble {
		s.d.garbles--
	}
	s.d.mu.Unlock()
	if silent {
		s.d.log.Debug("suppressed", "bytes", fmt.Sprintf("% X", b))
		return nil
	}
	if garble {
		b = append([]byte(nil), b...)
		b[len(b)-2] ^= 0xFF // the DCS
	}
	s.d.log.Debug("sent", "bytes", fmt.Sprintf("% X", b))
	if _, err := s.conn.Write(b); err != nil {
		return fmt.Errorf("pn532 device: write: %w", err)
	}
	return nil
}
