package partition

import (
	"sync/atomic"
	"time"
)

// LatencyBounds are the upper bounds of a Latency's buckets, from 10µs to
// 10s in steps of 1, 2.5 and 5; longer observations fall in the last,
// unbounded bucket.
var LatencyBounds = []time.Duration{
	10 * time.Microsecond, 25 * time.Microsecond, 50 * time.Microsecond,
	100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
	10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2500 * time.Millisecond, 5 * time.Second, 10 * time.Second,
}

// Latency is a histogram of durations over LatencyBounds, written by one
// goroutine (the task's) and read by any: each observation is a few
// atomic adds, so it costs the writer next to nothing and needs no lock.
type Latency struct {
	buckets [20]atomic.Int64 // len(LatencyBounds)+1, the last unbounded
	sum     atomic.Int64     // nanoseconds
	max     atomic.Int64     // nanoseconds
}

// Observe adds one duration.
func (l *Latency) Observe(d time.Duration) {
	i := 0
	for i < len(LatencyBounds) && d > LatencyBounds[i] {
		i++
	}
	l.buckets[i].Add(1)
	l.sum.Add(int64(d))
	if int64(d) > l.max.Load() {
		l.max.Store(int64(d)) // one writer: no lost update
	}
}

// Snapshot reads the histogram.
func (l *Latency) Snapshot() LatencySnapshot {
	var s LatencySnapshot
	for i := range l.buckets {
		s.Buckets[i] = l.buckets[i].Load()
		s.Count += s.Buckets[i]
	}
	s.Sum = time.Duration(l.sum.Load())
	s.Max = time.Duration(l.max.Load())
	return s
}

// LatencySnapshot is a Latency read at one moment: observations per bucket
// of LatencyBounds (not cumulative; the last bucket is past the last
// bound), their count, sum and largest.
type LatencySnapshot struct {
	Buckets [20]int64
	Count   int64
	Sum     time.Duration
	Max     time.Duration
}

// Add adds o's observations to s.
func (s *LatencySnapshot) Add(o LatencySnapshot) {
	for i := range s.Buckets {
		s.Buckets[i] += o.Buckets[i]
	}
	s.Count += o.Count
	s.Sum += o.Sum
	s.Max = max(s.Max, o.Max)
}
