package streamtest_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/eddystreams/eddy/streamtest"
	"github.com/eddystreams/eddy/topology"
)

// Tables, table operators, grouped tables and cogroup, with outputs worked
// out by hand. A deleted key shows as "k=<null>".

// updates reads every unread record of o as "key=value", "key=<null>" for a
// tombstone.
func updates[K, V any](t *testing.T, o *streamtest.TestOutputTopic[K, V]) []string {
	t.Helper()
	rs, err := o.ReadAll()
	must(t, err)
	out := make([]string, len(rs))
	for i, r := range rs {
		if r.NullValue {
			out[i] = fmt.Sprintf("%v=<null>", r.Key)
		} else {
			out[i] = fmt.Sprintf("%v=%v", r.Key, r.Value)
		}
	}
	return out
}

func expectUpdates[K, V any](t *testing.T, o *streamtest.TestOutputTopic[K, V], want ...string) {
	t.Helper()
	got := updates(t, o)
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("updates:\n got  %v\n want %v", got, want)
	}
}

func expectStore[V any](t *testing.T, d *streamtest.Driver, store string, vs topology.Serde[V], want map[string]V) {
	t.Helper()
	got, err := streamtest.StoreToMap(streamtest.ReadStore(d, store, topology.String(), vs))
	must(t, err)
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("store %s:\n got  %v\n want %v", store, got, want)
	}
}

func TestTableSourceUpdatesAndDeletes(t *testing.T) {
	d := newDriver(t, build(t, func(b *topology.Builder) {
		topology.Table(b, "users", topology.String(), topology.Int64(), topology.Named("users")).ToStream().To("out")
	}))
	in := streamtest.CreateInputTopic(d, "users", topology.String(), topology.Int64())
	out := streamtest.CreateOutputTopic(d, "out", topology.String(), topology.Int64())
	must(t, in.PipeKeyValues(kv("a", int64(1)), kv("b", int64(2)), kv("a", int64(3))))
	must(t, in.PipeTombstone("a"))
	must(t, in.PipeTombstone("c"))                                                  // absent: still forwarded, as Kafka Streams does
	must(t, in.PipeRecord(topology.Record[string, int64]{NullKey: true, Value: 9})) // no key: skipped
	expectUpdates(t, out, "a=1", "b=2", "a=3", "a=<null>", "c=<null>")
	expectStore(t, d, "users", topology.Int64(), map[string]int64{"b": 2})
	// The source topic is the store's changelog: nothing else is written.
	if got := d.ProducedTopics(); !reflect.DeepEqual(got, []string{"out"}) {
		t.Fatalf("produced topics %v, want only out", got)
	}
}

func TestTableFilterTurnsFailedUpdatesIntoDeletes(t *testing.T) {
	d := newDriver(t, build(t, func(b *topology.Builder) {
		tb := topology.Table(b, "in", topology.String(), topology.Int64())
		even := func(_ string, v int64) bool { return v%2 == 0 }
		tb.Filter(even).ToStream().To("even")
		tb.FilterNot(even).ToStream().To("odd")
	}))
	in := streamtest.CreateInputTopic(d, "in", topology.String(), topology.Int64())
	even := streamtest.CreateOutputTopic(d, "even", topology.String(), topology.Int64())
	odd := streamtest.CreateOutputTopic(d, "odd", topology.String(), topology.Int64())
	must(t, in.PipeKeyValues(kv("a", int64(2)), kv("a", int64(4)), kv("a", int64(5)), kv("a", int64(7)), kv("a", int64(8))))
	must(t, in.PipeTombstone("a"))
	must(t, in.PipeTombstone("z"))
	// a=5 replaces an even value: a delete for "even"; a=7 replaces an odd
	// one: nothing. The delete of a (last 8) reaches "even" only; the delete
	// of an absent key reaches nobody.
	expectUpdates(t, even, "a=2", "a=4", "a=<null>", "a=8", "a=<null>")
	expectUpdates(t, odd, "a=5", "a=7", "a=<null>")
}

func TestMapTableValuesMapsOldAndNew(t *testing.T) {
	d := newDriver(t, build(t, func(b *topology.Builder) {
		tb := topology.Table(b, "in", topology.String(), topology.String())
		lens := topology.MapTableValues(tb, func(k, v string) int64 { return int64(len(k) + len(v)) })
		lens.ToStream().To("out")
		// A grouping downstream sees the mapped old values: the sum of
		// lengths stays exact through updates and deletes.
		topology.GroupTableBy(lens, func(_ string, n int64) (string, int64) { return "all", n }).
			Reduce(func(a, v int64) int64 { return a + v }, func(a, v int64) int64 { return a - v }, topology.Named("sum")).
			ToStream().To("sum")
	}))
	in := streamtest.CreateInputTopic(d, "in", topology.String(), topology.String())
	out := streamtest.CreateOutputTopic(d, "out", topology.String(), topology.Int64())
	sum := streamtest.CreateOutputTopic(d, "sum", topology.String(), topology.Int64())
	must(t, in.PipeKeyValues(kv("a", "xyz"), kv("bb", "q"), kv("a", "")))
	must(t, in.PipeTombstone("bb"))
	expectUpdates(t, out, "a=4", "bb=3", "a=1", "bb=<null>")
	// 4; 4+3; (7-4)+1 as one update (same group); 4-3.
	expectUpdates(t, sum, "all=4", "all=7", "all=4", "all=1")
}

// users maps a user to "region" or "region:score".
func regionOf(v string) string { r, _, _ := strings.Cut(v, ":"); return r }

func scoreOf(v string) int64 {
	_, s, ok := strings.Cut(v, ":")
	if !ok {
		return 0
	}
	var n int64
	fmt.Sscan(s, &n)
	return n
}

func regionTopology(b *topology.Builder) {
	users := topology.Table(b, "users", topology.String(), topology.String(), topology.Named("users"))
	byRegion := topology.GroupTableBy(users, func(_ string, v string) (string, string) { return regionOf(v), v })
	byRegion.Count(topology.Named("counts")).ToStream().To("counts")
	topology.AggregateTable(byRegion, func() int64 { return 0 },
		func(_ string, v string, agg int64) int64 { return agg + scoreOf(v) },
		func(_ string, v string, agg int64) int64 { return agg - scoreOf(v) },
		topology.Int64(), topology.Named("scores")).ToStream().To("scores")
}

func TestTableGroupByCountAndAggregate(t *testing.T) {
	d := newDriver(t, build(t, regionTopology))
	in := streamtest.CreateInputTopic(d, "users", topology.String(), topology.String())
	counts := streamtest.CreateOutputTopic(d, "counts", topology.String(), topology.Int64())
	scores := streamtest.CreateOutputTopic(d, "scores", topology.String(), topology.Int64())
	rep := streamtest.CreateOutputTopic(d, "streamtest-counts-repartition", topology.Bytes(), topology.Bytes())

	must(t, in.Pipe("u1", "eu:5"))
	must(t, in.Pipe("u2", "eu:7"))
	must(t, in.Pipe("u3", "us:1"))
	expectUpdates(t, counts, "eu=1", "eu=2", "us=1")
	expectUpdates(t, scores, "eu=5", "eu=12", "us=1")
	if n := rep.QueueSize(); n != 3 {
		t.Fatalf("%d repartition records for 3 inserts, want 3", n)
	}
	readAll(t, rep)

	// u1 moves: subtracted from eu first, then added to us.
	must(t, in.Pipe("u1", "us:4"))
	expectUpdates(t, counts, "eu=1", "us=2")
	expectUpdates(t, scores, "eu=7", "us=5")
	if n := rep.QueueSize(); n != 2 {
		t.Fatalf("%d repartition records for a move, want 2", n)
	}
	readAll(t, rep)

	// u3 stays in us with a new score: one record, one update per aggregate.
	must(t, in.Pipe("u3", "us:10"))
	expectUpdates(t, counts, "us=2")
	expectUpdates(t, scores, "us=14")
	if n := rep.QueueSize(); n != 1 {
		t.Fatalf("%d repartition records for an update within a group, want 1", n)
	}
	readAll(t, rep)

	// u2 leaves: eu drops to 0 and stays (a count is never deleted).
	must(t, in.PipeTombstone("u2"))
	must(t, in.PipeTombstone("nobody"))
	expectUpdates(t, counts, "eu=0")
	expectUpdates(t, scores, "eu=0")
	expectStore(t, d, "counts", topology.Int64(), map[string]int64{"eu": 0, "us": 2})
	expectStore(t, d, "scores", topology.Int64(), map[string]int64{"eu": 0, "us": 14})
	expectStore(t, d, "users", topology.String(), map[string]string{"u1": "us:4", "u3": "us:10"})
}

func TestGroupedTableReduce(t *testing.T) {
	d := newDriver(t, build(t, func(b *topology.Builder) {
		// Concatenate the names of each team's members, removing leavers.
		tb := topology.Table(b, "members", topology.String(), topology.String())
		topology.GroupTableBy(tb, func(name, team string) (string, string) { return team, name + ";" }).
			Reduce(func(a, v string) string { return a + v }, func(a, v string) string { return strings.Replace(a, v, "", 1) }).
			ToStream().To("teams")
	}))
	in := streamtest.CreateInputTopic(d, "members", topology.String(), topology.String())
	out := streamtest.CreateOutputTopic(d, "teams", topology.String(), topology.String())
	must(t, in.PipeKeyValues(kv("ann", "red"), kv("bob", "red"), kv("cid", "blue"), kv("ann", "blue")))
	must(t, in.PipeTombstone("bob"))
	expectUpdates(t, out, "red=ann;", "red=ann;bob;", "blue=cid;", "red=bob;", "blue=cid;ann;", "red=")
}

func TestCogroupFoldsStreamsOfDifferentTypes(t *testing.T) {
	type stats struct {
		Clicks int64
		Pages  string
	}
	d := newDriver(t, build(t, func(b *topology.Builder) {
		clicks := topology.Stream(b, "clicks", topology.String(), topology.Int64())
		views := topology.Stream(b, "views", topology.String(), topology.String())
		c := topology.Cogroup(clicks.GroupByKey(), func(_ string, n int64, s stats) stats { s.Clicks += n; return s })
		// Views are keyed by page: regroup by the user in the value
		// ("user page"), which repartitions.
		byUser := topology.GroupBy(views, func(_ string, v string) string { u, _, _ := strings.Cut(v, " "); return u })
		c = topology.CogroupWith(c, byUser, func(_ string, v string, s stats) stats {
			_, p, _ := strings.Cut(v, " ")
			s.Pages += p + ","
			return s
		})
		c.Aggregate(func() stats { return stats{} }, nil, topology.Named("stats")).ToStream().To("stats")
	}))
	clicks := streamtest.CreateInputTopic(d, "clicks", topology.String(), topology.Int64())
	views := streamtest.CreateInputTopic(d, "views", topology.String(), topology.String())
	out := streamtest.CreateOutputTopic(d, "stats", topology.String(), topology.JSON[stats]())
	must(t, clicks.Pipe("ann", 2))
	must(t, views.Pipe("home", "ann home"))
	must(t, views.Pipe("faq", "bob faq"))
	must(t, clicks.Pipe("ann", 3))
	must(t, clicks.PipeTombstone("ann")) // a null value: skipped
	must(t, clicks.PipeRecord(topology.Record[string, int64]{NullKey: true, Value: 1}))
	expectPairs(t, out,
		kv("ann", stats{Clicks: 2}),
		kv("ann", stats{Clicks: 2, Pages: "home,"}),
		kv("bob", stats{Pages: "faq,"}),
		kv("ann", stats{Clicks: 5, Pages: "home,"}),
	)
	if got := d.ProducedTopics(); !slicesContain(got, "streamtest-stats-1-repartition") {
		t.Fatalf("produced topics %v lack the second input's repartition topic", got)
	}
}

func slicesContain(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func TestStreamAggregationsSkipNullKeysAndValues(t *testing.T) {
	d := newDriver(t, build(t, counter))
	in := streamtest.CreateInputTopic(d, "in", topology.String(), topology.String())
	out := streamtest.CreateOutputTopic(d, "out", topology.String(), topology.Int64())
	must(t, in.Pipe("a", "x"))
	must(t, in.PipeTombstone("a"))
	must(t, in.PipeRecord(topology.Record[string, string]{NullKey: true, Value: "x"}))
	must(t, in.Pipe("a", "y"))
	expectPairs(t, out, kv("a", int64(1)), kv("a", int64(2)))
}

func TestStreamTombstonesPassThroughSinks(t *testing.T) {
	d := newDriver(t, build(t, func(b *topology.Builder) {
		s := topology.Stream(b, "in", topology.String(), topology.Int64())
		topology.MapValues(s.Filter(func(string, int64) bool { return true }), func(_ string, v int64) int64 { return v }).To("mapped")
		s.To("out")
	}))
	in := streamtest.CreateInputTopic(d, "in", topology.String(), topology.Int64())
	out := streamtest.CreateOutputTopic(d, "out", topology.String(), topology.Int64())
	mapped := streamtest.CreateOutputTopic(d, "mapped", topology.String(), topology.Int64())
	must(t, in.PipeTombstone("k"))
	must(t, in.PipeRecord(topology.Record[string, int64]{NullKey: true, Value: 3}))
	// The tombstone stays one; MapValues makes a new value (0 from the null).
	expectUpdates(t, out, "k=<null>", "=3")
	expectUpdates(t, mapped, "k=0", "=3")
	raw, err := streamtest.CreateOutputTopic(d, "out", topology.Bytes(), topology.Bytes()).ReadRawRecord()
	must(t, err)
	equalBytes(t, "tombstone value", raw.Value, nil)
}

func TestCogroupRepartitionTopicsAreCopartitioned(t *testing.T) {
	// clicks has 4 partitions and is aggregated where it is; views has 2
	// and is regrouped: its repartition topic must have 4 partitions too,
	// or a user's views and clicks would meet in different tasks.
	topo := build(t, func(b *topology.Builder) {
		clicks := topology.Stream(b, "clicks", topology.String(), topology.Int64())
		views := topology.Stream(b, "views", topology.String(), topology.String())
		c := topology.Cogroup(clicks.GroupByKey(), func(_ string, n int64, agg int64) int64 { return agg + n })
		c = topology.CogroupWith(c, topology.GroupBy(views, func(_, v string) string { return v }), func(_ string, _ string, agg int64) int64 { return agg + 100 })
		c.Aggregate(func() int64 { return 0 }, topology.Int64(), topology.Named("sum")).ToStream().To("out")
	})
	d := newDriver(t, topo, streamtest.WithTopicPartitions("clicks", 4), streamtest.WithTopicPartitions("views", 2))
	if n := d.Partitions("streamtest-sum-1-repartition"); n != 4 {
		t.Fatalf("repartition topic has %d partitions, want 4", n)
	}
	clicks := streamtest.CreateInputTopic(d, "clicks", topology.String(), topology.Int64())
	views := streamtest.CreateInputTopic(d, "views", topology.String(), topology.String())
	out := streamtest.CreateOutputTopic(d, "out", topology.String(), topology.Int64())
	for _, u := range []string{"ann", "bob", "cid", "dan", "eve", "fay"} {
		must(t, clicks.Pipe(u, 1))
		must(t, views.Pipe("page", u))
	}
	got, err := streamtest.ReadToMap(out)
	must(t, err)
	for u, n := range got {
		if n != 101 {
			t.Fatalf("%s = %d, want 101 (its click and its view in one aggregate): %v", u, n, got)
		}
	}

	// Two external topics of different widths cannot be co-partitioned.
	_, err = streamtest.New(build(t, func(b *topology.Builder) {
		a := topology.Stream(b, "a", topology.String(), topology.Int64())
		bb := topology.Stream(b, "b", topology.String(), topology.Int64())
		c := topology.Cogroup(a.GroupByKey(), func(_ string, n int64, agg int64) int64 { return agg + n })
		topology.CogroupWith(c, bb.GroupByKey(), func(_ string, n int64, agg int64) int64 { return agg + n }).
			Aggregate(func() int64 { return 0 }, nil)
	}), streamtest.WithTopicPartitions("a", 3), streamtest.WithTopicPartitions("b", 2))
	if err == nil || !strings.Contains(err.Error(), "not co-partitioned: b has 2") {
		t.Fatalf("want a co-partitioning error, got %v", err)
	}
}
