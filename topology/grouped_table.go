package topology

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// KGroupedTable is a table re-keyed for aggregation: every update of the
// table it came from is an update of (up to) two groups, the one its old
// value belonged to and the one its new value belongs to.
type KGroupedTable[K, V any] struct {
	b          *Builder
	node       *node // forwards Record[K, regrouped[K, V]]
	keySerde   Serde[K]
	valueSerde Serde[V]
}

// regrouped is one table update after GroupTableBy: the old (key, value)
// pair, to subtract from the old key's aggregate, and the new one, to add to
// the new key's aggregate.
type regrouped[K, V any] struct {
	OldKey, NewKey K
	Old, New       V
	HasOld, HasNew bool
}

// GroupTableBy re-keys a table for aggregation: fn maps each (key, value) of
// t to the group key and the value to aggregate. Aggregating repartitions by
// the group key through "<app>-<store>-repartition". A function rather than
// a method, since it changes types.
//
// An update of a key of t becomes a subtraction of fn(old) from its old group
// and an addition of fn(new) to its new group; when both land on the same
// group key they travel as one record and are applied together (subtract,
// then add), so the aggregate sends one update (Kafka's KIP-904). A delete
// subtracts only. The serdes of the group key and value are DefaultSerde;
// change them with WithSerdes.
func GroupTableBy[K, V, K2, V2 any](t *KTable[K, V], fn func(K, V) (K2, V2)) *KGroupedTable[K2, V2] {
	n := t.b.addNode(kindProcessor, t.b.newName("KTABLE-SELECT-"), []*node{t.node}, func(_ TaskContext, kids []any) (any, error) {
		next := fanout[K2, regrouped[K2, V2]](kids)
		return func(r Record[K, Change[V]]) error {
			var g regrouped[K2, V2]
			if r.Value.HasOld {
				g.OldKey, g.Old = fn(r.Key, r.Value.Old)
				g.HasOld = true
			}
			if r.Value.HasNew {
				g.NewKey, g.New = fn(r.Key, r.Value.New)
				g.HasNew = true
			}
			if !g.HasOld && !g.HasNew {
				return nil
			}
			k := g.NewKey
			if !g.HasNew {
				k = g.OldKey
			}
			return next(Record[K2, regrouped[K2, V2]]{Key: k, Value: g, Timestamp: r.Timestamp, Headers: r.Headers})
		}, nil
	})
	return &KGroupedTable[K2, V2]{b: t.b, node: n, keySerde: DefaultSerde[K2](), valueSerde: DefaultSerde[V2]()}
}

// WithSerdes sets the serdes of the group key and value, used for the
// repartition topic (and the key for the aggregate's store). Nil keeps the
// current serde.
func (g *KGroupedTable[K, V]) WithSerdes(keySerde Serde[K], valueSerde Serde[V]) *KGroupedTable[K, V] {
	c := *g
	if keySerde != nil {
		c.keySerde = keySerde
	}
	if valueSerde != nil {
		c.valueSerde = valueSerde
	}
	return &c
}

// Count counts the keys of the original table in each group. A group whose
// last member leaves keeps the count 0 (it is not deleted), as in Kafka
// Streams.
func (g *KGroupedTable[K, V]) Count(opts ...StoreOption) *KTable[K, int64] {
	return AggregateTable(g, func() int64 { return 0 },
		func(_ K, _ V, agg int64) int64 { return agg + 1 },
		func(_ K, _ V, agg int64) int64 { return agg - 1 },
		Int64(), opts...)
}

// Reduce combines the values of each group: adder adds a value that joins
// the group (the first value of a group is kept as is), subtractor removes
// one that leaves it. A group whose values all left keeps what subtractor
// made of it.
func (g *KGroupedTable[K, V]) Reduce(adder, subtractor func(agg, v V) V, opts ...StoreOption) *KTable[K, V] {
	return aggregateTable(g, "KTABLE-REDUCE-",
		func(_ K, v V, agg V, found bool) V {
			if !found {
				return v
			}
			return adder(agg, v)
		},
		func(_ K, v V, agg V) V { return subtractor(agg, v) },
		g.valueSerde, opts)
}

// AggregateTable folds the values of each group into an aggregate of type A:
// init makes the aggregate of a new group, adder adds a value that joins the
// group, subtractor removes a value that leaves it (the old value of an
// update or a delete). A nil aggSerde means DefaultSerde. A group whose
// values all left keeps its aggregate (it is not deleted; AggregateTableOrDelete
// can delete it).
func AggregateTable[K, V, A any](g *KGroupedTable[K, V], init func() A, adder, subtractor func(K, V, A) A, aggSerde Serde[A], opts ...StoreOption) *KTable[K, A] {
	return aggregateTable(g, "KTABLE-AGGREGATE-",
		func(k K, v V, agg A, found bool) A {
			if !found {
				agg = init()
			}
			return adder(k, v, agg)
		},
		subtractor, orDefault(aggSerde), opts)
}

// AggregateTableOrDelete is AggregateTable whose adder and subtractor may
// yield no value (false): the group is then deleted from the store and a
// tombstone goes downstream, as when Kafka Streams' adder or subtractor
// returns null (KTableAggregate: the store is put the null aggregate and it
// is forwarded). A subtractor that yields nothing on an update starts the
// group again from init() for the adder, as in Kafka Streams. An adder that
// yields nothing for a new group, or a subtraction from a group that does
// not exist, sends a tombstone too: Kafka Streams forwards the null
// aggregate whether or not it had the group.
func AggregateTableOrDelete[K, V, A any](g *KGroupedTable[K, V], init func() A, adder, subtractor func(K, V, A) (A, bool), aggSerde Serde[A], opts ...StoreOption) *KTable[K, A] {
	return aggregateTableOpt(g, "KTABLE-AGGREGATE-",
		func(k K, v V, agg A, found bool) (A, bool) {
			if !found {
				agg = init()
			}
			return adder(k, v, agg)
		},
		subtractor, orDefault(aggSerde), opts)
}

func aggregateTable[K, V, A any](g *KGroupedTable[K, V], prefix string, add func(k K, v V, agg A, found bool) A, sub func(K, V, A) A, aggSerde Serde[A], opts []StoreOption) *KTable[K, A] {
	return aggregateTableOpt(g, prefix,
		func(k K, v V, agg A, found bool) (A, bool) { return add(k, v, agg, found), true },
		func(k K, v V, agg A) (A, bool) { return sub(k, v, agg), true },
		aggSerde, opts)
}

func aggregateTableOpt[K, V, A any](g *KGroupedTable[K, V], prefix string, add func(k K, v V, agg A, found bool) (A, bool), sub func(K, V, A) (A, bool), aggSerde Serde[A], opts []StoreOption) *KTable[K, A] {
	b := g.b
	cfg := applyStoreOpts(opts)
	procName := b.newName(prefix)
	if cfg.name == "" {
		cfg.name = b.newName(prefix + "STATE-STORE-")
	}
	store := cfg.name
	ks, vs := g.keySerde, g.valueSerde
	b.addStore(StoreSpec{Name: store, Engine: cfg.engine, Logging: cfg.logging, Caching: cfg.caching, KeySerde: ks, ValueSerde: aggSerde})
	topic := TopicRef{Name: store + "-repartition", Internal: true}
	cs := changeSerde[V]{vs}
	sink := b.addNode(kindSink, b.newName("KTABLE-SINK-"), []*node{g.node}, func(ctx TaskContext, _ []any) (any, error) {
		full := topic.FullName(ctx.ApplicationID())
		send := func(key []byte, c Change[V], r Record[K, regrouped[K, V]]) error {
			vb, err := cs.Serialize(full, c)
			if err != nil {
				return err
			}
			return ctx.Send(full, key, vb, r.Timestamp, r.Headers)
		}
		return func(r Record[K, regrouped[K, V]]) error {
			u := r.Value
			var ok, nk []byte
			var err error
			if u.HasOld {
				if ok, err = ks.Serialize(full, u.OldKey); err != nil {
					return fmt.Errorf("serialize key for %s: %w", full, err)
				}
			}
			if u.HasNew {
				if nk, err = ks.Serialize(full, u.NewKey); err != nil {
					return fmt.Errorf("serialize key for %s: %w", full, err)
				}
			}
			switch {
			case u.HasOld && u.HasNew && bytes.Equal(ok, nk):
				return send(nk, Change[V]{New: u.New, Old: u.Old, HasNew: true, HasOld: true}, r)
			case u.HasOld && u.HasNew:
				// Subtract first, as Kafka Streams does.
				if err := send(ok, Change[V]{Old: u.Old, HasOld: true}, r); err != nil {
					return err
				}
				return send(nk, Change[V]{New: u.New, HasNew: true}, r)
			case u.HasOld:
				return send(ok, Change[V]{Old: u.Old, HasOld: true}, r)
			default:
				return send(nk, Change[V]{New: u.New, HasNew: true}, r)
			}
		}, nil
	})
	sink.topics = []TopicRef{topic}
	src := b.addSource(b.newName("KSTREAM-SOURCE-"), topic, func(ctx TaskContext, kids []any) (any, error) {
		next := fanout[K, Change[V]](kids)
		full := topic.FullName(ctx.ApplicationID())
		return func(raw *RawRecord) error {
			r, err := decodeRaw(raw, full, ks, Serde[Change[V]](cs))
			if err == nil && (r.NullKey || r.NullValue) {
				err = errors.New("null key or value in a table repartition topic")
			}
			if err != nil {
				return ctx.DeserializationFailed(raw, err)
			}
			return next(r)
		}, nil
	})
	n := b.addNode(kindProcessor, procName, []*node{src}, func(ctx TaskContext, kids []any) (any, error) {
		kv, ok := ctx.Store(store).(KeyValueStore)
		if !ok {
			return nil, fmt.Errorf("store %q is not a key-value store of this task", store)
		}
		ts := NewTypedKeyValueStore(kv, ChangelogTopicName(ctx.ApplicationID(), store), ks, aggSerde)
		next := fanout[K, Change[A]](kids)
		cached := forwardOnFlush(kv, ChangelogTopicName(ctx.ApplicationID(), store), ks, aggSerde, next) // cache.go
		return func(r Record[K, Change[V]]) error {
			old, found, err := ts.Get(r.Key)
			if err != nil {
				return err
			}
			agg, has := old, found
			if r.Value.HasOld && has {
				agg, has = sub(r.Key, r.Value.Old, agg)
			}
			if r.Value.HasNew {
				agg, has = add(r.Key, r.Value.New, agg, has)
			}
			if !has {
				// The adder or subtractor yielded no value, or a subtraction
				// found no group: delete the group, and send a tombstone, as
				// Kafka Streams' KTableAggregate puts and forwards a null
				// aggregate also for a group it did not have (with a record
				// cache, a delete of what the store never held is dropped).
				if err := ts.Delete(r.Key); err != nil || cached {
					return err
				}
				return next(Record[K, Change[A]]{Key: r.Key, Value: Change[A]{Old: old, HasOld: true}, Timestamp: r.Timestamp, Headers: r.Headers})
			}
			if err := ts.Put(r.Key, agg); err != nil || cached {
				return err
			}
			c := Change[A]{New: agg, Old: old, HasNew: true, HasOld: found}
			return next(Record[K, Change[A]]{Key: r.Key, Value: c, Timestamp: r.Timestamp, Headers: r.Headers})
		}, nil
	})
	n.stores = []string{store}
	return &KTable[K, A]{b: b, node: n, keySerde: ks, valueSerde: aggSerde, store: store}
}

// changeSerde encodes a Change for a table repartition topic: a flags byte
// (1: new value present, 2: old value present), then, when both are present,
// the new value's length (4 bytes, big-endian), the new value and the old
// value; when one is present, just its bytes.
type changeSerde[V any] struct{ inner Serde[V] }

const (
	changeHasNew byte = 1
	changeHasOld byte = 2
)

func (s changeSerde[V]) Serialize(topic string, c Change[V]) ([]byte, error) {
	var flags byte
	var nb, ob []byte
	var err error
	if c.HasNew {
		flags |= changeHasNew
		if nb, err = s.inner.Serialize(topic, c.New); err != nil {
			return nil, fmt.Errorf("serialize new value for %s: %w", topic, err)
		}
	}
	if c.HasOld {
		flags |= changeHasOld
		if ob, err = s.inner.Serialize(topic, c.Old); err != nil {
			return nil, fmt.Errorf("serialize old value for %s: %w", topic, err)
		}
	}
	out := make([]byte, 0, 5+len(nb)+len(ob))
	out = append(out, flags)
	if c.HasNew && c.HasOld {
		out = binary.BigEndian.AppendUint32(out, uint32(len(nb)))
	}
	return append(append(out, nb...), ob...), nil
}

func (s changeSerde[V]) Deserialize(topic string, b []byte) (Change[V], error) {
	var c Change[V]
	if len(b) == 0 {
		return c, errors.New("empty change record")
	}
	flags, rest := b[0], b[1:]
	c.HasNew, c.HasOld = flags&changeHasNew != 0, flags&changeHasOld != 0
	if flags&^(changeHasNew|changeHasOld) != 0 || !c.HasNew && !c.HasOld {
		return c, fmt.Errorf("bad change flags %#x", flags)
	}
	nb, ob := rest, rest
	if c.HasNew && c.HasOld {
		if len(rest) < 4 || uint64(binary.BigEndian.Uint32(rest)) > uint64(len(rest)-4) {
			return c, errors.New("truncated change record")
		}
		n := binary.BigEndian.Uint32(rest)
		nb, ob = rest[4:4+n], rest[4+n:]
	}
	var err error
	if c.HasNew {
		if c.New, err = s.inner.Deserialize(topic, nb); err != nil {
			return c, fmt.Errorf("new value: %w", err)
		}
	}
	if c.HasOld {
		if c.Old, err = s.inner.Deserialize(topic, ob); err != nil {
			return c, fmt.Errorf("old value: %w", err)
		}
	}
	return c, nil
}
