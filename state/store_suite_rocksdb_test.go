//go:build cgo

package state

import "testing"

func init() {
	engines = append(engines, struct {
		name string
		open func(t testing.TB) engine
	}{"rocksdb", func(t testing.TB) engine { return openRocks(t, t.TempDir(), RocksDBConfig{}) }},
		// Every suite test again with writes buffered (rocksdb_chunk.go).
		struct {
			name string
			open func(t testing.TB) engine
		}{"rocksdb-chunked", func(t testing.TB) engine {
			s := openRocks(t, t.TempDir(), RocksDBConfig{})
			s.BeginWrites()
			return s
		}})
}

func openRocks(t testing.TB, dir string, cfg RocksDBConfig) *RocksDBStore {
	t.Helper()
	s, err := OpenRocksDB(dir, "test", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
