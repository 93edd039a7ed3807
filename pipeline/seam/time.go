package seam

import (
	"fmt"
	"strings"
	"time"
)

// TimeLayout is how every datetime is written: ISO 8601, UTC, milliseconds
// and a Z, as Seam writes them (its client-side schemas reject offsets).
const TimeLayout = "2006-01-02T15:04:05.000Z"

// Time is a datetime that marshals in TimeLayout.
type Time struct{ time.Time }

// At returns t as a Time truncated to the millisecond, in UTC.
func At(t time.Time) Time { return Time{t.UTC().Truncate(time.Millisecond)} }

// TimePtr returns a pointer to At(t).
func TimePtr(t time.Time) *Time { v := At(t); return &v }

func (t Time) String() string { return t.UTC().Format(TimeLayout) }

// MarshalJSON writes t in TimeLayout.
func (t Time) MarshalJSON() ([]byte, error) {
	return []byte(`"` + t.String() + `"`), nil
}

// UnmarshalJSON reads any RFC 3339 datetime and keeps it in UTC.
func (t *Time) UnmarshalJSON(b []byte) error {
	s := string(b)
	if !strings.HasPrefix(s, `"`) || !strings.HasSuffix(s, `"`) || len(s) < 2 {
		return fmt.Errorf("datetime must be a string, got %s", s)
	}
	v, err := time.Parse(time.RFC3339Nano, s[1:len(s)-1])
	if err != nil {
		return fmt.Errorf("datetime %s: want ISO 8601 such as %q", s, TimeLayout)
	}
	*t = At(v)
	return nil
}
