//go:build cgo

package state

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"

	"github.com/eddystreams/eddy/topology"
)

// model is the reference: a map, sorted on every read.
type model map[string][]byte

func (m model) apply(key, value []byte) {
	if value == nil {
		delete(m, string(key))
	} else {
		m[string(key)] = slices.Clone(value)
	}
}

func (m model) scan(from, to []byte) []string {
	var keys []string
	for k := range m {
		if (from == nil || k >= string(from)) && (to == nil || k < string(to)) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var out []string
	for _, k := range keys {
		out = append(out, fmt.Sprintf("%q=%q", k, m[k]))
	}
	return out
}

func (m model) prefix(p []byte) []string {
	var out []string
	for _, kv := range m.scan(nil, nil) {
		k, _ := strconv.Unquote(kv[:bytes.IndexByte([]byte(kv), '=')])
		if bytes.HasPrefix([]byte(k), p) {
			out = append(out, kv)
		}
	}
	return out
}

func randValue(r *rand.Rand) []byte {
	switch r.IntN(10) {
	case 0:
		return nil // nil Put deletes
	case 1:
		return []byte{}
	}
	return fmt.Appendf(nil, "v%d", r.IntN(1000))
}

// show formats a key or bound, telling nil from empty.
func show(b []byte) string {
	if b == nil {
		return "nil"
	}
	return fmt.Sprintf("%q", b)
}

func randBound(r *rand.Rand) []byte {
	if r.IntN(4) == 0 {
		return nil
	}
	return randKey(r)
}

// TestEnginesAgainstModel applies the same seeded random operations to
// RocksDB, the memory store and a map, and compares every read. Set
// EDDY_STATE_SEED to replay one seed.
func TestEnginesAgainstModel(t *testing.T) {
	seeds := []uint64{1, 2, 3, 4, 5}
	if s := os.Getenv("EDDY_STATE_SEED"); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		seeds = []uint64{seed}
	}
	ops := 3000
	if testing.Short() {
		ops = 500
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			runModel(t, seed, ops)
		})
	}
}

func runModel(t *testing.T, seed uint64, ops int) {
	r := rand.New(rand.NewPCG(seed, seed))
	dir := t.TempDir()
	rocks := openRocks(t, dir, RocksDBConfig{})
	stores := map[string]topology.KeyValueStore{"rocksdb": rocks, "memory": NewMemoryStore("model")}
	m := model{}

	check := func(i int, what string, read func(s topology.KeyValueStore) []string, want []string) {
		t.Helper()
		for name, s := range stores {
			if got := read(s); !equalStrings(got, want) {
				t.Fatalf("op %d: %s on %s:\ngot  %v\nwant %v", i, what, name, got, want)
			}
		}
	}
	for i := range ops {
		switch op := r.IntN(1000); {
		case op < 400:
			k, v := randKey(r), randValue(r)
			m.apply(k, v)
			for _, s := range stores {
				if err := s.Put(k, v); err != nil {
					t.Fatal(err)
				}
			}
		case op < 500:
			k := randKey(r)
			m.apply(k, nil)
			for _, s := range stores {
				if err := s.Delete(k); err != nil {
					t.Fatal(err)
				}
			}
		case op < 550:
			batch := make([]topology.KeyValue, r.IntN(20))
			for j := range batch {
				batch[j] = topology.KeyValue{Key: randKey(r), Value: randValue(r)}
				m.apply(batch[j].Key, batch[j].Value)
			}
			for _, s := range stores {
				if err := s.(topology.BatchWriter).WriteBatch(batch); err != nil {
					t.Fatal(err)
				}
			}
		case op < 750:
			k := randKey(r)
			check(i, fmt.Sprintf("Get(%q)", k), func(s topology.KeyValueStore) []string {
				v, err := s.Get(k)
				if err != nil {
					t.Fatal(err)
				}
				return []string{fmt.Sprintf("%q nil=%v", v, v == nil)}
			}, []string{fmt.Sprintf("%q nil=%v", m[string(k)], m[string(k)] == nil)})
		case op < 870:
			from, to := randBound(r), randBound(r)
			check(i, fmt.Sprintf("Range(%s, %s)", show(from), show(to)), func(s topology.KeyValueStore) []string {
				it, err := s.Range(from, to)
				return drain(t, it, err)
			}, m.scan(from, to))
		case op < 985:
			p := randBound(r)
			check(i, fmt.Sprintf("PrefixScan(%s)", show(p)), func(s topology.KeyValueStore) []string {
				it, err := s.PrefixScan(p)
				return drain(t, it, err)
			}, m.prefix(p))
		case op < 995:
			if err := rocks.Flush(); err != nil {
				t.Fatal(err)
			}
		default: // reopen: reads then come from SST files only
			if err := rocks.Close(); err != nil {
				t.Fatal(err)
			}
			rocks = openRocks(t, dir, RocksDBConfig{})
			stores["rocksdb"] = rocks
		}
	}
	check(ops, "final Range", func(s topology.KeyValueStore) []string {
		it, err := s.Range(nil, nil)
		return drain(t, it, err)
	}, m.scan(nil, nil))
}
