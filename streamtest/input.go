package streamtest

import (
	"fmt"

	"github.com/eddystreams/eddy/topology"
)

// TestInputTopic pipes typed records into an input topic of a Driver.
type TestInputTopic[K, V any] struct {
	d          *Driver
	topic      string
	keySerde   topology.Serde[K]
	valueSerde topology.Serde[V]
}

// CreateInputTopic returns a typed writer for an input topic. Nil serdes mean
// topology.DefaultSerde, as for topology.Stream. Piping to a topic the
// topology does not read fails.
func CreateInputTopic[K, V any](d *Driver, topic string, keySerde topology.Serde[K], valueSerde topology.Serde[V]) *TestInputTopic[K, V] {
	if keySerde == nil {
		keySerde = topology.DefaultSerde[K]()
	}
	if valueSerde == nil {
		valueSerde = topology.DefaultSerde[V]()
	}
	return &TestInputTopic[K, V]{d: d, topic: topic, keySerde: keySerde, valueSerde: valueSerde}
}

// Pipe sends one record stamped with the driver's wall clock, and processes
// it (see Driver.PipeInput).
func (t *TestInputTopic[K, V]) Pipe(k K, v V) error {
	return t.PipeAt(k, v, t.d.WallClock().UnixMilli())
}

// PipeAt sends one record with timestamp ts (milliseconds since the epoch).
func (t *TestInputTopic[K, V]) PipeAt(k K, v V, ts int64) error {
	return t.PipeRecord(topology.Record[K, V]{Key: k, Value: v, Timestamp: ts})
}

// PipeRecord sends one record with its timestamp and headers. NullKey and
// NullValue send a nil key or value (a tombstone) without calling the serde.
func (t *TestInputTopic[K, V]) PipeRecord(r topology.Record[K, V]) error {
	kb, vb, err := t.encode(r)
	if err != nil {
		return err
	}
	return t.d.PipeInput(t.topic, kb, vb, r.Timestamp, r.Headers...)
}

// encode serializes r's key and value; a null is nil.
func (t *TestInputTopic[K, V]) encode(r topology.Record[K, V]) (kb, vb []byte, err error) {
	if !r.NullKey {
		if kb, err = t.keySerde.Serialize(t.topic, r.Key); err != nil {
			return nil, nil, fmt.Errorf("streamtest: serialize key for %s: %w", t.topic, err)
		}
	}
	if !r.NullValue {
		if vb, err = t.valueSerde.Serialize(t.topic, r.Value); err != nil {
			return nil, nil, fmt.Errorf("streamtest: serialize value for %s: %w", t.topic, err)
		}
		if vb == nil {
			vb = []byte{} // an empty value, not a tombstone
		}
	}
	return kb, vb, nil
}

// PipeRecords sends records in order, each processed before the next, and
// stops at the first error.
func (t *TestInputTopic[K, V]) PipeRecords(rs ...topology.Record[K, V]) error {
	for i, r := range rs {
		if err := t.PipeRecord(r); err != nil {
			return fmt.Errorf("record %d: %w", i, err)
		}
	}
	return nil
}

// PipeKeyValues sends pairs in order, stamped with the wall clock, and stops
// at the first error.
func (t *TestInputTopic[K, V]) PipeKeyValues(kvs ...topology.Pair[K, V]) error {
	for i, kv := range kvs {
		if err := t.Pipe(kv.Key, kv.Value); err != nil {
			return fmt.Errorf("record %d: %w", i, err)
		}
	}
	return nil
}
