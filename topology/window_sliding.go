package topology

import (
	"bytes"
	"errors"
	"fmt"
)

// Sliding windows (Kafka Streams' KStreamSlidingWindowAggregate, KIP-450).
// Only windows that hold records are kept: for each record at t its left
// window [t-d, t], and its right window [t+1, t+1+d] once a later record
// falls in it. A window's stored timestamp is the largest record time in
// it. A new record at t updates every stored window that contains it, and
// creates what is missing: the right window of the record before it (when
// t falls in it), its own left window (starting from the aggregate of the
// nearest window ending before t when the record before it is within d),
// and its own right window (a copy of the nearest window holding records
// after t). Records before d (t < d) share one window [0, d], since
// windows cannot start before 0. The order in which results go out is
// Kafka Streams' with a store that iterates backwards (RocksDB): stored
// windows from the latest start down, then the created ones.

// slideWin is a stored sliding window of a key.
type slideWin[A any] struct {
	start int64
	ts    int64 // the largest record time in the window
	agg   A
	empty bool // no record yet: agg is not set
}

// fetchWindows returns the key's stored windows with start in [from, to],
// by ascending start.
func (a *windowAgg[K, V, A]) fetchWindows(kb []byte, from, to int64) ([]slideWin[A], error) {
	it, err := a.store.Range(WindowKey(kb, from, 0), WindowKey(kb, to+1, 0))
	if err != nil {
		return nil, err
	}
	var out []slideWin[A]
	for it.Next() {
		k, start, _, err := SplitWindowKey(it.Key())
		if err != nil {
			return nil, errors.Join(err, it.Close())
		}
		if !bytes.Equal(k, kb) || start < from || start > to {
			continue // a longer key sharing kb's bytes
		}
		ts, vb, err := SplitTimestamped(it.Value())
		if err != nil {
			return nil, errors.Join(err, it.Close())
		}
		agg, err := a.vs.Deserialize(a.topic, vb)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("deserialize aggregate: %w", err), it.Close())
		}
		out = append(out, slideWin[A]{start: start, ts: ts, agg: agg})
	}
	return out, errors.Join(it.Err(), it.Close())
}

// slide adds r to window w (found: w holds records already) unless the
// window has closed; the result is stored and forwarded.
func (a *windowAgg[K, V, A]) slide(r Record[K, V], kb []byte, w slideWin[A], found bool, closeTime int64) error {
	win := Window{Start: w.start, End: w.start + a.diff}
	if win.End < closeTime {
		RecordDropped(a.ctx, DropLate)
		return nil
	}
	agg := a.step(r.Key, r.Value, w.agg, !w.empty)
	ts := r.Timestamp
	if found {
		ts = max(ts, w.ts)
	}
	var old A
	if found {
		old = w.agg
	}
	return a.put(r.Key, kb, win, w.start, WindowKey(kb, w.start, 0), agg, ts, old, found, r.Headers)
}

// copyWindow stores and forwards w unchanged as the window at start.
func (a *windowAgg[K, V, A]) copyWindow(r Record[K, V], kb []byte, start int64, w slideWin[A]) error {
	win := Window{Start: start, End: start + a.diff}
	var none A
	return a.put(r.Key, kb, win, start, WindowKey(kb, start, 0), w.agg, w.ts, none, false, r.Headers)
}

// fresh is a window about to be created, holding no record yet.
func (a *windowAgg[K, V, A]) fresh(start, ts int64) slideWin[A] {
	return slideWin[A]{start: start, ts: ts, empty: true}
}

func (a *windowAgg[K, V, A]) processSliding(r Record[K, V]) error {
	if r.NullKey || r.NullValue {
		RecordDropped(a.ctx, DropNullKey)
		return nil
	}
	t, d := r.Timestamp, a.diff
	closeTime := a.closeTime()
	if t+1+d <= closeTime { // even the record's right window has closed
		RecordDropped(a.ctx, DropLate)
		return nil
	}
	// Windows this record's stream time closes go out first: a write at a
	// later time may push them past the store's retention.
	if err := a.emitClosed(); err != nil {
		return err
	}
	kb, err := a.ks.Serialize(a.topic, r.Key)
	if err != nil {
		return fmt.Errorf("serialize key: %w", err)
	}
	if t < d {
		return a.slideEarly(r, kb, closeTime)
	}
	wins, err := a.fetchWindows(kb, max(0, t-2*d), t+1)
	if err != nil {
		return err
	}
	starts := map[int64]bool{}
	var left, right *slideWin[A]
	var prev int64
	hasPrev, leftExists, rightExists := false, false, false
walk:
	for i := len(wins) - 1; i >= 0; i-- {
		w := wins[i]
		starts[w.start] = true
		end := w.start + d
		switch {
		case w.start == t+1:
			rightExists = true
		case end > t: // holds t
			if right == nil {
				right = &wins[i]
			}
			if err := a.slide(r, kb, w, true, closeTime); err != nil {
				return err
			}
		case end == t: // the record's left window exists
			leftExists = true
			if err := a.slide(r, kb, w, true, closeTime); err != nil {
				return err
			}
			if w.ts >= t {
				return nil // a record at t came before: nothing to create
			}
			prev, hasPrev = w.ts, true
		default: // ends before t: the nearest such window
			left = &wins[i]
			prev, hasPrev = w.ts, true
			break walk
		}
	}
	// The right window of the record before, when t falls in it.
	if hasPrev && !starts[prev+1] && prev+1+d >= t {
		if err := a.slide(r, kb, a.fresh(prev+1, t), false, closeTime); err != nil {
			return err
		}
	}
	if !leftExists {
		base := a.fresh(t-d, t)
		if hasPrev && t-d <= prev && left != nil {
			base.agg, base.empty = left.agg, false
		}
		if err := a.slide(r, kb, base, false, closeTime); err != nil {
			return err
		}
	}
	if !rightExists && right != nil && right.ts > t {
		return a.copyWindow(r, kb, t+1, *right)
	}
	return nil
}

// slideEarly handles a record at t < d: its left window would start before
// 0, so the records before d share the window [0, d].
func (a *windowAgg[K, V, A]) slideEarly(r Record[K, V], kb []byte, closeTime int64) error {
	t := r.Timestamp
	wins, err := a.fetchWindows(kb, 0, t+1)
	if err != nil {
		return err
	}
	starts := map[int64]bool{}
	var combined, right *slideWin[A]
	var prev int64
	hasPrev, rightExists := false, false
	for i, w := range wins {
		starts[w.start] = true
		switch {
		case w.start == 0:
			combined = &wins[i]
			if w.ts < t {
				prev, hasPrev = w.ts, true
			}
		case w.start <= t:
			right = &wins[i]
			if err := a.slide(r, kb, w, true, closeTime); err != nil {
				return err
			}
		default: // w.start == t+1
			rightExists = true
		}
	}
	// Records after t in [0, d] belong in t's right window too.
	if right == nil && combined != nil && combined.ts > t {
		right = combined
	}
	if !rightExists && right != nil && right.ts > t {
		if err := a.copyWindow(r, kb, t+1, *right); err != nil {
			return err
		}
	}
	if hasPrev && !starts[prev+1] {
		if err := a.slide(r, kb, a.fresh(prev+1, t), false, closeTime); err != nil {
			return err
		}
	}
	if combined == nil {
		return a.slide(r, kb, a.fresh(0, t), false, closeTime)
	}
	return a.slide(r, kb, *combined, true, closeTime)
}
