package topology

import (
	"bytes"
	"errors"
	"fmt"
	"math"
)

// SessionWindowedKStream is a grouped stream cut into sessions, ready to
// aggregate per key and session.
type SessionWindowedKStream[K, V any] struct {
	g         *KGroupedStream[K, V]
	w         SessionWindows
	emitFinal bool
}

// WindowedBySession cuts the grouped stream into sessions of activity.
func (g *KGroupedStream[K, V]) WindowedBySession(w SessionWindows) *SessionWindowedKStream[K, V] {
	if err := w.validate(); err != nil {
		g.s.b.fail("%v", err)
	}
	return &SessionWindowedKStream[K, V]{g: g, w: w}
}

// EmitOnWindowClose sends one final result per session, once it has closed
// (its end plus gap plus grace is before stream time, as in Kafka Streams),
// instead of every update and merge; see TimeWindowedKStream.EmitOnWindowClose.
func (w *SessionWindowedKStream[K, V]) EmitOnWindowClose() *SessionWindowedKStream[K, V] {
	c := *w
	c.emitFinal = true
	return &c
}

// SessionCount counts the records of each key and session.
//
// As in Kafka Streams, every update of a session goes out as the new
// session's result; when a record extends or merges sessions, each session
// it replaces first goes out as a tombstone (a null value under its old
// window), so a downstream table keeps only live sessions.
func SessionCount[K, V any](w *SessionWindowedKStream[K, V], opts ...StoreOption) *KTable[Windowed[K], int64] {
	return SessionAggregate(w, func() int64 { return 0 }, func(_ K, _ V, agg int64) int64 { return agg + 1 },
		func(_ K, a, b int64) int64 { return a + b }, Int64(), opts...)
}

// SessionReduce combines the values of each key and session with fn, which
// also merges the aggregates of sessions a record joins together.
func SessionReduce[K, V any](w *SessionWindowedKStream[K, V], fn func(agg, v V) V, opts ...StoreOption) *KTable[Windowed[K], V] {
	return sessionAggregate(w, "KSTREAM-REDUCE-", func(_ K, v V, agg V, found bool) V {
		if !found {
			return v
		}
		return fn(agg, v)
	}, func(_ K, a V, aok bool, b V) V {
		if !aok {
			return b
		}
		return fn(a, b)
	}, w.g.s.valueSerde, opts)
}

// SessionAggregate folds the values of each key and session into an
// aggregate of type A, starting from init(); merge combines the aggregates
// of two sessions that a record joins into one.
func SessionAggregate[K, V, A any](w *SessionWindowedKStream[K, V], init func() A, add func(K, V, A) A, merge func(k K, a, b A) A, aggSerde Serde[A], opts ...StoreOption) *KTable[Windowed[K], A] {
	return sessionAggregate(w, "KSTREAM-AGGREGATE-", func(k K, v V, agg A, found bool) A {
		if !found {
			agg = init()
		}
		return add(k, v, agg)
	}, func(k K, a A, aok bool, b A) A {
		if !aok {
			a = init()
		}
		return merge(k, a, b)
	}, orDefault(aggSerde), opts)
}

func sessionAggregate[K, V, A any](w *SessionWindowedKStream[K, V], prefix string, step func(k K, v V, agg A, found bool) A, merge func(k K, a A, aok bool, b A) A, aggSerde Serde[A], opts []StoreOption) *KTable[Windowed[K], A] {
	s := w.g.s
	b := s.b
	cfg := applyStoreOpts(opts)
	procName := b.newName(prefix)
	if cfg.name == "" {
		cfg.name = b.newName(prefix + "STATE-STORE-")
	}
	addTimeKeyedStore(b, &cfg, KindSession, w.w.InactivityGap+w.w.Grace, 0, s.keySerde, aggSerde)
	store := cfg.name
	stores, index := addEmitIndex(b, cfg, w.emitFinal)
	src := s.throughRepartition(store)
	ks := s.keySerde
	gap, grace := w.w.InactivityGap.Milliseconds(), w.w.Grace.Milliseconds()
	n := b.addNode(kindProcessor, procName, []*node{src.node}, func(ctx TaskContext, kids []any) (any, error) {
		kv, ok := ctx.Store(store).(KeyValueStore)
		if !ok {
			return nil, fmt.Errorf("store %q is not a store of this task", store)
		}
		sa := &sessionAgg[K, V, A]{ctx: ctx, store: kv, topic: ChangelogTopicName(ctx.ApplicationID(), store), ks: ks, vs: aggSerde,
			step: step, merge: merge, gap: gap, grace: grace, next: fanout[Windowed[K], Change[A]](kids)}
		if index != "" {
			var err error
			if sa.final, err = openEmitIndex(ctx, index, sa.emitClosed); err != nil {
				return nil, err
			}
		} else {
			// With a record cache, changes go downstream when it flushes.
			sa.cached = forwardWindowsOnFlush(kv, KindSession, sa.topic, ks, aggSerde, 0, sa.next)
		}
		return sa.process, nil
	})
	n.stores = stores
	// Suppression takes a session's grace as gap + grace, as Kafka Streams'
	// GraphGraceSearchUtil does: a session goes out once end + gap + grace
	// is at or before stream time, when the store no longer returns it for
	// a record to join.
	b.windowed[n] = &windowInfo{grace: gap + grace, end: windowEnd[K]}
	return &KTable[Windowed[K], A]{b: b, node: n, keySerde: SessionWindowedSerde(ks), valueSerde: aggSerde}
}

type sessionAgg[K, V, A any] struct {
	ctx        TaskContext
	store      KeyValueStore // a KindSession store: SessionKey keys, aggregate values
	topic      string
	ks         Serde[K]
	vs         Serde[A]
	step       func(k K, v V, agg A, found bool) A
	merge      func(k K, a A, aok bool, b A) A
	gap, grace int64
	next       func(Record[Windowed[K], Change[A]]) error
	final      *closeEmitter
	cached     bool // the store's record cache forwards the changes
}

type session[A any] struct {
	key        []byte // the store key
	start, end int64
	agg        A
}

// findSessions returns the key's sessions that end at or after earliestEnd
// and start at or before latestStart, by ascending end.
func (a *sessionAgg[K, V, A]) findSessions(kb []byte, earliestEnd, latestStart int64) ([]session[A], error) {
	it, err := a.store.Range(SessionKey(kb, 0, max(0, earliestEnd)), SessionKey(kb, math.MaxInt64, math.MaxInt64))
	if err != nil {
		return nil, err
	}
	var out []session[A]
	for it.Next() {
		k, start, end, err := SplitSessionKey(it.Key())
		if err != nil {
			return nil, errors.Join(err, it.Close())
		}
		if !bytes.Equal(k, kb) || start > latestStart || end < earliestEnd {
			continue
		}
		agg, err := a.vs.Deserialize(a.topic, it.Value())
		if err != nil {
			return nil, errors.Join(fmt.Errorf("deserialize aggregate: %w", err), it.Close())
		}
		out = append(out, session[A]{key: it.Key(), start: start, end: end, agg: agg})
	}
	return out, errors.Join(it.Err(), it.Close())
}

// process follows Kafka Streams' KStreamSessionWindowAggregate: the record
// at t merges with every session of its key that ends at or after t-gap and
// starts at or before t+gap (the store returns none that ended gap + grace,
// its retention, or more before stream time); the merged session is late
// (dropped) when its end is before stream time minus grace minus gap, the
// window close time of Kafka Streams.
func (a *sessionAgg[K, V, A]) process(r Record[K, V]) error {
	if r.NullKey || r.NullValue {
		RecordDropped(a.ctx, DropNullKey)
		return nil
	}
	// Sessions this record's stream time closes go out first: a write at
	// a later time may push them past the store's retention.
	if a.final != nil {
		if err := a.emitClosed(); err != nil {
			return err
		}
	}
	kb, err := a.ks.Serialize(a.topic, r.Key)
	if err != nil {
		return fmt.Errorf("serialize key: %w", err)
	}
	t := r.Timestamp
	closeTime := a.ctx.StreamTime() - a.grace - a.gap
	merged, err := a.findSessions(kb, t-a.gap, t+a.gap)
	if err != nil {
		return err
	}
	start, end := t, t
	var agg A
	found := false
	for _, s := range merged {
		agg = a.merge(r.Key, agg, found, s.agg)
		found = true
		start, end = min(start, s.start), max(end, s.end)
	}
	if end < closeTime {
		RecordDropped(a.ctx, DropLate)
		return nil
	}
	if start != t || end != t { // the record joins existing sessions: they go
		for _, s := range merged {
			if err := a.store.Delete(s.key); err != nil {
				return err
			}
			if a.final != nil {
				if err := a.final.close(s.end, s.start, kb); err != nil {
					return err
				}
				continue
			}
			if a.cached {
				continue
			}
			if err := a.next(Record[Windowed[K], Change[A]]{Key: Windowed[K]{Key: r.Key, Window: Window{Start: s.start, End: s.end}},
				Value: Change[A]{Old: s.agg, HasOld: true}, Timestamp: s.end, Headers: r.Headers}); err != nil {
				return err
			}
		}
	}
	agg = a.step(r.Key, r.Value, agg, found)
	vb, err := a.vs.Serialize(a.topic, agg)
	if err != nil {
		return fmt.Errorf("serialize aggregate: %w", err)
	}
	if vb == nil {
		vb = []byte{}
	}
	if err := a.store.Put(SessionKey(kb, start, end), vb); err != nil {
		return err
	}
	if a.final != nil {
		// The index keeps the aggregate too: the store no longer returns
		// a session once end + gap + grace (its retention) is at or before
		// stream time, one tick before the session closes.
		return a.final.openWith(end, start, kb, vb)
	}
	if a.cached {
		return nil
	}
	return a.next(Record[Windowed[K], Change[A]]{Key: Windowed[K]{Key: r.Key, Window: Window{Start: start, End: end}},
		Value: Change[A]{New: agg, HasNew: true}, Timestamp: end, Headers: r.Headers})
}

// emitClosed sends the final result of every session that has closed, as
// Kafka Streams' KStreamSessionWindowAggregate does with emitStrategy
// onWindowClose: every session whose end + gap + grace is before stream
// time.
func (a *sessionAgg[K, V, A]) emitClosed() error {
	return a.final.emit(a.ctx.StreamTime()-a.grace-a.gap-1, func(end, start int64, kb, vb []byte) error {
		k, err := a.ks.Deserialize(a.topic, kb)
		if err != nil {
			return fmt.Errorf("deserialize key: %w", err)
		}
		if vb == nil { // an index entry without the aggregate (older versions)
			if vb, err = a.store.Get(SessionKey(kb, start, end)); err != nil || vb == nil {
				return err // expired by retention: nothing to send
			}
		}
		agg, err := a.vs.Deserialize(a.topic, vb)
		if err != nil {
			return fmt.Errorf("deserialize aggregate: %w", err)
		}
		return a.next(Record[Windowed[K], Change[A]]{Key: Windowed[K]{Key: k, Window: Window{Start: start, End: end}},
			Value: Change[A]{New: agg, HasNew: true}, Timestamp: end})
	})
}
