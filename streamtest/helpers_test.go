package streamtest_test

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/eddystreams/eddy/streamtest"
	"github.com/eddystreams/eddy/topology"
)

// build runs define on a new builder and builds the topology.
func build(t *testing.T, define func(b *topology.Builder)) *topology.Topology {
	t.Helper()
	b := topology.NewBuilder()
	define(b)
	topo, err := b.Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return topo
}

// newDriver makes a driver that is closed when the test ends.
func newDriver(t *testing.T, topo *topology.Topology, opts ...streamtest.Option) *streamtest.Driver {
	t.Helper()
	d, err := streamtest.New(topo, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return d
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// readAll reads every unread pair of o.
func readAll[K, V any](t *testing.T, o *streamtest.TestOutputTopic[K, V]) []topology.Pair[K, V] {
	t.Helper()
	kvs, err := o.ReadKeyValues()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return kvs
}

// expectPairs checks the unread records of o, in order, and that nothing
// else is left.
func expectPairs[K, V any](t *testing.T, o *streamtest.TestOutputTopic[K, V], want ...topology.Pair[K, V]) {
	t.Helper()
	got := readAll(t, o)
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("records:\n got  %v\n want %v", got, want)
	}
}

func kv[K, V any](k K, v V) topology.Pair[K, V] { return topology.KV(k, v) }

// expectEmpty checks that o has no unread record.
func expectEmpty[K, V any](t *testing.T, o *streamtest.TestOutputTopic[K, V]) {
	t.Helper()
	if !o.IsEmpty() {
		t.Fatalf("expected no record, have %d: %v", o.QueueSize(), readAll(t, o))
	}
	if _, err := o.ReadRecord(); !errors.Is(err, streamtest.ErrNoRecord) {
		t.Fatalf("ReadRecord on empty topic: err = %v, want ErrNoRecord", err)
	}
}

func header(hs []topology.Header, key string) ([]byte, bool) {
	for _, h := range hs {
		if h.Key == key {
			return h.Value, true
		}
	}
	return nil, false
}

func equalBytes(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) || (got == nil) != (want == nil) {
		t.Fatalf("%s = % x (nil %v), want % x (nil %v)", what, got, got == nil, want, want == nil)
	}
}

func int64FromBytes(t *testing.T, b []byte) int64 {
	t.Helper()
	v, err := topology.Int64().Deserialize("", b)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
