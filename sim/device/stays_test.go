package device_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/encoderlab/encoderlab/sim/device"
)

// TestStays: true when the condition holds for the whole time, false as
// soon as a change makes it false, and false when ctx ends first.
func TestStays(t *testing.T) {
	var mu sync.Mutex
	holds, changed := true, make(chan struct{})
	look := func() (bool, <-chan struct{}) {
		mu.Lock()
		defer mu.Unlock()
		return holds, changed
	}
	if !device.Stays(context.Background(), 10*time.Millisecond, look) {
		t.Error("a condition that held all along did not stay")
	}

	result := make(chan bool, 1)
	go func() { result <- device.Stays(context.Background(), time.Hour, look) }()
	mu.Lock()
	holds = false
	close(changed)
	changed = make(chan struct{})
	mu.Unlock()
	if <-result {
		t.Error("a condition made false during the hour stayed")
	}

	mu.Lock()
	holds = true
	mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if device.Stays(ctx, time.Hour, look) {
		t.Error("stayed after ctx ended")
	}
}
