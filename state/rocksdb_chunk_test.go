//go:build cgo

package state

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
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
	n := maxPendingBytes/(1000+pendingOverhead) + 10
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
		t.Fatalf("%d buffered writes over %d bytes were not applied at EndWrites", n, maxPendingBytes)
	}
	if s.pendingBytes != 0 || len(s.pending) != 0 {
		t.Fatalf("pending after apply: %d entries, %d bytes", len(s.pending), s.pendingBytes)
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
		case op < 95:
			s.BeginWrites()
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
