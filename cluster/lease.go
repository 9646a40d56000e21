package cluster

import (
	"sync/atomic"
	"time"
)

// DefaultLease is L, how long a node keeps running its tasks after it last
// confirmed that it had read the decision log to its end (DESIGN.md,
// Cluster, safety rule 3).
const DefaultLease = 2 * time.Second

// Lease is a node's right to run its tasks: valid until a deadline that the
// LogReader pushes forward each time it confirms it has read the decision
// log to its end. A node cut off from the log (from Kafka) stops its tasks
// when the lease runs out, so that by the time a coordinator on the other
// side has moved them, and the grace for the old owner has passed, the old
// owner no longer processes. Task actors check Valid before each chunk of
// records and each commit: it is one atomic load.
//
// The deadline is kept on the monotonic clock, as an offset from the
// lease's creation, so that a wall clock stepped back (NTP) cannot stretch
// it. A new Lease is expired: a node has no right to run anything before it
// has read the log once.
type Lease struct {
	length time.Duration
	base   time.Time    // carries the monotonic reading
	until  atomic.Int64 // nanoseconds after base; 0: never renewed
}

// NewLease returns an expired lease of the given length (DefaultLease if
// length is not positive).
func NewLease(length time.Duration) *Lease {
	if length <= 0 {
		length = DefaultLease
	}
	return &Lease{length: length, base: time.Now()}
}

// Length is L.
func (l *Lease) Length() time.Duration { return l.length }

// Renew extends the lease to confirmedAt + L, where confirmedAt is when the
// read that confirmed the log's end was started (not when it answered: what
// was committed before that moment has been read). A renewal older than the
// current deadline changes nothing.
func (l *Lease) Renew(confirmedAt time.Time) {
	until := int64(confirmedAt.Sub(l.base) + l.length)
	if until <= 0 {
		return
	}
	for {
		cur := l.until.Load()
		if until <= cur || l.until.CompareAndSwap(cur, until) {
			return
		}
	}
}

// Valid says whether tasks may run at now.
func (l *Lease) Valid(now time.Time) bool {
	until := l.until.Load()
	return until > 0 && int64(now.Sub(l.base)) < until
}

// Deadline is when the lease runs out (the zero time if it was never
// renewed).
func (l *Lease) Deadline() time.Time {
	until := l.until.Load()
	if until == 0 {
		return time.Time{}
	}
	return l.base.Add(time.Duration(until))
}
