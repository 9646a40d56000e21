package topology

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Table–table joins: Kafka Streams' KTable#join/leftJoin/outerJoin(KTable).
// The result is a table, updated whenever either side changes: an update of
// one side looks the key up in the other side's current state (through its
// value getter, join_getter.go) and forwards the new join result and the one
// it replaces, both computed against the other side's current value. A
// result without a new value is a delete (a tombstone after ToStream).
//
// Which updates produce output is Kafka Streams' (KTableKTableInnerJoin,
// KTableKTableLeftJoin, KTableKTableRightJoin, KTableKTableOuterJoin), as
// tabulated in its wiki page "Kafka Streams Join Semantics", section
// KTable-KTable Join:
//
//   - inner: nothing when the other side has no value; otherwise
//     joiner(new, other) or a delete when this side was deleted.
//   - left: a left update with no right value gives joiner(left, none) (a
//     delete if the left value was deleted; nothing if the key was absent
//     before and after); a right update gives nothing without a left value,
//     else joiner(left, right) or joiner(left, none) for a right delete.
//   - outer: like left, symmetrically; a result is a delete only when both
//     sides are gone.
//
// A result carries the larger of the timestamps of both sides' current
// values, as in Kafka Streams (KTableKTable*Join: the update's timestamp
// and that of the other side's ValueAndTimestamp), or the update's own when
// the other side has no value. Eddy's table stores keep no timestamps, so
// the join keeps its own: a key-value store "<name>-timestamps" (name: the
// join's Named, else its first processor's) holding, per side and key, the
// timestamp of the last update the join saw. Every update of a side passes
// through the join, so this is the timestamp of the side's current value.
// A key updated before the store existed has none, and its results take
// the update's timestamp.

// JoinTables joins tables l and r by key (inner join): the result holds
// joiner(l value, r value) for every key both hold. Both must be
// co-partitioned; they form one sub-topology (each side reads the other's
// store). With options (Named, WithEngine, WithLogging, WithCaching) the
// result is materialized in a store of its own (Materialize); otherwise it
// is computed from the two sides' stores when read. Its value serde is
// DefaultSerde[VR]; to materialize with another, call
// WithSerdes(...).Materialize(...) on the result instead.
func JoinTables[K, V, VO, VR any](l *KTable[K, V], r *KTable[K, VO], joiner func(v V, vo VO) VR, opts ...StoreOption) *KTable[K, VR] {
	j := func(v V, _ bool, vo VO, _ bool) VR { return joiner(v, vo) }
	return tableTableJoin(l, r, "KTABLE-JOINTHIS-", "KTABLE-JOINOTHER-", false, false, j, opts)
}

// LeftJoinTables joins l and r by key (left join): the result holds, for
// every key of l, joiner(l value, r value, found), found false (and the r
// value the zero value) when r does not hold the key. See JoinTables.
func LeftJoinTables[K, V, VO, VR any](l *KTable[K, V], r *KTable[K, VO], joiner func(v V, vo VO, found bool) VR, opts ...StoreOption) *KTable[K, VR] {
	j := func(v V, _ bool, vo VO, ok bool) VR { return joiner(v, vo, ok) }
	return tableTableJoin(l, r, "KTABLE-LEFTTHIS-", "KTABLE-LEFTOTHER-", true, false, j, opts)
}

// OuterJoinTables joins l and r by key (outer join): the result holds, for
// every key of either, joiner(l value, lok, r value, rok), where a missing
// side has its flag false and the zero value. See JoinTables.
func OuterJoinTables[K, V, VO, VR any](l *KTable[K, V], r *KTable[K, VO], joiner func(v V, lok bool, vo VO, rok bool) VR, opts ...StoreOption) *KTable[K, VR] {
	return tableTableJoin(l, r, "KTABLE-OUTERTHIS-", "KTABLE-OUTEROTHER-", true, true, joiner, opts)
}

// tableTableJoin builds both sides' processors and their merge. leftOuter
// keeps left values without a right partner, rightOuter right values
// without a left one; joiner gets each side's value and whether it has one.
func tableTableJoin[K, V, VO, VR any](l *KTable[K, V], r *KTable[K, VO], thisPrefix, otherPrefix string, leftOuter, rightOuter bool, joiner func(V, bool, VO, bool) VR, opts []StoreOption) *KTable[K, VR] {
	b := l.b
	if r.b != b {
		b.fail("join: tables come from different builders")
		return &KTable[K, VR]{b: b, node: l.node, keySerde: l.keySerde, valueSerde: DefaultSerde[VR]()}
	}
	l, r = l.joinable(), r.joinable()
	lget, rget := l.valueGetter(), r.valueGetter()
	reverse := func(vo VO, rok bool, v V, lok bool) VR { return joiner(v, lok, vo, rok) }
	thisName, otherName := b.newName(thisPrefix), b.newName(otherPrefix)
	cfg := applyStoreOpts(opts)
	ts := joinTimes[K]{ks: l.keySerde, store: thisName + "-timestamps"}
	if cfg.name != "" {
		ts.store = cfg.name + "-timestamps"
	}
	b.addStore(StoreSpec{Name: ts.store, Engine: cfg.engine, Logging: cfg.logging})
	this := joinSide(b, thisName, l.node, rget, ts, sideLeft, leftOuter, rightOuter, joiner)
	other := joinSide(b, otherName, r.node, lget, ts, sideRight, rightOuter, leftOuter, reverse)
	merge := b.addNode(kindProcessor, b.newName("KTABLE-MERGE-"), []*node{this, other}, func(_ TaskContext, kids []any) (any, error) {
		return fanout[K, Change[VR]](kids), nil
	})
	out := &KTable[K, VR]{b: b, node: merge, keySerde: l.keySerde, valueSerde: DefaultSerde[VR]()}
	out.getter = joinGetter(lget, rget, leftOuter, rightOuter, joiner)
	if len(opts) > 0 {
		return out.Materialize(opts...)
	}
	return out
}

// joinSide adds the processor for updates of one side ("this"): it reads
// the other side through get. keepThis: a value of this side joins without
// a partner (this side is outer); keepOther: a value of the other side
// does. joiner takes this side's value first.
func joinSide[K, V, VO, VR any](b *Builder, name string, parent *node, get *tableGetter[K, VO], times joinTimes[K], side int, keepThis, keepOther bool, joiner func(V, bool, VO, bool) VR) *node {
	n := b.addNode(kindProcessor, name, []*node{parent}, func(ctx TaskContext, kids []any) (any, error) {
		lookup, err := get.make(ctx)
		if err != nil {
			return nil, err
		}
		tt, err := times.open(ctx)
		if err != nil {
			return nil, err
		}
		next := fanout[K, Change[VR]](kids)
		return func(rec Record[K, Change[V]]) error {
			c := rec.Value
			otherTs, err := tt.update(side, rec.Key, rec.Timestamp, c.HasNew)
			if err != nil {
				return err
			}
			other, ok, err := lookup(rec.Key)
			if err != nil {
				return err
			}
			resultTs := rec.Timestamp
			if ok && otherTs > resultTs {
				resultTs = otherTs
			}
			var out Change[VR]
			switch {
			case !ok && !keepThis:
				return nil // nothing joins without the other side
			case !ok && !c.HasNew && !c.HasOld:
				return nil // a delete of a key neither side holds
			case ok && !keepOther:
				// This side is needed: a missing new or old value of this
				// side is a missing result.
				if c.HasNew {
					out.New, out.HasNew = joiner(c.New, true, other, true), true
				}
				if c.HasOld {
					out.Old, out.HasOld = joiner(c.Old, true, other, true), true
				}
			case ok:
				// The other side's value joins alone: every update
				// of this side, even a delete, has a result.
				out.New, out.HasNew = joiner(c.New, c.HasNew, other, true), true
				out.Old, out.HasOld = joiner(c.Old, c.HasOld, other, true), true
			default: // no other value, this side is outer
				if c.HasNew {
					out.New, out.HasNew = joiner(c.New, true, other, false), true
				}
				if c.HasOld {
					out.Old, out.HasOld = joiner(c.Old, true, other, false), true
				}
			}
			return next(Record[K, Change[VR]]{Key: rec.Key, Value: out, Timestamp: resultTs, Headers: rec.Headers})
		}, nil
	})
	n.stores = append(append([]string(nil), get.stores...), times.store)
	return n
}

// joinTimes is a table–table join's store of the timestamps of both sides'
// current values: [side: 1][key] -> [timestamp: 8].
type joinTimes[K any] struct {
	ks    Serde[K]
	store string
}

type openJoinTimes[K any] struct {
	joinTimes[K]
	kv    KeyValueStore
	topic string
}

func (j joinTimes[K]) open(ctx TaskContext) (*openJoinTimes[K], error) {
	kv, ok := ctx.Store(j.store).(KeyValueStore)
	if !ok {
		return nil, fmt.Errorf("store %q is not a key-value store of this task", j.store)
	}
	return &openJoinTimes[K]{joinTimes: j, kv: kv, topic: ChangelogTopicName(ctx.ApplicationID(), j.store)}, nil
}

// update records the timestamp of side's value of k (or that it has none),
// and returns the other side's (math.MinInt64: none known).
func (o *openJoinTimes[K]) update(side int, k K, ts int64, hasValue bool) (int64, error) {
	kb, err := o.ks.Serialize(o.topic, k)
	if err != nil {
		return 0, fmt.Errorf("join: serialize key: %w", err)
	}
	key := append([]byte{byte(side)}, kb...)
	if hasValue {
		err = o.kv.Put(key, binary.BigEndian.AppendUint64(nil, uint64(ts)))
	} else {
		err = o.kv.Delete(key)
	}
	if err != nil {
		return 0, err
	}
	key[0] = byte(1 - side)
	v, err := o.kv.Get(key)
	if err != nil || len(v) != 8 {
		return math.MinInt64, err
	}
	return int64(binary.BigEndian.Uint64(v)), nil
}

// joinGetter reads a join result that keeps no store from both sides'
// getters (Kafka Streams' KTableKTable*JoinValueGetter).
func joinGetter[K, V, VO, VR any](lget *tableGetter[K, V], rget *tableGetter[K, VO], leftOuter, rightOuter bool, joiner func(V, bool, VO, bool) VR) *tableGetter[K, VR] {
	return &tableGetter[K, VR]{stores: unionStores(lget.stores, rget.stores), make: func(ctx TaskContext) (getFunc[K, VR], error) {
		lg, err := lget.make(ctx)
		if err != nil {
			return nil, err
		}
		rg, err := rget.make(ctx)
		if err != nil {
			return nil, err
		}
		return func(k K) (VR, bool, error) {
			var zero VR
			v, lok, err := lg(k)
			if err != nil || (!lok && !rightOuter) {
				return zero, false, err
			}
			vo, rok, err := rg(k)
			if err != nil || (!rok && !leftOuter) || (!lok && !rok) {
				return zero, false, err
			}
			return joiner(v, lok, vo, rok), true, nil
		}, nil
	}}
}
