package pty

import (
	"os"

	"golang.org/x/sys/unix"
)

// setRaw puts the tty open as f in raw mode, as cfmakeraw(3) does, with
// modem control lines ignored. Without it the line discipline would turn
// \n into \r\n, hold bytes until a newline and echo the device's own
// writes back to it.
func setRaw(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ioctlErr error
	err = rc.Control(func(fd uintptr) {
		var t *unix.Termios
		if t, ioctlErr = unix.IoctlGetTermios(int(fd), unix.TCGETS); ioctlErr != nil {
			return
		}
		t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP |
			unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
		t.Oflag &^= unix.OPOST
		t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
		t.Cflag &^= unix.CSIZE | unix.PARENB
		t.Cflag |= unix.CS8 | unix.CREAD | unix.CLOCAL
		t.Cc[unix.VMIN] = 1
		t.Cc[unix.VTIME] = 0
		ioctlErr = unix.IoctlSetTermios(int(fd), unix.TCSETS, t)
	})
	if err != nil {
		return err
	}
	return ioctlErr
}
