//go:build cgo

package state

import (
	"encoding/binary"
	"testing"

	"github.com/eddystreams/eddy/topology"
)

const benchValueSize = 100

// benchKey spreads sequential i over the key space, as hashed record keys
// would be.
func benchKey(buf []byte, i int) []byte {
	return binary.BigEndian.AppendUint64(buf[:0], uint64(i)*0x9E3779B97F4A7C15)
}

func reportRecords(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkRocksDBPut measures single puts of 100-byte values with Eddy's
// default config (WAL off).
func BenchmarkRocksDBPut(b *testing.B) {
	s := openRocks(b, b.TempDir(), RocksDBConfig{})
	value := make([]byte, benchValueSize)
	var key []byte
	b.SetBytes(benchValueSize)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		key = benchKey(key, i)
		if err := s.Put(key, value); err != nil {
			b.Fatal(err)
		}
	}
	reportRecords(b)
}

// BenchmarkRocksDBWriteBatch measures restoration-style writes: 100-byte
// values in batches of 1000 records. b.N counts records, not batches.
func BenchmarkRocksDBWriteBatch(b *testing.B) {
	const batchSize = 1000
	s := openRocks(b, b.TempDir(), RocksDBConfig{})
	value := make([]byte, benchValueSize)
	batch := make([]topology.KeyValue, 0, batchSize)
	b.SetBytes(benchValueSize)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		batch = append(batch, topology.KeyValue{Key: benchKey(nil, i), Value: value})
		if len(batch) == batchSize || i == b.N-1 {
			if err := s.WriteBatch(batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	reportRecords(b)
}

// BenchmarkRocksDBGet measures point reads of 100-byte values from a store
// of 100k keys flushed to SST files.
func BenchmarkRocksDBGet(b *testing.B) {
	const keys = 100_000
	s := openRocks(b, b.TempDir(), RocksDBConfig{})
	value := make([]byte, benchValueSize)
	for i := 0; i < keys; i++ {
		if err := s.Put(benchKey(nil, i), value); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Flush(); err != nil {
		b.Fatal(err)
	}
	var key []byte
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		key = benchKey(key, i%keys)
		if v, err := s.Get(key); err != nil || len(v) != benchValueSize {
			b.Fatalf("Get: %d bytes, %v", len(v), err)
		}
	}
	reportRecords(b)
}

// BenchmarkMemoryPut is the in-memory baseline for BenchmarkRocksDBPut.
func BenchmarkMemoryPut(b *testing.B) {
	s := NewMemoryStore("bench")
	value := make([]byte, benchValueSize)
	var key []byte
	b.SetBytes(benchValueSize)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		key = benchKey(key, i)
		if err := s.Put(key, value); err != nil {
			b.Fatal(err)
		}
	}
	reportRecords(b)
}
