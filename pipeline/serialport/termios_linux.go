package serialport

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// baudRates maps line speeds to their termios codes.
var baudRates = map[int]uint32{
	1200:   unix.B1200,
	2400:   unix.B2400,
	4800:   unix.B4800,
	9600:   unix.B9600,
	19200:  unix.B19200,
	38400:  unix.B38400,
	57600:  unix.B57600,
	115200: unix.B115200,
	230400: unix.B230400,
	460800: unix.B460800,
	921600: unix.B921600,
}

// setRaw puts the tty open on fd in raw mode, as cfmakeraw(3) does, with
// the receiver on, modem control lines ignored, and the given speed code.
func setRaw(fd int, speed uint32) error {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		// ENOTTY as a rule; some character devices say EINVAL instead.
		return fmt.Errorf("%w (%w)", ErrNotTerminal, err)
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP |
		unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB | unix.CBAUD
	// CLOCAL: a three-wire encoder cable carries no carrier detect line,
	// and without it reads would wait for one.
	t.Cflag |= unix.CS8 | unix.CREAD | unix.CLOCAL | speed
	t.Ispeed = speed
	t.Ospeed = speed
	// Block until at least one byte is there, with no inter-byte timer:
	// timeouts are deadlines on the poller, not VTIME.
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, t); err != nil {
		return fmt.Errorf("set line settings: %w", err)
	}
	return nil
}
