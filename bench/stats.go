package bench

import (
	"fmt"
	"slices"
	"time"
)

// Latencies is a set of measured durations.
type Latencies []time.Duration

// Quantile returns the q-quantile (0..1) by the nearest-rank method; zero
// for an empty set.
func (l Latencies) Quantile(q float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := slices.Clone(l)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.999999) - 1
	i = max(0, min(i, len(s)-1))
	return s[i]
}

// Max is the largest duration.
func (l Latencies) Max() time.Duration {
	if len(l) == 0 {
		return 0
	}
	return slices.Max(l)
}

// Summary is p50, p99 and max, rounded for a report line.
func (l Latencies) Summary() string {
	return fmt.Sprintf("p50 %s p99 %s max %s (n=%d)", round(l.Quantile(0.5)), round(l.Quantile(0.99)), round(l.Max()), len(l))
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond)
	case d >= 100*time.Millisecond:
		return d.Round(time.Millisecond)
	default:
		return d.Round(100 * time.Microsecond)
	}
}

// Ratio is ours over bare, or 0 when bare is zero.
func Ratio(ours, bare float64) float64 {
	if bare == 0 {
		return 0
	}
	return ours / bare
}
