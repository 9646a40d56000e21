package topology_test

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/eddystreams/eddy/topology"
)

func TestKafkaEncodings(t *testing.T) {
	enc := func(b []byte, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, c := range []struct {
		name string
		got  []byte
		want []byte
	}{
		{"int32 1", enc(topology.Int32().Serialize("t", 1)), []byte{0, 0, 0, 1}},
		{"int32 min", enc(topology.Int32().Serialize("t", math.MinInt32)), []byte{0x80, 0, 0, 0}},
		{"int64 1", enc(topology.Int64().Serialize("t", 1)), []byte{0, 0, 0, 0, 0, 0, 0, 1}},
		{"int64 -256", enc(topology.Int64().Serialize("t", -256)), []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0}},
		{"float64 1", enc(topology.Float64().Serialize("t", 1)), []byte{0x3f, 0xf0, 0, 0, 0, 0, 0, 0}},
		{"float64 +inf", enc(topology.Float64().Serialize("t", math.Inf(1))), []byte{0x7f, 0xf0, 0, 0, 0, 0, 0, 0}},
		{"string", enc(topology.String().Serialize("t", "ü")), []byte{0xc3, 0xbc}},
		{"json", enc(topology.JSON[map[string]int]().Serialize("t", map[string]int{"b": 2, "a": 1})), []byte(`{"a":1,"b":2}`)},
		{"default int64", enc(topology.DefaultSerde[int64]().Serialize("t", 2)), []byte{0, 0, 0, 0, 0, 0, 0, 2}},
		{"default []byte", enc(topology.DefaultSerde[[]byte]().Serialize("t", []byte{9})), []byte{9}},
		{"default int is Kafka's long", enc(topology.DefaultSerde[int]().Serialize("t", 12)), []byte{0, 0, 0, 0, 0, 0, 0, 12}},
	} {
		if !bytes.Equal(c.got, c.want) {
			t.Errorf("%s: % x, want % x", c.name, c.got, c.want)
		}
	}
}

func TestDeserializeNullIsZero(t *testing.T) {
	if v, err := topology.Int64().Deserialize("t", nil); v != 0 || err != nil {
		t.Errorf("int64: %v, %v", v, err)
	}
	if v, err := topology.Int32().Deserialize("t", nil); v != 0 || err != nil {
		t.Errorf("int32: %v, %v", v, err)
	}
	if v, err := topology.Float64().Deserialize("t", nil); v != 0 || err != nil {
		t.Errorf("float64: %v, %v", v, err)
	}
	type s struct{ A int }
	if v, err := topology.JSON[s]().Deserialize("t", nil); v != (s{}) || err != nil {
		t.Errorf("json: %v, %v", v, err)
	}
}

func TestDeserializeErrorsNameTheTopic(t *testing.T) {
	_, err1 := topology.Int64().Deserialize("orders", []byte{1})
	_, err2 := topology.Int32().Deserialize("orders", []byte{1, 2, 3, 4, 5})
	_, err3 := topology.Float64().Deserialize("orders", []byte{})
	_, err4 := topology.JSON[int]().Deserialize("orders", []byte("{"))
	for i, err := range []error{err1, err2, err3, err4} {
		if err == nil || !strings.Contains(err.Error(), `topic "orders"`) {
			t.Errorf("case %d: %v", i, err)
		}
	}
}
