package topology

import "fmt"

// decodeRaw deserializes a record read from topic. A nil key or value is
// Kafka's null: the serde is not called, and the record says NullKey or
// NullValue.
func decodeRaw[K, V any](raw *RawRecord, topic string, ks Serde[K], vs Serde[V]) (Record[K, V], error) {
	r := Record[K, V]{Timestamp: raw.Timestamp, Headers: raw.Headers, NullKey: raw.Key == nil, NullValue: raw.Value == nil}
	if !r.NullKey {
		k, err := ks.Deserialize(topic, raw.Key)
		if err != nil {
			return r, fmt.Errorf("key: %w", err)
		}
		r.Key = k
	}
	if !r.NullValue {
		v, err := vs.Deserialize(topic, raw.Value)
		if err != nil {
			return r, fmt.Errorf("value: %w", err)
		}
		r.Value = v
	}
	return r, nil
}

// encodeRecord serializes a record for topic. A NullKey or NullValue record
// gets a nil key or value without calling the serde; a value that is not
// null is never nil (an empty value is not a tombstone).
func encodeRecord[K, V any](r Record[K, V], topic string, ks Serde[K], vs Serde[V]) (key, value []byte, err error) {
	if !r.NullKey {
		if key, err = ks.Serialize(topic, r.Key); err != nil {
			return nil, nil, fmt.Errorf("serialize key for %s: %w", topic, err)
		}
	}
	if !r.NullValue {
		if value, err = vs.Serialize(topic, r.Value); err != nil {
			return nil, nil, fmt.Errorf("serialize value for %s: %w", topic, err)
		}
		if value == nil {
			value = []byte{}
		}
	}
	return key, value, nil
}
