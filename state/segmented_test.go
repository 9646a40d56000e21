//go:build cgo

package state

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddystreams/eddy/topology"
)

// segEngines lists the engines the segmented store is tested on.
var segEngines = []struct {
	name string
	open func(t testing.TB) SegmentEngine
}{
	{"rocksdb", func(t testing.TB) SegmentEngine { return openRocks(t, t.TempDir(), RocksDBConfig{}) }},
	{"memory", func(t testing.TB) SegmentEngine {
		s := NewMemoryStore("test")
		t.Cleanup(func() { s.Close() })
		return s
	}},
}

func forEachSegEngine(t *testing.T, run func(t *testing.T, e SegmentEngine)) {
	for _, e := range segEngines {
		t.Run(e.name, func(t *testing.T) { run(t, e.open(t)) })
	}
}

func newSegmented(t testing.TB, e SegmentEngine, kind topology.StoreKind, retention, interval time.Duration) *SegmentedStore {
	t.Helper()
	s, err := NewSegmentedStore(e, SegmentedConfig{Kind: kind, Retention: retention, SegmentInterval: interval})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func wk(key string, start int64) []byte { return topology.WindowKey([]byte(key), start, 0) }

func sk(key string, start, end int64) []byte { return topology.SessionKey([]byte(key), start, end) }

func vk(key string, from, to int64) []byte { return topology.VersionedKey([]byte(key), from, to) }

// showSegKey formats a logical key of kind k: "key@start" for windows
// (with "#seq" when not 0), "key@start-end" for sessions and versions.
func showSegKey(k topology.StoreKind, b []byte) string {
	switch k {
	case topology.KindWindow:
		key, start, seq, err := topology.SplitWindowKey(b)
		if err != nil {
			return fmt.Sprintf("bad(%x)", b)
		}
		if seq != 0 {
			return fmt.Sprintf("%q@%d#%d", key, start, seq)
		}
		return fmt.Sprintf("%q@%d", key, start)
	default:
		key, start, end, err := topology.SplitSessionKey(b)
		if err != nil {
			return fmt.Sprintf("bad(%x)", b)
		}
		if end == math.MaxInt64 {
			return fmt.Sprintf("%q@%d-", key, start)
		}
		return fmt.Sprintf("%q@%d-%d", key, start, end)
	}
}

// segDrain reads it to the end as "key=value" strings and closes it.
func segDrain(t testing.TB, k topology.StoreKind, it topology.KeyValueIterator, err error) []string {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for it.Next() {
		out = append(out, showSegKey(k, it.Key())+"="+string(it.Value()))
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

func scanSeg(t testing.TB, s *SegmentedStore, from, to []byte) []string {
	t.Helper()
	it, err := s.Range(from, to)
	return segDrain(t, s.kind, it, err)
}

func prefixSeg(t testing.TB, s *SegmentedStore, prefix []byte) []string {
	t.Helper()
	it, err := s.PrefixScan(prefix)
	return segDrain(t, s.kind, it, err)
}

func segPut(t testing.TB, s topology.KeyValueStore, key []byte, value string) {
	t.Helper()
	if err := s.Put(key, []byte(value)); err != nil {
		t.Fatal(err)
	}
}

func segWant(t testing.TB, what string, got []string, want ...string) {
	t.Helper()
	if !equalStrings(got, want) {
		t.Fatalf("%s:\ngot  %v\nwant %v", what, got, want)
	}
}

// physicalSegments lists the segment ids the engine holds keys of, and
// how many keys each (the metadata key left out).
func physicalSegments(t testing.TB, e SegmentEngine) map[int64]int {
	t.Helper()
	it, err := e.Range(segmentKey(math.MinInt64, nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	out := map[int64]int{}
	for it.Next() {
		out[segmentOf(it.Key())]++
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSegmentedWindowOrderAcrossSegments(t *testing.T) {
	forEachSegEngine(t, func(t *testing.T, e SegmentEngine) {
		s := newSegmented(t, e, topology.KindWindow, time.Second, 10*time.Millisecond)
		// Written newest segment first, so that segment order and key
		// order disagree.
		segPut(t, s, wk("b", 55), "b55")
		segPut(t, s, wk("a", 50), "a50")
		segPut(t, s, wk("a", 5), "a5")
		segPut(t, s, wk("ab", 20), "ab20")
		segPut(t, s, wk("a", 21), "a21")
		segPut(t, s, topology.WindowKey([]byte("a"), 21, 1), "a21#1")
		segPut(t, s, wk("", 30), "empty30")
		if got := physicalSegments(t, e); len(got) != 4 {
			t.Fatalf("segments %v, want 0, 2, 3 and 5", got)
		}
		segWant(t, "all", scanSeg(t, s, nil, nil),
			`""@30=empty30`, `"a"@5=a5`, `"a"@21=a21`, `"a"@21#1=a21#1`, `"a"@50=a50`, `"ab"@20=ab20`, `"b"@55=b55`)
		segWant(t, "prefix a", prefixSeg(t, s, []byte("a")),
			`"a"@5=a5`, `"a"@21=a21`, `"a"@21#1=a21#1`, `"a"@50=a50`, `"ab"@20=ab20`)
		// A fetch of key a's windows from 10 to 50 inclusive.
		segWant(t, "a from 10 to 50", scanSeg(t, s, wk("a", 10), wk("a", 51)),
			`"a"@21=a21`, `"a"@21#1=a21#1`, `"a"@50=a50`)
		segWant(t, "from a@50", scanSeg(t, s, wk("a", 50), nil),
			`"a"@50=a50`, `"ab"@20=ab20`, `"b"@55=b55`)
		segWant(t, "empty range", scanSeg(t, s, wk("b", 0), wk("a", 0)))
		if v, err := s.Get(wk("a", 21)); err != nil || string(v) != "a21" {
			t.Fatalf("Get a@21 = %q, %v", v, err)
		}
		if v, err := s.Get(wk("a", 22)); err != nil || v != nil {
			t.Fatalf("Get of an absent key = %q, %v", v, err)
		}
		if err := s.Delete(wk("a", 21)); err != nil {
			t.Fatal(err)
		}
		if err := s.Put(wk("a", 50), nil); err != nil {
			t.Fatal(err)
		}
		segWant(t, "after deletes", prefixSeg(t, s, []byte("a")),
			`"a"@5=a5`, `"a"@21#1=a21#1`, `"ab"@20=ab20`)
		if s.ExpiredWrites() != 0 {
			t.Fatalf("%d expired writes within retention", s.ExpiredWrites())
		}
	})
}

func TestSegmentedSessionOrderAcrossSegments(t *testing.T) {
	forEachSegEngine(t, func(t *testing.T, e SegmentEngine) {
		s := newSegmented(t, e, topology.KindSession, time.Second, 10*time.Millisecond)
		// Sessions are segmented by end and ordered by key, end, start.
		segPut(t, s, sk("a", 40, 95), "a40-95")
		segPut(t, s, sk("b", 0, 3), "b0-3")
		segPut(t, s, sk("a", 0, 15), "a0-15")
		segPut(t, s, sk("a", 12, 15), "a12-15")
		segPut(t, s, sk("a", 1, 2), "a1-2")
		if got := physicalSegments(t, e); len(got) != 3 {
			t.Fatalf("segments %v, want 0, 1 and 9", got)
		}
		segWant(t, "all", scanSeg(t, s, nil, nil),
			`"a"@1-2=a1-2`, `"a"@0-15=a0-15`, `"a"@12-15=a12-15`, `"a"@40-95=a40-95`, `"b"@0-3=b0-3`)
		// Sessions of a ending at or after 10: Kafka's findSessions lower bound.
		segWant(t, "a ending from 10", scanSeg(t, s, sk("a", 0, 10), sk("a", math.MaxInt64, math.MaxInt64)),
			`"a"@0-15=a0-15`, `"a"@12-15=a12-15`, `"a"@40-95=a40-95`)
		segWant(t, "prefix b", prefixSeg(t, s, []byte("b")), `"b"@0-3=b0-3`)
	})
}

// Retention: keys at or before observed - retention read as absent; a
// segment wholly before it is deleted; writes to deleted segments are
// dropped and counted.
func TestSegmentedRetention(t *testing.T) {
	forEachSegEngine(t, func(t *testing.T, e SegmentEngine) {
		k := topology.KindWindow
		s := newSegmented(t, e, k, 100*time.Millisecond, 50*time.Millisecond)
		segPut(t, s, wk("a", 0), "a0")
		segPut(t, s, wk("a", 60), "a60")
		segPut(t, s, wk("b", 99), "b99")
		segPut(t, s, wk("a", 120), "a120")
		// Observed 120, horizon 20: segment 0 (0-49) is still live, a@0 has
		// expired.
		if ts, ok := s.ObservedStreamTime(); !ok || ts != 120 {
			t.Fatalf("observed stream time %d, %v", ts, ok)
		}
		if v, err := s.Get(wk("a", 0)); err != nil || v != nil {
			t.Fatalf("expired a@0 read as %q, %v", v, err)
		}
		segWant(t, "after 120", scanSeg(t, s, nil, nil), `"a"@60=a60`, `"a"@120=a120`, `"b"@99=b99`)
		if got := physicalSegments(t, e); got[0] != 1 || got[1] != 2 || got[2] != 1 {
			t.Fatalf("segments %v, want 0:1 1:2 2:1", got)
		}
		// A write to a live segment, even of an expired window, is kept
		// (Kafka Streams checks the segment), but reads skip it.
		segPut(t, s, wk("c", 10), "c10")
		if s.ExpiredWrites() != 0 {
			t.Fatal("a write to a live segment was dropped")
		}
		segWant(t, "c", prefixSeg(t, s, []byte("c")))

		// Observed 200, horizon 100: segments 0 and 1 go, whole.
		segPut(t, s, wk("b", 200), "b200")
		if got := physicalSegments(t, e); len(got) != 2 || got[2] != 1 || got[4] != 1 {
			t.Fatalf("segments %v, want 2:1 4:1", got)
		}
		if n, err := s.ApproximateNumEntries(); err != nil || isMemory(e) && n != 2 {
			t.Fatalf("%d entries, %v; want 2", n, err)
		}
		segWant(t, "after 200", scanSeg(t, s, nil, nil), `"a"@120=a120`, `"b"@200=b200`)

		// Writes to dropped segments are dropped and counted, and do not
		// bring them back.
		segPut(t, s, wk("a", 60), "again")
		if err := s.WriteBatch([]topology.KeyValue{{Key: wk("z", 1), Value: []byte("old")}, {Key: wk("z", 150), Value: []byte("new")}}); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(wk("a", 1)); err != nil { // a delete is not counted
			t.Fatal(err)
		}
		if s.ExpiredWrites() != 2 {
			t.Fatalf("%d expired writes, want 2", s.ExpiredWrites())
		}
		if v, _ := s.Get(wk("a", 60)); v != nil {
			t.Fatalf("dropped write read back as %q", v)
		}
		if got := physicalSegments(t, e); len(got) != 3 || got[2] != 1 || got[3] != 1 || got[4] != 1 {
			t.Fatalf("segments %v, want 2:1 3:1 4:1", got)
		}
		segWant(t, "at the end", scanSeg(t, s, nil, nil), `"a"@120=a120`, `"b"@200=b200`, `"z"@150=new`)
	})
}

func isMemory(e SegmentEngine) bool {
	_, ok := e.(*MemoryStore)
	return ok
}

// A batch moves the observed stream time to its largest record time
// first, as Kafka Streams' restoration does: an entry whose segment is
// not live at that time is dropped, even if it came first.
func TestSegmentedWriteBatch(t *testing.T) {
	forEachSegEngine(t, func(t *testing.T, e SegmentEngine) {
		k := topology.KindWindow
		s := newSegmented(t, e, k, 100*time.Millisecond, 50*time.Millisecond)
		batch := []topology.KeyValue{
			{Key: wk("a", 10), Value: []byte("a10")},   // segment 0: dropped (observed 300, live from 4)
			{Key: wk("a", 250), Value: []byte("a250")}, // segment 5, expired but live
			{Key: wk("b", 300), Value: []byte("b300")},
			{Key: wk("c", 280), Value: []byte("c280")},
			{Key: wk("c", 280), Value: nil}, // deleted in the same batch
			{Key: wk("d", 201), Value: []byte("d201")},
		}
		if err := s.WriteBatch(batch); err != nil {
			t.Fatal(err)
		}
		if s.ExpiredWrites() != 1 {
			t.Fatalf("%d expired writes, want 1", s.ExpiredWrites())
		}
		segWant(t, "after batch", scanSeg(t, s, nil, nil), `"a"@250=a250`, `"b"@300=b300`, `"d"@201=d201`)
		// d@201 is in segment 4, a@250 in 5, b@300 in 6.
		if got := physicalSegments(t, e); len(got) != 3 || got[4] != 1 || got[5] != 1 || got[6] != 1 {
			t.Fatalf("segments %v, want 4:1 5:1 6:1", got)
		}
		// Bad keys refuse the whole batch.
		err := s.WriteBatch([]topology.KeyValue{{Key: wk("e", 300), Value: []byte("x")}, {Key: []byte("short"), Value: []byte("x")}})
		if !errors.Is(err, ErrKeyLayout) {
			t.Fatalf("short key in a batch: %v", err)
		}
		err = s.WriteBatch([]topology.KeyValue{{Key: wk("e", 300), Value: []byte("x")}, {Key: nil, Value: []byte("x")}})
		if !errors.Is(err, ErrNilKey) {
			t.Fatalf("nil key in a batch: %v", err)
		}
		if v, _ := s.Get(wk("e", 300)); v != nil {
			t.Fatal("a refused batch was partly written")
		}
		if err := s.WriteBatch(nil); err != nil {
			t.Fatal(err)
		}
	})
}

// The current version of a versioned key (valid to MaxInt64) never
// expires; past versions go by the time they stopped being current.
func TestSegmentedVersionedCurrentNeverExpires(t *testing.T) {
	forEachSegEngine(t, func(t *testing.T, e SegmentEngine) {
		k := topology.KindVersioned
		s := newSegmented(t, e, k, 100*time.Millisecond, 10*time.Millisecond)
		segPut(t, s, vk("a", 0, math.MaxInt64), "a-v0")
		// a gets a new version at 50: the old one becomes valid to 50.
		segPut(t, s, vk("a", 0, 50), "a-v0")
		if err := s.Delete(vk("a", 0, math.MaxInt64)); err != nil {
			t.Fatal(err)
		}
		segPut(t, s, vk("a", 50, math.MaxInt64), "a-v50")
		// b's only version dates from the start of time.
		segPut(t, s, vk("b", -10, math.MaxInt64), "b-v-10")
		segWant(t, "before", scanSeg(t, s, nil, nil), `"a"@0-50=a-v0`, `"a"@50-=a-v50`, `"b"@-10-=b-v-10`)
		if ts, _ := s.ObservedStreamTime(); ts != 50 {
			t.Fatalf("observed stream time %d: a version's valid-from sets it, not its valid-to", ts)
		}
		// Much later: c at 10000. a's past version (valid to 50) expires.
		segPut(t, s, vk("c", 10_000, math.MaxInt64), "c-v10000")
		segWant(t, "after", scanSeg(t, s, nil, nil), `"a"@50-=a-v50`, `"b"@-10-=b-v-10`, `"c"@10000-=c-v10000`)
		if v, err := s.Get(vk("b", -10, math.MaxInt64)); err != nil || string(v) != "b-v-10" {
			t.Fatalf("current version of b = %q, %v", v, err)
		}
		if v, _ := s.Get(vk("a", 0, 50)); v != nil {
			t.Fatalf("expired version read as %q", v)
		}
		// A past version that ended long ago is dropped; a current version
		// of any age is not.
		segPut(t, s, vk("d", 10, 20), "d-old")
		segPut(t, s, vk("d", 20, math.MaxInt64), "d-cur")
		if s.ExpiredWrites() != 1 {
			t.Fatalf("%d expired writes, want 1", s.ExpiredWrites())
		}
		segWant(t, "d", prefixSeg(t, s, []byte("d")), `"d"@20-=d-cur`)
	})
}

func TestSegmentedRefusesBadInput(t *testing.T) {
	e := NewMemoryStore("bad")
	defer e.Close()
	for _, cfg := range []SegmentedConfig{
		{Kind: topology.KindKeyValue, Retention: time.Second},
		{Kind: topology.KindWindow},
		{Kind: topology.KindWindow, Retention: time.Second, SegmentInterval: time.Microsecond},
	} {
		if _, err := NewSegmentedStore(e, cfg); err == nil {
			t.Errorf("config %+v accepted", cfg)
		}
	}
	s := newSegmented(t, e, topology.KindSession, time.Second, 0)
	if s.interval != time.Minute.Milliseconds() {
		t.Fatalf("default segment interval %dms, want 60s", s.interval)
	}
	short := make([]byte, 15) // a session key is at least 16 bytes
	if err := s.Put(short, []byte("x")); !errors.Is(err, ErrKeyLayout) {
		t.Fatalf("Put of a short key: %v", err)
	}
	if _, err := s.Get(short); !errors.Is(err, ErrKeyLayout) {
		t.Fatalf("Get of a short key: %v", err)
	}
	if err := s.Delete(short); !errors.Is(err, ErrKeyLayout) {
		t.Fatalf("Delete of a short key: %v", err)
	}
	if err := s.Put(nil, []byte("x")); !errors.Is(err, ErrNilKey) {
		t.Fatalf("Put of a nil key: %v", err)
	}
	if _, err := s.Get(nil); !errors.Is(err, ErrNilKey) {
		t.Fatalf("Get of a nil key: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := s.Put(sk("a", 1, 2), []byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Put after Close: %v", err)
	}
	if _, err := s.Range(nil, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Range after Close: %v", err)
	}
}

// A RocksDB store reopened after a clean close keeps its segments and its
// observed stream time, so retention goes on where it stopped.
func TestSegmentedReopenRecoversObservedTime(t *testing.T) {
	dir := t.TempDir()
	k := topology.KindWindow
	open := func(interval time.Duration) (*SegmentedStore, error) {
		e, err := OpenRocksDB(dir, "w", RocksDBConfig{})
		if err != nil {
			t.Fatal(err)
		}
		s, err := NewSegmentedStore(e, SegmentedConfig{Kind: k, Retention: 100 * time.Millisecond, SegmentInterval: interval})
		if err != nil {
			e.Close()
		}
		return s, err
	}
	s, err := open(50 * time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	segPut(t, s, wk("a", 100), "a100")
	segPut(t, s, wk("a", 250), "a250")
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	segPut(t, s, wk("b", 260), "b260") // after the flush: Close records it
	if n, err := s.ApproximateNumEntries(); err != nil || n < 1 {
		t.Fatalf("%d entries, %v", n, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	if _, err := open(10 * time.Millisecond); err == nil || !strings.Contains(err.Error(), "segment interval was 50ms and is now 10ms") {
		t.Fatalf("reopen with another segment interval: %v", err)
	}
	s, err = open(50 * time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if ts, ok := s.ObservedStreamTime(); !ok || ts != 260 {
		t.Fatalf("observed stream time %d, %v after reopen; want 260", ts, ok)
	}
	segWant(t, "after reopen", scanSeg(t, s, nil, nil), `"a"@250=a250`, `"b"@260=b260`)
	// Horizon 160: segment 3 (150-199) is live, 2 is not.
	segPut(t, s, wk("c", 99), "dropped")
	segPut(t, s, wk("c", 150), "kept")
	if s.ExpiredWrites() != 1 {
		t.Fatalf("%d expired writes after reopen, want 1", s.ExpiredWrites())
	}
	if got := physicalSegments(t, s.Engine()); len(got) != 2 || got[3] != 1 || got[5] != 2 {
		t.Fatalf("segments %v, want 3:1 5:2", got)
	}

	// The engine closed without the store's Close (no metadata for the
	// last writes): the newest segment's start is a safe estimate.
	segPut(t, s, wk("d", 420), "d420")
	if err := s.Engine().Close(); err != nil {
		t.Fatal(err)
	}
	s, err = open(50 * time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if ts, _ := s.ObservedStreamTime(); ts != 400 {
		t.Fatalf("observed stream time %d after an unrecorded write, want 400 (segment 8's start)", ts)
	}
	if got := physicalSegments(t, s.Engine()); len(got) != 1 || got[8] != 1 {
		t.Fatalf("segments %v, want 8:1", got)
	}
}

// The bulk-load mode passes through to the engine, so restoration keeps
// it for segmented stores.
func TestSegmentedBulkLoadPassesThrough(t *testing.T) {
	forEachSegEngine(t, func(t *testing.T, e SegmentEngine) {
		s := newSegmented(t, e, topology.KindWindow, time.Minute, 0)
		if err := s.BeginBulkLoad(); err != nil {
			t.Fatal(err)
		}
		if r, ok := e.(*RocksDBStore); ok && r.bulk == nil {
			t.Fatal("RocksDB not in bulk-load mode")
		}
		if err := s.WriteBatch([]topology.KeyValue{{Key: wk("a", 1), Value: []byte("1")}}); err != nil {
			t.Fatal(err)
		}
		if err := s.EndBulkLoad(); err != nil {
			t.Fatal(err)
		}
		if r, ok := e.(*RocksDBStore); ok && r.bulk != nil {
			t.Fatal("RocksDB still in bulk-load mode")
		}
	})
}

func TestSegmentedConcurrentReadsAndWrites(t *testing.T) {
	forEachSegEngine(t, func(t *testing.T, e SegmentEngine) {
		k := topology.KindWindow
		s := newSegmented(t, e, k, 200*time.Millisecond, 20*time.Millisecond)
		var wg sync.WaitGroup
		wg.Add(3)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				if err := s.Put(wk(fmt.Sprint(i%7), int64(i)), []byte("v")); err != nil {
					t.Error(err)
					return
				}
			}
		}()
		for range 2 {
			go func() {
				defer wg.Done()
				for range 200 {
					it, err := s.Range(nil, nil)
					if err != nil {
						t.Error(err)
						return
					}
					var last []byte
					for it.Next() {
						if last != nil && string(last) >= string(it.Key()) {
							t.Errorf("keys out of order: %x then %x", last, it.Key())
						}
						last = it.Key()
					}
					if err := it.Err(); err != nil {
						t.Error(err)
					}
					it.Close()
					if _, err := s.Get(wk("3", 1000)); err != nil {
						t.Error(err)
					}
				}
			}()
		}
		wg.Wait()
		// Observed 1999, horizon 1799: only windows from 1800 on are left.
		got := scanSeg(t, s, nil, nil)
		if len(got) != 200 {
			t.Fatalf("%d windows left, want 200", len(got))
		}
	})
}
