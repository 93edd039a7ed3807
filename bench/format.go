package bench

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// None stands in a cell for a value that was not measured or has no
// meaning (a ratio to a missing limit).
const None = "—"

// Ratio formats value/limit as "0.42×". A missing limit (zero, negative,
// NaN or infinite) or a value that is not a finite number gives None.
func Ratio(value, limit float64) string {
	if !finite(value) || !finite(limit) || limit <= 0 || value < 0 {
		return None
	}
	r := value / limit
	switch {
	case r >= 100:
		return fmt.Sprintf("%.0f×", r)
	case r >= 10:
		return fmt.Sprintf("%.1f×", r)
	default:
		return fmt.Sprintf("%.2f×", r)
	}
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// Duration formats d with three significant digits in the unit that suits
// it: "812 ns", "8.12 µs", "1.25 ms", "2.50 s". A negative d keeps its sign.
func Duration(d time.Duration) string {
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	v, unit := float64(d), "ns"
	switch {
	case d >= time.Second:
		v, unit = v/float64(time.Second), "s"
	case d >= time.Millisecond:
		v, unit = v/float64(time.Millisecond), "ms"
	case d >= time.Microsecond:
		v, unit = v/float64(time.Microsecond), "µs"
	}
	return sign + sig3(v) + " " + unit
}

// sig3 formats v (>= 0) with three significant digits, or as an integer
// from 100 up.
func sig3(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(math.Round(v), 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

// Count formats n with thousands separators: 4095 → "4,095".
func Count(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// Rate formats events per second: thousands separators from 100 up, three
// significant digits below ("4,210/s", "12.5/s"). A rate that is not a
// finite, non-negative number gives None.
func Rate(perSecond float64) string {
	if !finite(perSecond) || perSecond < 0 {
		return None
	}
	if perSecond >= 100 {
		return Count(int64(math.Round(perSecond))) + "/s"
	}
	return sig3(perSecond) + "/s"
}

// Bytes formats a size in bytes as "812 B", "2.93 KiB" or "1.20 MiB".
func Bytes(n float64) string {
	if !finite(n) {
		return None
	}
	sign := ""
	if n < 0 {
		sign, n = "-", -n
	}
	switch {
	case n >= 1<<20:
		return sign + sig3(n/(1<<20)) + " MiB"
	case n >= 1<<10:
		return sign + sig3(n/(1<<10)) + " KiB"
	default:
		return sign + strconv.FormatFloat(math.Round(n), 'f', 0, 64) + " B"
	}
}
