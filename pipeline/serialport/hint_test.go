package serialport

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestOpenErrorHints covers causes a test cannot provoke on every machine
// (running as root bypasses file permissions, for one).
func TestOpenErrorHints(t *testing.T) {
	for _, tc := range []struct {
		cause error
		hint  string
	}{
		{unix.EACCES, "dialout"},
		{unix.EPERM, "dialout"},
		{unix.ENOENT, "plugged in"},
		{unix.ENXIO, "plugged in"},
		{unix.EBUSY, "another program"},
		{ErrNotTerminal, "serial device"},
	} {
		err := openError("/dev/ttyUSB0", tc.cause)
		if !errors.Is(err, tc.cause) {
			t.Errorf("openError(%v) = %v: does not wrap the cause", tc.cause, err)
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "open /dev/ttyUSB0: "+tc.cause.Error()) || !strings.Contains(msg, tc.hint) {
			t.Errorf("openError(%v) = %q; want the path, the cause and a hint mentioning %q", tc.cause, msg, tc.hint)
		}
	}
}
