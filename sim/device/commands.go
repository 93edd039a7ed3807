// Package device holds what every device model shares: the count of the
// commands a model has taken, which a scenario's timeline awaits and
// checks. The models themselves live in the sub-packages, one per
// protocol, each written from its protocol page.
package device

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/encoderlab/encoderlab/sim/scenario"
)

// Commands counts the commands a device model has taken, by kind
// ("encode", "read", "cancel"), and lets a timeline wait for the n-th.
// The zero value is ready to use; it is safe for concurrent use.
type Commands struct {
	mu     sync.Mutex
	counts map[string]int
	// arrived is closed (and replaced) whenever a command is counted.
	arrived chan struct{}
}

// Add counts one command of that kind and returns its number (1-based).
func (c *Commands) Add(kind string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counts == nil {
		c.counts = map[string]int{}
	}
	c.counts[kind]++
	if c.arrived != nil {
		close(c.arrived)
	}
	c.arrived = make(chan struct{})
	return c.counts[kind]
}

// Count is how many commands of that kind have been counted.
func (c *Commands) Count(kind string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts[kind]
}

// Await blocks until the n-th command of that kind has been counted, or
// ctx ends. It returns at once if it already was.
func (c *Commands) Await(ctx context.Context, kind string, n int) error {
	if !slices.Contains(scenario.Commands, kind) {
		return fmt.Errorf("await %q: unknown command (want one of %v)", kind, scenario.Commands)
	}
	for {
		c.mu.Lock()
		got := c.counts[kind]
		if c.arrived == nil {
			c.arrived = make(chan struct{})
		}
		ch := c.arrived
		c.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("await %s #%d (received %d): %w", kind, n, got, ctx.Err())
		}
	}
}
