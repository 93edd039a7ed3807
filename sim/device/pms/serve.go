package pms

import (
	"bytes"
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

// session is one Serve call: the link layer on one line.
type session struct {
	d    *Device
	conn Conn

	p parser
	// last is the last command taken on this line, for spotting
	// retransmissions.
	last *command

	// pending holds settled commands whose answers are to be sent;
	// guarded by d.mu, drained by the loop. wake tells the loop.
	pending []*command
	wake    chan struct{}

	queue    []*outgoing
	inflight *outgoing
	ackTimer *time.Timer
	gapTimer *time.Timer

	jobs sync.WaitGroup
}

// outgoing is an answer frame on its way to the host.
type outgoing struct {
	cmd   *command
	frame []byte
	sends int
}

type chunk struct {
	data []byte
	err  error
}

// Serve speaks the protocol on conn until ctx ends (it returns nil) or
// conn fails (it returns the error: io.EOF or EIO when the line hung up).
// The model persists: Serve may be called again, on a new conn, once it
// has returned. A command still outstanding when Serve returns is dropped.
func (d *Device) Serve(ctx context.Context, conn Conn) error {
	if conn == nil {
		return errors.New("pms device: serve: no line")
	}
	if !d.serving.CompareAndSwap(false, true) {
		return ErrServing
	}
	defer d.serving.Store(false)

	// A conn served before may carry the deadline that ended that Serve.
	if err := conn.SetReadDeadline(time.Time{}); err != nil {
		return fmt.Errorf("pms device: clear read deadline: %w", err)
	}
	if wd, ok := conn.(writeDeadliner); ok {
		if err := wd.SetWriteDeadline(time.Time{}); err != nil {
			return fmt.Errorf("pms device: clear write deadline: %w", err)
		}
	}

	s := &session{
		d:        d,
		conn:     conn,
		wake:     make(chan struct{}, 1),
		ackTimer: stoppedTimer(),
		gapTimer: stoppedTimer(),
	}
	defer s.ackTimer.Stop()
	defer s.gapTimer.Stop()

	interrupt := func() {
		past := time.Unix(1, 0)
		_ = conn.SetReadDeadline(past)
		if wd, ok := conn.(writeDeadliner); ok {
			_ = wd.SetWriteDeadline(past)
		}
	}
	stop := context.AfterFunc(ctx, interrupt)
	defer stop()

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
		close(quit)
		interrupt()
		reader.Wait()
		s.dropOutstanding()
		s.jobs.Wait()
	}()

	d.log.Debug("serving")
	err := s.loop(ctx, reads)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func stoppedTimer() *time.Timer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}

func (s *session) loop(ctx context.Context, reads <-chan chunk) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case c := <-reads:
			if c.err != nil {
				return fmt.Errorf("pms device: read: %w", c.err)
			}
			for _, b := range c.data {
				if ev, ok := s.p.feed(b); ok {
					if err := s.handle(ev); err != nil {
						return err
					}
				}
			}
			if s.p.inFrame() {
				s.gapTimer.Reset(s.d.cfg.Ack)
			} else {
				s.gapTimer.Stop()
			}
		case <-s.gapTimer.C:
			if ev, ok := s.p.abort(); ok {
				if err := s.handle(ev); err != nil {
					return err
				}
			}
		case <-s.ackTimer.C:
			if err := s.resend("no ACK"); err != nil {
				return err
			}
		case <-s.wake:
		}
		if err := s.flush(); err != nil {
			return err
		}
	}
}

// handle acts on one link event.
func (s *session) handle(ev event) error {
	d := s.d
	switch ev.kind {
	case evENQ:
		d.emit(EventReceived, []byte{enq}, "ENQ")
		return s.write([]byte{ack}, false, "ACK to ENQ")
	case evACK:
		d.emit(EventReceived, []byte{ack}, "ACK")
		if s.inflight != nil {
			s.inflight.cmd.closed = true
			s.inflight = nil
			s.ackTimer.Stop()
			return s.next()
		}
		return nil
	case evNAK:
		d.emit(EventReceived, []byte{nak}, "NAK")
		if s.inflight != nil {
			return s.resend("NAK")
		}
		return nil
	case evBadFrame:
		d.emit(EventRejected, ev.raw, ev.reason)
		return s.write([]byte{nak}, false, "NAK: "+ev.reason)
	}

	f := ev.fields
	if len(f) < 2 || f[1] != d.cfg.Address {
		d.emit(EventIgnored, ev.raw, "not addressed to "+d.cfg.Address)
		return nil
	}
	d.mu.Lock()
	naked := !d.resyncLocked(f) && take(&d.naks)
	d.mu.Unlock()
	if naked {
		d.emit(EventRejected, ev.raw, "NAK asked for")
		return s.write([]byte{nak}, false, "NAK asked for")
	}
	// A frame identical to the last command is a retransmission until
	// that command's answer is ACKed (or given up on): a host that missed
	// the ACK, or whose answer crossed its re-send, gets the answer it is
	// owed once, and the command is not carried out twice.
	if s.last != nil && !s.last.closed && bytes.Equal(ev.raw, s.last.raw) {
		d.emit(EventIgnored, ev.raw, "retransmission of "+f[0])
		return s.write([]byte{ack}, false, "ACK to retransmission")
	}
	d.emit(EventReceived, ev.raw, f[0])
	// Count the command before the ACK goes out, so a host that has its
	// ACK finds it counted. Its answer goes out after the ACK: answers
	// wait in pending until the loop flushes them.
	s.take(ev.raw, f)
	return s.write([]byte{ack}, false, "ACK")
}

// take acts on a command frame that was ACKed.
func (s *session) take(raw []byte, f []string) {
	d := s.d
	var (
		kind string
		job  encodeJob
		err  error
	)
	switch f[0] {
	case "CN":
		kind = cmdEncode
		job, err = parseCN(f)
	case "RC":
		kind = cmdRead
		err = noFields(f)
	case "CC":
		kind = cmdCancel
		err = noFields(f)
	default:
		err = fmt.Errorf("unknown command %q", f[0])
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	cmd := &command{kind: kind, raw: raw, job: job, s: s, decided: make(chan struct{})}
	s.last = cmd
	if err != nil {
		cmd.kind = ""
		d.decideLocked(cmd, d.a("SE", err.Error()))
		return
	}
	if kind == cmdCancel {
		d.cancelLocked(cmd)
		return
	}
	cmd.n = d.commands.Add(kind)
	k := holdKey{kind, cmd.n}
	if _, ok := d.holds[k]; ok {
		cmd.held = true
		d.holds[k] = cmd
	}
	d.emit(EventCommand, raw, fmt.Sprintf("%s #%d (held %t)", kind, cmd.n, cmd.held))

	switch {
	case d.outstanding != nil:
		// The host broke the one-command-at-a-time rule.
		d.decideLocked(cmd, d.a("BY"))
	case cmd.held:
		d.outstanding = cmd
	case kind == cmdRead:
		d.decideLocked(cmd, d.readAnswerLocked())
	case take(&d.busies):
		d.decideLocked(cmd, d.a("BY"))
	default:
		d.outstanding = cmd
		s.jobs.Add(1)
		go func() {
			defer s.jobs.Done()
			d.runEncode(cmd)
		}()
	}
}

// cancelLocked acts on a CC. Every CC is answered by exactly one CC
// frame, queued behind any answer already due, so that a host reading up
// to it knows the device owes it nothing more. The command it cancels
// gets no answer of its own. A CC that finds nothing outstanding cancels
// nothing and is not counted: it is how a host resynchronises, not a
// cancellation a scenario counts.
func (d *Device) cancelLocked(cmd *command) {
	out := d.outstanding
	if out == nil {
		cmd.resync = true
		d.emit(EventCommand, cmd.raw, "cancel with nothing outstanding (not counted)")
		d.decideLocked(cmd, d.a("CC"))
		return
	}
	cmd.n = d.commands.Add(cmdCancel)
	k := holdKey{cmdCancel, cmd.n}
	if _, ok := d.holds[k]; ok {
		cmd.held = true
		d.holds[k] = cmd
	}
	d.emit(EventCommand, cmd.raw, fmt.Sprintf("%s #%d of %s #%d (held %t)", cmdCancel, cmd.n, out.kind, out.n, cmd.held))
	if cmd.held {
		// The cancel waits for Answer, which answers the command it
		// targets as if that answer had crossed the cancel; the CC
		// answer follows it (decideLocked).
		cmd.target = out
		out.crossedBy = cmd
		return
	}
	d.decideLocked(out, nil)
	d.decideLocked(cmd, d.a("CC"))
}

// resyncLocked reports whether the command frame with fields f is a CC
// that will find nothing outstanding: a host resynchronising. Like the
// count, a scenario's NAK and garble requests pass it by (the frame is not
// NAKed, its CC answer not garbled), so that "nak: 1" before an encode
// still NAKs the CN and "garble: 1" still garbles the answer to it.
func (d *Device) resyncLocked(f []string) bool {
	return len(f) == 2 && f[0] == "CC" && d.outstanding == nil
}

// dropOutstanding abandons the command in progress when the line goes.
func (s *session) dropOutstanding() {
	d := s.d
	d.mu.Lock()
	defer d.mu.Unlock()
	if out := d.outstanding; out != nil && out.s == s {
		d.decideLocked(out, nil)
	}
	s.pending = nil
}

// flush queues the answers settled since the last look.
func (s *session) flush() error {
	s.d.mu.Lock()
	ready := s.pending
	s.pending = nil
	s.d.mu.Unlock()
	for _, cmd := range ready {
		s.queue = append(s.queue, &outgoing{cmd: cmd, frame: encode(cmd.answer...)})
	}
	if s.inflight == nil {
		return s.next()
	}
	return nil
}

// next starts sending the next queued answer, if any.
func (s *session) next() error {
	if len(s.queue) == 0 {
		return nil
	}
	s.inflight = s.queue[0]
	s.queue = s.queue[1:]
	return s.transmit()
}

func (s *session) transmit() error {
	o := s.inflight
	o.sends++
	s.ackTimer.Reset(s.d.cfg.Ack)
	return s.write(o.frame, !o.cmd.resync, fmt.Sprintf("answer %s, send %d", o.cmd.answer[0], o.sends))
}

// resend sends the answer in flight again, or gives it up after the
// retries.
func (s *session) resend(why string) error {
	o := s.inflight
	if o == nil {
		return nil
	}
	if o.sends > s.d.cfg.Retries {
		s.d.emit(EventGaveUp, o.frame, fmt.Sprintf("%s after %d sends", why, o.sends))
		o.cmd.closed = true
		s.inflight = nil
		s.ackTimer.Stop()
		return s.next()
	}
	return s.transmit()
}

// write puts b on the line, unless the device is silenced; an answer
// frame (garblable) may be garbled on the way.
func (s *session) write(b []byte, garblable bool, what string) error {
	d := s.d
	d.mu.Lock()
	silent := d.silent
	garble := !silent && garblable && take(&d.garbles)
	d.mu.Unlock()
	if silent {
		d.emit(EventSuppressed, b, what)
		return nil
	}
	if garble {
		b = bytes.Clone(b)
		b[len(b)-1] ^= 0xFF
		what += " (garbled)"
	}
	d.emit(EventSent, b, what)
	if _, err := s.conn.Write(b); err != nil {
		return fmt.Errorf("pms device: write: %w", err)
	}
	return nil
}

func noFields(f []string) error {
	if len(f) != 2 {
		return fmt.Errorf("%s takes no fields after the address, got %d", f[0], len(f)-2)
	}
	return nil
}

// parseCN checks a CN frame's fields (docs/protocols/pms.md, Commands).
func parseCN(f []string) (encodeJob, error) {
	if len(f) != 7 {
		return encodeJob{}, fmt.Errorf("CN takes 5 fields after the address, got %d", len(f)-2)
	}
	j := encodeJob{cardID: f[2], function: f[3], from: f[4], until: f[5], label: f[6]}
	if !isUpperHex(j.cardID, 16) {
		return j, errors.New("card id must be 16 upper-case hex digits")
	}
	if j.function != "G" && j.function != "S" {
		return j, errors.New("function must be G or S")
	}
	for _, v := range []string{j.from, j.until} {
		if v == "" {
			continue
		}
		if _, err := time.Parse("200601021504", v); err != nil || len(v) != 12 {
			return j, fmt.Errorf("date %q must be YYYYMMDDhhmm", v)
		}
	}
	if len(j.label) > 32 {
		return j, errors.New("label longer than 32 characters")
	}
	return j, nil
}

func isUpperHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
