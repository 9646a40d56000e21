package topology

import (
	"fmt"
	"math"
	"time"
)

// Versioned makes a source table keep its history in a versioned store
// (KindVersioned) with the given history retention: Kafka Streams'
// Materialized.as(Stores.persistentVersionedKeyValueStore(name,
// historyRetention)). Only Table takes it (VersionedTable is the same);
// the stores of aggregations and Materialize are not versioned and ignore
// it. See versioned_store.go for what a versioned store keeps, and
// VersionedTable for how the table behaves.
func Versioned(historyRetention time.Duration) StoreOption {
	return versionedOpt{history: historyRetention}
}

type versionedOpt struct{ history time.Duration }

func (versionedOpt) applyStore(*storeCfg) {}

// versionedOption finds a Versioned option among opts.
func versionedOption(opts []StoreOption) (time.Duration, bool) {
	var h time.Duration
	found := false
	for _, o := range opts {
		if v, ok := o.(versionedOpt); ok {
			h, found = v.history, true
		}
	}
	return h, found
}

// VersionedTable reads topic as a table kept in a versioned store with
// history retention historyRetention (Kafka Streams' builder.table with a
// versioned store supplier, KIP-889 and KIP-914). Every record is written
// as a version at its timestamp, and a null value as a delete at its
// timestamp:
//
//   - a record at or after the key's latest timestamp is the new latest
//     value, and the table forwards the change as Table does;
//   - an older (out-of-order) record only fills in history: it is found by
//     lookups as of its time (JoinTable) but is not forwarded,
//     since the table's latest value did not change (Kafka Streams forwards
//     it marked not-latest, and its table operators ignore it);
//   - a record older than the history retention behind the store's observed
//     stream time is dropped (RecordDropped with DropExpired), as Kafka
//     Streams' versioned store refuses the write.
//
// The store (named with Named, default "<topic>-STATE-STORE-<n>") has a
// changelog topic of its own, "<app>-<name>-changelog": Table's use of the
// source topic as changelog does not apply, because the store holds
// versions, not the topic's records. WithEngine and WithLogging apply;
// Table(b, topic, ks, vs, Versioned(h)) is the same call.
func VersionedTable[K, V any](b *Builder, topic string, keySerde Serde[K], valueSerde Serde[V], historyRetention time.Duration, opts ...StoreOption) *KTable[K, V] {
	ks, vs := orDefault(keySerde), orDefault(valueSerde)
	cfg := applyStoreOpts(opts)
	if cfg.name == "" {
		cfg.name = b.newName(topic + "-STATE-STORE-")
	}
	if historyRetention < time.Millisecond {
		b.fail("versioned table %s: history retention %v must be at least 1ms", topic, historyRetention)
	}
	if cfg.caching {
		b.fail("versioned table %s: WithCaching is not supported on versioned stores", topic)
	}
	store := cfg.name
	b.addStore(StoreSpec{Name: store, Engine: cfg.engine, Kind: KindVersioned, Retention: historyRetention,
		Logging: cfg.logging, KeySerde: ks, ValueSerde: vs})
	src := sourceStream(b, TopicRef{Name: topic}, ks, vs)
	src.node.extractor = applySourceOpts(b, "table "+topic, ks, vs, opts)
	n := b.addNode(kindProcessor, b.newName("KTABLE-SOURCE-"), []*node{src.node}, func(ctx TaskContext, kids []any) (any, error) {
		kv, ok := ctx.Store(store).(KeyValueStore)
		if !ok {
			return nil, fmt.Errorf("store %q is not a key-value store of this task", store)
		}
		vstore := NewVersionedKeyValueStore(kv, ChangelogTopicName(ctx.ApplicationID(), store), ks, vs, historyRetention)
		next := fanout[K, Change[V]](kids)
		return func(r Record[K, V]) error {
			if r.NullKey {
				RecordDropped(ctx, DropNullKey)
				return nil
			}
			old, hadOld, err := vstore.Get(r.Key)
			if err != nil {
				return err
			}
			var validTo int64
			if r.NullValue {
				validTo, ok, err = vstore.PutNull(r.Key, r.Timestamp)
			} else {
				validTo, ok, err = vstore.Put(r.Key, r.Value, r.Timestamp)
			}
			switch {
			case err != nil:
				return err
			case !ok:
				RecordDropped(ctx, DropExpired)
				return nil
			case validTo != math.MaxInt64:
				return nil // history only: the latest value is unchanged
			}
			c := Change[V]{New: r.Value, HasNew: !r.NullValue, Old: old.Value, HasOld: hadOld}
			return next(Record[K, Change[V]]{Key: r.Key, Value: c, Timestamp: r.Timestamp, Headers: r.Headers})
		}, nil
	})
	n.stores = []string{store}
	return &KTable[K, V]{b: b, node: n, keySerde: ks, valueSerde: vs, store: store}
}

// versionedSpec returns the spec of t's store when it is versioned.
func (t *KTable[K, V]) versionedSpec() (*StoreSpec, bool) {
	if t.store == "" {
		return nil, false
	}
	spec, ok := t.b.stores[t.store]
	if !ok || spec.Kind != KindVersioned {
		return nil, false
	}
	return spec, true
}

// asOfLookup reads a versioned table as of a time, in one task: the value
// of a key at a timestamp and whether it had one.
type asOfLookup[K, V any] func(k K, ts int64) (V, bool, error)

// asOfGetter makes t's as-of lookup for a task, or returns nil when t is
// not kept in a versioned store. stores are the stores it reads.
func (t *KTable[K, V]) asOfGetter() (stores []string, make func(ctx TaskContext) (asOfLookup[K, V], error)) {
	spec, ok := t.versionedSpec()
	if !ok {
		return nil, nil
	}
	ks, ok1 := spec.KeySerde.(Serde[K])
	vs, ok2 := spec.ValueSerde.(Serde[V])
	if !ok1 || !ok2 {
		return nil, nil
	}
	name, history := spec.Name, spec.Retention
	return []string{name}, func(ctx TaskContext) (asOfLookup[K, V], error) {
		kv, ok := ctx.Store(name).(KeyValueStore)
		if !ok {
			return nil, fmt.Errorf("store %q is not a key-value store of this task", name)
		}
		s := NewVersionedKeyValueStore(kv, ChangelogTopicName(ctx.ApplicationID(), name), ks, vs, history)
		return func(k K, ts int64) (V, bool, error) {
			r, found, err := s.GetAsOf(k, ts)
			return r.Value, found, err
		}, nil
	}
}

// streamVersionedTableJoin is JoinTable and LeftJoinTable against a
// versioned table: each record of s looks its key up in t as of the
// record's timestamp (Kafka Streams 3.5+, KIP-914), so that a record that
// arrives late still joins the table value that was valid when it
// happened. A lookup older than t's history retention behind t's observed
// stream time finds only a latest value that was already valid then.
// Repartitioning, co-partitioning and nulls are as for JoinTable. With a
// grace period the records wait in a buffer first (join_table_grace.go).
func streamVersionedTableJoin[K, V, VT, VR any](s *KStream[K, V], t *KTable[K, VT], cfg streamTableJoinCfg, left bool, joiner func(V, VT, bool) VR) *KStream[K, VR] {
	b := s.b
	out := &KStream[K, VR]{b: b, node: s.node, keySerde: s.keySerde, valueSerde: DefaultSerde[VR]()}
	name := cfg.name
	stores, mk := t.asOfGetter()
	if mk == nil {
		b.fail("join %s: the versioned table's store does not have the table's serdes", name)
		return out
	}
	var buffer string
	if cfg.hasGrace {
		spec, _ := t.versionedSpec()
		switch {
		case cfg.grace < 0:
			b.fail("join %s: negative grace period %v", name, cfg.grace)
		case cfg.grace > spec.Retention:
			// Kafka Streams: "History retention must be at least grace
			// period."
			b.fail("join %s: the table's history retention %v must be at least the grace period %v", name, spec.Retention, cfg.grace)
		}
		buffer = name + "-Buffer"
		b.addStore(StoreSpec{Name: buffer, Engine: cfg.engine, Logging: cfg.logging})
	}
	src := s.throughRepartition(cfg.repartName)
	ks, vs := src.keySerde, src.valueSerde
	grace := cfg.grace.Milliseconds()
	n := b.addNode(kindProcessor, name, []*node{src.node}, func(ctx TaskContext, kids []any) (any, error) {
		lookup, err := mk(ctx)
		if err != nil {
			return nil, err
		}
		next := fanout[K, VR](kids)
		join := func(r Record[K, V]) error {
			var vt VT
			var found bool
			if !r.NullKey {
				if vt, found, err = lookup(r.Key, r.Timestamp); err != nil {
					return err
				}
			}
			if !found && !left {
				return nil
			}
			return next(Record[K, VR]{Key: r.Key, Value: joiner(r.Value, vt, found), Timestamp: r.Timestamp, Headers: r.Headers, NullKey: r.NullKey})
		}
		var buf *joinBuffer[K, V]
		if buffer != "" {
			kv, ok := ctx.Store(buffer).(KeyValueStore)
			if !ok {
				return nil, fmt.Errorf("store %q is not a key-value store of this task", buffer)
			}
			buf = &joinBuffer[K, V]{store: kv, topic: ChangelogTopicName(ctx.ApplicationID(), buffer), ks: ks, vs: vs,
				grace: grace, time: math.MinInt64, minTs: math.MinInt64}
		}
		return func(r Record[K, V]) error {
			if r.NullValue || r.NullKey && !left {
				RecordDropped(ctx, dropReason(r.NullKey))
				return nil
			}
			if buf == nil || r.NullKey {
				// A null-key record of a left join finds no table value
				// whenever it is joined: it goes out at once.
				return join(r)
			}
			return buf.process(r, join)
		}, nil
	})
	n.stores = stores
	if buffer != "" {
		n.stores = append(append([]string(nil), stores...), buffer)
	}
	out.node = n
	return out
}
