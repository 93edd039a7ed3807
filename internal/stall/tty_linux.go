package stall

import (
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// openTTY opens a pseudo-terminal in raw mode, both ends non-blocking on
// the runtime poller.
func openTTY() (master, slave *os.File, err error) {
	mfd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("stall: open /dev/ptmx: %w", err)
	}
	fail := func(err error) (*os.File, *os.File, error) {
		unix.Close(mfd)
		return nil, nil, fmt.Errorf("stall: pty: %w", err)
	}
	if err := unix.IoctlSetPointerInt(mfd, unix.TIOCSPTLCK, 0); err != nil {
		return fail(err)
	}
	n, err := unix.IoctlGetInt(mfd, unix.TIOCGPTN)
	if err != nil {
		return fail(err)
	}
	sfd, err := unix.Open(fmt.Sprintf("/dev/pts/%d", n), unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fail(err)
	}
	t, err := unix.IoctlGetTermios(sfd, unix.TCGETS)
	if err == nil {
		t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
		t.Oflag &^= unix.OPOST
		t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
		t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
		err = unix.IoctlSetTermios(sfd, unix.TCSETS, t)
	}
	if err != nil {
		unix.Close(sfd)
		return fail(err)
	}
	return os.NewFile(uintptr(mfd), "ptmx"), os.NewFile(uintptr(sfd), "pts"), nil
}

// ttyProbe sends one byte across a pty every Period and notes how late
// it arrives. The kernel hands pty input (and a USB serial adapter's) to
// the reading side from a work queue, and a busy machine can hold that
// queue up for hundreds of milliseconds while every thread still gets its
// CPU: the CPU probes do not see it, this one does.
func (m *Meter) ttyProbe(master, slave *os.File) {
	defer m.done.Done()
	var b [64]byte
	for {
		select {
		case <-m.stop:
			return
		case <-time.After(Period):
		}
		sent := time.Now()
		if _, err := master.Write([]byte{'.'}); err != nil {
			return
		}
		if err := slave.SetReadDeadline(sent.Add(ttyWait)); err != nil {
			return
		}
		_, err := slave.Read(b[:])
		if err != nil && !os.IsTimeout(err) {
			return // closed by Stop
		}
		if got := time.Now(); got.Sub(sent) >= Noise {
			m.add(Stall{CPU: TTY, Start: sent, End: got})
		}
	}
}

// ttyWait bounds one byte's wait; a byte later than that is counted as a
// stall of ttyWait and read with the next.
const ttyWait = 5 * time.Second

// startTTYProbe starts the pseudo-terminal probe, or does nothing where
// the system has no pseudo-terminals to spare.
func (m *Meter) startTTYProbe() {
	master, slave, err := openTTY()
	if err != nil {
		return
	}
	m.closers = append(m.closers, master, slave)
	m.done.Add(1)
	go m.ttyProbe(master, slave)
}
