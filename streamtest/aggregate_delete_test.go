package streamtest_test

import (
	"testing"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/streamtest"
	"github.com/eddystreams/eddy/topology"
)

// An adder or subtractor that yields no value deletes the group. Kafka
// Streams' KTableAggregate subtracts the old value, then adds the new one
// (starting from the initializer when the aggregate is null), puts the
// result in the store and forwards it: a null result deletes the key from
// the store and sends a tombstone downstream.
func TestTableAggregateOrDeleteDropsEmptyGroups(t *testing.T) {
	type members struct{ N, Score int64 }
	d := newDriver(t, build(t, func(b *topology.Builder) {
		users := topology.Table(b, "users", topology.String(), topology.String(), topology.Named("users"))
		byRegion := topology.GroupTableBy(users, func(_ string, v string) (string, string) { return regionOf(v), v })
		agg := topology.AggregateTableOrDelete(byRegion, func() members { return members{} },
			func(_ string, v string, m members) (members, bool) {
				return members{m.N + 1, m.Score + scoreOf(v)}, true
			},
			func(_ string, v string, m members) (members, bool) {
				m = members{m.N - 1, m.Score - scoreOf(v)}
				return m, m.N > 0 // the last member left: no group
			},
			nil, topology.Named("scores"))
		topology.MapTableValues(agg, func(_ string, m members) int64 { return m.Score }).ToStream().To("scores")
	}))
	in := streamtest.CreateInputTopic(d, "users", topology.String(), topology.String())
	scores := streamtest.CreateOutputTopic(d, "scores", topology.String(), topology.Int64())

	must(t, in.Pipe("u1", "eu:5"))
	must(t, in.Pipe("u2", "eu:7"))
	expectUpdates(t, scores, "eu=5", "eu=12")
	must(t, in.PipeTombstone("u1"))
	expectUpdates(t, scores, "eu=7")
	// The last member leaves: the group is deleted, downstream sees a tombstone.
	must(t, in.PipeTombstone("u2"))
	expectUpdates(t, scores, "eu=<null>")
	if got, err := streamtest.StoreToMap(streamtest.ReadStore(d, "scores", topology.String(), topology.JSON[members]())); err != nil || len(got) != 0 {
		t.Fatalf("store after the group emptied: %v, %v; want empty", got, err)
	}
	// The only member moves away: eu is deleted, us made from init().
	must(t, in.Pipe("u3", "eu:2"))
	must(t, in.Pipe("u3", "us:4"))
	expectUpdates(t, scores, "eu=2", "eu=<null>", "us=4")
}

// With a record cache the deletion goes downstream when the cache flushes.
func TestTableAggregateOrDeleteCached(t *testing.T) {
	d := newDriver(t, build(t, func(b *topology.Builder) {
		users := topology.Table(b, "users", topology.String(), topology.String(), topology.Named("users"))
		byRegion := topology.GroupTableBy(users, func(_ string, v string) (string, string) { return regionOf(v), v })
		topology.AggregateTableOrDelete(byRegion, func() int64 { return 0 },
			func(_ string, v string, n int64) (int64, bool) { return n + 1, true },
			func(_ string, v string, n int64) (int64, bool) { return n - 1, n > 1 },
			topology.Int64(), topology.Named("members"), topology.WithCaching(true)).ToStream().To("members")
	}), eddy.WithCacheMaxBytes(1<<20))
	in := streamtest.CreateInputTopic(d, "users", topology.String(), topology.String())
	out := streamtest.CreateOutputTopic(d, "members", topology.String(), topology.Int64())
	must(t, in.Pipe("u1", "eu:5"))
	must(t, in.Pipe("u2", "eu:7"))
	must(t, d.Commit())
	expectUpdates(t, out, "eu=2")
	must(t, in.PipeTombstone("u1"))
	must(t, in.PipeTombstone("u2"))
	must(t, d.Commit())
	expectUpdates(t, out, "eu=<null>")
	expectStore(t, d, "members", topology.Int64(), map[string]int64{})
}

// An adder yielding nothing for a group the store does not have still sends
// a tombstone: Kafka Streams' KTableAggregate puts and forwards the null
// aggregate (Change(null, null)) without checking that it had the group.
func TestTableAggregateOrDeleteNewGroupWithoutValue(t *testing.T) {
	d := newDriver(t, build(t, func(b *topology.Builder) {
		users := topology.Table(b, "users", topology.String(), topology.String(), topology.Named("users"))
		byRegion := topology.GroupTableBy(users, func(_ string, v string) (string, string) { return regionOf(v), v })
		topology.AggregateTableOrDelete(byRegion, func() int64 { return 0 },
			func(_ string, v string, n int64) (int64, bool) { return n + scoreOf(v), scoreOf(v) > 0 },
			func(_ string, v string, n int64) (int64, bool) { return n - scoreOf(v), true },
			topology.Int64(), topology.Named("sums")).ToStream().To("sums")
	}))
	in := streamtest.CreateInputTopic(d, "users", topology.String(), topology.String())
	sums := streamtest.CreateOutputTopic(d, "sums", topology.String(), topology.Int64())
	must(t, in.Pipe("u1", "eu:0"))
	expectUpdates(t, sums, "eu=<null>")
	must(t, in.Pipe("u2", "eu:3"))
	expectUpdates(t, sums, "eu=3")
	if got, err := streamtest.StoreToMap(streamtest.ReadStore(d, "sums", topology.String(), topology.Int64())); err != nil || len(got) != 1 || got["eu"] != 3 {
		t.Fatalf("store: %v, %v; want eu=3", got, err)
	}
}

// AggregateOrDelete on a grouped stream: an aggregator that yields no value
// deletes the key's group from the store and sends a tombstone, as a null
// aggregate does in Kafka Streams' KStreamAggregate (store.put of the null
// aggregate, then forwarded); the next record starts from init() again. A
// first record that yields nothing sends a tombstone too.
func TestStreamAggregateOrDelete(t *testing.T) {
	for _, caching := range []bool{false, true} {
		t.Run(map[bool]string{false: "uncached", true: "cached"}[caching], func(t *testing.T) {
			d := newDriver(t, build(t, func(b *topology.Builder) {
				g := topology.Stream(b, "in", topology.String(), topology.Int64()).GroupByKey()
				// A running balance; the account closes when it reaches 0.
				topology.AggregateOrDelete(g, func() int64 { return 0 },
					func(_ string, v, bal int64) (int64, bool) { return bal + v, bal+v != 0 },
					topology.Int64(), topology.Named("balances"), topology.WithCaching(caching)).ToStream().To("balances")
			}), eddy.WithCacheMaxBytes(1<<20))
			in := streamtest.CreateInputTopic(d, "in", topology.String(), topology.Int64())
			out := streamtest.CreateOutputTopic(d, "balances", topology.String(), topology.Int64())
			store := streamtest.ReadStore(d, "balances", topology.String(), topology.Int64())
			must(t, in.Pipe("a", 5))
			must(t, in.Pipe("a", -5))
			if _, ok, err := store.Get("a"); err != nil || ok {
				t.Fatalf("a after closing: present %v, %v; want deleted", ok, err)
			}
			must(t, in.Pipe("a", 7))
			must(t, in.Pipe("b", 0))
			must(t, d.Commit())
			if caching {
				// The cache merges a's updates into its latest value; the
				// delete of b, which the store never had, is dropped.
				expectUpdates(t, out, "a=7")
			} else {
				expectUpdates(t, out, "a=5", "a=<null>", "a=7", "b=<null>")
			}
			if got, err := streamtest.StoreToMap(store); err != nil || len(got) != 1 || got["a"] != 7 {
				t.Fatalf("store: %v, %v; want a=7", got, err)
			}
		})
	}
}
