package topology_test

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/eddystreams/eddy/topology"
)

// Kafka's serializers (org.apache.kafka.common.serialization) write fixed
// width big-endian two's complement: ShortSerializer 2 bytes
// ("(byte) (data >>> 8), (byte) data"), IntegerSerializer 4, LongSerializer
// 8; FloatSerializer 4 bytes of Float.floatToRawIntBits; BooleanSerializer
// (KIP-907, Kafka 3.5) one byte 0x01 or 0x00, and its deserializer refuses
// any other length or byte. DefaultSerde picks these for Go's types; the
// unsigned types and int8, which Kafka has no serializer for, are written
// big-endian in their width.
func TestDefaultSerdeKafkaEncodings(t *testing.T) {
	cases := []struct {
		name string
		ser  func() ([]byte, error)
		want []byte
	}{
		{"int8 -2", func() ([]byte, error) { return topology.DefaultSerde[int8]().Serialize("t", -2) }, []byte{0xfe}},
		{"int16 258 (ShortSerializer)", func() ([]byte, error) { return topology.DefaultSerde[int16]().Serialize("t", 258) }, []byte{1, 2}},
		{"int16 min", func() ([]byte, error) { return topology.DefaultSerde[int16]().Serialize("t", math.MinInt16) }, []byte{0x80, 0}},
		{"int32 -1 (IntegerSerializer)", func() ([]byte, error) { return topology.DefaultSerde[int32]().Serialize("t", -1) }, []byte{0xff, 0xff, 0xff, 0xff}},
		{"int 12 (LongSerializer)", func() ([]byte, error) { return topology.DefaultSerde[int]().Serialize("t", 12) }, []byte{0, 0, 0, 0, 0, 0, 0, 12}},
		{"int -256", func() ([]byte, error) { return topology.DefaultSerde[int]().Serialize("t", -256) }, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0}},
		{"uint8 200", func() ([]byte, error) { return topology.DefaultSerde[uint8]().Serialize("t", 200) }, []byte{200}},
		{"uint16 65535", func() ([]byte, error) { return topology.DefaultSerde[uint16]().Serialize("t", 65535) }, []byte{0xff, 0xff}},
		{"uint32 1<<31", func() ([]byte, error) { return topology.DefaultSerde[uint32]().Serialize("t", 1<<31) }, []byte{0x80, 0, 0, 0}},
		{"uint64 max", func() ([]byte, error) { return topology.DefaultSerde[uint64]().Serialize("t", math.MaxUint64) }, bytes.Repeat([]byte{0xff}, 8)},
		{"uint 1", func() ([]byte, error) { return topology.DefaultSerde[uint]().Serialize("t", 1) }, []byte{0, 0, 0, 0, 0, 0, 0, 1}},
		{"bool true (BooleanSerializer)", func() ([]byte, error) { return topology.DefaultSerde[bool]().Serialize("t", true) }, []byte{1}},
		{"bool false", func() ([]byte, error) { return topology.DefaultSerde[bool]().Serialize("t", false) }, []byte{0}},
		{"float32 1 (FloatSerializer)", func() ([]byte, error) { return topology.DefaultSerde[float32]().Serialize("t", 1) }, []byte{0x3f, 0x80, 0, 0}},
	}
	for _, c := range cases {
		got, err := c.ser()
		if err != nil || !bytes.Equal(got, c.want) {
			t.Errorf("%s: % x, %v; want % x", c.name, got, err, c.want)
		}
	}
	// A named type is not one of Go's own: it keeps JSON.
	type celsius int16
	if got, _ := topology.DefaultSerde[celsius]().Serialize("t", 21); string(got) != "21" {
		t.Errorf("named integer type: %q, want JSON 21", got)
	}
}

func TestIntegerSerdesRoundTrip(t *testing.T) {
	roundTrip(t, topology.Int8(), -128, 127, -1, 0)
	roundTrip(t, topology.Int16(), math.MinInt16, math.MaxInt16, -300)
	roundTrip(t, topology.Int(), math.MinInt64, math.MaxInt64, -1)
	roundTrip(t, topology.Uint8(), 0, 255)
	roundTrip(t, topology.Uint16(), 0, math.MaxUint16)
	roundTrip(t, topology.Uint32(), 0, math.MaxUint32)
	roundTrip(t, topology.Uint64(), 0, math.MaxUint64)
	roundTrip(t, topology.Uint(), 0, math.MaxUint)
	roundTrip(t, topology.Bool(), true, false)
	roundTrip(t, topology.Float32(), 1.5, -0.25, float32(math.Inf(1)))
}

func roundTrip[T comparable](t *testing.T, s topology.Serde[T], vs ...T) {
	t.Helper()
	for _, v := range vs {
		b, err := s.Serialize("t", v)
		if err != nil {
			t.Fatalf("%v: %v", v, err)
		}
		got, err := s.Deserialize("t", b)
		if err != nil || got != v {
			t.Errorf("%T %v: round trip gave %v, %v", v, v, got, err)
		}
	}
	var zero T
	if got, err := s.Deserialize("t", nil); got != zero || err != nil {
		t.Errorf("%T null: %v, %v; want the zero value", zero, got, err)
	}
}

// Bytes of the wrong length, or a boolean byte other than 0 and 1, do not
// decode (as Kafka's deserializers throw), and the error names the topic.
// Old JSON-encoded values of these types fail the same way.
func TestIntegerSerdesRefuseOtherBytes(t *testing.T) {
	for name, err := range map[string]error{
		"int16 of 3 bytes": second(topology.Int16().Deserialize("orders", []byte{1, 2, 3})),
		"int of JSON":      second(topology.DefaultSerde[int]().Deserialize("orders", []byte("12"))),
		"uint32 of 8":      second(topology.Uint32().Deserialize("orders", make([]byte, 8))),
		"bool of 2 bytes":  second(topology.Bool().Deserialize("orders", []byte{0, 1})),
		"bool byte 2":      second(topology.Bool().Deserialize("orders", []byte{2})),
		"bool of JSON":     second(topology.DefaultSerde[bool]().Deserialize("orders", []byte("true"))),
		"float32 of 8":     second(topology.Float32().Deserialize("orders", make([]byte, 8))),
	} {
		if err == nil || !strings.Contains(err.Error(), `"orders"`) {
			t.Errorf("%s: %v, want an error naming the topic", name, err)
		}
	}
}

func second[T any](_ T, err error) error { return err }

// The HTTP gateway reads keys as text and shows values as JSON.
func TestIntegerSerdesText(t *testing.T) {
	for _, c := range []struct {
		s    any
		text string
		json string
	}{
		{topology.Int16(), "-300", "-300"},
		{topology.Int(), "9223372036854775807", "9223372036854775807"},
		{topology.Uint64(), "18446744073709551615", "18446744073709551615"},
		{topology.Bool(), "true", "true"},
		{topology.Float32(), "1.5", "1.5"},
	} {
		tk := c.s.(topology.TextKeys)
		jv := c.s.(topology.JSONValues)
		b, err := tk.SerializeText(c.text)
		if err != nil {
			t.Fatalf("%s %q: %v", jv.SerdeKind(), c.text, err)
		}
		j, err := jv.SerializedJSON(b)
		if err != nil || string(j) != c.json || !json.Valid(j) {
			t.Errorf("%s %q: JSON %s, %v; want %s", jv.SerdeKind(), c.text, j, err, c.json)
		}
	}
	if _, err := topology.Int8().(topology.TextKeys).SerializeText("128"); err == nil {
		t.Error("int8 128: no error")
	}
	if _, err := topology.Uint16().(topology.TextKeys).SerializeText("-1"); err == nil {
		t.Error("uint16 -1: no error")
	}
}
