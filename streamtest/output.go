package streamtest

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ErrNoRecord is returned when reading an output topic that has no unread
// record.
var ErrNoRecord = errors.New("streamtest: no record to read")

// TestOutputTopic reads, in the order they were sent, the records the
// topology sent to a topic, across its partitions. Each TestOutputTopic has
// its own read position, starting at the topic's first record. It is not
// safe for concurrent use.
//
// Any topic can be read, internal ones included (repartition, changelog).
type TestOutputTopic[K, V any] struct {
	d          *Driver
	topic      string
	keySerde   topology.Serde[K]
	valueSerde topology.Serde[V]
	pos        int
}

// CreateOutputTopic returns a typed reader of topic. Nil serdes mean
// topology.DefaultSerde.
func CreateOutputTopic[K, V any](d *Driver, topic string, keySerde topology.Serde[K], valueSerde topology.Serde[V]) *TestOutputTopic[K, V] {
	if keySerde == nil {
		keySerde = topology.DefaultSerde[K]()
	}
	if valueSerde == nil {
		valueSerde = topology.DefaultSerde[V]()
	}
	return &TestOutputTopic[K, V]{d: d, topic: topic, keySerde: keySerde, valueSerde: valueSerde}
}

// QueueSize is the number of records not read yet. Under exactly-once,
// records of transactions not committed yet are not counted (read_committed).
func (o *TestOutputTopic[K, V]) QueueSize() int { return o.d.broker.readable(o.topic, o.pos) }

// IsEmpty reports whether every record has been read.
func (o *TestOutputTopic[K, V]) IsEmpty() bool { return o.QueueSize() <= 0 }

// ReadRawRecord reads the next record as bytes, with its partition and
// offset, or returns ErrNoRecord.
func (o *TestOutputTopic[K, V]) ReadRawRecord() (topology.RawRecord, error) {
	var r *kgo.Record
	for {
		rec, vis, ok := o.d.broker.at(o.topic, o.pos)
		if !ok || vis == txnOpen {
			return topology.RawRecord{}, fmt.Errorf("%w in %s", ErrNoRecord, o.topic)
		}
		o.pos++
		if vis == txnCommitted {
			r = rec
			break
		}
	}
	// Copies: the caller may modify them, the topic must not change.
	raw := topology.RawRecord{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Key: bytes.Clone(r.Key), Value: bytes.Clone(r.Value), Timestamp: r.Timestamp.UnixMilli()}
	for _, h := range r.Headers {
		raw.Headers = append(raw.Headers, topology.Header{Key: h.Key, Value: bytes.Clone(h.Value)})
	}
	return raw, nil
}

// ReadRecord reads and decodes the next record, or returns ErrNoRecord. A
// record that cannot be decoded is passed over with an error.
func (o *TestOutputTopic[K, V]) ReadRecord() (topology.Record[K, V], error) {
	_, r, err := o.read()
	return r, err
}

func (o *TestOutputTopic[K, V]) read() (topology.RawRecord, topology.Record[K, V], error) {
	raw, err := o.ReadRawRecord()
	if err != nil {
		return raw, topology.Record[K, V]{}, err
	}
	// A nil key or value is Kafka's null: NullKey or NullValue, and the
	// serde is not called.
	r := topology.Record[K, V]{Timestamp: raw.Timestamp, Headers: raw.Headers, NullKey: raw.Key == nil, NullValue: raw.Value == nil}
	if !r.NullKey {
		if r.Key, err = o.keySerde.Deserialize(o.topic, raw.Key); err != nil {
			return raw, topology.Record[K, V]{}, fmt.Errorf("streamtest: read %s-%d@%d: key: %w", raw.Topic, raw.Partition, raw.Offset, err)
		}
	}
	if !r.NullValue {
		if r.Value, err = o.valueSerde.Deserialize(o.topic, raw.Value); err != nil {
			return raw, topology.Record[K, V]{}, fmt.Errorf("streamtest: read %s-%d@%d: value: %w", raw.Topic, raw.Partition, raw.Offset, err)
		}
	}
	return raw, r, nil
}

// ReadKeyValue reads the next record's key and value.
func (o *TestOutputTopic[K, V]) ReadKeyValue() (K, V, error) {
	r, err := o.ReadRecord()
	return r.Key, r.Value, err
}

// ReadValue reads the next record's value.
func (o *TestOutputTopic[K, V]) ReadValue() (V, error) {
	r, err := o.ReadRecord()
	return r.Value, err
}

// ReadAll reads every unread record; none is not an error.
func (o *TestOutputTopic[K, V]) ReadAll() ([]topology.Record[K, V], error) {
	var out []topology.Record[K, V]
	for !o.IsEmpty() {
		r, err := o.ReadRecord()
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

// ReadKeyValues reads the key and value of every unread record.
func (o *TestOutputTopic[K, V]) ReadKeyValues() ([]topology.Pair[K, V], error) {
	rs, err := o.ReadAll()
	out := make([]topology.Pair[K, V], len(rs))
	for i, r := range rs {
		out[i] = topology.KV(r.Key, r.Value)
	}
	return out, err
}

// ReadValues reads the value of every unread record.
func (o *TestOutputTopic[K, V]) ReadValues() ([]V, error) {
	rs, err := o.ReadAll()
	out := make([]V, len(rs))
	for i, r := range rs {
		out[i] = r.Value
	}
	return out, err
}

// ReadToMap reads every unread record into a map of the latest value per
// key, as a table built from the topic would hold it: a record with a null
// value (a tombstone) removes its key.
func ReadToMap[K comparable, V any](o *TestOutputTopic[K, V]) (map[K]V, error) {
	m := map[K]V{}
	for !o.IsEmpty() {
		raw, r, err := o.read()
		if err != nil {
			return m, err
		}
		if raw.Value == nil {
			delete(m, r.Key)
			continue
		}
		m[r.Key] = r.Value
	}
	return m, nil
}
