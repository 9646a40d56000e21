package partition

import (
	"testing"
	"time"
)

// TestLatencyBuckets puts durations on, below and past the bounds and
// checks where each lands, with the count, sum and largest.
func TestLatencyBuckets(t *testing.T) {
	var l Latency
	obs := []time.Duration{0, 10 * time.Microsecond, 11 * time.Microsecond, time.Millisecond, 3 * time.Millisecond, time.Minute}
	for _, d := range obs {
		l.Observe(d)
	}
	s := l.Snapshot()
	want := map[int]int64{0: 2, 1: 1, 6: 1, 8: 1, len(LatencyBounds): 1} // bucket index: observations
	for i, n := range s.Buckets {
		if n != want[i] {
			t.Errorf("bucket %d (le %v): %d observations, want %d", i, boundOf(i), n, want[i])
		}
	}
	var sum time.Duration
	for _, d := range obs {
		sum += d
	}
	if s.Count != int64(len(obs)) || s.Sum != sum || s.Max != time.Minute {
		t.Errorf("count %d sum %v max %v, want %d %v %v", s.Count, s.Sum, s.Max, len(obs), sum, time.Minute)
	}
	var total LatencySnapshot
	total.Add(s)
	total.Add(s)
	if total.Count != 2*s.Count || total.Buckets[0] != 4 || total.Max != s.Max {
		t.Errorf("sum of two snapshots: %+v", total)
	}
}

func boundOf(i int) any {
	if i < len(LatencyBounds) {
		return LatencyBounds[i]
	}
	return "+Inf"
}
