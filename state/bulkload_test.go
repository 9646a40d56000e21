//go:build cgo

package state

import (
	"encoding/binary"
	"strconv"
	"testing"

	"github.com/eddystreams/eddy/topology"
)

// TestRocksDBBulkLoadBoundsL0 loads with 64 KiB memtables in bulk mode: L0
// files pile up (no compactions) until the bound turns compactions back on,
// and every value is there at the end.
func TestRocksDBBulkLoadBoundsL0(t *testing.T) {
	s := openRocks(t, t.TempDir(), RocksDBConfig{WriteBufferSize: 64 << 10})
	if err := s.BeginBulkLoad(); err != nil {
		t.Fatal(err)
	}
	value := make([]byte, 200)
	batch := make([]topology.KeyValue, 100)
	maxL0, turnedOn := 0, false
	const batches = 1000 // 20 MB: about 300 memtables
	for i := range batches {
		for j := range batch {
			batch[j] = topology.KeyValue{Key: binary.BigEndian.AppendUint64(nil, uint64(i*len(batch)+j)*0x9E3779B97F4A7C15), Value: value}
		}
		if err := s.WriteBatch(batch); err != nil {
			t.Fatal(err)
		}
		l0, _ := strconv.Atoi(s.db.GetProperty("rocksdb.num-files-at-level0"))
		maxL0 = max(maxL0, l0)
		turnedOn = turnedOn || s.bulk.compacting
	}
	if !turnedOn {
		t.Fatalf("L0 reached %d files; compactions never turned back on", maxL0)
	}
	// Compactions lag a little behind the bound; without it L0 would hold
	// about 300 files.
	if maxL0 > 3*bulkMaxL0Files {
		t.Fatalf("L0 reached %d files", maxL0)
	}
	if err := s.EndBulkLoad(); err != nil {
		t.Fatal(err)
	}
	if s.bulk != nil {
		t.Fatal("still in bulk mode")
	}
	n := 0
	it, err := s.Range(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for it.Next() {
		n++
	}
	if err := it.Close(); err != nil || n != batches*len(batch) {
		t.Fatalf("%d keys after the load (%v), want %d", n, err, batches*len(batch))
	}
	t.Logf("L0 peaked at %d files", maxL0)
}
