package topology

// KTable is a changelog stream: the latest value per key. Its processors
// forward Change values (new and old value of a key).
type KTable[K, V any] struct {
	b          *Builder
	node       *node
	keySerde   Serde[K]
	valueSerde Serde[V]
	store      string // the queryable store holding the table, if any
	// getter reads the table's current values for joins when it keeps no
	// store of its own (join_getter.go); nil: read store.
	getter *tableGetter[K, V]
}

// StoreName is the name of the store that materializes the table ("" if none).
func (t *KTable[K, V]) StoreName() string { return t.store }

// ToStream turns the table's updates into a stream of (key, new value); a
// delete becomes a record with a null value (a tombstone).
func (t *KTable[K, V]) ToStream() *KStream[K, V] {
	n := t.b.addNode(kindProcessor, t.b.newName("KTABLE-TOSTREAM-"), []*node{t.node}, func(_ TaskContext, kids []any) (any, error) {
		next := fanout[K, V](kids)
		return func(r Record[K, Change[V]]) error {
			return next(Record[K, V]{Key: r.Key, Value: r.Value.New, Timestamp: r.Timestamp, Headers: r.Headers, NullValue: !r.Value.HasNew})
		}, nil
	})
	return &KStream[K, V]{b: t.b, node: n, keySerde: t.keySerde, valueSerde: t.valueSerde}
}
