package topology

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
)

// Serde turns values of type T into bytes and back. Implementations must be
// safe for concurrent use: one serde value is shared by all tasks.
type Serde[T any] interface {
	// Serialize encodes v for topic.
	Serialize(topic string, v T) ([]byte, error)
	// Deserialize decodes data read from topic. A nil data (a Kafka null)
	// decodes to T's zero value.
	Deserialize(topic string, data []byte) (T, error)
}

// String is the UTF-8 serde for strings (Kafka's StringSerializer).
func String() Serde[string] { return stringSerde{} }

// Bytes passes byte slices through unchanged.
func Bytes() Serde[[]byte] { return bytesSerde{} }

// Int32 is Kafka's 4-byte big-endian integer encoding (IntegerSerializer).
func Int32() Serde[int32] { return int32Serde{} }

// Int64 is Kafka's 8-byte big-endian long encoding (LongSerializer).
func Int64() Serde[int64] { return int64Serde{} }

// Float64 is Kafka's 8-byte big-endian IEEE 754 double (DoubleSerializer).
func Float64() Serde[float64] { return float64Serde{} }

// JSON encodes any Go type with encoding/json.
func JSON[T any]() Serde[T] { return jsonSerde[T]{} }

// DefaultSerde picks the serde Eddy uses for T when none is given: the Kafka
// encodings for string, []byte, every integer type (see Int8 for the types
// Kafka has none for), bool, float32 and float64, JSON otherwise. Only these
// exact types: a named type (type Celsius int32) gets JSON.
//
// Earlier Eddy gave integers other than int32 and int64, and bool, JSON (an
// int 12 was the text "12"): a store, changelog or topic written that way
// with the default serde does not decode now (or, for one-byte types,
// decodes wrongly). Give such a store or topic topology.JSON[T]() to keep
// its old format, or reset the application (decision 0032).
func DefaultSerde[T any]() Serde[T] {
	var zero T
	var s any
	switch any(zero).(type) {
	case string:
		s = stringSerde{}
	case []byte:
		s = bytesSerde{}
	case int32:
		s = int32Serde{}
	case int64:
		s = int64Serde{}
	case float64:
		s = float64Serde{}
	case int8:
		s = Int8()
	case int16:
		s = Int16()
	case int:
		s = Int()
	case uint8:
		s = Uint8()
	case uint16:
		s = Uint16()
	case uint32:
		s = Uint32()
	case uint64:
		s = Uint64()
	case uint:
		s = Uint()
	case bool:
		s = Bool()
	case float32:
		s = Float32()
	default:
		return jsonSerde[T]{}
	}
	return s.(Serde[T])
}

type stringSerde struct{}

func (stringSerde) Serialize(_ string, v string) ([]byte, error) { return []byte(v), nil }
func (stringSerde) Deserialize(_ string, b []byte) (string, error) {
	return string(b), nil
}

type bytesSerde struct{}

func (bytesSerde) Serialize(_ string, v []byte) ([]byte, error)   { return v, nil }
func (bytesSerde) Deserialize(_ string, b []byte) ([]byte, error) { return b, nil }

type int32Serde struct{}

func (int32Serde) Serialize(_ string, v int32) ([]byte, error) {
	return binary.BigEndian.AppendUint32(make([]byte, 0, 4), uint32(v)), nil
}

func (int32Serde) Deserialize(topic string, b []byte) (int32, error) {
	if b == nil {
		return 0, nil
	}
	if len(b) != 4 {
		return 0, fmt.Errorf("int32 serde: topic %q: want 4 bytes, got %d", topic, len(b))
	}
	return int32(binary.BigEndian.Uint32(b)), nil
}

type int64Serde struct{}

func (int64Serde) Serialize(_ string, v int64) ([]byte, error) {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), uint64(v)), nil
}

func (int64Serde) Deserialize(topic string, b []byte) (int64, error) {
	if b == nil {
		return 0, nil
	}
	if len(b) != 8 {
		return 0, fmt.Errorf("int64 serde: topic %q: want 8 bytes, got %d", topic, len(b))
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}

type float64Serde struct{}

func (float64Serde) Serialize(_ string, v float64) ([]byte, error) {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), math.Float64bits(v)), nil
}

func (float64Serde) Deserialize(topic string, b []byte) (float64, error) {
	if b == nil {
		return 0, nil
	}
	if len(b) != 8 {
		return 0, fmt.Errorf("float64 serde: topic %q: want 8 bytes, got %d", topic, len(b))
	}
	return math.Float64frombits(binary.BigEndian.Uint64(b)), nil
}

type jsonSerde[T any] struct{}

func (jsonSerde[T]) Serialize(_ string, v T) ([]byte, error) { return json.Marshal(v) }

func (jsonSerde[T]) Deserialize(topic string, b []byte) (T, error) {
	var v T
	if b == nil {
		return v, nil
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return v, fmt.Errorf("json serde: topic %q: %w", topic, err)
	}
	return v, nil
}
