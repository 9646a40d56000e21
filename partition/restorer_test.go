package partition

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/eddystreams/eddy/state"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestRestorerBulkLoadKeepsLastValues restores a changelog long enough to
// switch to bulk mode (sorted batches), with keys written several times in
// one batch and deletes, and checks the store holds each key's last value.
func TestRestorerBulkLoadKeepsLastValues(t *testing.T) {
	needRocksDB(t)
	r := rand.New(rand.NewPCG(5, 6))
	want := map[string]string{}
	var recs []*kgo.Record
	for i := range bulkLoadAfter + 20_000 {
		k := binary.BigEndian.AppendUint32(nil, uint32(r.IntN(3000)))
		var v []byte
		if r.IntN(10) > 0 {
			v = []byte(fmt.Sprint(i))
			want[string(k)] = string(v)
		} else {
			delete(want, string(k))
		}
		recs = append(recs, &kgo.Record{Key: k, Value: v, Offset: int64(i)})
	}
	s, err := state.OpenRocksDB(t.TempDir(), "s", state.RocksDBConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rs := newRestorer(s)
	next, err := (&memChangelog{recs: recs, fetchBatch: 5000}).Restore(context.Background(), state.TopicPartition{}, 0, -1, rs.apply)
	if err != nil || next != int64(len(recs)) {
		t.Fatalf("restored to %d: %v", next, err)
	}
	if !rs.bulk {
		t.Fatal("never switched to bulk mode")
	}
	if err := rs.finish(); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	it, err := s.Range(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for it.Next() {
		got[string(it.Key())] = string(it.Value())
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d keys restored, want %d", len(got), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("key %x = %q, want %q", k, got[k], v)
		}
	}
}

// batchSizes is a store that records the size of each write batch.
type batchSizes struct {
	*state.MemoryStore
	sizes []int
}

func (b *batchSizes) WriteBatch(kvs []topology.KeyValue) error {
	n := 0
	for _, kv := range kvs {
		n += len(kv.Key) + len(kv.Value)
	}
	b.sizes = append(b.sizes, n)
	return b.MemoryStore.WriteBatch(kvs)
}

// TestRestorerWritesBoundedBatches restores fetches of 8 MB: each must go
// into the store in write batches of about restoreChunkBytes, so that tasks
// restoring at once overshoot the memory budget's memtable bound by a chunk
// each, not by a fetch each.
func TestRestorerWritesBoundedBatches(t *testing.T) {
	var recs []*kgo.Record
	value := make([]byte, 1000)
	for i := range 16_000 {
		recs = append(recs, &kgo.Record{Key: binary.BigEndian.AppendUint32(nil, uint32(i)), Value: value, Offset: int64(i)})
	}
	s := &batchSizes{MemoryStore: state.NewMemoryStore("s")}
	rs := newRestorer(s)
	next, err := (&memChangelog{recs: recs, fetchBatch: 8000}).Restore(context.Background(), state.TopicPartition{}, 0, -1, rs.apply)
	if err != nil || next != int64(len(recs)) {
		t.Fatalf("restored to %d: %v", next, err)
	}
	total := 0
	for _, n := range s.sizes {
		total += n
		if n > restoreChunkBytes+1004 {
			t.Fatalf("a write batch of %d bytes, over %d and a record", n, restoreChunkBytes)
		}
	}
	if total != 16_000*1004 || len(s.sizes) < 16 {
		t.Fatalf("%d bytes in %d batches", total, len(s.sizes))
	}
	if n, _ := s.ApproximateNumEntries(); n != 16_000 {
		t.Fatalf("%d keys restored", n)
	}
}

// lastPerKey keeps, of each key, only the record with the highest offset,
// in key order; a delete (nil value) that comes last is kept too.
func TestLastPerKey(t *testing.T) {
	rec := func(k string, v string, off int64) *kgo.Record {
		r := &kgo.Record{Key: []byte(k), Offset: off}
		if v != "" {
			r.Value = []byte(v)
		}
		return r
	}
	in := []*kgo.Record{rec("b", "1", 0), rec("a", "2", 1), rec("b", "3", 2), rec("c", "4", 3), rec("a", "", 4), rec("b", "5", 5)}
	var got []string
	for _, r := range lastPerKey(in) {
		got = append(got, fmt.Sprintf("%s@%d=%q", r.Key, r.Offset, r.Value))
	}
	if want := `a@4="" b@5="5" c@3="4"`; fmt.Sprint(got) != "["+want+"]" {
		t.Fatalf("lastPerKey = %v, want [%s]", got, want)
	}
	if in[0].Offset != 0 || string(in[5].Key) != "b" {
		t.Fatal("lastPerKey changed its input")
	}
}
