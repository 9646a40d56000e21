package streamtest_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/streamtest"
	"github.com/eddystreams/eddy/topology"
)

// Every test here pipes records by hand and checks the outputs worked out by
// hand, through the real task code.

func TestFilter(t *testing.T) {
	d := newDriver(t, build(t, func(b *topology.Builder) {
		s := topology.Stream(b, "in", topology.String(), topology.Int64())
		even := func(_ string, v int64) bool { return v%2 == 0 }
		s.Filter(even).To("even")
		s.FilterNot(even).To("odd")
	}))
	in := streamtest.CreateInputTopic(d, "in", topology.String(), topology.Int64())
	even := streamtest.CreateOutputTopic(d, "even", topology.String(), topology.Int64())
	odd := streamtest.CreateOutputTopic(d, "odd", topology.String(), topology.Int64())
	must(t, in.PipeKeyValues(kv("a", int64(1)), kv("b", int64(2)), kv("c", int64(3)), kv("d", int64(4)), kv("e", int64(-6))))
	expectPairs(t, even, kv("b", int64(2)), kv("d", int64(4)), kv("e", int64(-6)))
	expectPairs(t, odd, kv("a", int64(1)), kv("c", int64(3)))
}

func TestMapChangesKeyAndValueTypes(t *testing.T) {
	d := newDriver(t, build(t, func(b *topology.Builder) {
		s := topology.Stream(b, "in", topology.String(), topology.Int64())
		// (name, age) -> (age, name): both types change.
		topology.Map(s, func(k string, v int64) (int64, string) { return v, k }).To("out")
	}))
	in := streamtest.CreateInputTopic(d, "in", topology.String(), topology.Int64())
	must(t, in.PipeKeyValues(kv("ann", int64(31)), kv("bob", int64(7))))
	// Map's output has the default serdes of its types: Int64 keys, String values.
	out := streamtest.CreateOutputTopic(d, "out", topology.Int64(), topology.String())
	expectPairs(t, out, kv(int64(31), "ann"), kv(int64(7), "bob"))
}

func TestMapValuesKeepsKey(t *testing.T) {
	d := newDriver(t, build(t, func(b *topology.Builder) {
		s := topology.Stream(b, "in", topology.String(), topology.String())
		topology.MapValues(s, func(k, v string) int32 { return int32(len(k) + len(v)) }).To("out")
	}))
	in := streamtest.CreateInputTopic(d, "in", topology.String(), topology.String())
	must(t, in.PipeKeyValues(kv("ab", "cde"), kv("", ""), kv("x", "hello")))
	out := streamtest.CreateOutputTopic(d, "out", topology.String(), topology.Int32())
	expectPairs(t, out, kv("ab", int32(5)), kv("", int32(0)), kv("x", int32(6)))
}

func TestFlatMap(t *testing.T) {
	d := newDriver(t, build(t, func(b *topology.Builder) {
		s := topology.Stream(b, "in", topology.String(), topology.String())
		topology.FlatMap(s, func(_ string, line string) []topology.Pair[string, int32] {
			var out []topology.Pair[string, int32]
			for _, w := range strings.Fields(line) {
				out = append(out, topology.KV(w, int32(len(w))))
			}
			return out
		}).To("out")
	}))
	in := streamtest.CreateInputTopic(d, "in", topology.String(), topology.String())
	must(t, in.PipeKeyValues(kv("k1", "go is fun"), kv("k2", ""), kv("k3", "ok")))
	out := streamtest.CreateOutputTopic(d, "out", topology.String(), topology.Int32())
	// The empty line makes no record.
	expectPairs(t, out, kv("go", int32(2)), kv("is", int32(2)), kv("fun", int32(3)), kv("ok", int32(2)))
}

func TestFlatMapValues(t *testing.T) {
	d := newDriver(t, build(t, func(b *topology.Builder) {
		s := topology.Stream(b, "in", topology.String(), topology.String())
		topology.FlatMapValues(s, func(_ string, v string) []string {
			if v == "" {
				return nil
			}
			return strings.Split(v, ",")
		}).To("out")
	}))
	in := streamtest.CreateInputTopic(d, "in", topology.String(), topology.String())
	must(t, in.PipeKeyValues(kv("k", "a,b"), kv("e", ""), kv("z", "c")))
	out := streamtest.CreateOutputTopic(d, "out", topology.String(), topology.String())
	expectPairs(t, out, kv("k", "a"), kv("k", "b"), kv("z", "c"))
}

func TestSelectKey(t *testing.T) {
	d := newDriver(t, build(t, func(b *topology.Builder) {
		s := topology.Stream(b, "in", topology.String(), topology.String())
		topology.SelectKey(s, func(_ string, v string) string { return strings.SplitN(v, ":", 2)[0] }).To("out")
	}))
	in := streamtest.CreateInputTopic(d, "in", topology.String(), topology.String())
	must(t, in.PipeKeyValues(kv("old1", "alice:30"), kv("old2", "bob:7")))
	out := streamtest.CreateOutputTopic(d, "out", topology.String(), topology.String())
	// Only the key changes; the value serde carries over.
	expectPairs(t, out, kv("alice", "alice:30"), kv("bob", "bob:7"))
}

func TestPeekPassesRecordsOn(t *testing.T) {
	var seen []string
	d := newDriver(t, build(t, func(b *topology.Builder) {
		s := topology.Stream(b, "in", topology.String(), topology.String())
		s.Peek(func(k, v string) { seen = append(seen, k+"="+v) }).To("out")
	}))
	in := streamtest.CreateInputTopic(d, "in", topology.String(), topology.String())
	must(t, in.PipeKeyValues(kv("a", "1"), kv("b", "2")))
	if want := []string{"a=1", "b=2"}; !reflect.DeepEqual(seen, want) {
		t.Fatalf("peeked %v, want %v", seen, want)
	}
	out := streamtest.CreateOutputTopic(d, "out", topology.String(), topology.String())
	expectPairs(t, out, kv("a", "1"), kv("b", "2"))
}

func TestForeachEndsTheStream(t *testing.T) {
	var seen []string
	d := newDriver(t, build(t, func(b *topology.Builder) {
		s := topology.Stream(b, "in", topology.String(), topology.Int64())
		s.Foreach(func(k string, v int64) { seen = append(seen, fmt.Sprintf("%s:%d", k, v)) })
	}))
	in := streamtest.CreateInputTopic(d, "in", topology.String(), topology.Int64())
	must(t, in.PipeKeyValues(kv("x", int64(1)), kv("y", int64(2)), kv("x", int64(3))))
	if want := []string{"x:1", "y:2", "x:3"}; !reflect.DeepEqual(seen, want) {
		t.Fatalf("foreach saw %v, want %v", seen, want)
	}
	if got := d.ProducedTopics(); len(got) != 0 {
		t.Fatalf("Foreach produced to %v", got)
	}
}

// splitTopology branches ints by sign and size: "neg" (v < 0), "small"
// (v < 10) and, with withDefault, "big" for the rest.
func splitTopology(withDefault bool) func(b *topology.Builder) {
	return func(b *topology.Builder) {
		s := topology.Stream(b, "in", topology.String(), topology.Int64())
		bs := s.Split("split-").
			Branch("neg", func(_ string, v int64) bool { return v < 0 }).
			Branch("small", func(_ string, v int64) bool { return v < 10 })
		var branches map[string]*topology.KStream[string, int64]
		if withDefault {
			branches = bs.Default("big")
		} else {
			branches = bs.NoDefault()
		}
		for name, br := range branches {
			br.To("out-" + strings.TrimPrefix(name, "split-"))
		}
	}
}

func TestSplitFirstMatchingBranchThenDefault(t *testing.T) {
	d := newDriver(t, build(t, splitTopology(true)))
	in := streamtest.CreateInputTopic(d, "in", topology.String(), topology.Int64())
	// -1 matches both "neg" and "small": the first branch takes it.
	must(t, in.PipeKeyValues(kv("a", int64(-5)), kv("b", int64(3)), kv("c", int64(42)), kv("d", int64(7)), kv("e", int64(-1)), kv("f", int64(10))))
	expectPairs(t, streamtest.CreateOutputTopic(d, "out-neg", topology.String(), topology.Int64()), kv("a", int64(-5)), kv("e", int64(-1)))
	expectPairs(t, streamtest.CreateOutputTopic(d, "out-small", topology.String(), topology.Int64()), kv("b", int64(3)), kv("d", int64(7)))
	expectPairs(t, streamtest.CreateOutputTopic(d, "out-big", topology.String(), topology.Int64()), kv("c", int64(42)), kv("f", int64(10)))
}

func TestSplitNoDefaultDrops(t *testing.T) {
	d := newDriver(t, build(t, splitTopology(false)))
	in := streamtest.CreateInputTopic(d, "in", topology.String(), topology.Int64())
	must(t, in.PipeKeyValues(kv("a", int64(-5)), kv("b", int64(3)), kv("c", int64(42)), kv("f", int64(10))))
	expectPairs(t, streamtest.CreateOutputTopic(d, "out-neg", topology.String(), topology.Int64()), kv("a", int64(-5)))
	expectPairs(t, streamtest.CreateOutputTopic(d, "out-small", topology.String(), topology.Int64()), kv("b", int64(3)))
	if got, want := d.ProducedTopics(), []string{"out-neg", "out-small"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("produced to %v, want %v (42 and 10 dropped)", got, want)
	}
}

func TestSplitBranchNames(t *testing.T) {
	b := topology.NewBuilder()
	s := topology.Stream(b, "in", topology.String(), topology.Int64())
	got := s.Split("p-").Branch("a", func(string, int64) bool { return true }).Default("rest")
	if len(got) != 2 || got["p-a"] == nil || got["p-rest"] == nil {
		t.Fatalf("branches %v, want p-a and p-rest", got)
	}
}

func TestMerge(t *testing.T) {
	d := newDriver(t, build(t, func(b *topology.Builder) {
		left := topology.Stream(b, "left", topology.String(), topology.String())
		right := topology.Stream(b, "right", topology.String(), topology.String())
		tagged := topology.MapValues(right, func(_, v string) string { return "R:" + v })
		left.Merge(tagged).To("out")
	}))
	l := streamtest.CreateInputTopic(d, "left", topology.String(), topology.String())
	r := streamtest.CreateInputTopic(d, "right", topology.String(), topology.String())
	must(t, l.Pipe("k1", "a"))
	must(t, r.Pipe("k2", "b"))
	must(t, l.Pipe("k3", "c"))
	expectPairs(t, streamtest.CreateOutputTopic(d, "out", topology.String(), topology.String()),
		kv("k1", "a"), kv("k2", "R:b"), kv("k3", "c"))
	// Both inputs are read by one sub-topology: one task.
	if got := d.TaskIDs(); len(got) != 1 {
		t.Fatalf("tasks %v, want one", got)
	}
}

func TestToWithSerdes(t *testing.T) {
	d := newDriver(t, build(t, func(b *topology.Builder) {
		s := topology.Stream(b, "in", topology.String(), topology.Int64())
		s.To("default")
		s.WithSerdes(nil, topology.JSON[int64]()).To("json")
	}))
	in := streamtest.CreateInputTopic(d, "in", topology.String(), topology.Int64())
	must(t, in.PipeAt("k", 258, 1000))

	def := streamtest.CreateOutputTopic(d, "default", topology.Bytes(), topology.Bytes())
	r, err := def.ReadRecord()
	must(t, err)
	equalBytes(t, "key", r.Key, []byte("k"))
	equalBytes(t, "int64 value", r.Value, []byte{0, 0, 0, 0, 0, 0, 1, 2})
	if r.Timestamp != 1000 {
		t.Fatalf("timestamp %d, want 1000 (carried from the input)", r.Timestamp)
	}

	js := streamtest.CreateOutputTopic(d, "json", topology.String(), topology.Bytes())
	_, v, err := js.ReadKeyValue()
	must(t, err)
	equalBytes(t, "json value", v, []byte("258"))
}

func TestGroupByKeyDoesNotRepartition(t *testing.T) {
	topo := build(t, func(b *topology.Builder) {
		s := topology.Stream(b, "in", topology.String(), topology.String())
		// MapValues keeps the key: no repartition needed.
		up := topology.MapValues(s, func(_, v string) string { return strings.ToUpper(v) })
		up.GroupByKey().Count(topology.Named("per-key")).ToStream().To("out")
	})
	if desc := topo.Describe(); strings.Contains(desc, "repartition") || len(topo.Subtopologies) != 1 {
		t.Fatalf("GroupByKey after MapValues repartitions:\n%s", desc)
	}
	d := newDriver(t, topo, streamtest.WithPartitions(2))
	in := streamtest.CreateInputTopic(d, "in", topology.String(), topology.String())
	must(t, in.PipeKeyValues(kv("a", "x"), kv("b", "y"), kv("a", "z")))
	expectPairs(t, streamtest.CreateOutputTopic(d, "out", topology.String(), topology.Int64()),
		kv("a", int64(1)), kv("b", int64(1)), kv("a", int64(2)))
	if got, want := d.ProducedTopics(), []string{"out", "streamtest-per-key-changelog"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("produced to %v, want %v", got, want)
	}
}

func TestGroupByRepartitions(t *testing.T) {
	topo := build(t, func(b *topology.Builder) {
		s := topology.Stream(b, "clicks", topology.String(), topology.String())
		topology.GroupBy(s, func(_ string, color string) string { return color }).
			Count(topology.Named("colors")).ToStream().To("color-counts")
	})
	desc := topo.Describe()
	for _, want := range []string{
		"Sub-topology: 0", "Sub-topology: 1",
		"Sink: KSTREAM-SINK-0000000003 (topic: <app>-colors-repartition)",
		"Source: KSTREAM-SOURCE-0000000004 (topics: [<app>-colors-repartition])",
		"Repartition topic: <app>-colors-repartition (written by sub-topology 0)",
		"Store: colors (sub-topology: 1, engine: default, changelog: <app>-colors-changelog)",
	} {
		if !strings.Contains(desc, want) {
			t.Errorf("Describe lacks %q:\n%s", want, desc)
		}
	}

	const parts = 3
	d := newDriver(t, topo, streamtest.WithPartitions(parts))
	if got := len(d.TaskIDs()); got != 2*parts {
		t.Fatalf("%d tasks, want %d (2 sub-topologies x %d partitions)", got, 2*parts, parts)
	}
	if got := d.Partitions("streamtest-colors-repartition"); got != parts {
		t.Fatalf("repartition topic has %d partitions, want %d", got, parts)
	}
	in := streamtest.CreateInputTopic(d, "clicks", topology.String(), topology.String())
	must(t, in.PipeKeyValues(kv("u1", "red"), kv("u2", "blue"), kv("u3", "red"), kv("u1", "green"), kv("u4", "red")))

	out := streamtest.CreateOutputTopic(d, "color-counts", topology.String(), topology.Int64())
	var got []topology.Pair[string, int64]
	for !out.IsEmpty() {
		r, err := out.ReadRawRecord()
		must(t, err)
		// Each count went to the partition the default partitioner picks.
		if want := partition.KeyPartition(r.Key, parts); r.Partition != want {
			t.Errorf("%s went to partition %d, want %d", r.Key, r.Partition, want)
		}
		got = append(got, kv(string(r.Key), int64FromBytes(t, r.Value)))
	}
	want := []topology.Pair[string, int64]{kv("red", int64(1)), kv("blue", int64(1)), kv("red", int64(2)), kv("green", int64(1)), kv("red", int64(3))}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("counts %v, want %v", got, want)
	}

	// The repartition topic holds the re-keyed records, by color.
	rep := streamtest.CreateOutputTopic(d, "streamtest-colors-repartition", topology.String(), topology.String())
	expectPairs(t, rep, kv("red", "red"), kv("blue", "blue"), kv("red", "red"), kv("green", "green"), kv("red", "red"))

	store := streamtest.ReadStore(d, "colors", topology.String(), topology.Int64())
	for color, want := range map[string]int64{"red": 3, "blue": 1, "green": 1} {
		n, ok, err := store.Get(color)
		must(t, err)
		if !ok || n != want {
			t.Errorf("store colors[%s] = %d, %v; want %d", color, n, ok, want)
		}
	}
	if _, ok, err := store.Get("purple"); err != nil || ok {
		t.Errorf("store colors[purple]: present %v, err %v; want absent", ok, err)
	}
	all, err := streamtest.StoreToMap(store)
	must(t, err)
	if want := map[string]int64{"red": 3, "blue": 1, "green": 1}; !reflect.DeepEqual(all, want) {
		t.Fatalf("store %v, want %v", all, want)
	}
}

func TestReduce(t *testing.T) {
	d := newDriver(t, build(t, func(b *topology.Builder) {
		s := topology.Stream(b, "in", topology.String(), topology.Int64())
		s.GroupByKey().Reduce(func(agg, v int64) int64 { return agg + v }, topology.Named("sums")).ToStream().To("out")
	}))
	in := streamtest.CreateInputTopic(d, "in", topology.String(), topology.Int64())
	must(t, in.PipeKeyValues(kv("a", int64(1)), kv("b", int64(10)), kv("a", int64(2)), kv("a", int64(3)), kv("b", int64(-10))))
	expectPairs(t, streamtest.CreateOutputTopic(d, "out", topology.String(), topology.Int64()),
		kv("a", int64(1)), kv("b", int64(10)), kv("a", int64(3)), kv("a", int64(6)), kv("b", int64(0)))
	m, err := streamtest.StoreToMap(streamtest.ReadStore(d, "sums", topology.String(), topology.Int64()))
	must(t, err)
	if want := map[string]int64{"a": 6, "b": 0}; !reflect.DeepEqual(m, want) {
		t.Fatalf("store %v, want %v", m, want)
	}
}

func TestReduceKeepsFirstValue(t *testing.T) {
	d := newDriver(t, build(t, func(b *topology.Builder) {
		s := topology.Stream(b, "in", topology.String(), topology.String())
		// The reducer is not called for a key's first value.
		s.GroupByKey().Reduce(func(agg, v string) string { return agg + "+" + v }).ToStream().To("out")
	}))
	in := streamtest.CreateInputTopic(d, "in", topology.String(), topology.String())
	must(t, in.PipeKeyValues(kv("k", "a"), kv("k", "b"), kv("j", "c"), kv("k", "d")))
	expectPairs(t, streamtest.CreateOutputTopic(d, "out", topology.String(), topology.String()),
		kv("k", "a"), kv("k", "a+b"), kv("j", "c"), kv("k", "a+b+d"))
}

type stats struct {
	Count int   `json:"count"`
	Sum   int64 `json:"sum"`
	Max   int64 `json:"max"`
}

func TestAggregateWithJSONSerde(t *testing.T) {
	d := newDriver(t, build(t, func(b *topology.Builder) {
		s := topology.Stream(b, "in", topology.String(), topology.Int64())
		topology.Aggregate(s.GroupByKey(),
			func() stats { return stats{Max: -1 << 63} },
			func(_ string, v int64, agg stats) stats {
				agg.Count++
				agg.Sum += v
				agg.Max = max(agg.Max, v)
				return agg
			},
			topology.JSON[stats](), topology.Named("stats")).ToStream().To("out")
	}))
	in := streamtest.CreateInputTopic(d, "in", topology.String(), topology.Int64())
	must(t, in.PipeKeyValues(kv("a", int64(5)), kv("b", int64(-2)), kv("a", int64(3))))

	raw := streamtest.CreateOutputTopic(d, "out", topology.String(), topology.String())
	expectPairs(t, raw,
		kv("a", `{"count":1,"sum":5,"max":5}`),
		kv("b", `{"count":1,"sum":-2,"max":-2}`),
		kv("a", `{"count":2,"sum":8,"max":5}`))

	typed := streamtest.CreateOutputTopic(d, "out", topology.String(), topology.JSON[stats]())
	m, err := streamtest.ReadToMap(typed)
	must(t, err)
	if want := map[string]stats{"a": {2, 8, 5}, "b": {1, -2, -2}}; !reflect.DeepEqual(m, want) {
		t.Fatalf("latest %v, want %v", m, want)
	}
	v, ok, err := streamtest.ReadStore(d, "stats", topology.String(), topology.JSON[stats]()).Get("a")
	must(t, err)
	if !ok || v != (stats{2, 8, 5}) {
		t.Fatalf("store stats[a] = %+v, %v", v, ok)
	}
}

func TestCountAfterSelectKeyWithSerdes(t *testing.T) {
	// GroupByKey after SelectKey repartitions; WithSerdes picks the
	// repartition topic's serdes.
	d := newDriver(t, build(t, func(b *topology.Builder) {
		s := topology.Stream(b, "in", topology.String(), topology.String())
		byLen := topology.SelectKey(s, func(_ string, v string) int32 { return int32(len(v)) })
		byLen.GroupByKey().WithSerdes(topology.Int32(), topology.String()).Count(topology.Named("by-len")).ToStream().To("out")
	}))
	in := streamtest.CreateInputTopic(d, "in", topology.String(), topology.String())
	must(t, in.PipeKeyValues(kv("", "ab"), kv("", "cd"), kv("", "xyz")))
	rep := streamtest.CreateOutputTopic(d, "streamtest-by-len-repartition", topology.Bytes(), topology.String())
	k, v, err := rep.ReadKeyValue()
	must(t, err)
	equalBytes(t, "repartition key", k, []byte{0, 0, 0, 2})
	if v != "ab" {
		t.Fatalf("repartition value %q", v)
	}
	expectPairs(t, streamtest.CreateOutputTopic(d, "out", topology.Int32(), topology.Int64()),
		kv(int32(2), int64(1)), kv(int32(2), int64(2)), kv(int32(3), int64(1)))
}

func TestTableToStreamCarriesTimestampsAndHeaders(t *testing.T) {
	d := newDriver(t, build(t, func(b *topology.Builder) {
		s := topology.Stream(b, "in", topology.String(), topology.String())
		s.GroupByKey().Count().ToStream().To("out")
	}))
	in := streamtest.CreateInputTopic(d, "in", topology.String(), topology.String())
	must(t, in.PipeRecord(topology.Record[string, string]{Key: "k", Value: "v", Timestamp: 42, Headers: []topology.Header{{Key: "trace", Value: []byte("t1")}}}))
	r, err := streamtest.CreateOutputTopic(d, "out", topology.String(), topology.Int64()).ReadRecord()
	must(t, err)
	if r.Key != "k" || r.Value != 1 || r.Timestamp != 42 {
		t.Fatalf("record %+v", r)
	}
	if h, ok := header(r.Headers, "trace"); !ok || string(h) != "t1" {
		t.Fatalf("headers %v, want trace=t1", r.Headers)
	}
}
