package topology

import "fmt"

// KGroupedStream is a stream grouped by key, ready to aggregate.
type KGroupedStream[K, V any] struct {
	s *KStream[K, V]
}

// GroupByKey groups the stream by its current key. If the key may have
// changed since the source (Map, SelectKey, FlatMap), aggregating first
// repartitions through the topic "<app>-<store>-repartition".
func (s *KStream[K, V]) GroupByKey() *KGroupedStream[K, V] {
	return &KGroupedStream[K, V]{s: s}
}

// GroupBy groups the stream by a new key; aggregating repartitions by it.
func GroupBy[K, V, K2 any](s *KStream[K, V], fn func(K, V) K2) *KGroupedStream[K2, V] {
	return SelectKey(s, fn).GroupByKey()
}

// WithSerdes sets the serdes used for the repartition topic and the store.
func (g *KGroupedStream[K, V]) WithSerdes(keySerde Serde[K], valueSerde Serde[V]) *KGroupedStream[K, V] {
	return &KGroupedStream[K, V]{s: g.s.WithSerdes(keySerde, valueSerde)}
}

// Count counts records per key into a table.
//
// Like every aggregation of a grouped stream (Count, Reduce, Aggregate,
// Cogroup), it skips records with a null key or a null value, as Kafka
// Streams does: a stream record is an event, not a delete.
func (g *KGroupedStream[K, V]) Count(opts ...StoreOption) *KTable[K, int64] {
	return Aggregate(g, func() int64 { return 0 }, func(_ K, _ V, agg int64) int64 { return agg + 1 }, Int64(), opts...)
}

// Reduce combines the values of each key with fn (the first value of a key is
// kept as is).
func (g *KGroupedStream[K, V]) Reduce(fn func(agg, v V) V, opts ...StoreOption) *KTable[K, V] {
	return aggregate(g, "KSTREAM-REDUCE-", func(_ K, v V, agg V, found bool) V {
		if !found {
			return v
		}
		return fn(agg, v)
	}, g.s.valueSerde, opts)
}

// Aggregate folds the values of each key into an aggregate of type A, starting
// from init() for a new key.
func Aggregate[K, V, A any](g *KGroupedStream[K, V], init func() A, add func(K, V, A) A, aggSerde Serde[A], opts ...StoreOption) *KTable[K, A] {
	return aggregate(g, "KSTREAM-AGGREGATE-", func(k K, v V, agg A, found bool) A {
		if !found {
			agg = init()
		}
		return add(k, v, agg)
	}, orDefault(aggSerde), opts)
}

// AggregateOrDelete is Aggregate whose aggregator may yield no value (ok
// false): the key's group is then deleted from the store and a tombstone
// goes downstream, as a null aggregate does in Kafka Streams'
// KStreamAggregate (which puts and forwards whatever the aggregator
// returns). A new key whose first record yields no value sends a tombstone
// too, as in Kafka Streams; with a record cache, a delete of a group the
// store never held is dropped at the flush.
func AggregateOrDelete[K, V, A any](g *KGroupedStream[K, V], init func() A, add func(K, V, A) (A, bool), aggSerde Serde[A], opts ...StoreOption) *KTable[K, A] {
	return aggregateOrDelete(g, "KSTREAM-AGGREGATE-", func(k K, v V, agg A, found bool) (A, bool) {
		if !found {
			agg = init()
		}
		return add(k, v, agg)
	}, orDefault(aggSerde), opts)
}

func aggregate[K, V, A any](g *KGroupedStream[K, V], prefix string, step func(k K, v V, agg A, found bool) A, aggSerde Serde[A], opts []StoreOption) *KTable[K, A] {
	return aggregateOrDelete(g, prefix, func(k K, v V, agg A, found bool) (A, bool) { return step(k, v, agg, found), true }, aggSerde, opts)
}

func aggregateOrDelete[K, V, A any](g *KGroupedStream[K, V], prefix string, step func(k K, v V, agg A, found bool) (A, bool), aggSerde Serde[A], opts []StoreOption) *KTable[K, A] {
	s := g.s
	b := s.b
	cfg := applyStoreOpts(opts)
	procName := b.newName(prefix)
	if cfg.name == "" {
		cfg.name = b.newName(prefix + "STATE-STORE-")
	}
	b.addStore(StoreSpec{Name: cfg.name, Engine: cfg.engine, Logging: cfg.logging, Caching: cfg.caching, KeySerde: s.keySerde, ValueSerde: aggSerde})
	src := s.throughRepartition(cfg.name)
	ks := s.keySerde
	store := cfg.name
	n := b.addNode(kindProcessor, procName, []*node{src.node}, func(ctx TaskContext, kids []any) (any, error) {
		kv, ok := ctx.Store(store).(KeyValueStore)
		if !ok {
			return nil, fmt.Errorf("store %q is not a key-value store of this task", store)
		}
		ts := NewTypedKeyValueStore(kv, ChangelogTopicName(ctx.ApplicationID(), store), ks, aggSerde)
		next := fanout[K, Change[A]](kids)
		// With a record cache, changes go downstream when it flushes.
		cached := forwardOnFlush(kv, ChangelogTopicName(ctx.ApplicationID(), store), ks, aggSerde, next)
		return func(r Record[K, V]) error {
			if r.NullKey || r.NullValue {
				return nil // skipped, as Kafka Streams does: no key to group by, or nothing to add
			}
			old, found, err := ts.Get(r.Key)
			if err != nil {
				return err
			}
			agg, ok := step(r.Key, r.Value, old, found)
			if !ok {
				// No value: delete the group, a tombstone downstream.
				if err := ts.Delete(r.Key); err != nil || cached {
					return err
				}
				return next(Record[K, Change[A]]{Key: r.Key, Value: Change[A]{Old: old, HasOld: found}, Timestamp: r.Timestamp, Headers: r.Headers})
			}
			if err := ts.Put(r.Key, agg); err != nil || cached {
				return err
			}
			return next(Record[K, Change[A]]{Key: r.Key, Value: Change[A]{New: agg, Old: old, HasNew: true, HasOld: found}, Timestamp: r.Timestamp, Headers: r.Headers})
		}, nil
	})
	n.stores = []string{store}
	return &KTable[K, A]{b: b, node: n, keySerde: ks, valueSerde: aggSerde, store: store}
}
