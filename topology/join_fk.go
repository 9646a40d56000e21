package topology

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// Foreign-key table–table joins (Kafka's KIP-213): KTable#join and
// KTable#leftJoin(KTable, foreignKeyExtractor, joiner). Each value of the
// left table names a key of the right table (its foreign key); the result,
// keyed like the left table, joins each left value with the right value of
// its foreign key. The two tables need not be co-partitioned: the left side
// sends a subscription for each left key to the partition of its foreign
// key, through the internal topic "<app>-<name>-subscription-registration-topic";
// the right side keeps the subscriptions in "<name>-subscription-store" and
// answers them, now and whenever the right value changes, through
// "<app>-<name>-subscription-response-topic" to the partition the left key
// came from; the left side joins each answer with the left key's current
// value and keeps the result in the store <name>.
//
// A subscription and its answer carry a hash of the left value that sent
// it; an answer whose hash is not the hash of the left key's current value
// answers a value that has since changed and is discarded, so a burst of
// foreign-key changes ends with the result of the latest value only. When
// a left value's foreign key changes, the old foreign key gets an
// unsubscription. The processors follow Kafka Streams'
// (SubscriptionSendProcessorSupplier, SubscriptionReceiveProcessorSupplier,
// SubscriptionJoinProcessorSupplier, ForeignTableJoinProcessorSupplier,
// ResponseJoinProcessorSupplier) with two differences, both possible
// because the result is kept in a store:
//
//   - every left update asks for an answer. Kafka Streams' inner join asks
//     only "if the right value exists" on an insert, on an update that keeps
//     the foreign key and after a null foreign key, on the grounds that no
//     result can exist then; but an answer that would have deleted an older
//     result may still be in flight, and is discarded for its stale hash,
//     so the older result would stay for good. Here the answer to the
//     latest value always comes and decides.
//   - a delete goes downstream only when the key has a result. Kafka Streams
//     sends deletes it cannot know are needed ("unnecessary tombstones");
//     the store knows.
//
// So the outputs are Kafka Streams' minus its unnecessary tombstones, and
// the results stay right when updates overtake each other
// (docs/decisions/0012-table-joins.md).

// PartitionSender is implemented by task contexts that can write a record
// to a chosen partition (package partition's Task). Foreign-key joins use it
// to send answers back to the partition of the left record they answer,
// whatever partitioner placed that record.
type PartitionSender interface {
	SendToPartition(topic string, partition int32, key, value []byte, timestamp int64, headers []Header) error
}

// JoinForeignKey joins l with r on a foreign key (inner join): foreignKey
// maps a key and value of l to the key of r it refers to (ok false: none,
// the value joins nothing), and the result holds joiner(l value, r value)
// for every key of l whose foreign key r holds.
//
// Options name and configure the result's store (Named: the store is
// <name>, and the internal topics and subscription store are named after
// it; default name KTABLE-FK-JOIN-<n>); its value serde is
// DefaultSerde[VR]. The result is always materialized: its updates carry
// the previous result as their old value.
func JoinForeignKey[K, V, KO, VO, VR any](l *KTable[K, V], r *KTable[KO, VO], foreignKey func(k K, v V) (KO, bool), joiner func(v V, vo VO) VR, opts ...StoreOption) *KTable[K, VR] {
	return fkJoin(l, r, foreignKey, false, func(v V, vo VO, _ bool) VR { return joiner(v, vo) }, opts)
}

// LeftJoinForeignKey is JoinForeignKey as a left join: the result holds,
// for every key of l, joiner(l value, r value, found), found false (and the
// r value the zero value) when the foreign key is none or r does not hold
// it (Kafka's KIP-962: a null foreign key joins with null).
func LeftJoinForeignKey[K, V, KO, VO, VR any](l *KTable[K, V], r *KTable[KO, VO], foreignKey func(k K, v V) (KO, bool), joiner func(v V, vo VO, found bool) VR, opts ...StoreOption) *KTable[K, VR] {
	return fkJoin(l, r, foreignKey, true, joiner, opts)
}

// fkWire is a record the join sends to one of its internal topics: a
// serialized value, and the partition to send it to (-1: the partition of
// its key, by Kafka's default partitioner).
type fkWire struct {
	value     []byte
	partition int32
}

func fkJoin[K, V, KO, VO, VR any](l *KTable[K, V], r *KTable[KO, VO], foreignKey func(K, V) (KO, bool), leftJoin bool, joiner func(V, VO, bool) VR, opts []StoreOption) *KTable[K, VR] {
	b := l.b
	if r.b != b {
		b.fail("foreign-key join: tables come from different builders")
		return &KTable[K, VR]{b: b, node: l.node, keySerde: l.keySerde, valueSerde: DefaultSerde[VR]()}
	}
	cfg := applyStoreOpts(opts)
	name := b.nameOr(cfg.name, "KTABLE-FK-JOIN-")
	subTopic := TopicRef{Name: name + "-subscription-registration-topic", Internal: true}
	respTopic := TopicRef{Name: name + "-subscription-response-topic", Internal: true}
	subStore, resultStore := name+"-subscription-store", name
	l, r = l.joinable(), r.joinable()
	lget, rget := l.valueGetter(), r.valueGetter()
	lks, lvs, rks, rvs, vrs := l.keySerde, l.valueSerde, r.keySerde, r.valueSerde, DefaultSerde[VR]()
	// The subscriptions are the right side's memory of who refers to
	// what: always change-logged.
	b.addStore(StoreSpec{Name: subStore, Engine: cfg.engine, Logging: true})
	// The timestamps of the right side's values, by serialized foreign key:
	// an answer to a subscription carries the later of the subscription's
	// and the right value's timestamps, as in Kafka Streams.
	tsStore := name + "-foreign-timestamps"
	b.addStore(StoreSpec{Name: tsStore, Engine: cfg.engine, Logging: true})
	b.addStore(StoreSpec{Name: resultStore, Engine: cfg.engine, Logging: cfg.logging, Caching: cfg.caching, KeySerde: lks, ValueSerde: vrs})

	// Left side: every update of l subscribes to its foreign key.
	send := b.addNode(kindProcessor, b.newName("KTABLE-FK-JOIN-SUBSCRIPTION-SEND-"), []*node{l.node}, func(ctx TaskContext, kids []any) (any, error) {
		full := subTopic.FullName(ctx.ApplicationID())
		next := fanout[[]byte, fkWire](kids)
		partition := ctx.TaskID().Partition // the response comes back here
		return func(rec Record[K, Change[V]]) error {
			c := rec.Value
			var hash, pk []byte
			if c.HasNew {
				vb, err := lvs.Serialize(full, c.New)
				if err != nil {
					return fmt.Errorf("foreign-key join: serialize value: %w", err)
				}
				hash = fkHash(vb)
			}
			subscribe := func(fk []byte, instruction fkInstruction) error {
				if pk == nil {
					var err error
					if pk, err = lks.Serialize(full, rec.Key); err != nil {
						return fmt.Errorf("foreign-key join: serialize key: %w", err)
					}
					if pk == nil {
						pk = []byte{} // a key, not a null: the response needs one
					}
				}
				s := subscription{instruction: instruction, hash: hash, partition: partition, primaryKey: pk}
				return next(Record[[]byte, fkWire]{Key: fk, NullKey: fk == nil, Value: fkWire{value: s.encode(), partition: -1}, Timestamp: rec.Timestamp, Headers: rec.Headers})
			}
			fkOf := func(v V) ([]byte, error) {
				ko, ok := foreignKey(rec.Key, v)
				if !ok {
					return nil, nil
				}
				kb, err := rks.Serialize(full, ko)
				if err != nil {
					return nil, fmt.Errorf("foreign-key join: serialize foreign key: %w", err)
				}
				if kb == nil {
					kb = []byte{} // a foreign key, not a null
				}
				return kb, nil
			}
			var oldFK, newFK []byte
			var err error
			if c.HasOld {
				if oldFK, err = fkOf(c.Old); err != nil {
					return err
				}
			}
			if c.HasNew {
				if newFK, err = fkOf(c.New); err != nil {
					return err
				}
			}
			switch {
			case !c.HasOld && !c.HasNew:
				return nil // a delete of a key that had no value
			case oldFK != nil && newFK == nil:
				// Unsubscribe, and let the answer delete the result (or,
				// in a left join, join a new value with nothing).
				return subscribe(oldFK, fkDeleteAndPropagate)
			case oldFK != nil && !bytes.Equal(oldFK, newFK):
				// The new subscription may go to another partition: end
				// the old one.
				if err := subscribe(oldFK, fkDeleteNoPropagate); err != nil {
					return err
				}
			}
			if !leftJoin && c.HasNew && newFK == nil {
				RecordDropped(ctx, DropNullKey) // joins nothing; the answer clears an old result
			}
			// Every update asks for an answer, with no right value when
			// there is none (a null foreign key goes to any partition and
			// comes back so): the answer to the latest value decides the
			// result, whatever answers to earlier values were still in
			// flight (their hashes no longer match).
			return subscribe(newFK, fkPropagateNullIfNoValue)
		}, nil
	})
	fkSink(b, send, subTopic)

	// Right side: keep subscriptions and answer them.
	subSrc := b.addSource(b.newName("KSTREAM-SOURCE-"), subTopic, func(ctx TaskContext, kids []any) (any, error) {
		next := fanout[[]byte, subscription](kids)
		return func(raw *RawRecord) error {
			s, err := decodeSubscription(raw.Value)
			if err != nil {
				return ctx.DeserializationFailed(raw, err)
			}
			return next(Record[[]byte, subscription]{Key: raw.Key, NullKey: raw.Key == nil, Value: s, Timestamp: raw.Timestamp, Headers: raw.Headers})
		}, nil
	})
	receive := b.addNode(kindProcessor, b.newName("KTABLE-FK-JOIN-SUBSCRIPTION-RECEIVE-"), []*node{subSrc}, func(ctx TaskContext, kids []any) (any, error) {
		subs, ok := ctx.Store(subStore).(KeyValueStore)
		if !ok {
			return nil, fmt.Errorf("store %q is not a key-value store of this task", subStore)
		}
		lookup, err := rget.make(ctx)
		if err != nil {
			return nil, err
		}
		times, ok := ctx.Store(tsStore).(KeyValueStore)
		if !ok {
			return nil, fmt.Errorf("store %q is not a key-value store of this task", tsStore)
		}
		subFull, respFull := subTopic.FullName(ctx.ApplicationID()), respTopic.FullName(ctx.ApplicationID())
		next := fanout[[]byte, fkWire](kids)
		return func(rec Record[[]byte, subscription]) error {
			s := rec.Value
			if rec.NullKey && s.instruction != fkPropagateNullIfNoValue {
				RecordDropped(ctx, DropNullKey)
				return nil
			}
			var vb []byte
			found := false
			if !rec.NullKey {
				sk := subscriptionKey(rec.Key, s.primaryKey)
				var err error
				if s.instruction.unsubscribes() {
					err = subs.Delete(sk)
				} else {
					err = subs.Put(sk, encodeSubscribed(s.partition, s.hash))
				}
				if err != nil {
					return err
				}
				ko, err := rks.Deserialize(subFull, rec.Key)
				if err != nil {
					return fmt.Errorf("foreign-key join: foreign key: %w", err)
				}
				vo, ok, err := lookup(ko)
				if err != nil {
					return err
				}
				if ok {
					if vb, err = rvs.Serialize(respFull, vo); err != nil {
						return fmt.Errorf("foreign-key join: serialize right value: %w", err)
					}
					found = true
				}
			}
			ts := rec.Timestamp
			if found {
				rt, err := times.Get(rec.Key)
				if err != nil {
					return err
				}
				if len(rt) == 8 {
					ts = max(ts, int64(binary.BigEndian.Uint64(rt)))
				}
			}
			answer := func(has bool) error {
				resp := response{hash: s.hash, value: vb, hasValue: has}
				return next(Record[[]byte, fkWire]{Key: s.primaryKey, Value: fkWire{value: resp.encode(), partition: s.partition}, Timestamp: ts, Headers: rec.Headers})
			}
			switch s.instruction {
			case fkDeleteAndPropagate:
				return answer(false)
			case fkPropagateNullIfNoValue:
				return answer(found)
			}
			return nil
		}, nil
	})
	receive.stores = unionStores([]string{subStore, tsStore}, rget.stores)

	// Right side: an update of r answers every subscription to its key.
	foreign := b.addNode(kindProcessor, b.newName("KTABLE-FK-JOIN-FOREIGN-"), []*node{r.node}, func(ctx TaskContext, kids []any) (any, error) {
		subs, ok := ctx.Store(subStore).(KeyValueStore)
		if !ok {
			return nil, fmt.Errorf("store %q is not a key-value store of this task", subStore)
		}
		times, ok := ctx.Store(tsStore).(KeyValueStore)
		if !ok {
			return nil, fmt.Errorf("store %q is not a key-value store of this task", tsStore)
		}
		subFull, respFull := subTopic.FullName(ctx.ApplicationID()), respTopic.FullName(ctx.ApplicationID())
		next := fanout[[]byte, fkWire](kids)
		return func(rec Record[KO, Change[VO]]) error {
			fk, err := rks.Serialize(subFull, rec.Key)
			if err != nil {
				return fmt.Errorf("foreign-key join: serialize foreign key: %w", err)
			}
			if rec.Value.HasNew {
				err = times.Put(fk, binary.BigEndian.AppendUint64(nil, uint64(rec.Timestamp)))
			} else {
				err = times.Delete(fk)
			}
			if err != nil {
				return err
			}
			var vb []byte
			if rec.Value.HasNew {
				if vb, err = rvs.Serialize(respFull, rec.Value.New); err != nil {
					return fmt.Errorf("foreign-key join: serialize right value: %w", err)
				}
			}
			prefix := subscriptionPrefix(fk)
			it, err := subs.PrefixScan(prefix)
			if err != nil {
				return err
			}
			defer it.Close()
			for it.Next() {
				pk, ok := primaryKeyOf(it.Key(), prefix)
				if !ok {
					continue
				}
				partition, hash, err := decodeSubscribed(it.Value())
				if err != nil {
					return err
				}
				resp := response{hash: hash, value: vb, hasValue: rec.Value.HasNew}
				if err := next(Record[[]byte, fkWire]{Key: pk, Value: fkWire{value: resp.encode(), partition: partition}, Timestamp: rec.Timestamp, Headers: rec.Headers}); err != nil {
					return err
				}
			}
			return it.Err()
		}, nil
	})
	foreign.stores = []string{subStore, tsStore}
	fkSink(b, receive, respTopic, foreign)

	// Left side: join each answer with the left key's current value.
	respSrc := b.addSource(b.newName("KSTREAM-SOURCE-"), respTopic, func(ctx TaskContext, kids []any) (any, error) {
		full := respTopic.FullName(ctx.ApplicationID())
		next := fanout[K, response](kids)
		return func(raw *RawRecord) error {
			resp, err := decodeResponse(raw.Value)
			var k K
			if err == nil {
				if raw.Key == nil {
					err = fmt.Errorf("foreign-key join: response without a key")
				} else {
					k, err = lks.Deserialize(full, raw.Key)
				}
			}
			if err != nil {
				return ctx.DeserializationFailed(raw, err)
			}
			return next(Record[K, response]{Key: k, Value: resp, Timestamp: raw.Timestamp, Headers: raw.Headers})
		}, nil
	})
	resolve := b.addNode(kindProcessor, b.newName("KTABLE-FK-JOIN-OUTPUT-"), []*node{respSrc}, func(ctx TaskContext, kids []any) (any, error) {
		kv, ok := ctx.Store(resultStore).(KeyValueStore)
		if !ok {
			return nil, fmt.Errorf("store %q is not a key-value store of this task", resultStore)
		}
		lookup, err := lget.make(ctx)
		if err != nil {
			return nil, err
		}
		subFull, respFull := subTopic.FullName(ctx.ApplicationID()), respTopic.FullName(ctx.ApplicationID())
		changelog := ChangelogTopicName(ctx.ApplicationID(), resultStore)
		ts := NewTypedKeyValueStore(kv, changelog, lks, vrs)
		next := fanout[K, Change[VR]](kids)
		cached := forwardOnFlush(kv, changelog, lks, vrs, next) // cache.go
		return func(rec Record[K, response]) error {
			resp := rec.Value
			cur, ok, err := lookup(rec.Key)
			if err != nil {
				return err
			}
			var curHash []byte
			if ok {
				vb, err := lvs.Serialize(subFull, cur)
				if err != nil {
					return fmt.Errorf("foreign-key join: serialize value: %w", err)
				}
				curHash = fkHash(vb)
			}
			if !bytes.Equal(resp.hash, curHash) {
				return nil // answers a left value that has changed since
			}
			var c Change[VR]
			if resp.hasValue || (leftJoin && ok) {
				var vo VO
				if resp.hasValue {
					if vo, err = rvs.Deserialize(respFull, resp.value); err != nil {
						return fmt.Errorf("foreign-key join: right value: %w", err)
					}
				}
				c.New, c.HasNew = joiner(cur, vo, resp.hasValue), true
			}
			if c.Old, c.HasOld, err = ts.Get(rec.Key); err != nil {
				return err
			}
			if !c.HasNew && !c.HasOld {
				return nil // no result to delete
			}
			if c.HasNew {
				err = ts.Put(rec.Key, c.New)
			} else {
				err = ts.Delete(rec.Key)
			}
			if err != nil || cached {
				return err
			}
			return next(Record[K, Change[VR]]{Key: rec.Key, Value: c, Timestamp: rec.Timestamp, Headers: rec.Headers})
		}, nil
	})
	resolve.stores = unionStores([]string{resultStore}, lget.stores)
	return &KTable[K, VR]{b: b, node: resolve, keySerde: lks, valueSerde: vrs, store: resultStore}
}

// fkSink adds the sink that writes what parents forward to one of a
// foreign-key join's internal topics, to the partition each record names
// or, for -1, to its key's.
func fkSink(b *Builder, parent *node, topic TopicRef, more ...*node) {
	n := b.addNode(kindSink, b.newName("KTABLE-SINK-"), append([]*node{parent}, more...), func(ctx TaskContext, _ []any) (any, error) {
		full := topic.FullName(ctx.ApplicationID())
		ps, direct := ctx.(PartitionSender)
		return func(r Record[[]byte, fkWire]) error {
			if r.Value.partition < 0 {
				return ctx.Send(full, r.Key, r.Value.value, r.Timestamp, r.Headers)
			}
			if !direct {
				return fmt.Errorf("foreign-key join: the task context (%T) cannot send to a chosen partition", ctx)
			}
			return ps.SendToPartition(full, r.Value.partition, r.Key, r.Value.value, r.Timestamp, r.Headers)
		}, nil
	})
	n.topics = []TopicRef{topic}
}
