package pms

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
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

// session is one Serve call: the link layer on one line.
//
// There is no loop a frame must be handed to: the goroutine that reads
// the line parses what it read, acts on it and writes the reply itself,
// so a frame answered at once (ENQ, RC, a refusal) costs no goroutine
// switch. What happens later runs on the goroutine that brings it about:
// the ACK and inter-byte timers' callbacks, and the goroutine that waits
// on a command the model answers later (an encode, a held command), which
// sends that answer as soon as it is decided. mu serialises them all.
type session struct {
	d    *Device
	conn Conn
	// interrupt wakes a pending Read and Write on conn.
	interrupt func()

	// mu guards the link state below and every write to conn. It is
	// taken before d.mu, never while holding it.
	mu sync.Mutex
	// closed is set when Serve is returning: nothing more is written.
	closed bool
	// err is the first error met off the reading goroutine (a write from
	// a timer or for a later answer); it ends Serve.
	err error

	p parser
	// last is the last command taken on this line, for spotting
	// retransmissions.
	last *command

	queue    []*outgoing
	inflight *outgoing
	// ackTimer re-sends the answer in flight at ackDue; gapTimer ends a
	// frame that stopped arriving at gapDue. A callback that finds its
	// deadline moved (the timer was re-armed while it waited for mu)
	// does nothing: the re-armed timer fires again.
	ackTimer, gapTimer *time.Timer
	ackDue, gapDue     time.Time
	gapArmed           bool
	// out collects what one step writes (an ACK, then an answer), so it
	// reaches the line in one write.
	out []byte

	// pending holds settled commands whose answers are to be sent;
	// guarded by d.mu, drained by flush.
	pending []*command

	jobs sync.WaitGroup
}

// outgoing is an answer frame on its way to the host.
type outgoing struct {
	cmd   *command
	frame []byte
	sends int
}

// readSize is the read buffer: more than a whole frame, and reused.
const readSize = 512

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
	if err := device.ClearDeadlines(conn); err != nil {
		return fmt.Errorf("pms device: %w", err)
	}

	s := &session{
		d:         d,
		conn:      conn,
		interrupt: device.Interrupter(conn),
	}
	s.ackTimer = stoppedTimer(s.ackExpired)
	s.gapTimer = stoppedTimer(s.gapExpired)
	stop := context.AfterFunc(ctx, s.interrupt)
	defer stop()
	defer s.close()

	d.log.Debug("serving")
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

// stoppedTimer returns a timer that calls f once armed with Reset.
func stoppedTimer(f func()) *time.Timer {
	t := time.AfterFunc(time.Hour, f)
	t.Stop()
	return t
}

// close ends the session: nothing more goes on the line, the command
// outstanding is dropped, and the goroutines working on commands are
// waited for.
func (s *session) close() {
	// A write blocked on a full line holds mu; the interrupt frees it.
	s.interrupt()
	s.mu.Lock()
	s.closed = true
	s.ackTimer.Stop()
	s.gapTimer.Stop()
	s.mu.Unlock()
	s.dropOutstanding()
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
			return fmt.Errorf("pms device: read: %w", err)
		}
	}
}

// received feeds bytes from the host to the parser, acting on each event
// they complete, and arms the inter-byte timer while a frame is open.
func (s *session) received(b []byte) error {
	for _, c := range b {
		if ev, ok := s.p.feed(c); ok {
			if err := s.handle(ev); err != nil {
				return err
			}
		}
	}
	switch {
	case s.p.inFrame():
		s.gapDue = time.Now().Add(s.d.cfg.Ack)
		s.gapTimer.Reset(s.d.cfg.Ack)
		s.gapArmed = true
	case s.gapArmed:
		s.gapTimer.Stop()
		s.gapArmed = false
	}
	return nil
}

// step runs act with mu held, then queues the answers settled meanwhile
// and writes what they all put out. It reports an error that ends Serve.
func (s *session) step(act func() error) error {
	if s.closed {
		return nil
	}
	err := act()
	if err == nil {
		err = s.flush()
	}
	if len(s.out) > 0 {
		_, werr := s.conn.Write(s.out)
		s.out = s.out[:0]
		if err == nil && werr != nil {
			err = fmt.Errorf("pms device: write: %w", werr)
		}
	}
	return err
}

// async runs act as a step off the reading goroutine: an error it meets
// is kept for Serve and ends the session.
func (s *session) async(act func() error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.step(act); err != nil && s.err == nil {
		s.err = err
		s.interrupt()
	}
}

// ackExpired re-sends the answer in flight when its ACK is overdue.
func (s *session) ackExpired() {
	s.async(func() error {
		if s.inflight == nil || time.Now().Before(s.ackDue) {
			return nil
		}
		return s.resend("no ACK")
	})
}

// gapExpired ends a frame whose bytes stopped arriving.
func (s *session) gapExpired() {
	s.async(func() error {
		if !s.gapArmed || time.Now().Before(s.gapDue) {
			return nil
		}
		s.gapArmed = false
		if ev, ok := s.p.abort(); ok {
			return s.handle(ev)
		}
		return nil
	})
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
	s.supersede(f[0])
	// Count the command before the ACK goes out, so a host that has its
	// ACK finds it counted. Its answer goes out after the ACK: answers
	// wait in pending until the step flushes them.
	s.take(ev.raw, f)
	return s.write([]byte{ack}, false, "ACK")
}

// supersede acts on the acknowledgement a new command (code) carries: a
// host sends its next command only after reading the answer to the last,
// so an answer still being re-sent when a new command other than CC
// arrives was received, and only its ACK was lost. It is not re-sent:
// after the new command's ACK it would reach a host that has moved on and
// could take it for the new command's answer. This runs before that ACK
// is written, so every copy of the old answer is on the line ahead of it,
// where the host knows it for a retransmission. CC is sent while a
// command is outstanding, so it acknowledges nothing; its answer waits
// behind the one in flight.
func (s *session) supersede(code string) {
	o := s.inflight
	if o == nil || code == "CC" {
		return
	}
	s.d.emit(EventReceived, nil, fmt.Sprintf("ACK implied by %s: answer %s not re-sent", code, o.cmd.answer[0]))
	o.cmd.closed = true
	s.inflight = nil
	s.ackTimer.Stop()
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
		d.overlaps++
		d.decideLocked(cmd, d.a("BY"))
	case cmd.held:
		d.outstanding = cmd
	case kind == cmdRead && d.cfg.ReadTime <= 0:
		d.decideLocked(cmd, d.readAnswerLocked())
	case kind == cmdRead:
		// The card is the one in the field as the command arrives.
		d.outstanding = cmd
		c := d.visibleLocked()
		s.later(cmd, func() { d.runRead(cmd, c) })
		return
	case take(&d.busies):
		d.decideLocked(cmd, d.a("BY"))
	default:
		d.outstanding = cmd
		s.later(cmd, func() { d.runEncode(cmd) })
		return
	}
	if !cmd.done {
		s.later(cmd, nil)
	}
}

// later sends cmd's answer once it is decided off the reading goroutine:
// by work (the encode; nil for a held command, which Answer decides), by
// a cancel, or when the line goes. Called with d.mu held.
func (s *session) later(cmd *command, work func()) {
	s.jobs.Add(1)
	go func() {
		defer s.jobs.Done()
		if work != nil {
			work()
		}
		<-cmd.decided
		s.async(func() error { return nil })
	}()
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
		cmd.s.later(cmd, nil)
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
	if o.sends == 1 && o.cmd.kind != "" && !o.cmd.resync {
		// A counted command's answer leaves now; a timeline may wait
		// for it (AwaitAnswer). Retransmissions are the same answer.
		s.d.commands.Answered(o.cmd.kind)
	}
	// The deadline is taken before the timer is armed, so that the
	// callback, which fires no earlier than the timer, finds it passed.
	s.ackDue = time.Now().Add(s.d.cfg.Ack)
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

// write puts b on the line at the end of the step, unless the device is
// silenced; an answer frame (garblable) may be garbled on the way.
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
	s.out = append(s.out, b...)
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
