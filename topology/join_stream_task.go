package topology

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
)

// streamJoinTask is one task's stream–stream join: both sides' processors
// call it, so the two share the buffers and what is known of the outer
// store.
//
// Stores:
//
//	buffers[side]: window store, WindowKey(key, time, seq) -> value bytes;
//	  seq tells apart records of one key and time (0, 1, ...).
//	outer: key-value store of the records that joined nothing yet,
//	  [time: 8][side: 1][key][seq: 4] -> value bytes, in time order. A
//	  record's entry has the key bytes and seq of its buffer entry.
type streamJoinTask[K, L, R, VR any] struct {
	ctx     TaskContext
	spec    *streamJoinSpec[K, L, R, VR]
	buffers [2]KeyValueStore
	topics  [2]string // the names the serdes are told: the buffers' changelog topics
	outer   KeyValueStore
	next    func(Record[K, VR]) error
	// time is the join's stream time: the task's, or a later record time
	// seen here.
	time int64
	// minOuter is, per side, a time at or before every entry of that side
	// in the outer store (math.MaxInt64: none); math.MinInt64 until the
	// store was first looked at, so a restarted task looks at once.
	minOuter [2]int64
}

func newStreamJoinTask[K, L, R, VR any](ctx TaskContext, spec *streamJoinSpec[K, L, R, VR], next func(Record[K, VR]) error) (*streamJoinTask[K, L, R, VR], error) {
	j := &streamJoinTask[K, L, R, VR]{ctx: ctx, spec: spec, next: next, time: -1, minOuter: [2]int64{math.MinInt64, math.MinInt64}}
	for i, name := range spec.buffers {
		kv, ok := ctx.Store(name).(KeyValueStore)
		if !ok {
			return nil, fmt.Errorf("store %q is not a key-value store of this task", name)
		}
		j.buffers[i] = kv
		j.topics[i] = ChangelogTopicName(ctx.ApplicationID(), name)
	}
	if spec.outer != "" {
		kv, ok := ctx.Store(spec.outer).(KeyValueStore)
		if !ok {
			return nil, fmt.Errorf("store %q is not a key-value store of this task", spec.outer)
		}
		j.outer = kv
	}
	return j, nil
}

// reach is how far into the future a record of side looks for partners:
// its window closes once stream time passes its time + reach + grace.
func (j *streamJoinTask[K, L, R, VR]) reach(side int) int64 {
	if side == sideLeft {
		return j.spec.after
	}
	return j.spec.before
}

// closed reports whether the window of a record of side at time ts has
// closed at stream time now.
func (j *streamJoinTask[K, L, R, VR]) closed(side int, ts, now int64) bool {
	return ts+j.reach(side)+j.spec.grace < now
}

func (j *streamJoinTask[K, L, R, VR]) emits(side int) bool {
	if side == sideLeft {
		return j.spec.emitsLeft
	}
	return j.spec.emitsRight
}

func (j *streamJoinTask[K, L, R, VR]) processLeft(r Record[K, L]) error {
	if r.NullKey && !r.NullValue && j.spec.emitsLeft {
		j.time = max(j.time, j.ctx.StreamTime(), r.Timestamp)
		var zero R
		return j.next(Record[K, VR]{Key: r.Key, NullKey: true, Value: j.spec.joiner(r.Value, true, zero, false), Timestamp: r.Timestamp, Headers: r.Headers})
	}
	if j.skip(r.NullKey, r.NullValue) {
		return nil
	}
	vb, err := serializeValue(j.spec.ls, j.topics[sideLeft], r.Value)
	if err != nil {
		return err
	}
	return j.process(sideLeft, r.Key, r.Timestamp, r.Headers, vb, func(other []byte) (VR, error) {
		v, err := j.spec.rs.Deserialize(j.topics[sideRight], other)
		if err != nil {
			var zero VR
			return zero, fmt.Errorf("join: deserialize right value: %w", err)
		}
		return j.spec.joiner(r.Value, true, v, true), nil
	})
}

func (j *streamJoinTask[K, L, R, VR]) processRight(r Record[K, R]) error {
	if r.NullKey && !r.NullValue && j.spec.emitsRight {
		j.time = max(j.time, j.ctx.StreamTime(), r.Timestamp)
		var zero L
		return j.next(Record[K, VR]{Key: r.Key, NullKey: true, Value: j.spec.joiner(zero, false, r.Value, true), Timestamp: r.Timestamp, Headers: r.Headers})
	}
	if j.skip(r.NullKey, r.NullValue) {
		return nil
	}
	vb, err := serializeValue(j.spec.rs, j.topics[sideRight], r.Value)
	if err != nil {
		return err
	}
	return j.process(sideRight, r.Key, r.Timestamp, r.Headers, vb, func(other []byte) (VR, error) {
		v, err := j.spec.ls.Deserialize(j.topics[sideLeft], other)
		if err != nil {
			var zero VR
			return zero, fmt.Errorf("join: deserialize left value: %w", err)
		}
		return j.spec.joiner(v, true, r.Value, true), nil
	})
}

// A record with a null key but a value, of a side whose records are kept
// without a partner (the left side of a left join, either side of an outer
// join), goes out at once with no other side, at its own time (KIP-962,
// Kafka Streams 3.7+): it can never find a partner, so there is nothing to
// wait for. It still moves the join's stream time.

// skip drops records without a key or a value: they join nothing.
func (j *streamJoinTask[K, L, R, VR]) skip(nullKey, nullValue bool) bool {
	switch {
	case nullKey:
		RecordDropped(j.ctx, DropNullKey)
	case nullValue:
		RecordDropped(j.ctx, DropNullValue)
	default:
		return false
	}
	return true
}

func serializeValue[V any](s Serde[V], topic string, v V) ([]byte, error) {
	b, err := s.Serialize(topic, v)
	if err != nil {
		return nil, fmt.Errorf("join: serialize value: %w", err)
	}
	if b == nil {
		b = []byte{} // present; nil would delete
	}
	return b, nil
}

// partner is a buffered record of the other side that joins.
type partner struct {
	ts    int64
	seq   uint32
	value []byte
}

// process joins a record of side, with value bytes vb, to the open
// records of the other side in its window, then buffers it. pair makes the
// result of the record with a partner's value bytes.
func (j *streamJoinTask[K, L, R, VR]) process(side int, key K, ts int64, headers []Header, vb []byte, pair func(other []byte) (VR, error)) error {
	now := max(j.time, j.ctx.StreamTime(), ts)
	j.time = now
	if j.closed(side, ts, now) {
		RecordDropped(j.ctx, DropLate)
		return nil
	}
	if err := j.emitClosed(now); err != nil {
		return err
	}
	other := 1 - side
	kb, err := j.spec.ks.Serialize(j.topics[side], key)
	if err != nil {
		return fmt.Errorf("join: serialize key: %w", err)
	}
	okb, err := j.spec.ks.Serialize(j.topics[other], key)
	if err != nil {
		return fmt.Errorf("join: serialize key: %w", err)
	}
	// The other side's records in this record's window: a left record at t
	// looks at right records in [t-before, t+after], a right one at left
	// records in [t-after, t+before].
	back, ahead := j.spec.before, j.spec.after
	if side == sideRight {
		back, ahead = ahead, back
	}
	from, to := max(ts-back, 0), ts+ahead
	var partners []partner
	if from <= to {
		if partners, err = j.fetch(other, okb, from, to, now); err != nil {
			return err
		}
	}
	for _, p := range partners {
		if j.emits(other) {
			// The partner is no longer without a match.
			ok := outerKey(p.ts, other, okb, p.seq)
			if v, err := j.outer.Get(ok); err != nil {
				return err
			} else if v != nil {
				if err := j.outer.Delete(ok); err != nil {
					return err
				}
			}
		}
		v, err := pair(p.value)
		if err != nil {
			return err
		}
		if err := j.next(Record[K, VR]{Key: key, Value: v, Timestamp: max(ts, p.ts), Headers: headers}); err != nil {
			return err
		}
	}
	seq, err := nextSeq(j.buffers[side], kb, ts)
	if err != nil {
		return err
	}
	if err := j.buffers[side].Put(WindowKey(kb, ts, seq), vb); err != nil {
		return err
	}
	if len(partners) == 0 && j.emits(side) {
		if err := j.outer.Put(outerKey(ts, side, kb, seq), vb); err != nil {
			return err
		}
		j.minOuter[side] = min(j.minOuter[side], ts)
	}
	return nil
}

// fetch reads the records of side with key bytes kb and times in
// [from, to] whose windows are open at stream time now, by time and
// sequence number.
func (j *streamJoinTask[K, L, R, VR]) fetch(side int, kb []byte, from, to, now int64) ([]partner, error) {
	it, err := j.buffers[side].Range(WindowKey(kb, from, 0), windowKeyAfter(kb, to))
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var ps []partner
	for it.Next() {
		k, start, seq, err := SplitWindowKey(it.Key())
		// A longer key that starts with kb may sort inside the range.
		if err != nil || !bytes.Equal(k, kb) || start < from || start > to {
			continue
		}
		if j.closed(side, start, now) {
			continue // finished: it may have been emitted without a match
		}
		ps = append(ps, partner{ts: start, seq: seq, value: it.Value()})
	}
	return ps, it.Err()
}

// windowKeyAfter is the smallest window key of kb after every key of kb
// at time to.
func windowKeyAfter(kb []byte, to int64) []byte {
	if to < math.MaxInt64 {
		return WindowKey(kb, to+1, 0)
	}
	return append(WindowKey(kb, to, math.MaxUint32), 0)
}

// nextSeq is the sequence number for a new record of key bytes kb at time
// ts: 0, or one more than the largest in use. It depends only on the
// store's content, so a restored store numbers alike.
func nextSeq(s KeyValueStore, kb []byte, ts int64) (uint32, error) {
	v, err := s.Get(WindowKey(kb, ts, 0))
	if err != nil || v == nil {
		return 0, err
	}
	it, err := s.Range(WindowKey(kb, ts, 0), windowKeyAfter(kb, ts))
	if err != nil {
		return 0, err
	}
	defer it.Close()
	var top uint32
	for it.Next() {
		k, start, seq, err := SplitWindowKey(it.Key())
		if err == nil && start == ts && bytes.Equal(k, kb) {
			top = max(top, seq)
		}
	}
	if err := it.Err(); err != nil {
		return 0, err
	}
	if top == math.MaxUint32 {
		return 0, fmt.Errorf("join: more than %d records of one key at time %d", uint64(math.MaxUint32)+1, ts)
	}
	return top + 1, nil
}

// outerKey lays out an outer store key: [time: 8][side: 1][key][seq: 4].
func outerKey(ts int64, side int, kb []byte, seq uint32) []byte {
	b := make([]byte, 0, 13+len(kb))
	b = binary.BigEndian.AppendUint64(b, uint64(ts))
	b = append(b, byte(side))
	b = append(b, kb...)
	return binary.BigEndian.AppendUint32(b, seq)
}

func splitOuterKey(b []byte) (ts int64, side int, kb []byte, ok bool) {
	if len(b) < 13 || b[8] > sideRight {
		return 0, 0, nil, false
	}
	return int64(binary.BigEndian.Uint64(b)), int(b[8]), b[9 : len(b)-4], true
}

// unmatched is an outer store entry whose window has closed.
type unmatched struct {
	key, kb, value []byte
	ts             int64
	side           int
}

// emitClosed emits, in time order, the records in the outer store whose
// windows have closed at stream time now, and deletes them.
func (j *streamJoinTask[K, L, R, VR]) emitClosed(now int64) error {
	if j.outer == nil {
		return nil
	}
	due := false
	lowest := int64(math.MaxInt64) // the smallest reach of a side that emits
	for side := range 2 {
		if !j.emits(side) {
			continue
		}
		lowest = min(lowest, j.reach(side))
		m := j.minOuter[side]
		due = due || m == math.MinInt64 || m != math.MaxInt64 && j.closed(side, m, now)
	}
	if !due {
		return nil
	}
	// Entries at or after bound cannot have closed for either side.
	bound := now - j.spec.grace - lowest
	it, err := j.outer.Range(nil, nil)
	if err != nil {
		return err
	}
	var done []unmatched
	mins := [2]int64{math.MaxInt64, math.MaxInt64}
	for it.Next() {
		ts, side, kb, ok := splitOuterKey(it.Key())
		if !ok {
			it.Close()
			return fmt.Errorf("join: outer store %s: bad key % x", j.spec.outer, it.Key())
		}
		if ts >= bound {
			mins[0], mins[1] = min(mins[0], ts), min(mins[1], ts)
			break
		}
		if !j.closed(side, ts, now) {
			mins[side] = min(mins[side], ts)
			continue
		}
		done = append(done, unmatched{key: it.Key(), kb: kb, value: it.Value(), ts: ts, side: side})
	}
	err = it.Err()
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	j.minOuter = mins
	for _, u := range done {
		if err := j.emitUnmatched(u); err != nil {
			return err
		}
		if err := j.outer.Delete(u.key); err != nil {
			return err
		}
	}
	return nil
}

func (j *streamJoinTask[K, L, R, VR]) emitUnmatched(u unmatched) error {
	k, err := j.spec.ks.Deserialize(j.topics[u.side], u.kb)
	if err != nil {
		return fmt.Errorf("join: deserialize key: %w", err)
	}
	var l L
	var r R
	if u.side == sideLeft {
		if l, err = j.spec.ls.Deserialize(j.topics[sideLeft], u.value); err != nil {
			return fmt.Errorf("join: deserialize left value: %w", err)
		}
	} else if r, err = j.spec.rs.Deserialize(j.topics[sideRight], u.value); err != nil {
		return fmt.Errorf("join: deserialize right value: %w", err)
	}
	v := j.spec.joiner(l, u.side == sideLeft, r, u.side == sideRight)
	return j.next(Record[K, VR]{Key: k, Value: v, Timestamp: u.ts})
}
