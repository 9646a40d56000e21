package topology

import "fmt"

// TypedKeyValueStore reads and writes a byte-level store through serdes.
type TypedKeyValueStore[K, V any] struct {
	Store      KeyValueStore
	KeySerde   Serde[K]
	ValueSerde Serde[V]
	topic      string // the name serdes are told (the changelog topic)
}

// NewTypedKeyValueStore wraps a byte store. topic is the name passed to the
// serdes (by convention the store's changelog topic).
func NewTypedKeyValueStore[K, V any](s KeyValueStore, topic string, ks Serde[K], vs Serde[V]) *TypedKeyValueStore[K, V] {
	return &TypedKeyValueStore[K, V]{Store: s, KeySerde: ks, ValueSerde: vs, topic: topic}
}

// Get returns the value of k and whether it was present.
func (t *TypedKeyValueStore[K, V]) Get(k K) (V, bool, error) {
	var zero V
	kb, err := t.KeySerde.Serialize(t.topic, k)
	if err != nil {
		return zero, false, fmt.Errorf("store %s: serialize key: %w", t.Store.Name(), err)
	}
	vb, err := t.Store.Get(kb)
	if err != nil || vb == nil {
		return zero, false, err
	}
	v, err := t.ValueSerde.Deserialize(t.topic, vb)
	if err != nil {
		return zero, false, fmt.Errorf("store %s: deserialize value: %w", t.Store.Name(), err)
	}
	return v, true, nil
}

// Put stores v under k.
func (t *TypedKeyValueStore[K, V]) Put(k K, v V) error {
	kb, err := t.KeySerde.Serialize(t.topic, k)
	if err != nil {
		return fmt.Errorf("store %s: serialize key: %w", t.Store.Name(), err)
	}
	vb, err := t.ValueSerde.Serialize(t.topic, v)
	if err != nil {
		return fmt.Errorf("store %s: serialize value: %w", t.Store.Name(), err)
	}
	if vb == nil {
		vb = []byte{} // a present, empty value; nil would delete
	}
	return t.Store.Put(kb, vb)
}

// Delete removes k.
func (t *TypedKeyValueStore[K, V]) Delete(k K) error {
	kb, err := t.KeySerde.Serialize(t.topic, k)
	if err != nil {
		return fmt.Errorf("store %s: serialize key: %w", t.Store.Name(), err)
	}
	return t.Store.Delete(kb)
}
