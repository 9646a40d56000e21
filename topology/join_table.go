package topology

import (
	"fmt"
	"time"
)

// Stream–table and stream–global-table joins: Kafka Streams'
// KStream#join/leftJoin(KTable) and KStream#join/leftJoin(GlobalKTable,
// keySelector, joiner). Each stream record looks its key up in the table's
// current state; updates of the table only change that state and never
// produce output ("table lookup join", KStream javadoc). The result keeps
// the stream record's key, timestamp and headers.
//
// Null handling follows Kafka Streams' KStreamKTableJoinProcessor (as of
// KIP-962 and KAFKA-19208): a stream record with a null value is dropped; a
// record whose join key is null (a null stream key, or a global-table key
// selector that reports none) is dropped by an inner join and joined with
// "no table value" by a left join.

// JoinTable joins s with table t by key (inner join): for each record of s
// whose key t holds, joiner(stream value, table value) under the record's
// key. Records whose key t does not hold produce nothing.
//
// If the key of s may have changed since its source (Map, SelectKey, ...),
// s is first repartitioned. The stream's topic (or that repartition topic)
// and t's topic must be co-partitioned: the same partition count, keys
// partitioned alike. The join reads t's store in the stream's task, so
// stream and table form one sub-topology; Build and the application report
// topics whose partition counts differ. A table that keeps no store (after
// Filter or MapTableValues) is read through its parent's store. A
// versioned table (VersionedTable, or Table with Versioned) is looked up as
// of each stream record's timestamp, as Kafka Streams does since 3.5
// (KIP-914; see versioned_table.go).
//
// Options (Kafka Streams' Joined):
//
//   - Named(name) names the join (default KSTREAM-JOIN-<n>) and with it the
//     repartition topic: "<app>-<name>-repartition", as Joined.withName
//     does. Unnamed, the repartition topic is "<app>-<generated
//     name>-left-repartition".
//   - WithGracePeriod(d) buffers the stream's records and joins them in
//     timestamp order once they are d behind the join's stream time
//     (KIP-923); t must be versioned, with a history retention of at least
//     d. See WithGracePeriod.
//   - WithEngine and WithLogging apply to the grace period's buffer store.
func JoinTable[K, V, VT, VR any](s *KStream[K, V], t *KTable[K, VT], joiner func(v V, vt VT) VR, opts ...StoreOption) *KStream[K, VR] {
	return streamTableJoin(s, t, "KSTREAM-JOIN-", false, func(v V, vt VT, _ bool) VR { return joiner(v, vt) }, opts)
}

// LeftJoinTable is JoinTable as a left join: every record of s with a value
// produces one record, joiner(stream value, table value, found), where found
// is false (and the table value the zero value) when t does not hold the
// key, or when the record's key is null.
func LeftJoinTable[K, V, VT, VR any](s *KStream[K, V], t *KTable[K, VT], joiner func(v V, vt VT, found bool) VR, opts ...StoreOption) *KStream[K, VR] {
	return streamTableJoin(s, t, "KSTREAM-LEFTJOIN-", true, joiner, opts)
}

// streamTableJoinCfg is what the options of a stream–table join say.
type streamTableJoinCfg struct {
	storeCfg
	name       string // the join's processor name
	repartName string // the repartition topic's name without "-repartition"
	grace      time.Duration
	hasGrace   bool
}

func streamTableJoin[K, V, VT, VR any](s *KStream[K, V], t *KTable[K, VT], prefix string, left bool, joiner func(V, VT, bool) VR, opts []StoreOption) *KStream[K, VR] {
	b := s.b
	if t.b != b {
		b.fail("join: stream and table come from different builders")
		return &KStream[K, VR]{b: b, node: s.node, keySerde: s.keySerde, valueSerde: DefaultSerde[VR]()}
	}
	cfg := streamTableJoinCfg{storeCfg: applyStoreOpts(opts)}
	cfg.grace, cfg.hasGrace = graceOption(opts)
	if cfg.storeCfg.name != "" {
		cfg.name, cfg.repartName = cfg.storeCfg.name, cfg.storeCfg.name
	} else {
		cfg.name = b.newName(prefix)
		cfg.repartName = cfg.name + "-left"
	}
	if cfg.caching {
		b.fail("join %s: WithCaching is not supported on a stream-table join", cfg.name)
	}
	if _, ok := t.versionedSpec(); ok {
		return streamVersionedTableJoin(s, t, cfg, left, joiner) // lookups as of each record's time
	}
	if cfg.hasGrace {
		// Kafka Streams: "KTable must be versioned to use a grace period in
		// a stream table join."
		b.fail("join %s: the table must be versioned to use a grace period in a stream-table join", cfg.name)
	}
	name := cfg.name
	t = t.joinable()
	get := t.valueGetter()
	src := s.throughRepartition(cfg.repartName)
	n := b.addNode(kindProcessor, name, []*node{src.node}, func(ctx TaskContext, kids []any) (any, error) {
		lookup, err := get.make(ctx)
		if err != nil {
			return nil, err
		}
		next := fanout[K, VR](kids)
		return func(r Record[K, V]) error {
			if r.NullValue || (r.NullKey && !left) {
				RecordDropped(ctx, dropReason(r.NullKey))
				return nil
			}
			var vt VT
			var found bool
			if !r.NullKey {
				if vt, found, err = lookup(r.Key); err != nil {
					return err
				}
			}
			if !found && !left {
				return nil
			}
			return next(Record[K, VR]{Key: r.Key, Value: joiner(r.Value, vt, found), Timestamp: r.Timestamp, Headers: r.Headers, NullKey: r.NullKey})
		}, nil
	})
	n.stores = append([]string(nil), get.stores...)
	return &KStream[K, VR]{b: b, node: n, keySerde: s.keySerde, valueSerde: DefaultSerde[VR]()}
}

// DropNullValue: a join got a stream record with a null value, which joins
// nothing (Kafka Streams drops these too).
const DropNullValue = "null-value"

func dropReason(nullKey bool) string {
	if nullKey {
		return DropNullKey
	}
	return DropNullValue
}

// JoinGlobalTable joins s with global table g (inner join): key maps each
// record of s to the key to look up in g (ok false: no key, the record is
// dropped), and each record whose key g holds gives joiner(stream value,
// table value) under the stream record's key. No repartitioning and no
// co-partitioning are needed: every task sees all of g. As in Kafka
// Streams, the lookup reads g as it is when the record is processed; g is
// kept up to date apart from the tasks, so the result is not ordered by
// timestamp against g's updates.
//
// The one option is Named(name), which names the join's processor (default
// KSTREAM-JOIN-<n>), as Kafka Streams' join(GlobalKTable, KeyValueMapper,
// ValueJoiner, Named) does; the join keeps no store of its own, so any
// other option is an error at Build.
func JoinGlobalTable[K, V, GK, GV, VR any](s *KStream[K, V], g *GlobalKTable[GK, GV], key func(k K, v V) (GK, bool), joiner func(v V, gv GV) VR, opts ...StoreOption) *KStream[K, VR] {
	return streamGlobalJoin(s, g, "KSTREAM-JOIN-", false, key, func(v V, gv GV, _ bool) VR { return joiner(v, gv) }, opts)
}

// LeftJoinGlobalTable is JoinGlobalTable as a left join: every record of s
// with a value produces one record, joiner(stream value, table value,
// found), found false when key reports no key or g does not hold it.
// Named(name) names it (default KSTREAM-LEFTJOIN-<n>).
func LeftJoinGlobalTable[K, V, GK, GV, VR any](s *KStream[K, V], g *GlobalKTable[GK, GV], key func(k K, v V) (GK, bool), joiner func(v V, gv GV, found bool) VR, opts ...StoreOption) *KStream[K, VR] {
	return streamGlobalJoin(s, g, "KSTREAM-LEFTJOIN-", true, key, joiner, opts)
}

func streamGlobalJoin[K, V, GK, GV, VR any](s *KStream[K, V], g *GlobalKTable[GK, GV], prefix string, left bool, key func(K, V) (GK, bool), joiner func(V, GV, bool) VR, opts []StoreOption) *KStream[K, VR] {
	b := s.b
	store := g.store
	cfg := applyStoreOpts(opts)
	name := b.nameOr(cfg.name, prefix)
	rest := cfg
	rest.name = ""
	if _, grace := graceOption(opts); grace || rest != defaultStoreCfg() {
		b.fail("global-table join %s: the only option is Named (the join keeps no store, and reads the global table as it is)", name)
	}
	n := b.addNode(kindProcessor, name, []*node{s.node}, func(ctx TaskContext, kids []any) (any, error) {
		kv, ok := ctx.Store(store).(KeyValueStore)
		if !ok {
			return nil, fmt.Errorf("global store %q is not a key-value store reachable from this task", store)
		}
		ts := NewTypedKeyValueStore(kv, g.topic, g.keySerde, g.valueSerde)
		next := fanout[K, VR](kids)
		return func(r Record[K, V]) error {
			if r.NullValue {
				RecordDropped(ctx, DropNullValue)
				return nil
			}
			gk, ok := key(r.Key, r.Value)
			if !ok && !left {
				RecordDropped(ctx, DropNullKey)
				return nil
			}
			var gv GV
			var found bool
			if ok {
				var err error
				if gv, found, err = ts.Get(gk); err != nil {
					return err
				}
			}
			if !found && !left {
				return nil
			}
			return next(Record[K, VR]{Key: r.Key, Value: joiner(r.Value, gv, found), Timestamp: r.Timestamp, Headers: r.Headers, NullKey: r.NullKey})
		}, nil
	})
	n.stores = []string{store}
	return &KStream[K, VR]{b: b, node: n, keySerde: s.keySerde, valueSerde: DefaultSerde[VR](), repartition: s.repartition}
}
