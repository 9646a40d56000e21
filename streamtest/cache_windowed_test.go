package streamtest_test

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/streamtest"
	"github.com/eddystreams/eddy/topology"
)

// The record cache on the stores of windowed, session and cogrouped
// aggregations, as Kafka Streams has it (CachingWindowStore,
// CachingSessionStore, and the caching key-value store of a cogroup):
// updates of a window, session or key between commits are merged, and only
// the latest goes downstream and to the changelog when the cache flushes
// (at a commit, or when the budget evicts it); a session merged away
// before anything of it was flushed never goes out.

// cachedAgg builds an aggregation of kind (tumbling, hopping, sliding,
// session, cogroup) over "in" (and "in2" for a cogroup) into the store
// "agg", with or without caching, sending its changes to "out".
func cachedAgg(kind string, caching bool) func(b *topology.Builder) {
	return func(b *topology.Builder) {
		opts := []topology.StoreOption{topology.Named("agg"), topology.WithCaching(caching)}
		g := topology.Stream(b, "in", topology.String(), topology.Int64()).GroupByKey()
		sum := func(a, v int64) int64 { return a + v }
		ms := time.Millisecond
		var t *topology.KTable[topology.Windowed[string], int64]
		switch kind {
		case "tumbling":
			t = topology.WindowedReduce(g.WindowedBy(topology.TumblingWindows(10*ms, 20*ms)), sum, opts...)
		case "hopping":
			t = topology.WindowedCount(g.WindowedBy(topology.HoppingWindows(10*ms, 5*ms, 20*ms)), opts...)
		case "sliding":
			t = topology.WindowedReduce(g.WindowedBySliding(topology.SlidingWindowsOf(10*ms, 20*ms)), sum, opts...)
		case "session":
			t = topology.SessionReduce(g.WindowedBySession(topology.SessionWindowsOf(5*ms, 20*ms)), sum, opts...)
		case "cogroup":
			g2 := topology.Stream(b, "in2", topology.String(), topology.Int64()).GroupByKey()
			c := topology.Cogroup(g, func(_ string, v, a int64) int64 { return a + v })
			c = topology.CogroupWith(c, g2, func(_ string, v, a int64) int64 { return a + 100*v })
			c.Aggregate(func() int64 { return 0 }, topology.Int64(), opts...).ToStream().To("out")
			return
		}
		t.ToStream().To("out")
	}
}

// aggOutput reads "out" as "KEY [START END] VALUE|null" lines.
type aggOutput func() ([]string, error)

func cachedAggOutput(d *streamtest.Driver, kind string) aggOutput {
	render := func(k string, null bool, v int64) string {
		if null {
			return k + " null"
		}
		return k + " " + strconv.FormatInt(v, 10)
	}
	switch kind {
	case "cogroup":
		out := streamtest.CreateOutputTopic(d, "out", topology.String(), topology.Int64())
		return func() ([]string, error) {
			rs, err := out.ReadAll()
			var s []string
			for _, r := range rs {
				s = append(s, render(r.Key, r.NullValue, r.Value))
			}
			return s, err
		}
	default:
		serde := topology.TimeWindowedSerde(topology.String(), 10*time.Millisecond)
		if kind == "session" {
			serde = topology.SessionWindowedSerde(topology.String())
		}
		out := streamtest.CreateOutputTopic(d, "out", serde, topology.Int64())
		return func() ([]string, error) {
			rs, err := out.ReadAll()
			var s []string
			for _, r := range rs {
				s = append(s, render(fmt.Sprintf("%s %d %d", r.Key.Key, r.Key.Window.Start, r.Key.Window.End), r.NullValue, r.Value))
			}
			return s, err
		}
	}
}

// foldTable folds output lines ("K ... VALUE|null") into the table they
// describe: the last value of each key, deleted by null.
func foldTable(lines []string) map[string]string {
	m := map[string]string{}
	for _, l := range lines {
		i := len(l) - 1
		for l[i] != ' ' {
			i--
		}
		k, v := l[:i], l[i+1:]
		if v == "null" {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	return m
}

// With the cache on, every kind sends fewer updates for the same input and
// ends with the same results: the same table downstream after the last
// commit, the same store. Input: random keys, values and timestamps (some
// out of order, some late), a commit every few records; with a budget that
// holds everything between commits, and one so small that it evicts.
func TestRecordCacheOnWindowedAndCogroupedAggregates(t *testing.T) {
	for _, kind := range []string{"tumbling", "hopping", "sliding", "session", "cogroup"} {
		for _, budget := range []int64{1 << 20, 1200} {
			t.Run(fmt.Sprintf("%s/%d", kind, budget), func(t *testing.T) { testCachedAgg(t, kind, budget) })
		}
	}
}

func testCachedAgg(t *testing.T, kind string, budget int64) {
	{
		{
			type run struct {
				d   *streamtest.Driver
				out aggOutput
				got []string
			}
			var runs [2]*run
			for i, caching := range []bool{false, true} {
				d := newDriver(t, build(t, cachedAgg(kind, caching)), eddy.WithCacheMaxBytes(budget))
				runs[i] = &run{d: d, out: cachedAggOutput(d, kind)}
			}
			rng := rand.New(rand.NewPCG(7, uint64(len(kind))))
			ts := int64(0)
			for n := range 300 {
				k := string(rune('a' + rng.IntN(3)))
				v := int64(rng.IntN(5) + 1)
				ts += int64(rng.IntN(4))
				at := max(0, ts-int64(rng.IntN(30))) // out of order, sometimes late
				topic := "in"
				if kind == "cogroup" && rng.IntN(2) == 0 {
					topic = "in2"
				}
				for _, r := range runs {
					in := streamtest.CreateInputTopic(r.d, topic, topology.String(), topology.Int64())
					must(t, in.PipeAt(k, v, at))
					if n%10 == 9 {
						must(t, r.d.Commit())
					}
				}
			}
			for _, r := range runs {
				must(t, r.d.Commit())
				var err error
				r.got, err = r.out()
				must(t, err)
			}
			plain, cached := runs[0].got, runs[1].got
			if len(cached) >= len(plain) || len(cached) == 0 {
				t.Fatalf("%d updates with the cache, %d without: want fewer, and some", len(cached), len(plain))
			}
			t.Logf("%d updates without the cache, %d with", len(plain), len(cached))
			want, got := foldTable(plain), foldTable(cached)
			if fmt.Sprint(want) != fmt.Sprint(got) {
				t.Fatalf("final table with the cache:\n%v\nwithout:\n%v", got, want)
			}
			// The stores hold the same.
			var stores [2]string
			for i, r := range runs {
				var all any
				var err error
				switch kind {
				case "cogroup":
					all, err = streamtest.StoreToMap(streamtest.ReadStore(r.d, "agg", topology.String(), topology.Int64()))
				case "session":
					all, err = streamtest.ReadSessionStore(r.d, "agg", topology.String(), topology.Int64()).All()
				default:
					all, err = streamtest.ReadWindowStore(r.d, "agg", topology.String(), topology.Int64()).All()
				}
				must(t, err)
				stores[i] = fmt.Sprint(all)
			}
			if stores[0] != stores[1] {
				t.Fatalf("store with the cache:\n%s\nwithout:\n%s", stores[1], stores[0])
			}
		}
	}
}

// Between commits nothing of a cached window or session goes downstream
// or to the changelog; the commit flushes the latest of each, and a session
// merged away before any flush leaves no tombstone (CachingSessionStore
// forwards a removal only of what the store underneath held).
func TestRecordCacheFlushesWindowsOnCommit(t *testing.T) {
	d := newDriver(t, build(t, cachedAgg("session", true)), eddy.WithCacheMaxBytes(1<<20))
	in := streamtest.CreateInputTopic(d, "in", topology.String(), topology.Int64())
	out := cachedAggOutput(d, "session")
	changelog := streamtest.CreateOutputTopic(d, "streamtest-agg-changelog", topology.String(), topology.Int64())
	// [0,0], then [0,4], then [0,8]: each merge removes the session before.
	must(t, in.PipeAt("a", 1, 0))
	must(t, in.PipeAt("a", 2, 4))
	must(t, in.PipeAt("a", 4, 8))
	got, err := out()
	must(t, err)
	if len(got) != 0 || !changelog.IsEmpty() {
		t.Fatalf("before the commit: outputs %v, %d changelog records; want none", got, changelog.QueueSize())
	}
	// Reads see the cached session.
	ss, err := streamtest.ReadSessionStore(d, "agg", topology.String(), topology.Int64()).Fetch("a")
	must(t, err)
	if len(ss) != 1 || ss[0].Value != 7 || ss[0].Key.Window != (topology.Window{Start: 0, End: 8}) {
		t.Fatalf("store before the commit: %+v; want [0,8] = 7", ss)
	}
	must(t, d.Commit())
	got, err = out()
	must(t, err)
	if fmt.Sprint(got) != "[a 0 8 7]" {
		t.Fatalf("after the commit: %v; want [a 0 8 7]", got)
	}
	if n := changelog.QueueSize(); n != 1 {
		t.Fatalf("%d changelog records after the commit; want 1", n)
	}
	// Now [0,8] is in the store: extending it sends its tombstone, then
	// the new session, at the next commit.
	must(t, in.PipeAt("a", 8, 12))
	must(t, in.PipeAt("a", 16, 13))
	must(t, d.Commit())
	got, err = out()
	must(t, err)
	if fmt.Sprint(got) != "[a 0 8 null a 0 13 31]" {
		t.Fatalf("after the second commit: %v; want [a 0 8 null a 0 13 31]", got)
	}
}

// A tumbling window updated between commits goes out once per commit with
// its latest value and timestamp.
func TestRecordCacheFlushesTimeWindowsOnCommit(t *testing.T) {
	d := newDriver(t, build(t, cachedAgg("tumbling", true)), eddy.WithCacheMaxBytes(1<<20))
	in := streamtest.CreateInputTopic(d, "in", topology.String(), topology.Int64())
	out := streamtest.CreateOutputTopic(d, "out", topology.TimeWindowedSerde(topology.String(), 10*time.Millisecond), topology.Int64())
	for _, r := range [][2]int64{{1, 3}, {2, 7}, {4, 5}, {8, 12}} {
		must(t, in.PipeAt("a", r[0], r[1]))
	}
	if !out.IsEmpty() {
		t.Fatal("windows went out before the commit")
	}
	must(t, d.Commit())
	rs, err := out.ReadAll()
	must(t, err)
	var got []string
	for _, r := range rs {
		got = append(got, fmt.Sprintf("%d-%d=%d@%d", r.Key.Window.Start, r.Key.Window.End, r.Value, r.Timestamp))
	}
	if fmt.Sprint(got) != "[0-10=7@7 10-20=8@12]" {
		t.Fatalf("after the commit: %v; want [0-10=7@7 10-20=8@12]", got)
	}
}
