package partition

import (
	"bytes"
	"cmp"
	"slices"

	"github.com/eddystreams/eddy/state"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

// bulkLoadAfter is how many records a restore writes normally before it
// switches the store to bulk-load settings: a short catch-up (a clean
// restart) gains nothing from them, and switching rewrites RocksDB's
// OPTIONS file twice.
const bulkLoadAfter = 50_000

// restoreChunkBytes bounds one write batch of a restore. A node's memory
// budget stalls writers once the memtables of all stores reach its bound,
// but a write already past that check goes in whole: with several tasks
// restoring at once, each fetch written as one batch (up to the fetch size)
// would overshoot the bound by that much per restore.
const restoreChunkBytes = 1 << 20

// bulkEngine is an engine with a bulk-load mode.
type bulkEngine interface {
	state.BulkLoader
	topology.BatchWriter
}

// restorer writes the records of a restoration to a store's engine in
// write batches. Once the restore proves long it switches the engine to
// bulk-load settings (see state.BulkLoader) and sorts each batch by key. Call
// finish when the restore is over, whether it failed or not.
type restorer struct {
	kv      topology.KeyValueStore
	loader  bulkEngine // nil: the engine has no bulk mode
	applied int
	bulk    bool
}

func newRestorer(kv topology.KeyValueStore) *restorer {
	r := &restorer{kv: kv}
	r.loader, _ = kv.(bulkEngine)
	return r
}

// apply is a ChangelogReader's apply function.
func (r *restorer) apply(recs []*kgo.Record) error {
	if r.loader != nil && !r.bulk && r.applied >= bulkLoadAfter {
		if err := r.loader.BeginBulkLoad(); err != nil {
			return err
		}
		r.bulk = true
	}
	r.applied += len(recs)
	if !r.bulk {
		return applyChunked(r.kv, recs)
	}
	return applyChunked(r.kv, lastPerKey(recs))
}

// lastPerKey returns the records of recs sorted by key, only the last (by
// offset) of each key: what a write batch of all of them would leave in the
// store. Sorted by key, a batch goes into the memtable's skip list near the
// previous insert each time instead of at a random place; and an
// uncompacted changelog (a count's, say) holds many updates of each key, of
// which only the last needs to reach RocksDB.
func lastPerKey(recs []*kgo.Record) []*kgo.Record {
	sorted := slices.Clone(recs)
	slices.SortFunc(sorted, func(a, b *kgo.Record) int {
		if c := bytes.Compare(a.Key, b.Key); c != 0 {
			return c
		}
		return cmp.Compare(a.Offset, b.Offset)
	})
	out := sorted[:0]
	for i, r := range sorted {
		if i+1 < len(sorted) && bytes.Equal(sorted[i+1].Key, r.Key) {
			continue // a later record of the key follows
		}
		out = append(out, r)
	}
	clear(sorted[len(out):])
	return out
}

// applyChunked writes recs in write batches of about restoreChunkBytes
// (keys and values). A restore need not be atomic: it is repeated from the
// checkpoint if it fails.
func applyChunked(kv topology.KeyValueStore, recs []*kgo.Record) error {
	for len(recs) > 0 {
		n, size := 0, 0
		for n < len(recs) && (n == 0 || size < restoreChunkBytes) {
			size += len(recs[n].Key) + len(recs[n].Value)
			n++
		}
		if err := applyToStore(kv, recs[:n]); err != nil {
			return err
		}
		recs = recs[n:]
	}
	return nil
}

// finish ends the bulk load, if one began.
func (r *restorer) finish() error {
	if !r.bulk {
		return nil
	}
	r.bulk = false
	return r.loader.EndBulkLoad()
}
