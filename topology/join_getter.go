package topology

import "fmt"

// A table's value getter reads the table's current value of one key inside
// a task: Kafka Streams' KTableValueGetter. Joins read the other side of the
// join through it. A table kept in a store (a source table, an aggregate, a
// Materialize, a foreign-key join result) reads the store; Filter,
// MapTableValues and table–table joins that keep no store compute their
// value from their parents' getters, as Kafka Streams does, so joining them
// costs no extra store or changelog. A table with neither (a windowed
// table) is materialized in a store of its own when it is joined.

// getFunc returns the table's value of a key and whether it has one.
type getFunc[K, V any] func(k K) (V, bool, error)

// tableGetter makes a table's getter for one task. stores are the stores it
// reads: a processor that uses the getter names them, which puts it in the
// sub-topology that owns them.
type tableGetter[K, V any] struct {
	stores []string
	make   func(ctx TaskContext) (getFunc[K, V], error)
}

// storeGetter reads a key-value store of the builder with the serdes it was
// registered with; nil when the store is not a key-value store with serdes
// of these types.
func storeGetter[K, V any](b *Builder, store string) *tableGetter[K, V] {
	spec, ok := b.stores[store]
	if !ok || spec.Kind != KindKeyValue {
		return nil
	}
	ks, ok1 := spec.KeySerde.(Serde[K])
	vs, ok2 := spec.ValueSerde.(Serde[V])
	if !ok1 || !ok2 {
		return nil
	}
	src := spec.SourceTopic
	return &tableGetter[K, V]{stores: []string{store}, make: func(ctx TaskContext) (getFunc[K, V], error) {
		kv, ok := ctx.Store(store).(KeyValueStore)
		if !ok {
			return nil, fmt.Errorf("store %q is not a key-value store of this task", store)
		}
		topic := src // the name the store's writer gives the serdes
		if topic == "" {
			topic = ChangelogTopicName(ctx.ApplicationID(), store)
		}
		return NewTypedKeyValueStore(kv, topic, ks, vs).Get, nil
	}}
}

// mapGetter derives a getter from parent's: fn turns the parent's value of
// a key into the derived table's (false: the key is not in it). Nil when
// parent is nil.
func mapGetter[K, V, V2 any](parent *tableGetter[K, V], fn func(K, V) (V2, bool)) *tableGetter[K, V2] {
	if parent == nil {
		return nil
	}
	return &tableGetter[K, V2]{stores: parent.stores, make: func(ctx TaskContext) (getFunc[K, V2], error) {
		get, err := parent.make(ctx)
		if err != nil {
			return nil, err
		}
		return func(k K) (V2, bool, error) {
			var zero V2
			v, ok, err := get(k)
			if err != nil || !ok {
				return zero, false, err
			}
			v2, ok := fn(k, v)
			return v2, ok, nil
		}, nil
	}}
}

// valueGetter is t's getter, or nil when t has none (it keeps no key-value
// store and was not derived from a table that does).
func (t *KTable[K, V]) valueGetter() *tableGetter[K, V] {
	if t.getter != nil {
		return t.getter
	}
	if t.store != "" {
		return storeGetter[K, V](t.b, t.store)
	}
	return nil
}

// joinable returns t, or t materialized in a store of its own when it has
// no getter, so that a join can read it.
func (t *KTable[K, V]) joinable() *KTable[K, V] {
	if t.valueGetter() != nil {
		return t
	}
	return t.Materialize()
}

// unionStores returns the stores of a and b, each once.
func unionStores(a, b []string) []string {
	out := append([]string(nil), a...)
	for _, s := range b {
		dup := false
		for _, o := range out {
			dup = dup || o == s
		}
		if !dup {
			out = append(out, s)
		}
	}
	return out
}
