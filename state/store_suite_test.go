package state

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/eddystreams/eddy/topology"
)

// engine is what both byte-level engines implement.
type engine interface {
	topology.KeyValueStore
	topology.BatchWriter
}

// engines lists the engines every suite test runs against (RocksDB is
// added in builds with cgo: store_suite_rocksdb_test.go).
var engines = []struct {
	name string
	open func(t testing.TB) engine
}{
	{"memory", func(t testing.TB) engine {
		s := NewMemoryStore("test")
		t.Cleanup(func() { s.Close() })
		return s
	}},
}

func TestEngines(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, s engine)
	}{
		{"GetPutDelete", testGetPutDelete},
		{"Range", testRange},
		{"PrefixScan", testPrefixScan},
		{"WriteBatch", testWriteBatch},
		{"NoAliasing", testNoAliasing},
		{"IteratorSnapshot", testIteratorSnapshot},
		{"ApproximateNumEntries", testApproximateNumEntries},
		{"Closed", testClosed},
		{"Concurrent", testConcurrent},
	}
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) { tt.run(t, e.open(t)) })
			}
		})
	}
}

func mustPut(t *testing.T, s topology.KeyValueStore, k, v string) {
	t.Helper()
	if err := s.Put([]byte(k), []byte(v)); err != nil {
		t.Fatal(err)
	}
}

// wantGet checks key's value; want nil means absent.
func wantGet(t *testing.T, s topology.KeyValueStore, key string, want []byte) {
	t.Helper()
	got, err := s.Get([]byte(key))
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	if (got == nil) != (want == nil) || !bytes.Equal(got, want) {
		t.Fatalf("Get(%q) = %q (nil=%v), want %q (nil=%v)", key, got, got == nil, want, want == nil)
	}
}

// drain reads it to the end as "key=value" strings and closes it.
func drain(t testing.TB, it topology.KeyValueIterator, err error) []string {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for it.Next() {
		out = append(out, fmt.Sprintf("%q=%q", it.Key(), it.Value()))
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

func kvs(pairs ...string) []string {
	var out []string
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, fmt.Sprintf("%q=%q", pairs[i], pairs[i+1]))
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func testGetPutDelete(t *testing.T, s engine) {
	wantGet(t, s, "a", nil)
	mustPut(t, s, "a", "1")
	wantGet(t, s, "a", []byte("1"))
	mustPut(t, s, "a", "2")
	wantGet(t, s, "a", []byte("2"))
	if err := s.Delete([]byte("a")); err != nil {
		t.Fatal(err)
	}
	wantGet(t, s, "a", nil)
	if err := s.Delete([]byte("absent")); err != nil {
		t.Fatalf("deleting an absent key: %v", err)
	}

	mustPut(t, s, "b", "1")
	if err := s.Put([]byte("b"), nil); err != nil {
		t.Fatal(err)
	}
	wantGet(t, s, "b", nil) // nil put is a delete

	mustPut(t, s, "empty", "") // empty value is a value, not a delete
	wantGet(t, s, "empty", []byte{})
	mustPut(t, s, "", "empty key")
	wantGet(t, s, "", []byte("empty key"))

	for name, err := range map[string]error{
		"Get":    func() error { _, err := s.Get(nil); return err }(),
		"Put":    s.Put(nil, []byte("v")),
		"Delete": s.Delete(nil),
	} {
		if !errors.Is(err, ErrNilKey) {
			t.Errorf("%s(nil key) = %v, want ErrNilKey", name, err)
		}
	}
}

// rangeKeys are stored by testRange and testPrefixScan, chosen around the
// 0x00 and 0xff edges.
var rangeKeys = []string{"", "\x00", "a", "b", "ba", "bb", "b\xff", "c", "\xfe\xff", "\xff", "\xff\x00", "\xff\xff", "\xff\xff\x01"}

func putAll(t *testing.T, s engine, keys []string) {
	t.Helper()
	for _, k := range keys {
		mustPut(t, s, k, "v"+k)
	}
}

func pairsOf(keys ...string) []string {
	var out []string
	for _, k := range keys {
		out = append(out, kvs(k, "v"+k)...)
	}
	return out
}

func bound(s *string) []byte {
	if s == nil {
		return nil
	}
	return []byte(*s)
}

func str(s string) *string { return &s }

func testRange(t *testing.T, s engine) {
	putAll(t, s, rangeKeys)
	tests := []struct {
		name     string
		from, to *string
		want     []string
	}{
		{"unbounded", nil, nil, rangeKeys},
		{"from inclusive to exclusive", str("b"), str("c"), []string{"b", "ba", "bb", "b\xff"}},
		{"bounds between keys", str("az"), str("bc"), []string{"b", "ba", "bb"}},
		{"no lower bound", nil, str("b"), []string{"", "\x00", "a"}},
		{"no upper bound", str("\xff"), nil, []string{"\xff", "\xff\x00", "\xff\xff", "\xff\xff\x01"}},
		{"empty from is the first key", str(""), str("a"), []string{"", "\x00"}},
		{"from equals to", str("b"), str("b"), nil},
		{"empty to", nil, str(""), nil},
		{"empty from and to", str(""), str(""), nil},
		{"from after to", str("c"), str("a"), nil},
		{"past the last key", str("\xff\xff\xff"), nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			it, err := s.Range(bound(tt.from), bound(tt.to))
			if got, want := drain(t, it, err), pairsOf(tt.want...); !equalStrings(got, want) {
				t.Fatalf("got %v\nwant %v", got, want)
			}
		})
	}
}

func testPrefixScan(t *testing.T, s engine) {
	putAll(t, s, rangeKeys)
	tests := []struct {
		prefix []byte
		want   []string
	}{
		{nil, rangeKeys},
		{[]byte{}, rangeKeys},
		{[]byte("b"), []string{"b", "ba", "bb", "b\xff"}},
		{[]byte("ba"), []string{"ba"}},
		{[]byte("z"), nil},
		{[]byte{0x00}, []string{"\x00"}},
		{[]byte{0xfe}, []string{"\xfe\xff"}},
		{[]byte{0xff}, []string{"\xff", "\xff\x00", "\xff\xff", "\xff\xff\x01"}},
		{[]byte{0xff, 0xff}, []string{"\xff\xff", "\xff\xff\x01"}},
		{[]byte{0xff, 0xff, 0xff}, nil},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.prefix), func(t *testing.T) {
			it, err := s.PrefixScan(tt.prefix)
			if got, want := drain(t, it, err), pairsOf(tt.want...); !equalStrings(got, want) {
				t.Fatalf("got %v\nwant %v", got, want)
			}
		})
	}
}

func testWriteBatch(t *testing.T, s engine) {
	mustPut(t, s, "old", "x")
	err := s.WriteBatch([]topology.KeyValue{
		{Key: []byte("a"), Value: []byte("1")},
		{Key: []byte("b"), Value: []byte("2")},
		{Key: []byte("a"), Value: nil}, // later records win
		{Key: []byte("old"), Value: nil},
		{Key: []byte("c"), Value: []byte{}},
		{Key: []byte("b"), Value: []byte("3")},
	})
	if err != nil {
		t.Fatal(err)
	}
	it, err := s.Range(nil, nil)
	if got, want := drain(t, it, err), kvs("b", "3", "c", ""); !equalStrings(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if err := s.WriteBatch(nil); err != nil {
		t.Fatalf("empty batch: %v", err)
	}

	err = s.WriteBatch([]topology.KeyValue{{Key: []byte("d"), Value: []byte("4")}, {Key: nil, Value: []byte("5")}})
	if !errors.Is(err, ErrNilKey) {
		t.Fatalf("batch with nil key: %v, want ErrNilKey", err)
	}
	wantGet(t, s, "d", nil) // nothing of a refused batch is written
}

func testNoAliasing(t *testing.T, s engine) {
	k, v := []byte("key"), []byte("value")
	if err := s.Put(k, v); err != nil {
		t.Fatal(err)
	}
	k[0], v[0] = 'X', 'X' // the store must have copied its inputs
	wantGet(t, s, "key", []byte("value"))

	got, _ := s.Get([]byte("key"))
	got[0] = 'X' // the caller owns what Get returns
	wantGet(t, s, "key", []byte("value"))

	mustPut(t, s, "key2", "value2")
	it, err := s.Range(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var keys, values [][]byte
	for it.Next() {
		keys, values = append(keys, it.Key()), append(values, it.Value())
	}
	// Slices from earlier steps stay valid after Next.
	if string(keys[0]) != "key" || string(values[0]) != "value" || string(keys[1]) != "key2" || string(values[1]) != "value2" {
		t.Fatalf("iterator slices were reused: %q %q", keys, values)
	}
	keys[0][0], values[0][0] = 'X', 'X'
	wantGet(t, s, "key", []byte("value"))

	// Range bounds given by the caller may change after the call.
	from, to := []byte("key"), []byte("key2")
	it, err = s.Range(from, to)
	from[0], to[0] = 0, 0
	if got, want := drain(t, it, err), kvs("key", "value"); !equalStrings(got, want) {
		t.Fatalf("range after changing bounds: %v, want %v", got, want)
	}
}

func testIteratorSnapshot(t *testing.T, s engine) {
	putAll(t, s, []string{"a", "b", "c"})
	it, err := s.Range(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !it.Next() || string(it.Key()) != "a" {
		t.Fatalf("first key %q", it.Key())
	}
	mustPut(t, s, "bb", "new")
	if err := s.Delete([]byte("c")); err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, "b", "changed")
	if got, want := drain(t, it, nil), pairsOf("b", "c"); !equalStrings(got, want) {
		t.Fatalf("iterator saw later writes: %v, want %v", got, want)
	}
}

func testApproximateNumEntries(t *testing.T, s engine) {
	for i := range 100 {
		mustPut(t, s, fmt.Sprintf("k%03d", i), "v")
	}
	n, err := s.ApproximateNumEntries()
	if err != nil {
		t.Fatal(err)
	}
	if n < 50 || n > 200 {
		t.Fatalf("ApproximateNumEntries = %d, want about 100", n)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.ApproximateNumEntries(); n < 50 || n > 200 {
		t.Fatalf("after flush ApproximateNumEntries = %d, want about 100", n)
	}
}

func testClosed(t *testing.T, s engine) {
	mustPut(t, s, "a", "1")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_, errGet := s.Get([]byte("a"))
	_, errRange := s.Range(nil, nil)
	_, errPrefix := s.PrefixScan(nil)
	_, errCount := s.ApproximateNumEntries()
	for name, err := range map[string]error{
		"Get": errGet, "Put": s.Put([]byte("a"), []byte("2")), "Delete": s.Delete([]byte("a")),
		"WriteBatch": s.WriteBatch([]topology.KeyValue{{Key: []byte("a")}}),
		"Range":      errRange, "PrefixScan": errPrefix, "ApproximateNumEntries": errCount, "Flush": s.Flush(),
	} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", name, err)
		}
	}
}

// testConcurrent runs one writer against readers; the race detector and
// the read checks catch unsafe sharing.
func testConcurrent(t *testing.T, s engine) {
	const n = 500
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range n {
			k := fmt.Appendf(nil, "k%04d", i)
			if err := s.Put(k, k); err != nil {
				t.Error(err)
				return
			}
			if i%100 == 0 {
				if err := s.Flush(); err != nil {
					t.Error(err)
					return
				}
			}
		}
	}()
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				it, err := s.PrefixScan([]byte("k"))
				if err != nil {
					t.Error(err)
					return
				}
				for it.Next() {
					if !bytes.Equal(it.Key(), it.Value()) {
						t.Errorf("key %q has value %q", it.Key(), it.Value())
					}
					if v, err := s.Get(it.Key()); err != nil || !bytes.Equal(v, it.Key()) {
						t.Errorf("Get(%q) = %q, %v", it.Key(), v, err)
					}
				}
				if err := it.Err(); err != nil {
					t.Error(err)
				}
				it.Close()
			}
		}()
	}
	wg.Wait()
}
