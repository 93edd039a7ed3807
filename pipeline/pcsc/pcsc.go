// Package pcsc is a PC/SC host in pure Go: a client of pcscd's own
// socket protocol (pcsc-lite 1.9.9, message protocol 4.4), written from
// pcsc-lite's winscard_clnt.c, winscard_msg.h and winscard_svc.c, with no
// cgo and no libpcsclite. The pipeline opens a Unix socket to pcscd.comm
// and hands it to Establish; a Context then lists the readers, waits for
// a card and talks to it as libpcsclite's SCard* calls do.
//
// # One stream, one exchange at a time
//
// pcscd answers each request on the stream it came on, in order, with a
// bare struct whose length the request fixes; nothing marks where a reply
// starts. So a Context runs one exchange at a time (its calls are safe
// for concurrent use, and wait for each other: a WaitChange holds the
// Context until it returns), and an exchange cut short — an I/O error,
// ctx's deadline or cancellation after the request went out, bytes that
// make no sense — leaves the stream out of step: the Context is broken,
// and every later call fails with ErrBroken. The caller opens a new
// connection and Establishes again. ctx's deadline becomes the stream's
// read and write deadline for the exchange; its cancellation wakes a
// pending read by moving the deadline to the past.
//
// # Errors
//
// pcscd's own refusals are *Error, holding the call and pcscd's Code
// (errors.Is(err, pcsc.WarnRemovedCard)); they leave the Context usable.
// Bytes no pcscd sends (an ATR longer than 33 bytes, a response longer
// than the buffer asked for) are *ProtocolError, and break the Context.
//
// A response too short to hold a status word is ErrNoStatusWord, though
// pcscd reports success: that is how a card that left mid-command looks.
//
// What pcscd 1.9.9 with vpcd (virtualsmartcard 0.8) answers, as measured
// by this package's tests, when the card leaves (its connection to vpcd
// closes) while a Transmit is at it: SCARD_S_SUCCESS with an empty
// response (vpcd reads the closed connection as a 0-byte answer, ejects
// the card and reports success), so Transmit fails with ErrNoStatusWord.
// Until pcscd's next presence poll (every 400 ms) notices, a Transmit on
// the handle fails with SCARD_E_NOT_TRANSACTED (vpcd has no card to send
// to); after it, with SCARD_W_REMOVED_CARD, and Connect to the reader
// with SCARD_E_NO_SMARTCARD.
package pcsc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Stream is the connection to pcscd: a Unix socket to pcscd.comm in the
// pipeline, anything that carries bytes in order in tests.
// SetReadDeadline and SetWriteDeadline must be safe to call during a
// Read or a Write, and wake it, as net.Conn's are.
type Stream interface {
	io.ReadWriter
	SetReadDeadline(t time.Time) error
	SetWriteDeadline(t time.Time) error
}

// ErrBroken is wrapped by every call on a Context whose stream went out
// of step (see the package's doc): open a new connection to pcscd and
// Establish again.
var ErrBroken = errors.New("the stream to pcscd is out of step; reconnect and Establish again")

// ErrNoStatusWord is wrapped by Transmit's error when pcscd reported
// success with a response shorter than a status word (SW1 SW2): the card
// left, or never answered, mid-command. The Context stays usable; the
// card handle will fail with SCARD_W_REMOVED_CARD once pcscd has seen the
// reader empty.
var ErrNoStatusWord = errors.New("the card's response has no status word: the card left mid-command")

// ErrReleased is wrapped by every call on a Context after Release.
var ErrReleased = errors.New("the context is released")

// Error is pcscd refusing a call: Op is the call (as pcsc-lite names its
// commands: "connect", "transmit"...), Code is pcscd's return value. Some
// Errors are made here without asking pcscd, as libpcsclite makes them:
// a call on a disconnected card (SCARD_E_INVALID_HANDLE), an APDU longer
// than pcscd takes (SCARD_E_INSUFFICIENT_BUFFER).
type Error struct {
	Op   string
	Code Code
}

func (e *Error) Error() string { return "pcsc: " + e.Op + ": " + e.Code.Error() }

// Unwrap is the Code, for errors.Is.
func (e *Error) Unwrap() error { return e.Code }

// ProtocolError is a reply no pcscd sends: the stream is out of step, or
// not pcscd's. It breaks the Context.
type ProtocolError struct {
	Op     string
	Reason string
}

func (e *ProtocolError) Error() string {
	return "pcsc: " + e.Op + ": pcscd's reply makes no sense: " + e.Reason
}

// State is a reader's state bits as pcscd publishes them (READER_STATE's
// readerState: SCARD_ABSENT, SCARD_PRESENT, ... from pcsclite.h).
type State uint32

// Reader state bits.
const (
	StateUnknown    State = 0x0001 // SCARD_UNKNOWN: the reader does not answer
	StateAbsent     State = 0x0002 // SCARD_ABSENT: no card
	StatePresent    State = 0x0004 // SCARD_PRESENT: a card
	StateSwallowed  State = 0x0008 // SCARD_SWALLOWED: a card pcscd could not power (mute)
	StatePowered    State = 0x0010 // SCARD_POWERED
	StateNegotiable State = 0x0020 // SCARD_NEGOTIABLE: ready for PTS
	StateSpecific   State = 0x0040 // SCARD_SPECIFIC: a protocol is set
)

var stateNames = []struct {
	bit  State
	name string
}{
	{StateUnknown, "UNKNOWN"}, {StateAbsent, "ABSENT"}, {StatePresent, "PRESENT"},
	{StateSwallowed, "SWALLOWED"}, {StatePowered, "POWERED"},
	{StateNegotiable, "NEGOTIABLE"}, {StateSpecific, "SPECIFIC"},
}

// String lists the bits set, "PRESENT|POWERED|NEGOTIABLE".
func (s State) String() string {
	var parts []string
	rest := s
	for _, n := range stateNames {
		if s&n.bit != 0 {
			parts = append(parts, n.name)
			rest &^= n.bit
		}
	}
	if rest != 0 {
		parts = append(parts, fmt.Sprintf("0x%X", uint32(rest)))
	}
	if len(parts) == 0 {
		return "0"
	}
	return strings.Join(parts, "|")
}

// presence are the bits whose change WaitChange reports: the card came,
// went or went mute, or the reader stopped answering.
const presence = StateUnknown | StateAbsent | StatePresent | StateSwallowed

// Reader is one reader as pcscd publishes it (READER_STATE).
type Reader struct {
	Name string
	// State is pcscd's state bits for the reader.
	State State
	// ATR is the card's answer to reset; nil without a card, or before
	// pcscd has powered it.
	ATR []byte
	// EventCounter counts the cards that came and went (pcscd keeps it
	// in 16 bits).
	EventCounter uint32
	// Sharing is how many handles hold the card (-1: one, exclusively).
	Sharing int32
	// Protocol is the protocol set with the card (0 before any Connect).
	Protocol Protocol
}

// Present reports a card in the reader.
func (r Reader) Present() bool { return r.State&StatePresent != 0 }

// Empty reports no card in the reader.
func (r Reader) Empty() bool { return r.State&StateAbsent != 0 }

// ShareMode is how a Connect shares the card (SCARD_SHARE_*).
type ShareMode uint32

// Share modes.
const (
	ShareExclusive ShareMode = 1 // no other handle on the card
	ShareShared    ShareMode = 2
	ShareDirect    ShareMode = 3 // the reader, card or not
)

// Protocol is a card protocol, or a set of them (SCARD_PROTOCOL_*).
type Protocol uint32

// Protocols.
const (
	ProtocolUndefined Protocol = 0
	ProtocolT0        Protocol = 1
	ProtocolT1        Protocol = 2
	ProtocolRaw       Protocol = 4
	ProtocolT15       Protocol = 8
	ProtocolAny                = ProtocolT0 | ProtocolT1
)

// Disposition is what becomes of the card when a handle lets it go
// (SCARD_*_CARD).
type Disposition uint32

// Dispositions.
const (
	LeaveCard   Disposition = 0
	ResetCard   Disposition = 1
	UnpowerCard Disposition = 2
	EjectCard   Disposition = 3
)

// sharingRetry is how long libpcsclite sleeps before it asks again when
// another handle holds the card's transaction (PCSCLITE_LOCK_POLL_RATE).
const sharingRetry = 100 * time.Millisecond

// stopBound bounds the unregistering that ends a WaitChange, which runs
// even when ctx has ended: without it the stream is out of step.
const stopBound = 2 * time.Second

// Context is one application context on one stream to pcscd
// (SCARDCONTEXT). Its methods are safe for concurrent use and run one at
// a time.
type Context struct {
	mu       sync.Mutex
	s        Stream
	h        uint32
	broken   error // why the stream is out of step; nil while in step
	released bool
	// seen is what Readers or WaitChange last saw: WaitChange's
	// reference for a change. nil before either.
	seen []Reader
}

// Card is a handle on the card in one reader (SCARDHANDLE).
type Card struct {
	c        *Context
	h        int32
	reader   string
	protocol atomic.Uint32 // a Protocol
	closed   bool          // guarded by c.mu
}

// Establish speaks to pcscd on s: it checks both speak protocol 4.4
// (CMD_VERSION), then establishes an application context
// (SCARD_ESTABLISH_CONTEXT, system scope). The Context owns none of s:
// the caller closes it after Release.
func Establish(ctx context.Context, s Stream) (*Context, error) {
	if s == nil {
		return nil, errors.New("pcsc: establish: no stream")
	}
	c := &Context{s: s}
	err := c.run(ctx, "version", func(x *exchange) error {
		rep, err := x.roundTrip(request(cmdVersion, protocolMajor, protocolMinor, 0), versionSize)
		if err != nil {
			return err
		}
		f := fields(rep, 3)
		if rv := Code(f[2]); rv != Success {
			// pcscd answers SCARD_E_SERVICE_STOPPED to another version.
			return fmt.Errorf("%w (pcscd speaks protocol %d.%d, this client %d.%d)", &Error{Op: "version", Code: rv}, int32(f[0]), int32(f[1]), protocolMajor, protocolMinor)
		}
		if f[0] != protocolMajor {
			return &ProtocolError{Op: "version", Reason: fmt.Sprintf("pcscd accepted protocol %d.%d but says it speaks %d.%d", protocolMajor, protocolMinor, int32(f[0]), int32(f[1]))}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = c.run(ctx, "establish context", func(x *exchange) error {
		rep, err := x.roundTrip(request(cmdEstablishContext, scopeSystem, 0, 0), establishSize)
		if err != nil {
			return err
		}
		f := fields(rep, 3)
		if rv := Code(f[2]); rv != Success {
			return &Error{Op: "establish context", Code: rv}
		}
		c.h = f[1]
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Err is nil while the Context is usable; ErrBroken or ErrReleased, with
// the cause, once not.
func (c *Context) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.usable("")
}

// usable is the error a call op gets on a Context that cannot take it;
// under mu.
func (c *Context) usable(op string) error {
	prefix := "pcsc: "
	if op != "" {
		prefix += op + ": "
	}
	switch {
	case c.released:
		return fmt.Errorf("%s%w", prefix, ErrReleased)
	case c.broken != nil:
		return fmt.Errorf("%s%w (%v)", prefix, ErrBroken, c.broken)
	}
	return nil
}

// Readers lists pcscd's readers and their states (CMD_GET_READERS_STATE,
// as SCardListReaders and SCardGetStatusChange get them).
func (c *Context) Readers(ctx context.Context) ([]Reader, error) {
	var rs []Reader
	err := c.run(ctx, "get readers state", func(x *exchange) error {
		rep, err := x.roundTrip(request(cmdGetReadersState), readersStateSize)
		if err != nil {
			return err
		}
		if rs, err = x.readerStates(rep); err != nil {
			return err
		}
		c.seen = rs
		return nil
	})
	if err != nil {
		return nil, err
	}
	return rs, nil
}

// WaitChange waits until pcscd's readers differ from what this Context's
// last Readers or WaitChange saw (or, with neither before, from when it
// starts): a reader came or went, or a reader's card did (its
// EventCounter or its presence bits changed). It reports true at the
// change, false when timeout passed without one; timeout 0 only looks.
// It is SCardGetStatusChange's loop: register for events and get the
// states (CMD_WAIT_READER_STATE_CHANGE), wait for pcscd's signal, look
// again, and unregister at the end (CMD_STOP_WAITING_READER_STATE_CHANGE)
// even when ctx has ended, so the Context stays usable.
func (c *Context) WaitChange(ctx context.Context, timeout time.Duration) (bool, error) {
	end := time.Now().Add(max(timeout, 0))
	var changed bool
	err := c.run(ctx, "wait reader state change", func(x *exchange) error {
		for {
			// Not registered here: nothing is outstanding on the stream.
			if err := x.ctxErr(); err != nil {
				return &inStep{err}
			}
			rep, err := x.roundTrip(request(cmdWaitReaderStateChange), readersStateSize)
			if err != nil {
				return err
			}
			rs, err := x.readerStates(rep)
			if err != nil {
				return err
			}
			if c.seen == nil {
				c.seen = rs
			} else if differ(c.seen, rs) {
				c.seen = rs
				changed = true
				return x.unregister()
			}
			// Registered: pcscd sends one wait_reader_state_change, at
			// its next event, and unregisters us.
			sig, n, err := x.await(end)
			if err != nil {
				if n == 0 && errors.Is(err, os.ErrDeadlineExceeded) {
					// Nothing came: still in step. Unregister, then say
					// whether ctx or the timeout ended the wait.
					if err := x.unregister(); err != nil {
						return err
					}
					if cerr := x.ctxErr(); cerr != nil {
						return &inStep{cerr}
					}
					return nil
				}
				return err
			}
			// pcscd has unregistered us with its signal. Back to ctx's
			// deadline for the next look.
			dl, _ := x.ctx.Deadline()
			if err := x.c.s.SetReadDeadline(dl); err != nil {
				return &inStep{err}
			}
			if rv := Code(fields(sig, 2)[1]); rv != Success {
				return &Error{Op: "wait reader state change", Code: rv}
			}
		}
	})
	return changed, err
}

// differ reports a change WaitChange reports.
func differ(a, b []Reader) bool {
	if len(a) != len(b) {
		return true
	}
	for i := range a {
		if a[i].Name != b[i].Name || a[i].EventCounter != b[i].EventCounter || a[i].State&presence != b[i].State&presence {
			return true
		}
	}
	return false
}

// Connect takes a handle on the card in reader (SCARD_CONNECT): share
// says who else may, protocols which protocols the card may speak
// (ProtocolAny: whichever it does).
func (c *Context) Connect(ctx context.Context, reader string, share ShareMode, protocols Protocol) (*Card, error) {
	const op = "connect"
	// libpcsclite's checks: pcscd truncates a longer name to 127 bytes.
	if reader == "" || len(reader) >= maxReaderName || strings.IndexByte(reader, 0) >= 0 {
		return nil, fmt.Errorf("%w (reader name %q: want 1 to %d bytes, no NUL)", &Error{Op: op, Code: ErrInvalidValue}, reader, maxReaderName-1)
	}
	k := &Card{c: c, reader: reader}
	err := c.run(ctx, op, func(x *exchange) error {
		rep, err := x.roundTrip(connectRequest(c.h, reader, share, protocols), connectSize)
		if err != nil {
			return err
		}
		h, active, rv := connectReply(rep)
		if rv != Success {
			return &Error{Op: op, Code: rv}
		}
		k.h = h
		k.protocol.Store(uint32(active))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return k, nil
}

// Release ends the application context (SCARD_RELEASE_CONTEXT); pcscd
// lets go of the Context's cards. Every later call fails with
// ErrReleased, whatever pcscd answered. It does not close the stream.
func (c *Context) Release(ctx context.Context) error {
	return c.run(ctx, "release context", func(x *exchange) error {
		c.released = true // as libpcsclite forgets the context, answer or not
		rep, err := x.roundTrip(request(cmdReleaseContext, c.h, 0), releaseSize)
		if err != nil {
			return err
		}
		if rv := Code(fields(rep, 2)[1]); rv != Success {
			return &Error{Op: "release context", Code: rv}
		}
		return nil
	})
}

// Reader is the reader the card was connected in.
func (k *Card) Reader() string { return k.reader }

// Protocol is the protocol pcscd set with the card at Connect or
// Reconnect.
func (k *Card) Protocol() Protocol {
	return Protocol(k.protocol.Load())
}

// handle runs a call on the card's handle, refusing it locally once the
// card is disconnected, as libpcsclite does (pcscd would stall two
// seconds and close the stream).
func (k *Card) handle(ctx context.Context, op string, f func(x *exchange) error) error {
	return k.c.run(ctx, op, func(x *exchange) error {
		if k.closed {
			return &Error{Op: op, Code: ErrInvalidHandle}
		}
		return f(x)
	})
}

// Transmit sends an APDU to the card and returns its response, status
// word included (SCARD_TRANSMIT). A response of fewer than two bytes is
// returned with ErrNoStatusWord. While another handle holds a transaction
// on the card it asks again every 100 ms until ctx ends, as libpcsclite
// does.
func (k *Card) Transmit(ctx context.Context, apdu []byte) ([]byte, error) {
	const op = "transmit"
	if len(apdu) == 0 {
		return nil, fmt.Errorf("%w (no APDU)", &Error{Op: op, Code: ErrInvalidParameter})
	}
	if len(apdu) > MaxBufferSizeExtended {
		return nil, fmt.Errorf("%w (APDU of %d bytes, more than pcscd's %d)", &Error{Op: op, Code: ErrInsufficientBuffer}, len(apdu), MaxBufferSizeExtended)
	}
	var resp []byte
	err := k.retrySharing(ctx, func() error {
		return k.handle(ctx, op, func(x *exchange) error {
			req := request(cmdTransmit, uint32(k.h), k.protocol.Load(), ioRequestSize, uint32(len(apdu)), uint32(ProtocolAny), ioRequestSize, MaxBufferSizeExtended, 0)
			if err := x.send(append(req, apdu...)); err != nil {
				return err
			}
			rep, err := x.recv(transmitSize)
			if err != nil {
				return err
			}
			f := fields(rep, 8)
			if rv := Code(f[7]); rv != Success {
				return &Error{Op: op, Code: rv}
			}
			if n := f[6]; n > MaxBufferSizeExtended {
				return &ProtocolError{Op: op, Reason: fmt.Sprintf("a response of %d bytes, more than the %d asked for", n, MaxBufferSizeExtended)}
			}
			resp, err = x.recv(int(f[6]))
			return err
		})
	})
	if err != nil {
		return nil, err
	}
	if len(resp) < 2 {
		return resp, fmt.Errorf("pcsc: %s: %w (pcscd reported success with %d bytes)", op, ErrNoStatusWord, len(resp))
	}
	return resp, nil
}

// BeginTransaction takes the card for this handle alone until
// EndTransaction (SCARD_BEGIN_TRANSACTION); it waits, asking every
// 100 ms, while another handle holds it.
func (k *Card) BeginTransaction(ctx context.Context) error {
	return k.retrySharing(ctx, func() error {
		return k.handle(ctx, "begin transaction", func(x *exchange) error {
			return x.simple("begin transaction", request(cmdBeginTransaction, uint32(k.h), 0), beginSize)
		})
	})
}

// EndTransaction lets the card go to other handles
// (SCARD_END_TRANSACTION), doing d to it.
func (k *Card) EndTransaction(ctx context.Context, d Disposition) error {
	return k.handle(ctx, "end transaction", func(x *exchange) error {
		return x.simple("end transaction", request(cmdEndTransaction, uint32(k.h), uint32(d), 0), endSize)
	})
}

// Reconnect renegotiates the handle (SCARD_RECONNECT): after another
// handle reset the card (SCARD_W_RESET_CARD), or to reset or power it
// again (init ResetCard, UnpowerCard).
func (k *Card) Reconnect(ctx context.Context, share ShareMode, protocols Protocol, init Disposition) error {
	const op = "reconnect"
	return k.handle(ctx, op, func(x *exchange) error {
		rep, err := x.roundTrip(request(cmdReconnect, uint32(k.h), uint32(share), uint32(protocols), uint32(init), 0, 0), reconnectSize)
		if err != nil {
			return err
		}
		f := fields(rep, 6)
		if rv := Code(f[5]); rv != Success {
			return &Error{Op: op, Code: rv}
		}
		k.protocol.Store(f[4])
		return nil
	})
}

// Disconnect lets the card go, doing d to it (SCARD_DISCONNECT). Once it
// succeeded, every call on k fails with SCARD_E_INVALID_HANDLE.
func (k *Card) Disconnect(ctx context.Context, d Disposition) error {
	return k.handle(ctx, "disconnect", func(x *exchange) error {
		if err := x.simple("disconnect", request(cmdDisconnect, uint32(k.h), uint32(d), 0), disconnectSize); err != nil {
			return err
		}
		k.closed = true
		return nil
	})
}

// retrySharing runs f again, every sharingRetry, while pcscd answers
// SCARD_E_SHARING_VIOLATION, until ctx ends.
func (k *Card) retrySharing(ctx context.Context, f func() error) error {
	for {
		err := f()
		if !errors.Is(err, ErrSharingViolation) {
			return err
		}
		t := time.NewTimer(sharingRetry)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (waiting for another handle's transaction: %w)", err, ctx.Err())
		case <-t.C:
		}
	}
}

// exchange is one call's traffic on the stream, under the Context's
// lock, with ctx's deadline on the stream.
type exchange struct {
	c     *Context
	op    string
	ctx   context.Context
	sent  bool // a request went out: cutting the call short breaks the stream
	stop  func() bool
	fired chan struct{}
}

// run runs f as one exchange on c. An I/O error or a ProtocolError after
// a request went out breaks c.
func (c *Context) run(ctx context.Context, op string, f func(x *exchange) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.usable(op); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pcsc: %s: %w", op, err)
	}
	x := &exchange{c: c, op: op, ctx: ctx, fired: make(chan struct{})}
	dl, _ := ctx.Deadline()
	if err := x.deadline(dl); err != nil {
		return fmt.Errorf("pcsc: %s: set the stream's deadline: %w", op, err)
	}
	x.stop = context.AfterFunc(ctx, func() {
		defer close(x.fired)
		_ = x.deadline(time.Unix(1, 0)) // wake a pending Read or Write
	})
	err := f(x)
	x.detach()
	_ = x.deadline(time.Time{})
	if err == nil {
		return nil
	}
	var scard *Error
	if errors.As(err, &scard) {
		return err
	}
	var kept *inStep
	if errors.As(err, &kept) {
		return fmt.Errorf("pcsc: %s: %w", op, kept.err)
	}
	if x.sent {
		c.broken = fmt.Errorf("%s: %w", op, err)
		return fmt.Errorf("pcsc: %s: %w; %w", op, err, ErrBroken)
	}
	return fmt.Errorf("pcsc: %s: %w", op, err)
}

// inStep is an error that ends a call with the stream still in step (a
// wait cut short after it unregistered): it does not break the Context.
type inStep struct{ err error }

func (e *inStep) Error() string { return e.err.Error() }
func (e *inStep) Unwrap() error { return e.err }

// detach stops watching ctx, and waits for a cancellation already
// firing, so no deadline it sets lands after the next one.
func (x *exchange) detach() {
	if x.stop != nil && !x.stop() {
		<-x.fired
	}
	x.stop = nil
}

func (x *exchange) deadline(t time.Time) error {
	return errors.Join(x.c.s.SetReadDeadline(t), x.c.s.SetWriteDeadline(t))
}

// ctxErr is ctx's error, or context.DeadlineExceeded once its deadline
// has passed (the stream's deadline can fire a moment before ctx's).
func (x *exchange) ctxErr() error {
	if err := x.ctx.Err(); err != nil {
		return err
	}
	if dl, ok := x.ctx.Deadline(); ok && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return nil
}

// ioErr says why an I/O failed: ctx's end if that is what moved the
// deadline, else the error.
func (x *exchange) ioErr(what string, err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		if cerr := x.ctxErr(); cerr != nil {
			return fmt.Errorf("%s: %w", what, cerr)
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}

func (x *exchange) send(b []byte) error {
	x.sent = true
	if _, err := x.c.s.Write(b); err != nil {
		return x.ioErr("send", err)
	}
	return nil
}

// recv reads a reply of exactly n bytes.
func (x *exchange) recv(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(x.c.s, b); err != nil {
		return nil, x.ioErr(fmt.Sprintf("read a %d-byte reply", n), err)
	}
	return b, nil
}

func (x *exchange) roundTrip(req []byte, n int) ([]byte, error) {
	if err := x.send(req); err != nil {
		return nil, err
	}
	return x.recv(n)
}

// simple is a call whose reply is its request's struct with rv last.
func (x *exchange) simple(op string, req []byte, n int) error {
	rep, err := x.roundTrip(req, n)
	if err != nil {
		return err
	}
	if rv := Code(fields(rep, n/4)[n/4-1]); rv != Success {
		return &Error{Op: op, Code: rv}
	}
	return nil
}

func (x *exchange) readerStates(b []byte) ([]Reader, error) {
	rs, err := decodeReaderStates(b)
	if err != nil {
		return nil, &ProtocolError{Op: x.op, Reason: err.Error()}
	}
	return rs, nil
}

// await reads pcscd's event signal (a wait_reader_state_change) until
// end or ctx's deadline, whichever is first. n is how much of it came.
func (x *exchange) await(end time.Time) ([]byte, int, error) {
	dl := end
	if cdl, ok := x.ctx.Deadline(); ok && cdl.Before(dl) {
		dl = cdl
	}
	if err := x.c.s.SetReadDeadline(dl); err != nil {
		return nil, 0, err
	}
	// A cancellation that fired before that deadline was set would be
	// lost: look for it after.
	if x.ctx.Err() != nil {
		return nil, 0, os.ErrDeadlineExceeded
	}
	b := make([]byte, waitSize)
	n, err := io.ReadFull(x.c.s, b)
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) && n == 0 {
			return nil, 0, err // the caller tells the timeout from ctx
		}
		return nil, n, x.ioErr("wait for pcscd's event", err)
	}
	return b, n, nil
}

// unregister ends a registration for events
// (CMD_STOP_WAITING_READER_STATE_CHANGE). pcscd sends exactly one
// wait_reader_state_change after it: its answer, or the event signal
// that beat it. It runs within stopBound even when ctx has ended.
func (x *exchange) unregister() error {
	x.detach()
	if err := x.deadline(time.Now().Add(stopBound)); err != nil {
		return err
	}
	rep, err := x.roundTrip(request(cmdStopWaitingReaderStateChange), waitSize)
	if err != nil {
		return err
	}
	// An event's signal carries SCARD_S_SUCCESS; another host's
	// SCardCancel would carry SCARD_E_CANCELLED: either way the wait is
	// over, and the stream in step.
	_ = rep
	return nil
}
