package topology

import "fmt"

// GlobalKTable is a table of which every node holds a full copy: all
// partitions of its source topic, kept up to date by a consumer of its own
// (not by tasks). Processors of any task read it by store name through
// TaskContext.Store (read only).
type GlobalKTable[K, V any] struct {
	store      string
	topic      string
	keySerde   Serde[K]
	valueSerde Serde[V]
}

// GlobalTable reads topic as a global table: the latest value per key, a
// null value deleting its key, held in full on every node in a store (named
// with Named, default "<topic>-STATE-STORE-<n>") whose changelog is topic
// itself. The application restores it to the end of topic before any task
// processes, then keeps applying new records of topic as they arrive
// (read_committed under exactly-once). Nil serdes mean DefaultSerde.
// WithTimestampExtractor and WithTimestamps apply to the records kept up to
// date, as Consumed.withTimestampExtractor does for Kafka Streams' global
// tables: a negative time or a failed extraction goes to the
// deserialization error handler (fail, or skip the record). Restoring
// copies the topic as it is, as Kafka Streams restores a global table.
func GlobalTable[K, V any](b *Builder, topic string, keySerde Serde[K], valueSerde Serde[V], opts ...StoreOption) *GlobalKTable[K, V] {
	ks, vs := orDefault(keySerde), orDefault(valueSerde)
	cfg := applyStoreOpts(opts)
	if cfg.name == "" {
		cfg.name = b.newName(topic + "-STATE-STORE-")
	}
	b.addStore(StoreSpec{Name: cfg.name, Engine: cfg.engine, SourceTopic: topic, Global: true, RestoreCheck: restoreCheck(topic, ks, vs),
		KeySerde: ks, ValueSerde: vs})
	src := sourceStream(b, TopicRef{Name: topic}, ks, vs)
	src.node.extractor = applySourceOpts(b, "table "+topic, ks, vs, opts)
	src.node.global = true
	n := tableSource(b, src.node, cfg.name, topic, ks, vs)
	n.global = true
	return &GlobalKTable[K, V]{store: cfg.name, topic: topic, keySerde: ks, valueSerde: vs}
}

// StoreName is the name of the global table's store.
func (g *GlobalKTable[K, V]) StoreName() string { return g.store }

// Topic is the global table's source topic.
func (g *GlobalKTable[K, V]) Topic() string { return g.topic }

// Reader wraps the global table's store, as returned by TaskContext.Store or
// by the application, for typed reads (Get). It fails when s is not a
// key-value store.
func (g *GlobalKTable[K, V]) Reader(s StateStore) (*TypedKeyValueStore[K, V], error) {
	kv, ok := s.(KeyValueStore)
	if !ok {
		return nil, fmt.Errorf("global table %s: store %q is %T, not a key-value store", g.topic, g.store, s)
	}
	return NewTypedKeyValueStore(kv, g.topic, g.keySerde, g.valueSerde), nil
}

// GlobalSubtopology returns the processors that keep the global tables'
// stores (a source and a table processor per global table), which the
// application runs apart from the tasks, or nil when the topology has no
// global table. Its ID is -1; it makes no tasks.
func (t *Topology) GlobalSubtopology() *Subtopology {
	if len(t.globalNodes) == 0 {
		return nil
	}
	st := &Subtopology{ID: -1, nodes: t.globalNodes, topo: t}
	for _, n := range t.globalNodes {
		if n.kind == kindSource {
			st.Sources = append(st.Sources, n.topics...)
		}
		for _, s := range n.stores {
			if !containsStore(st.Stores, s) {
				st.Stores = append(st.Stores, *t.stores[s])
			}
		}
	}
	return st
}
