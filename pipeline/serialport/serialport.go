package serialport

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/encoderlab/encoderlab/pipeline/driver"
)

// DefaultBaud is the line speed a zero Mode selects.
const DefaultBaud = 9600

// Mode holds the line settings of a Port. The zero value is 9600 8N1.
type Mode struct {
	// Baud is the line speed in bits per second; 0 means DefaultBaud.
	// SupportedBauds lists the accepted values.
	Baud int
}

// SupportedBauds returns the line speeds Open accepts, in ascending order.
func SupportedBauds() []int {
	bauds := make([]int, 0, len(baudRates))
	for b := range baudRates {
		bauds = append(bauds, b)
	}
	slices.Sort(bauds)
	return bauds
}

// ErrNotTerminal is wrapped by Open's error when the path is not a
// terminal device (a regular file, a pipe, a directory…).
var ErrNotTerminal = errors.New("not a terminal")

// UnsupportedBaudError is wrapped by Open's error when Mode.Baud is not
// one of SupportedBauds.
type UnsupportedBaudError struct {
	Baud int
}

func (e *UnsupportedBaudError) Error() string {
	s := make([]string, 0, len(baudRates))
	for _, b := range SupportedBauds() {
		s = append(s, strconv.Itoa(b))
	}
	return fmt.Sprintf("unsupported baud rate %d: use one of %s", e.Baud, strings.Join(s, ", "))
}

// OpenError reports why Open failed and, where the cause is known, what to
// do about it.
type OpenError struct {
	// Path is the device Open was given.
	Path string
	// Err is the cause: a syscall.Errno, ErrNotTerminal or an
	// *UnsupportedBaudError.
	Err error
	// Hint says what to fix; it may be empty.
	Hint string
}

func (e *OpenError) Error() string {
	msg := "open " + e.Path + ": " + e.Err.Error()
	if e.Hint != "" {
		msg += ": " + e.Hint
	}
	return msg
}

func (e *OpenError) Unwrap() error { return e.Err }

// Port is an open tty in raw mode. Its methods are safe for concurrent use
// by one reader and one writer.
type Port struct {
	f    *os.File
	path string
}

var _ driver.Port = (*Port)(nil)

// Open opens the terminal device at path, puts it in raw mode with the
// line settings of m and returns it ready for reads and writes with
// deadlines.
func Open(path string, m Mode) (*Port, error) {
	baud := m.Baud
	if baud == 0 {
		baud = DefaultBaud
	}
	speed, ok := baudRates[baud]
	if !ok {
		return nil, &OpenError{Path: path, Err: &UnsupportedBaudError{Baud: baud}}
	}

	// O_NONBLOCK keeps open from waiting for carrier on a modem line and
	// lets os.NewFile put the descriptor on the runtime poller; O_NOCTTY
	// keeps the device from becoming this process's controlling terminal.
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, openError(path, err)
	}
	if err := setRaw(fd, speed); err != nil {
		unix.Close(fd)
		return nil, openError(path, err)
	}
	// From here on the descriptor belongs to the poller: calling Fd() on
	// the file would switch it back to blocking mode and break deadlines.
	return &Port{f: os.NewFile(uintptr(fd), path), path: path}, nil
}

// openError attaches a hint to the errors a user can act on.
func openError(path string, err error) error {
	e := &OpenError{Path: path, Err: err}
	switch {
	case errors.Is(err, ErrNotTerminal):
		e.Hint = "give the path of a serial device such as /dev/ttyUSB0 or a pty such as /dev/pts/3"
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		e.Hint = "add the user to the dialout group, or check the device's permissions"
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENXIO), errors.Is(err, unix.ENODEV):
		e.Hint = "check the path and that the encoder or its adapter is plugged in"
	case errors.Is(err, unix.EBUSY):
		e.Hint = "another program holds the port; close it first"
	}
	return e
}

// Path returns the path the port was opened with.
func (p *Port) Path() string { return p.path }

// Read reads up to len(b) bytes, blocking until at least one arrives, the
// read deadline passes (an error for which os.IsTimeout is true), the line
// hangs up (io.EOF) or the port is closed (an error wrapping os.ErrClosed).
func (p *Port) Read(b []byte) (int, error) {
	n, err := p.f.Read(b)
	if err != nil && hungUp(err) {
		// The tty reports a hangup as EIO or as end of file, depending on
		// which side went away; callers see one thing: the stream ended.
		return n, io.EOF
	}
	return n, err
}

// Write writes b, blocking while the tty's output buffer is full until the
// write deadline passes. On a hung-up line it fails with an error wrapping
// io.ErrClosedPipe; after Close, with one wrapping os.ErrClosed.
func (p *Port) Write(b []byte) (int, error) {
	n, err := p.f.Write(b)
	if err != nil && hungUp(err) {
		return n, fmt.Errorf("line hung up: %w: %w", io.ErrClosedPipe, err)
	}
	return n, err
}

func hungUp(err error) bool {
	return err == io.EOF || errors.Is(err, syscall.EIO)
}

// Close closes the port and wakes any pending Read or Write. Closing twice
// returns an error wrapping os.ErrClosed.
func (p *Port) Close() error { return p.f.Close() }

// SetDeadline sets the read and write deadlines; the zero time means none.
func (p *Port) SetDeadline(t time.Time) error { return p.f.SetDeadline(t) }

// SetReadDeadline sets the deadline for pending and future reads.
func (p *Port) SetReadDeadline(t time.Time) error { return p.f.SetReadDeadline(t) }

// SetWriteDeadline sets the deadline for pending and future writes.
func (p *Port) SetWriteDeadline(t time.Time) error { return p.f.SetWriteDeadline(t) }
