package topology

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Go's other integer types, bool and float32 in Kafka's encodings: signed
// integers big-endian two's complement of their width, as Kafka's
// ShortSerializer (2 bytes), IntegerSerializer (4) and LongSerializer (8);
// bool one byte 0x01 or 0x00, as BooleanSerializer (Kafka 3.5, KIP-907);
// float32 4 bytes IEEE 754 big-endian, as FloatSerializer.
//
// Kafka has no serializer for a single signed byte nor for unsigned
// integers. Eddy writes int8 as one byte (two's complement) and the
// unsigned types big-endian in their width, the bytes of the signed Kafka
// serde of that width: a Java reader with ShortSerializer, IntegerSerializer
// or LongSerializer sees the same number below 2^15, 2^31 or 2^63, and a
// negative one above. Go's int and uint are written in 8 bytes whatever the
// platform, so that a record does not depend on where it was written.

// Int8 writes an int8 as one byte (two's complement); Kafka has no such
// serializer.
func Int8() Serde[int8] { return intSerde[int8]{size: 1, signed: true, kind: "int8"} }

// Int16 is Kafka's 2-byte big-endian short encoding (ShortSerializer).
func Int16() Serde[int16] { return intSerde[int16]{size: 2, signed: true, kind: "int16"} }

// Int writes a Go int as Kafka's 8-byte long (LongSerializer).
func Int() Serde[int] { return intSerde[int]{size: 8, signed: true, kind: "int"} }

// Uint8 writes a uint8 as one byte.
func Uint8() Serde[uint8] { return intSerde[uint8]{size: 1, kind: "uint8"} }

// Uint16 writes a uint16 in 2 bytes, big-endian.
func Uint16() Serde[uint16] { return intSerde[uint16]{size: 2, kind: "uint16"} }

// Uint32 writes a uint32 in 4 bytes, big-endian.
func Uint32() Serde[uint32] { return intSerde[uint32]{size: 4, kind: "uint32"} }

// Uint64 writes a uint64 in 8 bytes, big-endian.
func Uint64() Serde[uint64] { return intSerde[uint64]{size: 8, kind: "uint64"} }

// Uint writes a Go uint in 8 bytes, big-endian.
func Uint() Serde[uint] { return intSerde[uint]{size: 8, kind: "uint"} }

// Bool is Kafka's one-byte boolean (BooleanSerializer): 0x01 true, 0x00
// false; any other byte, or another length, does not decode.
func Bool() Serde[bool] { return boolSerde{} }

// Float32 is Kafka's 4-byte big-endian IEEE 754 float (FloatSerializer).
func Float32() Serde[float32] { return float32Serde{} }

type integer interface {
	~int | ~int8 | ~int16 | ~int32 | ~int64 | ~uint | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~uintptr
}

// intSerde writes an integer big-endian in size bytes.
type intSerde[T integer] struct {
	size   int
	signed bool
	kind   string
}

func (s intSerde[T]) Serialize(_ string, v T) ([]byte, error) {
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], uint64(v))
	return append([]byte(nil), buf[8-s.size:]...), nil
}

func (s intSerde[T]) Deserialize(topic string, b []byte) (T, error) {
	if b == nil {
		return 0, nil
	}
	if len(b) != s.size {
		return 0, fmt.Errorf("%s serde: topic %q: want %d bytes, got %d", s.kind, topic, s.size, len(b))
	}
	var u uint64
	for _, c := range b {
		u = u<<8 | uint64(c)
	}
	if s.signed {
		shift := uint(64 - 8*s.size)
		return T(int64(u<<shift) >> shift), nil
	}
	return T(u), nil
}

func (s intSerde[T]) SerdeKind() string { return s.kind }

func (s intSerde[T]) SerializeText(text string) ([]byte, error) {
	text = strings.TrimSpace(text)
	if s.signed {
		n, err := strconv.ParseInt(text, 10, 8*s.size)
		if err != nil {
			return nil, fmt.Errorf("not a %d-bit integer: %q", 8*s.size, text)
		}
		return s.Serialize("", T(n))
	}
	n, err := strconv.ParseUint(text, 10, 8*s.size)
	if err != nil {
		return nil, fmt.Errorf("not an unsigned %d-bit integer: %q", 8*s.size, text)
	}
	return s.Serialize("", T(n))
}

func (s intSerde[T]) SerializedJSON(b []byte) (json.RawMessage, error) {
	v, err := s.Deserialize("", b)
	if err != nil {
		return nil, err
	}
	if s.signed {
		return json.RawMessage(strconv.FormatInt(int64(v), 10)), nil
	}
	return json.RawMessage(strconv.FormatUint(uint64(v), 10)), nil
}

type boolSerde struct{}

func (boolSerde) Serialize(_ string, v bool) ([]byte, error) {
	if v {
		return []byte{1}, nil
	}
	return []byte{0}, nil
}

func (boolSerde) Deserialize(topic string, b []byte) (bool, error) {
	switch {
	case b == nil:
		return false, nil
	case len(b) != 1:
		return false, fmt.Errorf("bool serde: topic %q: want 1 byte, got %d", topic, len(b))
	case b[0] == 1:
		return true, nil
	case b[0] == 0:
		return false, nil
	}
	return false, fmt.Errorf("bool serde: topic %q: byte %#x is neither 0x00 nor 0x01", topic, b[0])
}

func (boolSerde) SerdeKind() string { return "bool" }

func (s boolSerde) SerializeText(text string) ([]byte, error) {
	v, err := strconv.ParseBool(strings.TrimSpace(text))
	if err != nil {
		return nil, fmt.Errorf("not a boolean: %q", text)
	}
	return s.Serialize("", v)
}

func (s boolSerde) SerializedJSON(b []byte) (json.RawMessage, error) {
	v, err := s.Deserialize("", b)
	if err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

type float32Serde struct{}

func (float32Serde) Serialize(_ string, v float32) ([]byte, error) {
	return binary.BigEndian.AppendUint32(make([]byte, 0, 4), math.Float32bits(v)), nil
}

func (float32Serde) Deserialize(topic string, b []byte) (float32, error) {
	if b == nil {
		return 0, nil
	}
	if len(b) != 4 {
		return 0, fmt.Errorf("float32 serde: topic %q: want 4 bytes, got %d", topic, len(b))
	}
	return math.Float32frombits(binary.BigEndian.Uint32(b)), nil
}

func (float32Serde) SerdeKind() string { return "float32" }

func (s float32Serde) SerializeText(text string) ([]byte, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(text), 32)
	if err != nil {
		return nil, fmt.Errorf("not a number: %q", text)
	}
	return s.Serialize("", float32(f))
}

func (s float32Serde) SerializedJSON(b []byte) (json.RawMessage, error) {
	f, err := s.Deserialize("", b)
	if err != nil {
		return nil, err
	}
	if math.IsInf(float64(f), 0) || math.IsNaN(float64(f)) {
		return json.Marshal(strconv.FormatFloat(float64(f), 'g', -1, 32))
	}
	return json.RawMessage(strconv.FormatFloat(float64(f), 'g', -1, 32)), nil
}
