package pn532

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/encoderlab/encoderlab/sim/device"
)

// Conn is the line a device is served on: a pty master, a serial port, or
// one end of net.Pipe. SetReadDeadline must wake a pending Read; a Conn
// that also has SetWriteDeadline gets a pending Write woken the same way
// when the serving context ends.
type Conn interface {
	io.ReadWriter
	SetReadDeadline(t time.Time) error
}

// running is a command the chip is working on off the reading goroutine.
type running struct {
	cmd    byte
	cancel context.CancelFunc
	done   chan struct{} // closed when its wait returned
}

// session is one Serve call: the chip on one line.
//
// The goroutine that reads the line parses what it read, acts on it and
// writes the reply itself, so a command answered at once costs no
// goroutine switch. A command that waits (for a card, for a write) waits
// on a goroutine of its own, which sends its response when the wait is
// over. mu serialises them.
type session struct {
	d    *Device
	conn Conn
	// interrupt wakes a pending Read and Write on conn.
	interrupt func()

	// mu guards the chip and the link state below, and every write to
	// conn. It is taken before d.mu, never while holding it.
	mu   sync.Mutex
	chip *chip
	// closed is set when Serve is returning: nothing more is written.
	closed bool
	// err is the first error met writing a response off the reading
	// goroutine; it ends Serve.
	err error

	p        parser
	lastByte time.Time
	// last is the last response frame sent, for a NACK from the host.
	last []byte
	cur  *running
	// answering are the command kinds whose response the current step
	// sends, counted as answered once it is on the line.
	answering []string
	// out collects what one step writes (the ACK frame, then the
	// response), so it reaches the line in one write.
	out  []byte
	jobs sync.WaitGroup
}

// readSize is the read buffer, reused from read to read; a longer frame
// arrives over several reads.
const readSize = 512

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
	if err := device.ClearDeadlines(conn); err != nil {
		return fmt.Errorf("pn532 device: %w", err)
	}
	s := &session{
		d:         d,
		conn:      conn,
		chip:      newChip(d),
		interrupt: device.Interrupter(conn),
	}
	stop := context.AfterFunc(ctx, s.interrupt)
	defer stop()
	defer s.close()

	err := s.read()
	s.mu.Lock()
	failed := s.err
	s.mu.Unlock()
	switch {
	case ctx.Err() != nil:
		return nil
	case failed != nil:
		return failed
	}
	return err
}

// close ends the session: the command in progress is aborted unanswered
// and its goroutine waited for.
func (s *session) close() {
	// A write blocked on a full line holds mu; the interrupt frees it.
	s.interrupt()
	s.mu.Lock()
	s.closed = true
	s.abort()
	s.mu.Unlock()
	s.jobs.Wait()
}

// read reads the line and acts on what arrives until a read fails.
func (s *session) read() error {
	buf := make([]byte, readSize)
	for {
		n, err := s.conn.Read(buf)
		if n > 0 {
			s.mu.Lock()
			werr := s.step(func() error { return s.received(buf[:n]) })
			s.mu.Unlock()
			if werr != nil {
				return werr
			}
		}
		if err != nil {
			return err
		}
	}
}

// step runs act with mu held, then writes what it put out. It reports an
// error that ends Serve.
func (s *session) step(act func() error) error {
	if s.closed {
		return nil
	}
	err := act()
	if len(s.out) > 0 {
		_, werr := s.conn.Write(s.out)
		s.out = s.out[:0]
		if err == nil && werr != nil {
			err = fmt.Errorf("pn532 device: write: %w", werr)
		}
	}
	for _, kind := range s.chip.takeNoted() {
		s.d.count(kind)
	}
	for _, kind := range s.answering {
		s.d.commands.Answered(kind)
	}
	s.answering = s.answering[:0]
	return err
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
	before := len(s.chip.noted)
	r := s.chip.handle(f.data[0], f.data[1:])
	// The kinds this frame counts as are answered by its response; an
	// aborted command has none. They are those noted while handling it,
	// not those of an earlier frame of the same read.
	kinds := slices.Clone(s.chip.noted[before:])
	if r.wait == nil {
		s.answering = append(s.answering, kinds...)
		return s.respond(r.frame)
	}
	ctx, cancel := context.WithCancel(context.Background())
	run := &running{cmd: f.data[0], cancel: cancel, done: make(chan struct{})}
	s.cur = run
	s.jobs.Add(1)
	go func() {
		defer s.jobs.Done()
		r.wait(ctx)
		close(run.done)
		s.mu.Lock()
		defer s.mu.Unlock()
		err := s.step(func() error {
			if s.cur != run {
				// Aborted, or superseded by a newer command.
				return nil
			}
			s.cur = nil
			s.answering = append(s.answering, kinds...)
			return s.respond(r.then())
		})
		if err != nil && s.err == nil {
			s.err = err
			s.interrupt()
		}
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

// send writes b at the end of the step, unless the device is silenced; a response (not an ACK
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
	s.out = append(s.out, b...)
	return nil
}
