package device

import (
	"fmt"
	"time"
)

// Line is the least a device model is served on: a pty master, a serial
// port, or one end of net.Pipe. A line that also has SetWriteDeadline
// gets its writes bounded and woken the same way as its reads.
type Line interface {
	SetReadDeadline(t time.Time) error
}

type writeDeadliner interface {
	SetWriteDeadline(t time.Time) error
}

// ClearDeadlines clears the deadlines a line served before may still
// carry from the Serve they ended.
func ClearDeadlines(l Line) error {
	if err := l.SetReadDeadline(time.Time{}); err != nil {
		return fmt.Errorf("clear read deadline: %w", err)
	}
	if wd, ok := l.(writeDeadliner); ok {
		if err := wd.SetWriteDeadline(time.Time{}); err != nil {
			return fmt.Errorf("clear write deadline: %w", err)
		}
	}
	return nil
}

// Interrupter returns a function that wakes every read (and write, where
// the line has write deadlines) blocked on l, and makes the next fail at
// once: a deadline in the past. Serve calls it when its context ends.
func Interrupter(l Line) func() {
	return func() {
		past := time.Unix(1, 0)
		_ = l.SetReadDeadline(past)
		if wd, ok := l.(writeDeadliner); ok {
			_ = wd.SetWriteDeadline(past)
		}
	}
}
