package streamtest_test

import (
	"math"
	"testing"

	"github.com/eddystreams/eddy/streamtest"
	"github.com/eddystreams/eddy/topology"
)

// roundTrip pipes v through a pass-through topology with serde s, checks the
// bytes in the output topic, and that they decode back to v.
func roundTrip[T comparable](t *testing.T, s topology.Serde[T], v T, want []byte) {
	t.Helper()
	d := newDriver(t, build(t, func(b *topology.Builder) {
		topology.Stream(b, "in", s, s).To("out")
	}))
	must(t, streamtest.CreateInputTopic(d, "in", s, s).Pipe(v, v))
	raw, err := streamtest.CreateOutputTopic(d, "out", topology.Bytes(), topology.Bytes()).ReadRecord()
	must(t, err)
	equalBytes(t, "key bytes", raw.Key, want)
	equalBytes(t, "value bytes", raw.Value, want)
	typed := streamtest.CreateOutputTopic(d, "out", s, s)
	k, got, err := typed.ReadKeyValue()
	must(t, err)
	if k != v || got != v {
		t.Fatalf("round trip of %v gave key %v, value %v", v, k, got)
	}
}

// The expected bytes are Kafka's encodings (StringSerializer,
// IntegerSerializer, LongSerializer, DoubleSerializer: big-endian).
func TestSerdeRoundTrips(t *testing.T) {
	t.Run("string", func(t *testing.T) {
		roundTrip(t, topology.String(), "héllo", []byte{'h', 0xc3, 0xa9, 'l', 'l', 'o'})
	})
	t.Run("empty string", func(t *testing.T) {
		roundTrip(t, topology.String(), "", []byte{})
	})
	t.Run("int32 1", func(t *testing.T) { roundTrip(t, topology.Int32(), 1, []byte{0, 0, 0, 1}) })
	t.Run("int32 -2", func(t *testing.T) { roundTrip(t, topology.Int32(), -2, []byte{0xff, 0xff, 0xff, 0xfe}) })
	t.Run("int32 max", func(t *testing.T) {
		roundTrip(t, topology.Int32(), math.MaxInt32, []byte{0x7f, 0xff, 0xff, 0xff})
	})
	t.Run("int64 1", func(t *testing.T) {
		roundTrip(t, topology.Int64(), 1, []byte{0, 0, 0, 0, 0, 0, 0, 1})
	})
	t.Run("int64 -1", func(t *testing.T) {
		roundTrip(t, topology.Int64(), -1, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	})
	t.Run("int64 2^40+1", func(t *testing.T) {
		roundTrip(t, topology.Int64(), 1<<40+1, []byte{0, 0, 1, 0, 0, 0, 0, 1})
	})
	t.Run("float64 1.5", func(t *testing.T) {
		roundTrip(t, topology.Float64(), 1.5, []byte{0x3f, 0xf8, 0, 0, 0, 0, 0, 0})
	})
	t.Run("float64 -2", func(t *testing.T) {
		roundTrip(t, topology.Float64(), -2, []byte{0xc0, 0, 0, 0, 0, 0, 0, 0})
	})
	t.Run("float64 0.1", func(t *testing.T) {
		roundTrip(t, topology.Float64(), 0.1, []byte{0x3f, 0xb9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a})
	})
	type point struct {
		X int    `json:"x"`
		Y int    `json:"y"`
		L string `json:"label,omitempty"`
	}
	t.Run("json", func(t *testing.T) {
		roundTrip(t, topology.JSON[point](), point{X: 1, Y: -2, L: "a"}, []byte(`{"x":1,"y":-2,"label":"a"}`))
	})
	t.Run("json omitempty", func(t *testing.T) {
		roundTrip(t, topology.JSON[point](), point{}, []byte(`{"x":0,"y":0}`))
	})
}

func TestBytesSerdePassesThrough(t *testing.T) {
	d := newDriver(t, build(t, func(b *topology.Builder) {
		topology.Stream(b, "in", topology.Bytes(), topology.Bytes()).To("out")
	}))
	want := []byte{0, 1, 0xfe, 0xff}
	must(t, streamtest.CreateInputTopic(d, "in", topology.Bytes(), topology.Bytes()).Pipe([]byte("k"), want))
	r, err := streamtest.CreateOutputTopic(d, "out", topology.Bytes(), topology.Bytes()).ReadRecord()
	must(t, err)
	equalBytes(t, "value", r.Value, want)
}

func TestNullValueSurvivesAsNull(t *testing.T) {
	// A Kafka null value decodes to the zero value and []byte(nil) stays
	// nil on the way out: tombstones pass through a bytes topology.
	d := newDriver(t, build(t, func(b *topology.Builder) {
		topology.Stream(b, "in", topology.String(), topology.Bytes()).To("out")
	}))
	must(t, d.PipeInput("in", []byte("k"), nil, 5))
	r, err := streamtest.CreateOutputTopic(d, "out", topology.Bytes(), topology.Bytes()).ReadRawRecord()
	must(t, err)
	equalBytes(t, "key", r.Key, []byte("k"))
	equalBytes(t, "value", r.Value, nil)
}

func TestDefaultSerdesMatchKafkaEncodings(t *testing.T) {
	// Stream with nil serdes uses DefaultSerde: int64 keys are 8 bytes
	// big-endian, float64 values IEEE 754 big-endian.
	d := newDriver(t, build(t, func(b *topology.Builder) {
		topology.Stream[int64, float64](b, "in", nil, nil).To("out")
	}))
	must(t, d.PipeInput("in", []byte{0, 0, 0, 0, 0, 0, 0, 7}, []byte{0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18}, 0))
	k, v, err := streamtest.CreateOutputTopic[int64, float64](d, "out", nil, nil).ReadKeyValue()
	must(t, err)
	if k != 7 || v != math.Pi {
		t.Fatalf("got %d, %v; want 7, pi", k, v)
	}
}
