package device_test

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/sim/device"
)

// Interrupter wakes a blocked read and write; ClearDeadlines lets the
// line be served again.
func TestInterruptAndClear(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	read, write := make(chan error, 1), make(chan error, 1)
	go func() { _, err := a.Read(make([]byte, 1)); read <- err }()
	go func() { _, err := a.Write([]byte("x")); write <- err }()
	device.Interrupter(a)()
	for what, c := range map[string]chan error{"read": read, "write": write} {
		select {
		case err := <-c:
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("interrupted %s: %v, want a passed deadline", what, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("the %s was not woken", what)
		}
	}
	if err := device.ClearDeadlines(a); err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = b.Write([]byte("y")) }()
	buf := make([]byte, 1)
	if n, err := a.Read(buf); err != nil || n != 1 || buf[0] != 'y' {
		t.Errorf("after ClearDeadlines, Read = %d %q, %v; want \"y\"", n, buf[:n], err)
	}
}
