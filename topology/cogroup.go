package topology

import (
	"fmt"
	"strconv"
)

// CogroupedKStream aggregates several grouped streams, of different value
// types, into one table with one store: Kafka Streams'
// KGroupedStream.cogroup(...).cogroup(...).aggregate(...). Start it with
// Cogroup, add streams with CogroupWith, finish with Aggregate.
type CogroupedKStream[K, A any] struct {
	b        *Builder
	keySerde Serde[K]
	inputs   []cogroupInput[K, A]
}

// cogroupInput adds, for one grouped stream, the aggregating processor that
// writes to the shared store, repartitioning first if needed.
type cogroupInput[K, A any] func(store string, i int, init func() A, aggSerde Serde[A]) *node

// Cogroup starts a cogrouped aggregation with g, whose values add folds into
// the aggregate. Functions rather than methods, since they add types.
func Cogroup[K, V, A any](g *KGroupedStream[K, V], add func(K, V, A) A) *CogroupedKStream[K, A] {
	c := &CogroupedKStream[K, A]{b: g.s.b, keySerde: g.s.keySerde}
	return CogroupWith(c, g, add)
}

// CogroupWith adds grouped stream g, whose values add folds into the
// aggregate, to c. Every stream must be keyed alike (same key type and
// serialization), since they share one store.
func CogroupWith[K, V, A any](c *CogroupedKStream[K, A], g *KGroupedStream[K, V], add func(K, V, A) A) *CogroupedKStream[K, A] {
	if g.s.b != c.b {
		c.b.fail("cogroup: grouped streams come from different builders")
	}
	out := &CogroupedKStream[K, A]{b: c.b, keySerde: c.keySerde, inputs: append(append([]cogroupInput[K, A](nil), c.inputs...), nil)}
	out.inputs[len(out.inputs)-1] = func(store string, i int, init func() A, aggSerde Serde[A]) *node {
		s := g.s
		b := s.b
		src := s.throughRepartition(store + "-" + strconv.Itoa(i))
		ks := c.keySerde
		n := b.addNode(kindProcessor, b.newName("COGROUPKSTREAM-AGGREGATE-"), []*node{src.node}, func(ctx TaskContext, kids []any) (any, error) {
			kv, ok := ctx.Store(store).(KeyValueStore)
			if !ok {
				return nil, fmt.Errorf("store %q is not a key-value store of this task", store)
			}
			ts := NewTypedKeyValueStore(kv, ChangelogTopicName(ctx.ApplicationID(), store), ks, aggSerde)
			next := fanout[K, Change[A]](kids)
			// With a record cache, changes go downstream when it flushes;
			// every input of the cogroup sets the same listener (its
			// children are the merge node).
			cached := forwardOnFlush(kv, ChangelogTopicName(ctx.ApplicationID(), store), ks, aggSerde, next)
			return func(r Record[K, V]) error {
				if r.NullKey || r.NullValue {
					return nil // skipped, as by every stream aggregation
				}
				old, found, err := ts.Get(r.Key)
				if err != nil {
					return err
				}
				agg := old
				if !found {
					agg = init()
				}
				agg = add(r.Key, r.Value, agg)
				if err := ts.Put(r.Key, agg); err != nil || cached {
					return err
				}
				c := Change[A]{New: agg, Old: old, HasNew: true, HasOld: found}
				return next(Record[K, Change[A]]{Key: r.Key, Value: c, Timestamp: r.Timestamp, Headers: r.Headers})
			}, nil
		})
		n.stores = []string{store}
		return n
	}
	return out
}

// Aggregate finishes the cogrouped aggregation: init makes the aggregate of a
// new key, and each record of any of the streams is folded in by its
// stream's function. A nil aggSerde means DefaultSerde. Streams whose key may
// have changed are repartitioned, each through
// "<app>-<store>-<i>-repartition" (i its position in the cogroup); all
// streams must then have the same partition count. Records with a null key
// or value are skipped.
func (c *CogroupedKStream[K, A]) Aggregate(init func() A, aggSerde Serde[A], opts ...StoreOption) *KTable[K, A] {
	b := c.b
	as := orDefault(aggSerde)
	cfg := applyStoreOpts(opts)
	if cfg.name == "" {
		cfg.name = b.newName("COGROUPKSTREAM-AGGREGATE-STATE-STORE-")
	}
	b.addStore(StoreSpec{Name: cfg.name, Engine: cfg.engine, Logging: cfg.logging, Caching: cfg.caching, KeySerde: c.keySerde, ValueSerde: as})
	parents := make([]*node, len(c.inputs))
	for i, in := range c.inputs {
		parents[i] = in(cfg.name, i, init, as)
	}
	n := b.addNode(kindProcessor, b.newName("COGROUPKSTREAM-MERGE-"), parents, func(_ TaskContext, kids []any) (any, error) {
		return fanout[K, Change[A]](kids), nil
	})
	return &KTable[K, A]{b: b, node: n, keySerde: c.keySerde, valueSerde: as, store: cfg.name}
}
