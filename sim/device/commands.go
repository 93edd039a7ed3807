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

	"github.com/encoderlab/encoderlab/sim/model"
)

// Commands counts the commands a device model has taken, by kind
// ("encode", "read", "cancel"), and the answers it has sent to them, and
// lets a timeline wait for the n-th of either. The zero value is ready to
// use; it is safe for concurrent use.
type Commands struct {
	mu      sync.Mutex
	counts  map[string]int
	answers map[string]int
	// changed is closed (and replaced) whenever a command or an answer
	// is counted.
	changed chan struct{}
}

// Add counts one command of that kind and returns its number (1-based).
func (c *Commands) Add(kind string) int {
	return c.bump(&c.counts, kind)
}

// Answered counts one answer the device sent to a command of that kind
// and returns its number (1-based).
func (c *Commands) Answered(kind string) int {
	return c.bump(&c.answers, kind)
}

func (c *Commands) bump(m *map[string]int, kind string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if *m == nil {
		*m = map[string]int{}
	}
	(*m)[kind]++
	if c.changed != nil {
		close(c.changed)
	}
	c.changed = make(chan struct{})
	return (*m)[kind]
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
	return c.await(ctx, &c.counts, "", kind, n)
}

// AwaitAnswer blocks until the device has sent its n-th answer to a
// command of that kind, or ctx ends. It returns at once if it already has.
func (c *Commands) AwaitAnswer(ctx context.Context, kind string, n int) error {
	return c.await(ctx, &c.answers, "the answer to ", kind, n)
}

func (c *Commands) await(ctx context.Context, m *map[string]int, what, kind string, n int) error {
	if !slices.Contains(model.Commands, kind) {
		return fmt.Errorf("await %s%q: unknown command (want one of %v)", what, kind, model.Commands)
	}
	for {
		c.mu.Lock()
		got := (*m)[kind]
		if c.changed == nil {
			c.changed = make(chan struct{})
		}
		ch := c.changed
		c.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("await %s%s #%d (%d so far): %w", what, kind, n, got, ctx.Err())
		}
	}
}
