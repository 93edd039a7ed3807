package pty

import (
	"errors"
	"fmt"
	"os"
	"sync"

	creack "github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/encoderlab/encoderlab/internal/linkdir"
)

// Pair is an open pseudo-terminal: the master a device model drives, and
// the slave path a client opens.
type Pair struct {
	master *os.File
	slave  *os.File // held so that clients closing the slave do not hang up the line
	tty    string

	mu     sync.Mutex
	links  linkdir.Links
	closed bool
}

// Open allocates a pseudo-terminal, puts it in raw mode and returns the
// pair. The caller must Close it.
func Open() (*Pair, error) {
	m, s, err := creack.Open()
	if err != nil {
		return nil, fmt.Errorf("open pty: %w", err)
	}
	tty := s.Name()
	if err := setRaw(s); err != nil {
		m.Close()
		s.Close()
		return nil, fmt.Errorf("open pty %s: set raw mode: %w", tty, err)
	}
	master, err := pollable(m, tty+" (master)")
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("open pty %s: %w", tty, err)
	}
	return &Pair{master: master, slave: s, tty: tty}, nil
}

// pollable returns a non-blocking duplicate of f, registered with the
// runtime poller, and closes f. creack/pty leaves the master in blocking
// mode, where a pending read pins an OS thread and Close cannot wake it.
func pollable(f *os.File, name string) (*os.File, error) {
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("master: %w", err)
	}
	fd, dupErr := -1, error(nil)
	if err := rc.Control(func(old uintptr) {
		fd, dupErr = unix.FcntlInt(old, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return nil, fmt.Errorf("master: %w", err)
	}
	if dupErr != nil {
		return nil, fmt.Errorf("duplicate master: %w", dupErr)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("set master non-blocking: %w", err)
	}
	// A non-blocking descriptor makes os.NewFile register it with the poller.
	return os.NewFile(uintptr(fd), name), nil
}

// Master returns the device side of the pair. Reads and writes honour
// deadlines; never call its Fd method, which would switch it back to
// blocking mode. After Close its reads and writes fail with os.ErrClosed.
func (p *Pair) Master() *os.File { return p.master }

// TTY returns the path of the slave, the device a client opens, such as
// /dev/pts/7.
func (p *Pair) TTY() string { return p.tty }

// Link publishes path as a symlink to the slave (linkdir.Links.Publish:
// created atomically, in a directory no other user controls). Close
// removes the link if it still points at this pair.
func (p *Pair) Link(path string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return fmt.Errorf("link %s to %s: %w", path, p.tty, os.ErrClosed)
	}
	if err := p.links.Publish(p.tty, path); err != nil {
		return fmt.Errorf("link %s to %s: %w", path, p.tty, err)
	}
	return nil
}

// Close closes the master, which hangs up the line, releases the slave
// and removes the links this pair published that still point at its
// slave (a link another pair has since taken over is left alone). Calls
// after the first return nil.
func (p *Pair) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	var errs []error
	// The links go first: once the pty is closed its number (/dev/pts/N)
	// is free for the next pty anyone opens, and a link still naming it
	// would lead a client that opens the link to that stranger's line
	// (the explorer found a desk's pipeline encoding a card of another
	// desk playing at once, through the link of an unplugged encoder).
	if err := p.links.Remove(p.tty); err != nil {
		errs = append(errs, err)
	}
	if err := p.master.Close(); err != nil {
		errs = append(errs, err)
	}
	if err := p.slave.Close(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("close pty %s: %w", p.tty, errors.Join(errs...))
	}
	return nil
}
