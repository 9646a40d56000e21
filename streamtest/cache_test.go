package streamtest_test

import (
	"fmt"
	"github.com/eddystreams/eddy"
	"maps"
	"math/rand/v2"
	"testing"

	"github.com/eddystreams/eddy/streamtest"
	"github.com/eddystreams/eddy/topology"
)

// cachedSums sums int64 values per key (re-keyed by the first letter of the
// value's key, so that it repartitions) into a store with the given
// caching, and sends every change to "out".
func cachedSums(caching bool) func(b *topology.Builder) {
	return func(b *topology.Builder) {
		s := topology.Stream(b, "in", topology.String(), topology.Int64())
		topology.GroupBy(s, func(k string, _ int64) string { return k[:1] }).
			Reduce(func(a, v int64) int64 { return a + v }, topology.Named("sums"), topology.WithCaching(caching)).
			ToStream().To("out")
	}
}

func TestRecordCacheMergesUpdatesBetweenCommits(t *testing.T) {
	d := newDriver(t, build(t, cachedSums(true)), eddy.WithCacheMaxBytes(1<<20))
	in := streamtest.CreateInputTopic(d, "in", topology.String(), topology.Int64())
	out := streamtest.CreateOutputTopic(d, "out", topology.String(), topology.Int64())
	changelog := streamtest.CreateOutputTopic(d, "streamtest-sums-changelog", topology.String(), topology.Int64())
	must(t, in.PipeAt("a1", 1, 10))
	must(t, in.PipeAt("a2", 2, 20))
	must(t, in.PipeAt("a3", 3, 30))
	if !out.IsEmpty() || !changelog.IsEmpty() {
		t.Fatalf("before the commit: %d outputs, %d changelog records; want none", out.QueueSize(), changelog.QueueSize())
	}
	// Reads see the cached value.
	if v, ok, err := streamtest.ReadStore(d, "sums", topology.String(), topology.Int64()).Get("a"); err != nil || !ok || v != 6 {
		t.Fatalf("store a = %d, %v, %v; want 6", v, ok, err)
	}
	must(t, d.Commit())
	recs, err := out.ReadAll()
	must(t, err)
	if len(recs) != 1 || recs[0].Key != "a" || recs[0].Value != 6 || recs[0].Timestamp != 30 {
		t.Fatalf("after the commit: %+v; want one record a=6 at 30 (the last update's time)", recs)
	}
	expectPairs(t, changelog, kv("a", int64(6)))
	must(t, d.Commit()) // nothing new
	if !out.IsEmpty() {
		t.Fatal("an empty commit sent records")
	}
}

func TestRecordCacheNeedsABudget(t *testing.T) {
	for name, opts := range map[string][]streamtest.Option{
		"store without caching": {eddy.WithCacheMaxBytes(1 << 20)},
		"no budget":             nil,
	} {
		t.Run(name, func(t *testing.T) {
			d := newDriver(t, build(t, cachedSums(name == "no budget")), opts...)
			in := streamtest.CreateInputTopic(d, "in", topology.String(), topology.Int64())
			out := streamtest.CreateOutputTopic(d, "out", topology.String(), topology.Int64())
			must(t, in.Pipe("a1", 1))
			must(t, in.Pipe("a2", 2))
			expectPairs(t, out, kv("a", int64(1)), kv("a", int64(3)))
		})
	}
}

func TestRecordCacheEvictsEarlyWhenFull(t *testing.T) {
	// Room for a few entries: new keys push the older ones out, downstream,
	// before any commit.
	d := newDriver(t, build(t, cachedSums(true)), eddy.WithCacheMaxBytes(600))
	in := streamtest.CreateInputTopic(d, "in", topology.String(), topology.Int64())
	out := streamtest.CreateOutputTopic(d, "out", topology.String(), topology.Int64())
	for _, k := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		must(t, in.Pipe(k+"1", 1))
	}
	early := out.QueueSize()
	if early == 0 {
		t.Fatal("nothing was evicted from a full cache")
	}
	must(t, d.Commit())
	got, err := streamtest.ReadToMap(out)
	must(t, err)
	if len(got) != 8 {
		t.Fatalf("%d keys after the commit, want 8", len(got))
	}
}

// TestRecordCacheMatchesNoCache runs the same random input, commits and
// restarts (clean, crash, lost state) through a cached and an uncached
// topology: the final stores and the last output of each key are the same,
// and the cached one sends fewer records.
func TestRecordCacheMatchesNoCache(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			engine := topology.EngineMemory
			if seed == 4 {
				engine = topology.EngineRocksDB
			}
			r := rand.New(rand.NewPCG(seed, 11))
			budget := int64(200 + r.IntN(2000))
			type side struct {
				d   *streamtest.Driver
				in  *streamtest.TestInputTopic[string, int64]
				out *streamtest.TestOutputTopic[string, int64]
			}
			mk := func(caching bool) side {
				d := newDriver(t, build(t, cachedSums(caching)), streamtest.WithPartitions(3), eddy.WithCacheMaxBytes(budget),
					eddy.WithDefaultStoreEngine(engine))
				return side{d, streamtest.CreateInputTopic(d, "in", topology.String(), topology.Int64()),
					streamtest.CreateOutputTopic(d, "out", topology.String(), topology.Int64())}
			}
			cached, plain := mk(true), mk(false)
			for i := 0; i < 300; i++ {
				k := fmt.Sprintf("%c%d", 'a'+r.IntN(12), r.IntN(5))
				v := int64(r.IntN(10))
				for _, s := range []side{cached, plain} {
					must(t, s.in.Pipe(k, v))
				}
				var step func(*streamtest.Driver) error
				switch n := r.IntN(100); {
				case n < 8:
					step = (*streamtest.Driver).Commit
				case n < 10:
					step = func(d *streamtest.Driver) error { return d.Restart() }
				case n < 12:
					step = func(d *streamtest.Driver) error { return d.Restart(streamtest.Unclean()) }
				case n < 13:
					step = func(d *streamtest.Driver) error { return d.Restart(streamtest.WipeState()) }
				}
				if step != nil {
					for _, s := range []side{cached, plain} {
						must(t, step(s.d))
					}
				}
			}
			var finals [2]map[string]int64
			var sent [2]int
			for i, s := range []side{cached, plain} {
				must(t, s.d.Commit())
				sent[i] = s.out.QueueSize()
				outs, err := streamtest.ReadToMap(s.out)
				must(t, err)
				store, err := streamtest.StoreToMap(streamtest.ReadStore(s.d, "sums", topology.String(), topology.Int64()))
				must(t, err)
				if !maps.Equal(outs, store) {
					t.Fatalf("side %d: last outputs %v differ from the store %v", i, outs, store)
				}
				finals[i] = store
			}
			if !maps.Equal(finals[0], finals[1]) {
				t.Fatalf("cached %v, uncached %v", finals[0], finals[1])
			}
			if sent[0] >= sent[1] {
				t.Fatalf("cached sent %d records, uncached %d", sent[0], sent[1])
			}
			t.Logf("budget %d: cached sent %d records, uncached %d", budget, sent[0], sent[1])
		})
	}
}

// cachedRegions reads a table of user -> region, counts users per region
// and materializes the users of regions other than "x", both with the given
// caching, and sends the changes of each to "per-region" and "users".
func cachedRegions(caching bool) func(b *topology.Builder) {
	return func(b *topology.Builder) {
		users := topology.Table(b, "users", topology.String(), topology.String(), topology.Named("users"))
		topology.GroupTableBy(users, func(u, r string) (string, string) { return r, u }).
			Count(topology.Named("per-region"), topology.WithCaching(caching)).ToStream().To("per-region")
		users.FilterNot(func(_, r string) bool { return r == "x" }).
			Materialize(topology.Named("kept"), topology.WithCaching(caching)).ToStream().To("kept")
	}
}

// TestRecordCacheMatchesNoCacheForTables is TestRecordCacheMatchesNoCache
// for a table aggregation (adds and subtracts) and a materialized table,
// with deletes.
func TestRecordCacheMatchesNoCacheForTables(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 13))
			budget := int64(300 + r.IntN(3000))
			type side struct {
				d        *streamtest.Driver
				in       *streamtest.TestInputTopic[string, string]
				counts   *streamtest.TestOutputTopic[string, int64]
				kept     *streamtest.TestOutputTopic[string, string]
				inserted int
			}
			mk := func(caching bool) *side {
				d := newDriver(t, build(t, cachedRegions(caching)), streamtest.WithPartitions(2), eddy.WithCacheMaxBytes(budget))
				return &side{d: d, in: streamtest.CreateInputTopic(d, "users", topology.String(), topology.String()),
					counts: streamtest.CreateOutputTopic(d, "per-region", topology.String(), topology.Int64()),
					kept:   streamtest.CreateOutputTopic(d, "kept", topology.String(), topology.String())}
			}
			cached, plain := mk(true), mk(false)
			for i := 0; i < 300; i++ {
				rec := topology.Record[string, string]{Key: fmt.Sprint("u", r.IntN(20)), Value: string(rune('w' + r.IntN(4)))}
				rec.NullValue = r.IntN(8) == 0
				commit := r.IntN(10) == 0
				for _, s := range []*side{cached, plain} {
					must(t, s.in.PipeRecord(rec))
					if commit {
						must(t, s.d.Commit())
					}
				}
			}
			var counts [2]map[string]int64
			var kept [2]map[string]string
			var sent [2]int
			for i, s := range []*side{cached, plain} {
				must(t, s.d.Commit())
				sent[i] = s.counts.QueueSize() + s.kept.QueueSize()
				var err error
				counts[i], err = streamtest.ReadToMap(s.counts)
				must(t, err)
				kept[i], err = streamtest.ReadToMap(s.kept)
				must(t, err)
				store, err := streamtest.StoreToMap(streamtest.ReadStore(s.d, "kept", topology.String(), topology.String()))
				must(t, err)
				if !maps.Equal(store, kept[i]) {
					t.Fatalf("side %d: kept outputs %v differ from the store %v", i, kept[i], store)
				}
			}
			if !maps.Equal(counts[0], counts[1]) || !maps.Equal(kept[0], kept[1]) {
				t.Fatalf("cached %v %v, uncached %v %v", counts[0], kept[0], counts[1], kept[1])
			}
			if sent[0] >= sent[1] {
				t.Fatalf("cached sent %d records, uncached %d", sent[0], sent[1])
			}
		})
	}
}
