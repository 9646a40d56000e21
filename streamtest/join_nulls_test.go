package streamtest_test

import (
	"testing"
	"time"

	"github.com/eddystreams/eddy/streamtest"
	"github.com/eddystreams/eddy/topology"
)

// Null keys in stream–table and stream–global-table joins (KIP-962, Kafka
// Streams 3.7+): "left join KStream-Ktable: no longer drop left records
// with null-key and call ValueJoiner with 'null' for right value"; "left
// join KStream-GlobalTable: no longer drop records when KeyValueMapper
// returns 'null'". Inner joins still drop them, and count them as dropped
// (Kafka Streams' dropped-records sensor).
func TestStreamTableJoinNullKeysKIP962(t *testing.T) {
	d := newDriver(t, build(t, func(b *topology.Builder) {
		s := topology.Stream(b, "s", str, str)
		tb := topology.Table(b, "t", str, str)
		topology.JoinTable(s, tb, func(v, vt string) string { return v + "+" + vt }).To("inner")
		topology.LeftJoinTable(s, tb, func(v, vt string, ok bool) string { return v + "+" + orNull(vt, ok) }).To("left")
	}))
	in := streamtest.CreateInputTopic(d, "s", str, str)
	must(t, streamtest.CreateInputTopic(d, "t", str, str).PipeRecord(topology.Record[string, string]{Key: "k", Value: "T", Timestamp: 1}))
	must(t, in.PipeRecord(topology.Record[string, string]{NullKey: true, Value: "N", Timestamp: 2}))
	inner, left := streamtest.CreateOutputTopic(d, "inner", str, str), streamtest.CreateOutputTopic(d, "left", str, str)
	if !inner.IsEmpty() {
		t.Fatal("the inner join kept a null-key record")
	}
	r, err := left.ReadRecord()
	if err != nil {
		t.Fatal(err)
	}
	if !r.NullKey || r.Value != "N+null" || r.Timestamp != 2 {
		t.Fatalf("left join result %+v, want a null key, N+null, at 2", r)
	}
	if n := d.DroppedRecords()[topology.DropNullKey]; n != 1 {
		t.Fatalf("%d null-key drops, want 1 (the inner join's)", n)
	}
}

func TestGlobalTableJoinNoKeyKIP962(t *testing.T) {
	d := newDriver(t, build(t, func(b *topology.Builder) {
		s := topology.Stream(b, "s", str, str)
		g := topology.GlobalTable(b, "g", str, str)
		none := func(string, string) (string, bool) { return "", false } // the key mapper returns null
		topology.JoinGlobalTable(s, g, none, func(v, gv string) string { return v + "+" + gv }).To("inner")
		topology.LeftJoinGlobalTable(s, g, none, func(v, gv string, ok bool) string { return v + "+" + orNull(gv, ok) }).To("left")
	}))
	must(t, streamtest.CreateInputTopic(d, "g", str, str).PipeRecord(topology.Record[string, string]{Key: "", Value: "G", Timestamp: 1}))
	must(t, streamtest.CreateInputTopic(d, "s", str, str).PipeRecord(topology.Record[string, string]{Key: "k", Value: "V", Timestamp: 2}))
	if !streamtest.CreateOutputTopic(d, "inner", str, str).IsEmpty() {
		t.Fatal("the inner join kept a record without a key")
	}
	r, err := streamtest.CreateOutputTopic(d, "left", str, str).ReadRecord()
	if err != nil {
		t.Fatal(err)
	}
	if r.Key != "k" || r.Value != "V+null" || r.Timestamp != 2 {
		t.Fatalf("left join result %+v, want k=V+null at 2", r)
	}
	if n := d.DroppedRecords()[topology.DropNullKey]; n != 1 {
		t.Fatalf("%d null-key drops, want 1 (the inner join's)", n)
	}
}

// A record that waits in a stream-table join's grace buffer keeps its
// headers and timestamp (Kafka Streams' buffer keeps the record context),
// also when the buffer comes back from its changelog.
func TestStreamTableJoinGraceKeepsHeaders(t *testing.T) {
	d := newDriver(t, build(t, func(b *topology.Builder) {
		tb := topology.Table(b, "t", str, str, topology.Versioned(time.Hour))
		topology.JoinTable(topology.Stream(b, "s", str, str), tb, func(v, vt string) string { return v + "+" + vt },
			topology.WithGracePeriod(10*time.Millisecond)).To("out")
	}))
	must(t, streamtest.CreateInputTopic(d, "t", str, str).PipeRecord(topology.Record[string, string]{Key: "k", Value: "T", Timestamp: 1}))
	in := streamtest.CreateInputTopic(d, "s", str, str)
	hs := []topology.Header{{Key: "trace", Value: []byte("abc")}, {Key: "empty", Value: []byte{}}, {Key: "nil"}}
	must(t, in.PipeRecord(topology.Record[string, string]{Key: "k", Value: "A", Timestamp: 5, Headers: hs}))
	out := streamtest.CreateOutputTopic(d, "out", str, str)
	if !out.IsEmpty() {
		t.Fatal("a record went out before its grace period passed")
	}
	must(t, d.Commit())
	must(t, d.Restart(streamtest.WipeState()))
	must(t, in.PipeRecord(topology.Record[string, string]{Key: "x", Value: "B", Timestamp: 20}))
	r, err := out.ReadRecord()
	if err != nil {
		t.Fatal(err)
	}
	if r.Key != "k" || r.Value != "A+T" || r.Timestamp != 5 || len(r.Headers) != 3 ||
		r.Headers[0].Key != "trace" || string(r.Headers[0].Value) != "abc" ||
		r.Headers[1].Key != "empty" || r.Headers[1].Value == nil || len(r.Headers[1].Value) != 0 ||
		r.Headers[2].Key != "nil" || r.Headers[2].Value != nil {
		t.Fatalf("result %+v, want k=A+T at 5 with headers %+v", r, hs)
	}
}
