package streamtest_test

import (
	"testing"

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
