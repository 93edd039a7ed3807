package acr122

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/encoderlab/encoderlab/pipeline/driver"
	"github.com/encoderlab/encoderlab/pipeline/driver/classic"
	"github.com/encoderlab/encoderlab/pipeline/pcsc"
)

// ErrInvalidJob is wrapped by the error Encode returns for a job the card
// layout cannot carry; nothing is sent to pcscd. It is the layout's own
// error, classic.ErrInvalidJob.
var ErrInvalidJob = classic.ErrInvalidJob

// Driver encodes credentials through an ACR122U, doing the card work
// itself over PC/SC. It keeps no state between calls, so one Driver may
// serve many ports, one call per port at a time.
type Driver struct {
	Timing Timing
	// KeyA and KeyB are the system's keys for the credential sector.
	KeyA, KeyB classic.Key
}

var (
	_ driver.Driver = (*Driver)(nil)
	_ driver.Opener = (*Driver)(nil)
)

// New returns a driver with timing t and the default system keys.
func New(t Timing) *Driver {
	return &Driver{Timing: t, KeyA: classic.DefaultKeyA, KeyB: classic.DefaultKeyB}
}

// Open connects to the socket of the pcscd that serves the reader (the
// lab encoder's port, usually /run/pcscd/pcscd.comm). The port is the
// Unix socket itself; Encode and Scan speak pcscd's protocol over it.
//
// A pcscd serves every reader on its host. A port of the form
// SOCKET#READER keeps the encoder to the readers whose name is READER
// or starts with it ("/run/pcscd/pcscd.comm#ACS ACR122U PICC Interface
// 01"); without one, it takes the first reader pcscd lists with a card
// in it. A host with two encoders (or an encoder and a smart-card
// reader) names each encoder's reader, or one encoder may write the
// card on the other.
func (d *Driver) Open(path string) (driver.Port, error) {
	sock, reader := splitPort(path)
	c, err := net.Dial("unix", sock)
	if err != nil {
		var why string
		switch {
		case errors.Is(err, os.ErrNotExist):
			why = "no socket there: is the reader's pcscd running, and is this its socket (pcscd.comm)?"
		case !isSocket(sock):
			why = "not a socket: the port must be the socket of the reader's pcscd (pcscd.comm), not a device or a file"
		case errors.Is(err, syscall.ECONNREFUSED):
			why = "nothing listens on it: pcscd stopped and left its socket behind; start pcscd again"
		case errors.Is(err, os.ErrPermission):
			why = "permission denied: let this service's user connect to pcscd's socket"
		default:
			why = "cannot connect to pcscd"
		}
		return nil, fmt.Errorf("acr122: open %s: %s: %w", sock, why, err)
	}
	return &port{UnixConn: c.(*net.UnixConn), reader: reader}, nil
}

// port is the socket to pcscd, and the reader the lab encoder is (""
// for any).
type port struct {
	*net.UnixConn
	reader string
}

// splitPort parses a lab encoder's port: the socket, then after a '#'
// the reader's name or the start of it. A path that exists whole is
// the socket, '#' and all.
func splitPort(path string) (sock, reader string) {
	sock, reader, found := strings.Cut(path, "#")
	if !found {
		return path, ""
	}
	if _, err := os.Stat(path); err == nil {
		return path, ""
	}
	return sock, reader
}

// readerOf is the reader p keeps the encoder to; "" is any.
func readerOf(p driver.Port) string {
	if p, ok := p.(*port); ok {
		return p.reader
	}
	return ""
}

// serves reports whether the reader named name is one the encoder may
// use: the port names none, or name is the one it names or starts with
// it.
func (s *session) serves(name string) bool {
	return strings.HasPrefix(name, s.reader)
}

// isSocket reports whether path names a Unix socket.
func isSocket(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode()&os.ModeSocket != 0
}

// Encode writes job onto the MIFARE Classic card on the reader (see the
// package documentation for the steps) and returns its UID as the card
// number. Reader, card and pcscd failures are *driver.Error values. When
// ctx ends first, Encode returns an error that wraps ctx.Err(); if an
// exchange with pcscd was cut off, it closes p (see the package
// documentation), and the pipeline opens the socket again.
func (d *Driver) Encode(ctx context.Context, p driver.Port, job driver.Job) (driver.Card, error) {
	want, err := classic.Blocks(job)
	if err != nil {
		return driver.Card{}, fmt.Errorf("acr122: %w", err)
	}
	if err := d.check(ctx); err != nil {
		return driver.Card{}, err
	}
	s, err := d.begin(ctx, p)
	if err != nil {
		return driver.Card{}, err
	}
	defer s.end()
	c, err := d.encode(s, job, want)
	if err != nil {
		return driver.Card{}, err
	}
	return c, nil
}

// Scan waits (up to CardWait) for a card on the reader and reads what it
// holds, writing nothing: sector 1 opened with the system's key B and
// decoded, or found blank (the transport key opens it), or foreign (a
// technology other than MIFARE Classic, or neither key opens it).
func (d *Driver) Scan(ctx context.Context, p driver.Port) (driver.Scan, error) {
	if err := d.check(ctx); err != nil {
		return driver.Scan{}, err
	}
	s, err := d.begin(ctx, p)
	if err != nil {
		return driver.Scan{}, err
	}
	defer s.end()
	t, err := s.connect()
	if err != nil {
		return driver.Scan{}, err
	}
	out := driver.Scan{Number: t.number, Technology: t.tech, Holds: driver.Foreign}
	if !isClassic(t.tech) {
		return out, nil
	}
	opened, err := s.openSector(d.KeyB)
	switch {
	case err != nil:
		return driver.Scan{}, err
	case opened == byTransportKey:
		out.Holds = driver.Blank
		return out, nil
	case opened == byNeither:
		return out, nil // another system's card
	}
	held, err := s.readCredential()
	if err != nil {
		return driver.Scan{}, err
	}
	out.Holds, out.CardID = classic.Holds(held)
	return out, nil
}

// check refuses a driver that would give up at once or write the
// transport key as a system key, and a ctx already ended.
func (d *Driver) check(ctx context.Context) error {
	if err := d.Timing.validate(); err != nil {
		return fmt.Errorf("acr122: timing: %w", err)
	}
	if d.KeyB == classic.TransportKey || d.KeyA == classic.TransportKey {
		return errors.New("acr122: the system keys must differ from the transport key")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("acr122: %w", err)
	}
	return nil
}

// opening says which key opened the credential sector.
type opening int

const (
	byNeither      opening = iota // another system's card
	bySystemKey                   // a card of this system
	byTransportKey                // a blank card
)

// openSector authenticates the credential sector with the system key B
// first (pn532.md, "What a card holds"); refused, it resets the card (a
// refused authentication halts MIFARE Classic) and tries the transport
// key A.
func (s *session) openSector(keyB classic.Key) (opening, error) {
	ok, err := s.authenticate("authenticate with the system key B", keyTypeB, locSystemB, keyB)
	if err != nil || ok {
		return bySystemKey, err
	}
	if err := s.reset(); err != nil {
		return byNeither, err
	}
	ok, err = s.authenticate("authenticate with the transport key A", keyTypeA, locTransport, classic.TransportKey)
	if err != nil || !ok {
		return byNeither, err
	}
	return byTransportKey, nil
}

// encode opens the credential sector of the card on the reader, checks
// what it holds, writes and verifies.
func (d *Driver) encode(s *session, job driver.Job, want [3][16]byte) (driver.Card, error) {
	t, err := s.connect()
	if err != nil {
		return driver.Card{}, err
	}
	if !isClassic(t.tech) {
		return driver.Card{}, driver.Errorf(driver.IncompatibleCard,
			"card %s is %s (ATR % X): only MIFARE Classic carries this system's credentials", t.number, t.tech, t.atr)
	}

	opened, err := s.openSector(d.KeyB)
	if err != nil {
		return driver.Card{}, err
	}
	if opened == byNeither {
		return driver.Card{}, driver.Errorf(driver.IncompatibleCard,
			"card %s: sector %d opens with neither the system key nor the transport key: a card of another system", t.number, classic.Sector)
	}
	blank := opened == byTransportKey

	if !blank {
		held, err := s.readCredential()
		if err != nil {
			return driver.Card{}, err
		}
		if c, ok := classic.Decode(held); ok && c.Function == driver.Staff {
			return driver.Card{}, driver.Errorf(driver.CannotOverwrite, "card %s holds staff credential %s", t.number, c.CardID)
		}
	}

	for i, b := range want {
		if err := s.writeBlock(classic.BlockHeader+i, b); err != nil {
			return driver.Card{}, err
		}
	}
	if blank {
		if err := s.writeBlock(classic.BlockKeys, classic.Trailer(d.KeyA, d.KeyB)); err != nil {
			return driver.Card{}, err
		}
	}

	// Verify as a fresh reader would: reset, open with the system key,
	// read back.
	if err := s.reset(); err != nil {
		return driver.Card{}, err
	}
	ok, err := s.authenticate("verify: authenticate with the system key B", keyTypeB, locSystemB, d.KeyB)
	if err != nil {
		return driver.Card{}, err
	}
	if !ok {
		return driver.Card{}, driver.Errorf(driver.Device, "verify card %s: the system key does not open sector %d after writing it", t.number, classic.Sector)
	}
	got, err := s.readCredential()
	if err != nil {
		return driver.Card{}, err
	}
	for i := range want {
		if got[i] != want[i] {
			return driver.Card{}, driver.Errorf(driver.Device, "verify card %s: block %d reads % X, wrote % X", t.number, classic.BlockHeader+i, got[i], want[i])
		}
	}
	return driver.Card{Number: t.number, Technology: t.tech, CardID: job.CardID}, nil
}

// session is one Encode or Scan: an application context on the port, and
// the card once connected.
type session struct {
	ctx context.Context
	p   driver.Port
	// reader is the name, or the start of the name, of the readers the
	// encoder may use ("": any; see Open).
	reader string
	t      Timing
	pc     *pcsc.Context
	card   *pcsc.Card
	// halted: the card's last authentication failed and no reset
	// followed, so the card answers no card operation (MIFARE Classic's
	// HALT).
	halted bool
}

// begin establishes an application context with pcscd on p. A failure
// that leaves the stream out of step closes p.
func (d *Driver) begin(ctx context.Context, p driver.Port) (*session, error) {
	s := &session{ctx: ctx, p: p, t: d.Timing, reader: readerOf(p)}
	err := s.call("establish a context with pcscd", func(ctx context.Context) error {
		var err error
		s.pc, err = pcsc.Establish(ctx, p)
		return err
	})
	if err != nil {
		// Establish went out of step or failed before a context existed:
		// nothing to release, and the stream is in an unknown state.
		_ = p.Close()
		return nil, err
	}
	return s, nil
}

// end lets the card go and releases the context, leaving the socket open
// for the next call; when the stream is out of step (an exchange was cut
// off), it closes the port instead, since nothing else can be sent on it.
// It runs even when ctx has ended, within Answer.
func (s *session) end() {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), s.t.Answer)
	defer cancel()
	if s.card != nil && s.pc.Err() == nil {
		// A card left halted would refuse the next host's first
		// authentication: reset it on the way out.
		disp := pcsc.LeaveCard
		if s.halted {
			disp = pcsc.ResetCard
		}
		_ = s.card.Disconnect(ctx, disp)
	}
	if s.pc.Err() == nil && s.pc.Release(ctx) == nil {
		return
	}
	_ = s.p.Close()
}

// call runs f, one exchange with pcscd, with a deadline of Answer from
// now (or ctx's, if earlier), and maps its failure onto the driver's
// kinds.
func (s *session) call(op string, f func(ctx context.Context) error) error {
	dl, _ := driver.Earlier(s.ctx, time.Now().Add(s.t.Answer))
	ctx, cancel := context.WithDeadline(s.ctx, dl)
	defer cancel()
	if err := f(ctx); err != nil {
		return s.failure(op, err)
	}
	return nil
}

// failure maps what pcscd, the socket or the deadline made of op onto
// the driver's kinds (docs/protocols/acr122.md, "Outcomes").
func (s *session) failure(op string, err error) error {
	if cerr := ctxErr(s.ctx); cerr != nil {
		if errors.Is(err, cerr) {
			return fmt.Errorf("acr122: %s: %w", op, err)
		}
		return fmt.Errorf("acr122: %s: %w (%v)", op, cerr, err)
	}
	var scard *pcsc.Error
	var proto *pcsc.ProtocolError
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded):
		// Not wrapped: in driver.Driver's terms only ctx's end wraps a
		// context error, and this deadline is the call's, the reader's.
		return driver.Errorf(driver.NotAnswering, "%s: no answer within %v: the reader hung", op, s.t.Answer)
	case errors.Is(err, pcsc.ErrNoStatusWord):
		return &driver.Error{Kind: driver.Interrupted, Detail: op + ": the card left mid-command", Err: err}
	case errors.As(err, &scard):
		return &driver.Error{Kind: codeKind(scard.Code), Detail: op, Err: err}
	case errors.As(err, &proto):
		return &driver.Error{Kind: driver.Device, Detail: op, Err: err}
	}
	// EOF, a closed or reset socket: pcscd went away, or the port is
	// unusable.
	return driver.HungUp("acr122: "+op, err)
}

// ctxErr is ctx's error, or context.DeadlineExceeded once its deadline
// has passed: a call's deadline that is ctx's fires a moment before ctx
// reports it, and the caller's deadline is not the reader hanging.
func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return nil
}

// codeKind is the kind of a PC/SC call pcscd refused.
func codeKind(c pcsc.Code) driver.Kind {
	switch c {
	case pcsc.ErrNotTransacted, pcsc.WarnRemovedCard, pcsc.ErrNoSmartcard:
		// The card left: vpcd had no card to send to, or pcscd has seen
		// the reader empty since.
		return driver.Interrupted
	case pcsc.ErrReaderUnavailable, pcsc.ErrUnknownReader, pcsc.ErrNoReadersAvailable:
		// The reader went away (unplugged): as with no reader listed.
		return driver.NotAnswering
	case pcsc.WarnUnresponsiveCard, pcsc.WarnUnsupportedCard:
		// pcscd could not power the card: it is nothing the reader can
		// talk to.
		return driver.IncompatibleCard
	case pcsc.ErrSharingViolation:
		return driver.Busy // another application holds the card alone
	}
	return driver.Device
}

// target is the card the driver connected to.
type target struct {
	reader string
	atr    []byte
	tech   string
	number string // the UID in upper-case hex
}

// connect waits for a card, takes a handle on it and reads its UID. A
// card that is gone before the driver did anything to it (pcscd still
// lists the card that left, until its next presence poll) is no card
// yet: the driver lets go of the handle and waits on, until CardWait.
//
// A card gone while pcscd had it powered off (it powers a card down
// ~0.8 s after its last use) fails the connect itself: pcscd powers it
// on, gets no ATR and refuses (unpowered, unresponsive, or no protocol
// to agree on). A card that cannot be powered, or whose ATR makes no
// sense, fails the same way, so the driver waits for pcscd's next look
// at the reader, until CardWait: the card gone, it waits on; still
// there, it is a card the reader cannot use (IncompatibleCard).
func (s *session) connect() (target, error) {
	end := time.Now().Add(s.t.CardWait)
	stale := false
	for {
		r, err := s.waitForCard(end, stale)
		if err != nil {
			return target{}, err
		}
		t, err := s.open(r)
		switch {
		case driver.KindOf(err) == driver.Interrupted:
		case unpowered(err):
			if derr := s.drop(); derr != nil {
				return target{}, derr
			}
			gone, werr := s.leftSince(r, end)
			if werr != nil {
				return target{}, werr
			}
			if !gone {
				return target{}, driver.Errorf(driver.IncompatibleCard, "pcscd cannot power the card in %s, or make sense of its ATR (%v): no card this reader can encode", r.Name, err)
			}
			continue
		default:
			return t, err
		}
		if err := s.drop(); err != nil {
			return target{}, err
		}
		stale = true
	}
}

// unpowered reports a connect pcscd refused because it could not power
// the card or read its ATR.
func unpowered(err error) bool {
	return errors.Is(err, pcsc.WarnUnpoweredCard) || errors.Is(err, pcsc.WarnUnresponsiveCard) || errors.Is(err, pcsc.ErrProtoMismatch)
}

// leftSince reports whether the card pcscd listed in r has left the
// reader (or another came in its place), waiting for pcscd to say until
// end; false at end with the card still listed.
func (s *session) leftSince(r pcsc.Reader, end time.Time) (bool, error) {
	for {
		rs, err := s.readers()
		if err != nil {
			return false, err
		}
		i := slices.IndexFunc(rs, func(x pcsc.Reader) bool { return x.Name == r.Name })
		if i < 0 || !rs[i].Present() || rs[i].EventCounter != r.EventCounter {
			return true, nil
		}
		left := time.Until(end)
		if left <= 0 {
			return false, nil
		}
		dl, _ := driver.Earlier(s.ctx, end.Add(s.t.Answer))
		ctx, cancel := context.WithDeadline(s.ctx, dl)
		_, err = s.pc.WaitChange(ctx, left)
		cancel()
		if err != nil {
			return false, s.failure("wait for the card to be seen again", err)
		}
	}
}

// open takes a handle on the card in reader r and reads its UID.
func (s *session) open(r pcsc.Reader) (target, error) {
	err := s.call("connect to the card in "+r.Name, func(ctx context.Context) error {
		var err error
		s.card, err = s.pc.Connect(ctx, r.Name, pcsc.ShareShared, pcsc.ProtocolAny)
		return err
	})
	if err != nil {
		return target{}, err
	}
	t := target{reader: r.Name, atr: r.ATR}
	if len(t.atr) == 0 {
		// pcscd had not powered the card when it listed it: connected,
		// it has.
		rs, err := s.readers()
		if err != nil {
			return target{}, err
		}
		for _, x := range rs {
			if x.Name == r.Name {
				t.atr = x.ATR
			}
		}
	}
	t.tech = technology(t.atr)
	data, sw, err := s.apdu("get UID", getUID())
	if err != nil {
		return target{}, err
	}
	if sw != swOK {
		return target{}, statusError("get UID", sw)
	}
	if n := len(data); n != 4 && n != 7 && n != 10 {
		return target{}, driver.Errorf(driver.Device, "get UID: % X is no UID (want 4, 7 or 10 bytes)", data)
	}
	t.number = strings.ToUpper(hex.EncodeToString(data))
	return t, nil
}

// drop lets go of the handle on a card that left. pcscd's refusal (the
// card is gone) changes nothing; a stream out of step or ctx's end does.
func (s *session) drop() error {
	k := s.card
	s.card, s.halted = nil, false
	if k == nil {
		return nil
	}
	err := s.call("let go of the card that left", func(ctx context.Context) error {
		return k.Disconnect(ctx, pcsc.LeaveCard)
	})
	var scard *pcsc.Error
	if err == nil || (errors.As(err, &scard) && ctxErr(s.ctx) == nil) {
		return nil
	}
	return err
}

// readers lists pcscd's readers within Answer.
func (s *session) readers() ([]pcsc.Reader, error) {
	var rs []pcsc.Reader
	err := s.call("list the readers", func(ctx context.Context) error {
		var err error
		rs, err = s.pc.Readers(ctx)
		return err
	})
	return rs, err
}

// waitForCard returns the first reader with a card, waiting for pcscd to
// report one until end (NoCard). No reader at all is NotAnswering: the
// reader is unplugged, or pcscd has no driver for it. stale: what pcscd
// listed last is out of date (its card left); wait for a change before
// looking again.
func (s *session) waitForCard(end time.Time, stale bool) (pcsc.Reader, error) {
	names := "the reader"
	for {
		if !stale {
			rs, err := s.readers()
			if err != nil {
				return pcsc.Reader{}, err
			}
			if len(rs) == 0 {
				return pcsc.Reader{}, driver.Errorf(driver.NotAnswering, "pcscd lists no reader: is the ACR122U plugged in?")
			}
			var n []string
			for _, r := range rs {
				if !s.serves(r.Name) {
					continue
				}
				if r.Present() {
					return r, nil
				}
				n = append(n, r.Name)
			}
			if len(n) == 0 {
				all := make([]string, len(rs))
				for i, r := range rs {
					all[i] = strconv.Quote(r.Name)
				}
				return pcsc.Reader{}, driver.Errorf(driver.NotAnswering, "pcscd lists no reader named %q (it lists %s): is the ACR122U plugged in, and is this its name?", s.reader, strings.Join(all, ", "))
			}
			names = "reader " + strings.Join(n, ", ")
		}
		stale = false
		left := time.Until(end)
		if left <= 0 {
			return pcsc.Reader{}, driver.Errorf(driver.NoCard, "no card on %s within %v", names, s.t.CardWait)
		}
		// The wait itself may take until end; pcscd's answers to it,
		// Answer more.
		dl, _ := driver.Earlier(s.ctx, end.Add(s.t.Answer))
		ctx, cancel := context.WithDeadline(s.ctx, dl)
		_, err := s.pc.WaitChange(ctx, left)
		cancel()
		if err != nil {
			return pcsc.Reader{}, s.failure("wait for a card", err)
		}
	}
}

// apdu sends one command APDU and returns the response's data and status
// word.
func (s *session) apdu(op string, cmd []byte) ([]byte, uint16, error) {
	var resp []byte
	err := s.call(op, func(ctx context.Context) error {
		var err error
		resp, err = s.card.Transmit(ctx, cmd)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	n := len(resp)
	return resp[:n-2], uint16(resp[n-2])<<8 | uint16(resp[n-1]), nil
}

// authenticate loads key into location loc, then authenticates the
// credential sector with it as key type kt. false: the card refused the
// key (63 00), and is halted until a reset. The key is loaded right
// before each authentication: the locations are the reader's, volatile,
// and shared by every host of the reader.
func (s *session) authenticate(op string, kt, loc byte, key classic.Key) (bool, error) {
	_, sw, err := s.apdu(op+": load the key", loadKey(loc, key))
	if err != nil {
		return false, err
	}
	if sw != swOK {
		return false, statusError(op+": load the key", sw)
	}
	_, sw, err = s.apdu(op, authenticate(classic.BlockHeader, kt, loc))
	if err != nil {
		return false, err
	}
	switch sw {
	case swOK:
		return true, nil
	case swFailed:
		s.halted = true
		return false, nil
	}
	return false, statusError(op, sw)
}

// reset resets the card (SCardReconnect with SCARD_RESET_CARD), which
// lifts the HALT of a failed authentication and forgets the last good
// one.
func (s *session) reset() error {
	err := s.call("reset the card", func(ctx context.Context) error {
		return s.card.Reconnect(ctx, pcsc.ShareShared, pcsc.ProtocolAny, pcsc.ResetCard)
	})
	if err != nil {
		return err
	}
	s.halted = false
	return nil
}

// readCredential reads blocks 4–6.
func (s *session) readCredential() ([3][16]byte, error) {
	var out [3][16]byte
	for i := range out {
		block := classic.BlockHeader + i
		op := fmt.Sprintf("read block %d", block)
		data, sw, err := s.apdu(op, readBinary(byte(block)))
		if err != nil {
			return out, err
		}
		if sw != swOK {
			return out, statusError(op, sw)
		}
		if len(data) != 16 {
			return out, driver.Errorf(driver.Device, "%s: %d bytes, want 16", op, len(data))
		}
		out[i] = [16]byte(data)
	}
	return out, nil
}

// writeBlock writes one block.
func (s *session) writeBlock(block int, v [16]byte) error {
	op := fmt.Sprintf("write block %d", block)
	_, sw, err := s.apdu(op, updateBinary(byte(block), v))
	if err != nil {
		return err
	}
	if sw != swOK {
		return statusError(op, sw)
	}
	return nil
}

// statusError is a status word other than the one op needed: a Device
// error (docs/protocols/acr122.md, "Outcomes").
func statusError(op string, sw uint16) error {
	if sw == swFailed {
		return driver.Errorf(driver.Device, "%s: the reader answered 63 00 (operation failed)", op)
	}
	return driver.Errorf(driver.Device, "%s: status %02X %02X", op, byte(sw>>8), byte(sw))
}
