package topology

import (
	"fmt"
	"unsafe"
)

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

// sameStringKV returns, when both serdes are the built-in string serde (so
// that K and V are both string), a test of whether a record's key and value
// are the same string; nil otherwise. A sink then serializes that string
// once and sends the same bytes as key and value (a record is not modified
// once sent), as a repartition by word sends each word.
func sameStringKV[K, V any](ks Serde[K], vs Serde[V]) func(k K, v V) bool {
	if _, ok := any(ks).(stringSerde); !ok {
		return nil
	}
	if _, ok := any(vs).(stringSerde); !ok {
		return nil
	}
	return func(k K, v V) bool {
		// K and V are string here: the string serde is a Serde[string].
		ks, vs := *(*string)(unsafe.Pointer(&k)), *(*string)(unsafe.Pointer(&v))
		return len(ks) > 0 && ks == vs
	}
}

// encodeKey serializes a key that is not null for topic.
func encodeKey[K any](k K, topic string, ks Serde[K]) ([]byte, error) {
	b, err := ks.Serialize(topic, k)
	if err != nil {
		return nil, fmt.Errorf("serialize key for %s: %w", topic, err)
	}
	return b, nil
}
