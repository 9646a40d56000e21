package state

import (
	"testing"
	"time"

	"github.com/eddystreams/eddy/topology"
)

// A record cache in front of a window store (a segmented store) hides what
// the store would have dropped by retention, and moves the store's observed
// stream time with each cached write: reads see the same with and without
// the cache. A key flushed before and deleted after it expired still sends
// its delete on.
func TestCachingStoreOverSegmentedStoreKeepsRetention(t *testing.T) {
	forEachSegEngine(t, func(t *testing.T, e SegmentEngine) {
		seg := newSegmented(t, e, topology.KindWindow, 10*time.Millisecond, time.Minute)
		ctx := &fakeContext{}
		c := NewCachingStore(NewLoggedStore(seg, &recordingLogger{}), NewRecordCache(1<<20), ctx)
		t.Cleanup(func() { c.Close() })
		rec := &flushRecorder{t: t, ctx: ctx}
		c.SetFlushListener(rec.listen)
		put := func(k []byte, v string) {
			t.Helper()
			var value []byte
			if v != "" {
				value = []byte(v)
			}
			if err := c.Put(k, value); err != nil {
				t.Fatal(err)
			}
		}
		put(wk("a", 0), "1")
		if err := c.FlushCache(); err != nil {
			t.Fatal(err)
		}
		put(wk("b", 5), "2")
		if v, err := c.Get(wk("b", 5)); err != nil || string(v) != "2" {
			t.Fatalf("b@5 = %q, %v; want 2", v, err)
		}
		// A cached write at 20: the observed stream time is 20, so both
		// the flushed a@0 and the cached b@5 are past the retention of 10.
		put(wk("c", 20), "3")
		if ts, ok := seg.ObservedStreamTime(); !ok || ts != 20 {
			t.Fatalf("observed stream time %d, %v; want 20 after a cached write", ts, ok)
		}
		for _, k := range [][]byte{wk("a", 0), wk("b", 5)} {
			if v, err := c.Get(k); err != nil || v != nil {
				t.Errorf("Get(%q) = %q, %v; want nothing (expired)", k, v, err)
			}
		}
		it, err := c.Range(nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for it.Next() {
			keys = append(keys, string(it.Key()[:1]))
		}
		if err := it.Close(); err != nil {
			t.Fatal(err)
		}
		if len(keys) != 1 || keys[0] != "c" {
			t.Fatalf("Range: %v; want only c", keys)
		}
		// a@0 was flushed: its delete goes on though the store no longer
		// returns it.
		put(wk("a", 0), "")
		rec.flushed = nil
		if err := c.FlushCache(); err != nil {
			t.Fatal(err)
		}
		if len(rec.flushed) != 3 {
			t.Fatalf("flushed %q; want b, c and the delete of a", rec.flushed)
		}
	})
}
