package bench

import (
	"fmt"
	"slices"
	"time"
)

// Summary describes a sample of latencies. A zero Summary (N == 0) is an
// empty sample: its percentiles mean nothing.
type Summary struct {
	N    int           `json:"n"`
	Min  time.Duration `json:"min_ns"`
	P50  time.Duration `json:"p50_ns"`
	P90  time.Duration `json:"p90_ns"`
	P99  time.Duration `json:"p99_ns"`
	Max  time.Duration `json:"max_ns"`
	Mean time.Duration `json:"mean_ns"`
}

// Summarize returns the summary of sample. It sorts a copy; sample is
// left as it is.
func Summarize(sample []time.Duration) Summary {
	if len(sample) == 0 {
		return Summary{}
	}
	s := slices.Clone(sample)
	slices.Sort(s)
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return Summary{
		N:    len(s),
		Min:  s[0],
		P50:  nearestRank(s, 50),
		P90:  nearestRank(s, 90),
		P99:  nearestRank(s, 99),
		Max:  s[len(s)-1],
		Mean: sum / time.Duration(len(s)),
	}
}

// Percentile returns the p-th percentile (0 < p <= 100) of sorted, an
// ascending sample, by the nearest-rank method: the smallest value with
// at least p% of the sample at or below it. It is always a value of the
// sample, never an interpolation between two.
func Percentile(sorted []time.Duration, p float64) (time.Duration, error) {
	switch {
	case len(sorted) == 0:
		return 0, fmt.Errorf("percentile %v of an empty sample", p)
	case !(p > 0 && p <= 100): // also false for NaN
		return 0, fmt.Errorf("percentile %v: want 0 < p <= 100", p)
	}
	return nearestRank(sorted, p), nil
}

// nearestRank is Percentile for a non-empty sample and 0 < p <= 100.
func nearestRank(sorted []time.Duration, p float64) time.Duration {
	// rank = ceil(p/100 * n), computed so that p = 50 of 10 values is
	// rank 5, not 5.000000001 rounded up to 6.
	n := len(sorted)
	rank := int(p * float64(n) / 100)
	if float64(rank)*100 < p*float64(n) {
		rank++
	}
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}
