package device

import (
	"context"
	"time"
)

// Stays reports whether a condition holds for all of d: look returns
// whether it holds now and a channel closed when it may have changed (a
// device's field changing, say). It is false as soon as look says no, or
// when ctx ends first. A card that must stay in the field while a block
// is written is the use.
func Stays(ctx context.Context, d time.Duration, look func() (holds bool, changed <-chan struct{})) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		holds, changed := look()
		if !holds {
			return false
		}
		select {
		case <-changed:
		case <-timer.C:
			return true
		case <-ctx.Done():
			return false
		}
	}
}
