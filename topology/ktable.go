package topology

import (
	"errors"
	"fmt"
)

// Table reads topic as a table: the latest value per key, where a record
// with a null value (a tombstone) deletes its key and records with a null key
// are skipped. Nil serdes mean DefaultSerde.
//
// The table is materialized in a key-value store (named with Named, default
// "<topic>-STATE-STORE-<n>") whose changelog is topic itself, Kafka Streams'
// source-topic optimization: no changelog topic is made, writes are not
// logged again, and a task restores the store by reading its partition of
// topic up to the input offset last committed, then processes from there.
// WithLogging has no effect on it. Records that cannot be deserialized,
// skipped by the deserialization error handler while processing, are skipped
// by restoration too.
//
// The table forwards a Change for every record: the new value (none for a
// delete) and the value it replaced.
//
// With the option Versioned(h) the table keeps its history instead, in a
// versioned store: see VersionedTable.
func Table[K, V any](b *Builder, topic string, keySerde Serde[K], valueSerde Serde[V], opts ...StoreOption) *KTable[K, V] {
	if h, ok := versionedOption(opts); ok {
		return VersionedTable(b, topic, keySerde, valueSerde, h, opts...)
	}
	ks, vs := orDefault(keySerde), orDefault(valueSerde)
	cfg := applyStoreOpts(opts)
	if cfg.name == "" {
		cfg.name = b.newName(topic + "-STATE-STORE-")
	}
	b.addStore(StoreSpec{Name: cfg.name, Engine: cfg.engine, SourceTopic: topic, RestoreCheck: restoreCheck(topic, ks, vs),
		KeySerde: ks, ValueSerde: vs})
	src := sourceStream(b, TopicRef{Name: topic}, ks, vs)
	src.node.extractor = applySourceOpts(b, "table "+topic, ks, vs, opts)
	n := tableSource(b, src.node, cfg.name, topic, ks, vs)
	return &KTable[K, V]{b: b, node: n, keySerde: ks, valueSerde: vs, store: cfg.name}
}

// restoreCheck accepts the records of a source topic that processing does
// not skip: a key that is not null and deserializes, a value that is null or
// deserializes.
func restoreCheck[K, V any](topic string, ks Serde[K], vs Serde[V]) func(key, value []byte) error {
	return func(key, value []byte) error {
		if key == nil {
			return errors.New("null key")
		}
		if _, err := ks.Deserialize(topic, key); err != nil {
			return fmt.Errorf("key: %w", err)
		}
		if value != nil {
			if _, err := vs.Deserialize(topic, value); err != nil {
				return fmt.Errorf("value: %w", err)
			}
		}
		return nil
	}
}

// tableSource adds the processor that keeps a source table's store: it
// writes each record (a null value deletes) and forwards the change.
func tableSource[K, V any](b *Builder, parent *node, store, topic string, ks Serde[K], vs Serde[V]) *node {
	n := b.addNode(kindProcessor, b.newName("KTABLE-SOURCE-"), []*node{parent}, func(ctx TaskContext, kids []any) (any, error) {
		kv, ok := ctx.Store(store).(KeyValueStore)
		if !ok {
			return nil, fmt.Errorf("store %q is not a key-value store of this task", store)
		}
		ts := NewTypedKeyValueStore(kv, topic, ks, vs)
		next := fanout[K, Change[V]](kids)
		return func(r Record[K, V]) error {
			if r.NullKey {
				return nil // a table has no null key; Kafka Streams skips these too
			}
			old, found, err := ts.Get(r.Key)
			if err != nil {
				return err
			}
			if r.NullValue {
				err = ts.Delete(r.Key)
			} else {
				err = ts.Put(r.Key, r.Value)
			}
			if err != nil {
				return err
			}
			c := Change[V]{New: r.Value, HasNew: !r.NullValue, Old: old, HasOld: found}
			return next(Record[K, Change[V]]{Key: r.Key, Value: c, Timestamp: r.Timestamp, Headers: r.Headers})
		}, nil
	})
	n.stores = []string{store}
	return n
}

// WithSerdes returns the same table, serialized with other serdes wherever
// it is written (ToStream().To, GroupTableBy's repartition topic). Nil keeps
// the current serde. The store of a materialized table keeps its serdes.
func (t *KTable[K, V]) WithSerdes(keySerde Serde[K], valueSerde Serde[V]) *KTable[K, V] {
	c := *t
	if keySerde != nil {
		c.keySerde = keySerde
	}
	if valueSerde != nil {
		c.valueSerde = valueSerde
	}
	return &c
}

// deriveTable adds a processor node under t whose output is a table of K, V2.
// The result is not materialized (StoreName is "").
func deriveTable[K, V, V2 any](t *KTable[K, V], prefix string, vs Serde[V2], mk func(next func(Record[K, Change[V2]]) error) func(Record[K, Change[V]]) error) *KTable[K, V2] {
	n := t.b.addNode(kindProcessor, t.b.newName(prefix), []*node{t.node}, func(_ TaskContext, kids []any) (any, error) {
		return mk(fanout[K, Change[V2]](kids)), nil
	})
	return &KTable[K, V2]{b: t.b, node: n, keySerde: t.keySerde, valueSerde: vs}
}

// Filter keeps the keys whose value satisfies keep. An update whose new value
// fails keep becomes a delete downstream when the old value passed (and is
// dropped when neither did), so the filtered table stays exact.
func (t *KTable[K, V]) Filter(keep func(K, V) bool) *KTable[K, V] {
	return t.filter(keep, false)
}

// FilterNot drops the keys whose value satisfies drop; see Filter.
func (t *KTable[K, V]) FilterNot(drop func(K, V) bool) *KTable[K, V] {
	return t.filter(drop, true)
}

func (t *KTable[K, V]) filter(pred func(K, V) bool, not bool) *KTable[K, V] {
	out := deriveTable(t, "KTABLE-FILTER-", t.valueSerde, func(next func(Record[K, Change[V]]) error) func(Record[K, Change[V]]) error {
		return func(r Record[K, Change[V]]) error {
			var c Change[V]
			if r.Value.HasNew && pred(r.Key, r.Value.New) != not {
				c.New, c.HasNew = r.Value.New, true
			}
			if r.Value.HasOld && pred(r.Key, r.Value.Old) != not {
				c.Old, c.HasOld = r.Value.Old, true
			}
			if !c.HasNew && !c.HasOld {
				return nil // the key is not in the filtered table, before or after
			}
			r.Value = c
			return next(r)
		}
	})
	out.getter = mapGetter(t.valueGetter(), func(k K, v V) (V, bool) { return v, pred(k, v) != not })
	return out
}

// MapTableValues turns every value of t into a new value; keys stay. Old
// values are mapped too, so a grouping downstream subtracts what it added.
// A function rather than a method, since it changes the value type.
func MapTableValues[K, V, V2 any](t *KTable[K, V], fn func(K, V) V2) *KTable[K, V2] {
	out := deriveTable(t, "KTABLE-MAPVALUES-", DefaultSerde[V2](), func(next func(Record[K, Change[V2]]) error) func(Record[K, Change[V]]) error {
		return func(r Record[K, Change[V]]) error {
			var c Change[V2]
			if r.Value.HasNew {
				c.New, c.HasNew = fn(r.Key, r.Value.New), true
			}
			if r.Value.HasOld {
				c.Old, c.HasOld = fn(r.Key, r.Value.Old), true
			}
			return next(Record[K, Change[V2]]{Key: r.Key, Value: c, Timestamp: r.Timestamp, Headers: r.Headers})
		}
	})
	out.getter = mapGetter(t.valueGetter(), func(k K, v V) (V2, bool) { return fn(k, v), true })
	return out
}

// Materialize keeps t in a key-value store of its own (named with Named,
// default "KTABLE-MATERIALIZED-STATE-STORE-<n>"; change-logged to
// "<app>-<name>-changelog" unless WithLogging(false)), so that it can be
// queried: a change with a new value puts it, a delete deletes. The result
// forwards the same changes and its StoreName is the new store. Use it after
// Filter or MapTableValues, which do not keep a store themselves (Kafka
// Streams' filter(..., Materialized.as(name))).
func (t *KTable[K, V]) Materialize(opts ...StoreOption) *KTable[K, V] {
	b := t.b
	cfg := applyStoreOpts(opts)
	if cfg.name == "" {
		cfg.name = b.newName("KTABLE-MATERIALIZED-STATE-STORE-")
	}
	store := cfg.name
	ks, vs := t.keySerde, t.valueSerde
	b.addStore(StoreSpec{Name: store, Engine: cfg.engine, Logging: cfg.logging, Caching: cfg.caching, KeySerde: ks, ValueSerde: vs})
	n := b.addNode(kindProcessor, b.newName("KTABLE-MATERIALIZE-"), []*node{t.node}, func(ctx TaskContext, kids []any) (any, error) {
		kv, ok := ctx.Store(store).(KeyValueStore)
		if !ok {
			return nil, fmt.Errorf("store %q is not a key-value store of this task", store)
		}
		ts := NewTypedKeyValueStore(kv, ChangelogTopicName(ctx.ApplicationID(), store), ks, vs)
		next := fanout[K, Change[V]](kids)
		cached := forwardOnFlush(kv, ChangelogTopicName(ctx.ApplicationID(), store), ks, vs, next) // cache.go
		return func(r Record[K, Change[V]]) error {
			var err error
			if r.Value.HasNew {
				err = ts.Put(r.Key, r.Value.New)
			} else {
				err = ts.Delete(r.Key)
			}
			if err != nil || cached {
				return err
			}
			return next(r)
		}, nil
	})
	n.stores = []string{store}
	return &KTable[K, V]{b: b, node: n, keySerde: ks, valueSerde: vs, store: store}
}
