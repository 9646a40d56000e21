package partition

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/eddystreams/eddy/state"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestRestorerBulkLoadKeepsLastValues restores a changelog long enough to
// switch to bulk mode (sorted batches), with keys written several times in
// one batch and deletes, and checks the store holds each key's last value.
func TestRestorerBulkLoadKeepsLastValues(t *testing.T) {
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
