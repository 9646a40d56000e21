//go:build cgo

package state

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/eddystreams/eddy/topology"
)

// inRocks reads key from RocksDB itself, past the buffered writes.
func inRocks(t *testing.T, s *RocksDBStore, key string) ([]byte, bool) {
	t.Helper()
	h, err := s.db.GetPinned(s.ro, []byte(key))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Destroy()
	if !h.Exists() {
		return nil, false
	}
	return append([]byte(nil), h.Data()...), true
}

func mustGet(t *testing.T, s *RocksDBStore, key string) []byte {
	t.Helper()
	v, err := s.Get([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestChunkWritesBufferedThenApplied(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenRocksDB(dir, "chunk", RocksDBConfig{})
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, "gone", "x") // direct: no chunk open
	if _, ok := inRocks(t, s, "gone"); !ok {
		t.Fatal("a write outside a chunk did not reach RocksDB")
	}
	s.BeginWrites()
	mustPut(t, s, "a", "1")
	mustPut(t, s, "a", "2")
	if err := s.Delete([]byte("gone")); err != nil {
		t.Fatal(err)
	}
	if err := s.EndWrites(); err != nil {
		t.Fatal(err)
	}
	if _, ok := inRocks(t, s, "a"); ok {
		t.Fatal("a small chunk's writes reached RocksDB at EndWrites; expected them buffered")
	}
	if got := mustGet(t, s, "a"); string(got) != "2" {
		t.Fatalf("Get(a) = %q, want the last buffered write 2", got)
	}
	if got := mustGet(t, s, "gone"); got != nil {
		t.Fatalf("Get(gone) = %q after a buffered delete, want nil", got)
	}
	// Outside a chunk, with writes still buffered, a write must not be
	// hidden by the older buffered value.
	mustPut(t, s, "a", "3")
	if got := mustGet(t, s, "a"); string(got) != "3" {
		t.Fatalf("Get(a) = %q after a write outside the chunk, want 3", got)
	}
	// Close applies what is buffered, as direct writes would have been.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openRocks(t, dir, RocksDBConfig{})
	if got := mustGet(t, s, "a"); string(got) != "3" {
		t.Fatalf("after reopen Get(a) = %q, want 3", got)
	}
	if got := mustGet(t, s, "gone"); got != nil {
		t.Fatalf("after reopen Get(gone) = %q, want nil", got)
	}
}

func TestChunkWritesAppliedBeforeWholeStoreReads(t *testing.T) {
	s := openRocks(t, t.TempDir(), RocksDBConfig{})
	s.BeginWrites()
	mustPut(t, s, "k1", "v1")
	it, err := s.Range(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for it.Next() {
		n++
	}
	it.Close()
	if n != 1 {
		t.Fatalf("range saw %d keys, want the buffered one", n)
	}
	mustPut(t, s, "k2", "v2")
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if v, ok := inRocks(t, s, "k2"); !ok || string(v) != "v2" {
		t.Fatalf("after Flush RocksDB has k2 = %q (%v), want v2", v, ok)
	}
}

func TestChunkWritesAppliedPastBound(t *testing.T) {
	s := openRocks(t, t.TempDir(), RocksDBConfig{})
	s.BeginWrites()
	value := bytes.Repeat([]byte("v"), 1000)
	n := defaultStoreBuffer/2/(1000+pendingOverhead) + 10
	for i := 0; i < n; i++ {
		if err := s.Put([]byte(fmt.Sprintf("key%06d", i)), value); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := inRocks(t, s, "key000000"); ok {
		t.Fatal("writes reached RocksDB inside the chunk")
	}
	if err := s.EndWrites(); err != nil {
		t.Fatal(err)
	}
	if _, ok := inRocks(t, s, "key000000"); !ok {
		t.Fatalf("%d buffered writes over %d bytes were not applied at EndWrites", n, defaultStoreBuffer/2)
	}
	if s.pendingBytes != 0 || s.dirty != 0 {
		t.Fatalf("pending after apply: %d dirty entries, %d bytes", s.dirty, s.pendingBytes)
	}
	// The applied writes stay, as a read cache.
	if got := mustGet(t, s, "key000000"); !bytes.Equal(got, value) {
		t.Fatalf("Get after apply = %.20q, want the value written", got)
	}
}

// TestChunkCleanEntriesFollowRocksDB: values read from RocksDB and applied
// writes are kept to be read again, and every other change to RocksDB (a
// write outside a chunk, a batch, a range delete) replaces or drops them.
func TestChunkCleanEntriesFollowRocksDB(t *testing.T) {
	s := openRocks(t, t.TempDir(), RocksDBConfig{})
	mustPut(t, s, "a", "1") // direct
	if got := mustGet(t, s, "a"); string(got) != "1" {
		t.Fatalf("Get(a) = %q, want 1", got)
	}
	if p, ok := s.pending["a"]; !ok || !p.clean {
		t.Fatalf("a value read from RocksDB was not kept: %+v %v", p, ok)
	}
	if got := mustGet(t, s, "absent"); got != nil {
		t.Fatalf("Get(absent) = %q", got)
	}
	mustPut(t, s, "a", "2") // direct again: the kept 1 must go
	if got := mustGet(t, s, "a"); string(got) != "2" {
		t.Fatalf("Get(a) = %q after a direct write, want 2", got)
	}
	if err := s.WriteBatch([]topology.KeyValue{{Key: []byte("a"), Value: []byte("3")}, {Key: []byte("absent"), Value: []byte("here")}}); err != nil {
		t.Fatal(err)
	}
	if got, got2 := mustGet(t, s, "a"), mustGet(t, s, "absent"); string(got) != "3" || string(got2) != "here" {
		t.Fatalf("after a batch Get(a) = %q, Get(absent) = %q; want 3, here", got, got2)
	}
	s.BeginWrites()
	mustPut(t, s, "b", "x")
	if err := s.EndWrites(); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil { // applies b; it stays, clean
		t.Fatal(err)
	}
	if p, ok := s.pending["b"]; !ok || !p.clean || string(p.value) != "x" {
		t.Fatalf("an applied write was not kept clean: %+v %v", p, ok)
	}
	if err := s.DeleteRange([]byte("a"), []byte("c")); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "absent", "b"} {
		if got := mustGet(t, s, k); got != nil {
			t.Fatalf("Get(%s) = %q after a range delete over it", k, got)
		}
	}
}

// TestChunkCleanEntriesBounded: reading more keys than the buffer bound holds
// keeps the cache within it.
func TestChunkCleanEntriesBounded(t *testing.T) {
	s := openRocks(t, t.TempDir(), RocksDBConfig{})
	value := bytes.Repeat([]byte("v"), 100)
	n := 3 * defaultStoreBuffer / (100 + pendingOverhead)
	kvs := make([]topology.KeyValue, n)
	for i := range kvs {
		kvs[i] = topology.KeyValue{Key: []byte(fmt.Sprintf("key%07d", i)), Value: value}
	}
	if err := s.WriteBatch(kvs); err != nil {
		t.Fatal(err)
	}
	for _, kv := range kvs {
		if got := mustGet(t, s, string(kv.Key)); !bytes.Equal(got, value) {
			t.Fatalf("Get(%s) = %.20q", kv.Key, got)
		}
		if s.cleanBytes > defaultStoreBuffer {
			t.Fatalf("clean entries hold %d bytes, bound %d", s.cleanBytes, defaultStoreBuffer)
		}
	}
	sum := 0
	for k, p := range s.pending {
		sum += entryBytes(k, p)
	}
	if sum != s.cleanBytes || s.cleanBytes < defaultStoreBuffer/2 {
		t.Fatalf("clean entries: %d bytes counted, %d held; want them equal and over half the bound", s.cleanBytes, sum)
	}
}

func TestChunkWritesOffWithWAL(t *testing.T) {
	s := openRocks(t, t.TempDir(), RocksDBConfig{EnableWAL: true})
	s.BeginWrites()
	mustPut(t, s, "k", "v")
	if _, ok := inRocks(t, s, "k"); !ok {
		t.Fatal("with the WAL on a write inside a chunk did not reach RocksDB at once")
	}
	if err := s.EndWrites(); err != nil {
		t.Fatal(err)
	}
}

// TestChunkWritesModel compares random puts, deletes, chunk boundaries,
// flushes and reads with a map.
func TestChunkWritesModel(t *testing.T) {
	s := openRocks(t, t.TempDir(), RocksDBConfig{})
	model := map[string]string{}
	rng := rand.New(rand.NewPCG(5, 7))
	big := bytes.Repeat([]byte("x"), 4000) // crosses the bound now and then
	for i := 0; i < 20000; i++ {
		k := fmt.Sprintf("k%03d", rng.IntN(300))
		switch op := rng.IntN(100); {
		case op < 40:
			v := fmt.Sprintf("v%d", i)
			if rng.IntN(10) == 0 {
				v += string(big)
			}
			mustPut(t, s, k, v)
			model[k] = v
		case op < 50:
			if err := s.Delete([]byte(k)); err != nil {
				t.Fatal(err)
			}
			delete(model, k)
		case op < 90:
			got := mustGet(t, s, k)
			want, ok := model[k]
			if ok != (got != nil) || string(got) != want {
				t.Fatalf("op %d: Get(%s) = %.20q, want %.20q (present %v)", i, k, got, want, ok)
			}
		case op < 92:
			s.BeginWrites()
		case op < 94:
			v := fmt.Sprintf("b%d", i)
			k2 := fmt.Sprintf("k%03d", rng.IntN(300))
			if err := s.WriteBatch([]topology.KeyValue{{Key: []byte(k), Value: []byte(v)}, {Key: []byte(k2)}}); err != nil {
				t.Fatal(err)
			}
			model[k] = v
			delete(model, k2)
		case op < 95:
			lo, hi := fmt.Sprintf("k%03d", rng.IntN(300)), fmt.Sprintf("k%03d", rng.IntN(300))
			if err := s.DeleteRange([]byte(lo), []byte(hi)); err != nil {
				t.Fatal(err)
			}
			for mk := range model {
				if mk >= lo && mk < hi {
					delete(model, mk)
				}
			}
		case op < 99:
			if err := s.EndWrites(); err != nil {
				t.Fatal(err)
			}
		default:
			if err := s.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.EndWrites(); err != nil {
		t.Fatal(err)
	}
	it, err := s.Range(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	n := 0
	for it.Next() {
		n++
		if want := model[string(it.Key())]; want != string(it.Value()) {
			t.Fatalf("range: %s = %.20q, want %.20q", it.Key(), it.Value(), want)
		}
	}
	if n != len(model) {
		t.Fatalf("range saw %d keys, model has %d", n, len(model))
	}
}

// TestChunkCleanEntriesUnderConcurrentReads: readers on other goroutines
// (interactive queries) racing the task's writes never keep a value older
// than one written after their read: each reader sees the values only go
// up, and after the writes every read gives the last one.
func TestChunkCleanEntriesUnderConcurrentReads(t *testing.T) {
	s := openRocks(t, t.TempDir(), RocksDBConfig{})
	const writes = 3000
	keys := []string{"a", "b", "c"}
	enc := func(i int) []byte { return []byte(fmt.Sprintf("%08d", i)) }
	done := make(chan struct{})
	errs := make(chan error, 4)
	var wg sync.WaitGroup
	for r := 0; r < 3; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := map[string]string{}
			for {
				select {
				case <-done:
					errs <- nil
					return
				default:
				}
				for _, k := range keys {
					v, err := s.Get([]byte(k))
					if err != nil {
						errs <- err
						return
					}
					if string(v) < last[k] {
						errs <- fmt.Errorf("reader saw %s go back from %s to %s", k, last[k], v)
						return
					}
					last[k] = string(v)
				}
			}
		}()
	}
	for i := 1; i <= writes; i++ {
		k := keys[i%len(keys)]
		switch i % 7 {
		case 0:
			s.BeginWrites()
		case 3:
			if err := s.EndWrites(); err != nil {
				t.Fatal(err)
			}
		case 5:
			if i%35 == 5 {
				if err := s.Flush(); err != nil { // applies what is buffered
					t.Fatal(err)
				}
			}
		}
		if i%50 == 0 {
			if err := s.WriteBatch([]topology.KeyValue{{Key: []byte(k), Value: enc(i)}}); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := s.Put([]byte(k), enc(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.EndWrites(); err != nil {
		t.Fatal(err)
	}
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for j, k := range keys {
		want := writes - (writes-j)%len(keys)
		if got := mustGet(t, s, k); string(got) != string(enc(want)) {
			t.Fatalf("Get(%s) = %s after the writes, want %s", k, got, enc(want))
		}
	}
}

// The stores under a memory budget share half its total for their buffers,
// each between minStoreBuffer and maxStoreBuffer, re-shared as stores open
// and close.
func TestStoreBufferShare(t *testing.T) {
	for _, c := range []struct {
		total uint64
		n     int
		want  int
	}{
		{128 << 20, 8, maxStoreBuffer}, // 8 MiB each, capped
		{128 << 20, 32, 2 << 20},
		{128 << 20, 256, minStoreBuffer}, // 256 KiB each, raised
		{128 << 20, 0, maxStoreBuffer},
	} {
		if got := storeBufferFor(c.total, c.n); got != c.want {
			t.Errorf("storeBufferFor(%d, %d) = %d, want %d", c.total, c.n, got, c.want)
		}
	}
	b, err := NewMemoryBudget(8<<20, 4<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	s1 := openRocks(t, t.TempDir(), RocksDBConfig{Budget: b})
	if got := s1.bufferBound(); got != maxStoreBuffer {
		t.Fatalf("one store under an 8 MiB budget: bound %d, want %d", got, maxStoreBuffer)
	}
	s2, err := OpenRocksDB(t.TempDir(), "second", RocksDBConfig{Budget: b})
	if err != nil {
		t.Fatal(err)
	}
	if got := s1.bufferBound(); got != 2<<20 {
		t.Fatalf("two stores under an 8 MiB budget: bound %d, want 2 MiB", got)
	}
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	if got := s1.bufferBound(); got != maxStoreBuffer {
		t.Fatalf("after one of two closed: bound %d, want %d", got, maxStoreBuffer)
	}
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
}
