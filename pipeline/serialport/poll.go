package serialport

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Poll says, without waiting, whether input is waiting to be read and
// whether the line has hung up (the other side of a pty closed, or the
// device went away): one poll(2) with a zero timeout. A read with a
// deadline cannot tell this quicker than its deadline, and a deadline
// already past fails in Go without asking the kernel.
func (p *Port) Poll() (readable, hungUp bool, err error) {
	rc, err := p.f.SyscallConn()
	if err != nil {
		return false, false, fmt.Errorf("serialport: poll %s: %w", p.path, err)
	}
	var perr error
	cerr := rc.Control(func(fd uintptr) {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for {
			_, perr = unix.Poll(fds, 0)
			if perr != unix.EINTR {
				break
			}
		}
		readable = fds[0].Revents&unix.POLLIN != 0
		hungUp = fds[0].Revents&(unix.POLLHUP|unix.POLLERR|unix.POLLNVAL) != 0
	})
	if err := firstErr(cerr, perr); err != nil {
		return false, false, fmt.Errorf("serialport: poll %s: %w", p.path, err)
	}
	return readable, hungUp, nil
}

// FlushInput discards what the line has received and not yet been read
// (tcflush(TCIFLUSH)), at once.
func (p *Port) FlushInput() error {
	rc, err := p.f.SyscallConn()
	if err != nil {
		return fmt.Errorf("serialport: flush %s: %w", p.path, err)
	}
	var ferr error
	cerr := rc.Control(func(fd uintptr) {
		ferr = unix.IoctlSetInt(int(fd), unix.TCFLSH, unix.TCIFLUSH)
	})
	if err := firstErr(cerr, ferr); err != nil {
		return fmt.Errorf("serialport: flush %s: %w", p.path, err)
	}
	return nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
