package state

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/eddystreams/eddy/topology"
)

// fakeContext is a RecordContext whose record the test sets.
type fakeContext struct{ cur topology.RecordMeta }

func (c *fakeContext) Record() topology.RecordMeta     { return c.cur }
func (c *fakeContext) SetRecord(m topology.RecordMeta) { c.cur = m }

// flushRecorder is a flush listener that records "key=new(old)@ts", and
// checks the context was set to the write's record.
type flushRecorder struct {
	t       testing.TB
	ctx     *fakeContext
	flushed []string
}

func (r *flushRecorder) listen(key, newValue, oldValue []byte, rec topology.RecordMeta) error {
	if r.ctx.cur.Timestamp != rec.Timestamp || r.ctx.cur.Offset != rec.Offset {
		r.t.Errorf("flushing %s: context is %+v, want the write's %+v", key, r.ctx.cur, rec)
	}
	r.flushed = append(r.flushed, fmt.Sprintf("%s=%s(%s)@%d", key, showValue(newValue), showValue(oldValue), rec.Timestamp))
	return nil
}

func showValue(v []byte) string {
	if v == nil {
		return "nil"
	}
	return string(v)
}

// cachedStack is a caching store over a logged memory store, as a task
// stacks them.
type cachedStack struct {
	ctx    *fakeContext
	log    *recordingLogger
	engine *MemoryStore
	cache  *CachingStore
	rec    *flushRecorder
}

func newCachedStack(t testing.TB, budget *RecordCache) *cachedStack {
	s := &cachedStack{ctx: &fakeContext{}, log: &recordingLogger{}, engine: NewMemoryStore("s")}
	s.cache = NewCachingStore(NewLoggedStore(s.engine, s.log), budget, s.ctx)
	s.rec = &flushRecorder{t: t, ctx: s.ctx}
	s.cache.SetFlushListener(s.rec.listen)
	t.Cleanup(func() { s.cache.Close() })
	return s
}

func (s *cachedStack) put(t testing.TB, ts int64, k, v string) {
	t.Helper()
	s.ctx.cur = topology.RecordMeta{Topic: "in", Offset: ts, Timestamp: ts}
	var value []byte
	if v != "" {
		value = []byte(v)
	}
	if err := s.cache.Put([]byte(k), value); err != nil {
		t.Fatal(err)
	}
}

func TestCachingStoreMergesWritesUntilFlush(t *testing.T) {
	budget := NewRecordCache(1 << 20)
	s := newCachedStack(t, budget)
	s.put(t, 1, "a", "1")
	s.put(t, 2, "a", "2")
	s.put(t, 3, "b", "x")
	s.put(t, 4, "a", "3")
	wantGet(t, s.cache, "a", []byte("3"))
	wantGet(t, s.engine, "a", nil)
	if len(s.log.changes) != 0 || len(s.rec.flushed) != 0 || s.cache.Dirty() != 2 {
		t.Fatalf("before the flush: changelog %v, forwarded %v, %d dirty", s.log.changes, s.rec.flushed, s.cache.Dirty())
	}
	if budget.Used() == 0 {
		t.Fatal("entries not charged to the budget")
	}
	s.ctx.cur = topology.RecordMeta{Offset: 99, Timestamp: 99}
	if err := s.cache.FlushCache(); err != nil {
		t.Fatal(err)
	}
	// Oldest last write first: b (written at 3) before a (last written at 4).
	if want := []string{"b=x", "a=3"}; !slices.Equal(s.log.changes, want) {
		t.Fatalf("changelog %v, want %v", s.log.changes, want)
	}
	if want := []string{"b=x(nil)@3", "a=3(nil)@4"}; !slices.Equal(s.rec.flushed, want) {
		t.Fatalf("forwarded %v, want %v", s.rec.flushed, want)
	}
	if s.ctx.cur.Offset != 99 {
		t.Fatalf("flush left the context at %+v", s.ctx.cur)
	}
	wantGet(t, s.engine, "a", []byte("3"))

	// A second round: old values come from the store; a delete is
	// forwarded once; a key put and deleted between flushes that the store
	// never had leaves no trace.
	s.put(t, 5, "a", "4")
	s.put(t, 6, "b", "")
	s.put(t, 7, "c", "tmp")
	s.put(t, 8, "c", "")
	wantGet(t, s.cache, "b", nil)
	if err := s.cache.FlushCache(); err != nil {
		t.Fatal(err)
	}
	if want := []string{"b=x", "a=3", "a=4", "b=<tombstone>"}; !slices.Equal(s.log.changes, want) {
		t.Fatalf("changelog %v, want %v", s.log.changes, want)
	}
	if want := []string{"b=x(nil)@3", "a=3(nil)@4", "a=4(3)@5", "b=nil(x)@6"}; !slices.Equal(s.rec.flushed, want) {
		t.Fatalf("forwarded %v, want %v", s.rec.flushed, want)
	}
	if s.cache.Dirty() != 0 {
		t.Fatalf("%d dirty after a flush", s.cache.Dirty())
	}
	// Flushed deletes leave the cache; the clean value of a stays.
	n := 0
	s.cache.entries.Ascend(func(*cacheEntry) bool { n++; return true })
	if n != 1 {
		t.Fatalf("%d entries cached after the flush, want 1 (a)", n)
	}
}

func TestCachingStoreRangeMergesCacheAndStore(t *testing.T) {
	s := newCachedStack(t, NewRecordCache(1<<20))
	for _, k := range []string{"a", "b", "c", "d"} {
		mustPut(t, s.engine, k, "store-"+k)
	}
	s.put(t, 1, "b", "cache-b")
	s.put(t, 2, "c", "") // deleted in the cache only
	s.put(t, 3, "bb", "cache-bb")
	s.put(t, 4, "e", "cache-e")
	want := kvs("a", "store-a", "b", "cache-b", "bb", "cache-bb", "d", "store-d", "e", "cache-e")
	if got := scanAll(t, s.cache, nil, nil); !slices.Equal(got, want) {
		t.Fatalf("Range(nil, nil) = %v, want %v", got, want)
	}
	if got, want := scanAll(t, s.cache, []byte("b"), []byte("d")), kvs("b", "cache-b", "bb", "cache-bb"); !slices.Equal(got, want) {
		t.Fatalf("Range(b, d) = %v, want %v", got, want)
	}
	it, err := s.cache.PrefixScan([]byte("b"))
	if got, want := drain(t, it, err), kvs("b", "cache-b", "bb", "cache-bb"); !slices.Equal(got, want) {
		t.Fatalf("PrefixScan(b) = %v, want %v", got, want)
	}
}

func scanAll(t testing.TB, s topology.KeyValueStore, from, to []byte) []string {
	t.Helper()
	it, err := s.Range(from, to)
	return drain(t, it, err)
}

// TestCachingStoreEvictsEarlyUnderItsBudget: with room for about two
// entries, writing a third key flushes what is dirty (forwarding it before
// any commit) and evicts the least recently used.
func TestCachingStoreEvictsEarlyUnderItsBudget(t *testing.T) {
	budget := NewRecordCache(2*cacheEntryOverhead + 20)
	s := newCachedStack(t, budget)
	s.put(t, 1, "a", "1")
	s.put(t, 2, "b", "1")
	if len(s.rec.flushed) != 0 {
		t.Fatalf("forwarded %v while within the budget", s.rec.flushed)
	}
	s.put(t, 3, "c", "1")
	if want := []string{"a=1(nil)@1", "b=1(nil)@2", "c=1(nil)@3"}; !slices.Equal(s.rec.flushed, want) {
		t.Fatalf("forwarded %v, want %v", s.rec.flushed, want)
	}
	if budget.Used() > budget.MaxBytes() {
		t.Fatalf("budget used %d > %d after evicting", budget.Used(), budget.MaxBytes())
	}
	wantGet(t, s.cache, "a", []byte("1")) // from the store
	// Another store under the same budget evicts its own entries only.
	other := newCachedStack(t, budget)
	other.put(t, 4, "x", "1")
	other.put(t, 5, "y", "1")
	if len(other.rec.flushed) == 0 {
		t.Fatal("the other store kept everything though the budget is full")
	}
	if err := s.cache.Close(); err != nil {
		t.Fatal(err)
	}
	if err := other.cache.Close(); err != nil {
		t.Fatal(err)
	}
	if budget.Used() != 0 {
		t.Fatalf("closed caches still charge %d bytes", budget.Used())
	}
}

// TestCachingStoreCloseDropsDirtyWrites: only a commit flushes; closing
// forgets what was not flushed.
func TestCachingStoreCloseDropsDirtyWrites(t *testing.T) {
	s := newCachedStack(t, NewRecordCache(1<<20))
	s.put(t, 1, "a", "1")
	if err := s.cache.Close(); err != nil {
		t.Fatal(err)
	}
	if len(s.log.changes) != 0 || len(s.rec.flushed) != 0 {
		t.Fatalf("close sent %v, %v", s.log.changes, s.rec.flushed)
	}
	if _, err := s.cache.Get([]byte("a")); err == nil {
		t.Fatal("Get after Close succeeded")
	}
}

// TestCachingStoreMatchesUncachedStore runs the same random writes, reads,
// scans and flushes through a cached stack with a small budget and through
// a plain logged store: every read agrees, and after the last flush the
// stores, the last changelog value of each key and the last forwarded value
// of each key are the same.
func TestCachingStoreMatchesUncachedStore(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 7))
			budget := NewRecordCache(int64(r.IntN(8)+1) * (cacheEntryOverhead + 4))
			cached := newCachedStack(t, budget)
			plainLog := &recordingLogger{}
			plain := NewLoggedStore(NewMemoryStore("p"), plainLog)
			last := map[string]string{} // per key, the last value the plain store forwarded
			for i := 0; i < 2000; i++ {
				k := randKey(r)
				switch op := r.IntN(20); {
				case op < 10:
					v := fmt.Sprint(r.IntN(100))
					cached.put(t, int64(i), string(k), v)
					mustPut(t, plain, string(k), v)
					last[string(k)] = v
				case op < 12:
					cached.put(t, int64(i), string(k), "")
					if err := plain.Delete(k); err != nil {
						t.Fatal(err)
					}
					last[string(k)] = "nil"
				case op < 16:
					want, err := plain.Get(k)
					if err != nil {
						t.Fatal(err)
					}
					wantGet(t, cached.cache, string(k), want)
				case op < 18:
					from, to := randKey(r), randKey(r)
					if got, want := scanAll(t, cached.cache, from, to), scanAll(t, plain, from, to); !slices.Equal(got, want) {
						t.Fatalf("op %d: Range(%q, %q) = %v, want %v", i, from, to, got, want)
					}
				default:
					if err := cached.cache.FlushCache(); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := cached.cache.FlushCache(); err != nil {
				t.Fatal(err)
			}
			if got, want := scanAll(t, cached.engine, nil, nil), scanAll(t, plain, nil, nil); !slices.Equal(got, want) {
				t.Fatalf("stores differ after the last flush:\n cached %v\n plain  %v", got, want)
			}
			// A key that ends deleted may have no record at all on the
			// cached side (put and deleted between two flushes): compare
			// the keys that end with a value.
			if got, want := lastPerKey(cached.log.changes), lastPerKey(plainLog.changes); !mapsEqual(got, want) {
				t.Fatalf("last changelog values differ:\n cached %v\n plain  %v", got, want)
			}
			fwd := map[string]string{}
			for _, f := range cached.rec.flushed {
				k, rest, _ := cut(f, "=")
				v, _, _ := cut(rest, "(")
				fwd[k] = v
			}
			dropDeleted(fwd)
			dropDeleted(last)
			if !mapsEqual(fwd, last) {
				t.Fatalf("last forwarded values differ:\n cached %v\n plain  %v", fwd, last)
			}
			if len(cached.log.changes) > len(plainLog.changes) {
				t.Fatalf("the cache sent more changelog records (%d) than the plain store (%d)", len(cached.log.changes), len(plainLog.changes))
			}
		})
	}
}

func lastPerKey(changes []string) map[string]string {
	m := map[string]string{}
	for _, c := range changes {
		k, v, _ := cut(c, "=")
		if v == "<tombstone>" {
			v = "nil"
		}
		m[k] = v
	}
	dropDeleted(m)
	return m
}

func dropDeleted(m map[string]string) {
	for k, v := range m {
		if v == "nil" {
			delete(m, k)
		}
	}
}

// cut splits at the last sep before the value: keys may hold any byte
// but never '=' or '(' (randKey's alphabet has neither).
func cut(s, sep string) (string, string, bool) {
	for i := 0; i+len(sep) <= len(s); i++ {
		if s[i:i+len(sep)] == sep {
			return s[:i], s[i+len(sep):], true
		}
	}
	return s, "", false
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestCachingStoreConcurrentReads reads from other goroutines while the
// owner writes and flushes (run with -race).
func TestCachingStoreConcurrentReads(t *testing.T) {
	s := newCachedStack(t, NewRecordCache(4*cacheEntryOverhead))
	mustPut(t, s.engine, "k0", "0")
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				if _, err := s.cache.Get([]byte("k1")); err != nil {
					t.Error(err)
					return
				}
				it, err := s.cache.Range(nil, nil)
				if err != nil {
					t.Error(err)
					return
				}
				for it.Next() {
				}
				it.Close()
			}
		}()
	}
	for i := range 2000 {
		s.put(t, int64(i), fmt.Sprintf("k%d", i%7), fmt.Sprint(i))
		if i%50 == 0 {
			if err := s.cache.FlushCache(); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(done)
	wg.Wait()
}
