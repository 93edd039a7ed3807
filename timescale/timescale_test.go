package timescale

import (
	"testing"
	"time"
)

func TestLink(t *testing.T) {
	for _, c := range []struct {
		s    Scale
		d    time.Duration
		want time.Duration
	}{
		{Real, 500 * time.Millisecond, 500 * time.Millisecond},
		{0.5, 500 * time.Millisecond, 250 * time.Millisecond},
		{0.05, 500 * time.Millisecond, LinkFloor}, // 25 ms would be below the floor
		{0.01, 500 * time.Millisecond, LinkFloor},
		{0.01, 20 * time.Millisecond, 20 * time.Millisecond}, // shorter than the floor: never lengthened past itself
		{2, 500 * time.Millisecond, time.Second},
	} {
		if got := c.s.Link(c.d); got != c.want {
			t.Errorf("Scale(%v).Link(%v) = %v, want %v", float64(c.s), c.d, got, c.want)
		}
	}
}
