package acr122

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"syscall"

	"github.com/encoderlab/encoderlab/internal/linkdir"
	"github.com/encoderlab/encoderlab/internal/pcscd"
	"github.com/encoderlab/encoderlab/sim/model"
)

// ReaderName is the virtual reader's name as pcscd lists it (followed by
// pcscd's slot numbers).
const ReaderName = "Encoderlab ACR122U"

// Link is one virtual reader's line: a pcscd of its own whose vpcd reader
// the device is served through. The host opens Path, pcscd's socket.
//
// vpcd ejects the card when its connection closes, and accepts the
// card's next connection at its next presence poll; the device's empty
// answer (its eject) closes the connection. The link hides that: the device serves one stream, the
// device end of a pipe, and the link relays it to one vpcd connection
// after another, whole messages only, so a connection that ends
// mid-message never leaves the device out of step.
type Link struct {
	d   *pcscd.Daemon
	dir string
	log *slog.Logger
	dev net.Conn // the device's end
	rel net.Conn // the relay's end

	mu     sync.Mutex
	conn   net.Conn // the current vpcd connection, nil between two
	links  linkdir.Links
	closed bool

	stop context.CancelFunc
	wg   sync.WaitGroup
}

var _ model.Link = (*Link)(nil)

// Open starts a pcscd with one virtual reader in a new directory and
// relays the device's stream to it. ctx bounds the start only.
func Open(ctx context.Context, log *slog.Logger) (*Link, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// pcscd's socket, <dir>/run/pcscd.comm, must fit a Unix socket
	// address (107 bytes): under a long TMPDIR (a test's) it would not.
	base := os.TempDir()
	if len(base) > 64 {
		base = "/tmp"
	}
	dir, err := os.MkdirTemp(base, "encoderlab-pcscd-")
	if err != nil {
		return nil, fmt.Errorf("acr122: reader directory: %w", err)
	}
	d, err := pcscd.Start(ctx, pcscd.Options{Dir: dir, ReaderName: ReaderName, Logger: log})
	if err != nil {
		if errors.Is(err, pcscd.ErrMissing) || errors.Is(err, syscall.EPERM) {
			// Not installed, or not root: the machine's lack, not the
			// reader's failure.
			err = fmt.Errorf("%w: %w", model.ErrUnavailable, err)
		}
		return nil, errors.Join(fmt.Errorf("acr122: %w", err), os.RemoveAll(dir))
	}
	dev, rel := net.Pipe()
	rctx, stop := context.WithCancel(context.Background())
	l := &Link{d: d, dir: dir, log: log, dev: dev, rel: rel, stop: stop}
	l.wg.Add(2)
	go l.toReader(rctx)
	go l.fromReader(rctx)
	return l, nil
}

// Line is the device's end of the stream.
func (l *Link) Line() model.Line { return l.dev }

// Path is pcscd's socket, where a PC/SC client connects.
func (l *Link) Path() string { return l.d.Socket() }

// Publish makes path a symlink to pcscd's socket.
func (l *Link) Publish(path string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return fmt.Errorf("acr122: publish %s: %w", path, os.ErrClosed)
	}
	return l.links.Publish(l.d.Socket(), path)
}

// Close removes the links, stops pcscd (its clients see their socket
// close, as when a reader is unplugged with its host), stops the relay
// and removes the directory.
func (l *Link) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	errs := []error{l.links.Remove(l.d.Socket())}
	if l.conn != nil {
		l.conn.Close()
	}
	l.mu.Unlock()
	l.stop()
	errs = append(errs, l.d.Close())
	l.dev.Close()
	l.rel.Close()
	l.wg.Wait()
	errs = append(errs, os.RemoveAll(l.dir))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("acr122: close reader: %w", err)
	}
	return nil
}

// fromReader dials vpcd, one connection after another, and relays what
// pcscd sends on each to the device, a whole message at a time.
func (l *Link) fromReader(ctx context.Context) {
	defer l.wg.Done()
	for ctx.Err() == nil {
		conn, err := l.d.DialCard(ctx)
		if err != nil {
			if ctx.Err() == nil {
				l.log.Warn("virtual reader: cannot reach vpcd; the reader stays empty", "err", err)
			}
			return
		}
		if !l.setConn(conn) {
			conn.Close()
			return
		}
		for {
			msg, err := pcscd.ReadMessage(conn)
			if err != nil {
				break // vpcd ejected the card (or pcscd went away)
			}
			if err := pcscd.WriteMessage(l.rel, msg); err != nil {
				conn.Close()
				return // the link is closing
			}
		}
		conn.Close()
		l.setConn(nil)
	}
}

// toReader relays the device's answers to the current vpcd connection,
// a whole message at a time; one with no connection to take it (vpcd
// dropped it meanwhile) is dropped too, as pcscd would never read it.
func (l *Link) toReader(ctx context.Context) {
	defer l.wg.Done()
	for ctx.Err() == nil {
		msg, err := pcscd.ReadMessage(l.rel)
		if err != nil {
			return
		}
		l.mu.Lock()
		conn := l.conn
		l.mu.Unlock()
		if conn == nil {
			continue
		}
		if len(msg) == 0 {
			// The device's eject. vpcd 0.8 waits for the empty answer's
			// payload with recv(MSG_WAITALL) of zero bytes, which blocks
			// until more comes: closing the connection is the eject it
			// notices (a short read of the length).
			conn.Close()
			continue
		}
		if err := pcscd.WriteMessage(conn, msg); err != nil {
			conn.Close()
		}
	}
}

// setConn records the current vpcd connection; false once the link is
// closed.
func (l *Link) setConn(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.conn = c
	return true
}
