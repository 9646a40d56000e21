package partition

import (
	"context"
	"errors"
	"fmt"

	"github.com/eddystreams/eddy/state"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

// restoreSourceTable fills the store of a source table (topology.Table) from
// its changelog, which is the table's source topic: partition tp is also an
// input of the task. The store is restored from the checkpoint (0 without
// one) up to the input offset last committed, so that it holds exactly what
// processing had made of the records before that offset; processing then
// goes on from that offset. Nothing is rolled back and nothing is logged:
// the store's writes never leave the task.
func (m *StateManager) restoreSourceTable(ctx context.Context, spec topology.StoreSpec, kv topology.KeyValueStore, tp state.TopicPartition, from int64) error {
	until := m.commit.Offsets[tp] // 0 when nothing was committed: processing fills the store
	if from > until {
		// The local store is ahead of the commit (it cannot be after a
		// clean stop, which commits first): start over.
		if err := clearStore(kv); err != nil {
			return err
		}
		from = 0
	}
	next, skipped, err := m.restoreFromSource(ctx, spec, kv, tp, from, until)
	if err != nil {
		return &RecoverableError{Err: fmt.Errorf("restore from source topic %s: %w", tp, err)}
	}
	if next > from {
		m.log.Debug("restored", "store", spec.Name, "from", from, "to", next, "skipped", skipped)
	}
	if m.sources == nil {
		m.sources = map[state.TopicPartition]int64{}
	}
	m.sources[tp] = max(next, from)
	return nil
}

// restoreFromSource writes the records of a source topic partition from
// offset from up to until (-1: the end) into a table's store, as
// processing would have (filterSourceRecords), in bulk for long restores.
// It returns the offset after the last record read and how many records
// were skipped. Source tables and global tables restore this way.
func (m *StateManager) restoreFromSource(ctx context.Context, spec topology.StoreSpec, kv topology.KeyValueStore, tp state.TopicPartition, from, until int64) (int64, int, error) {
	skipped := 0
	rs := newRestorer(kv) // restorer.go: bulk mode for long restores
	ctx, ended := m.traceRestore(ctx, spec.Name, tp)
	next, err := m.cfg.Changelogs.Restore(ctx, tp, from, until, func(recs []*kgo.Record) error {
		keep := filterSourceRecords(spec, recs)
		skipped += len(recs) - len(keep)
		return rs.apply(keep)
	})
	if ferr := rs.finish(); err == nil {
		err = ferr
	}
	ended(int64(rs.applied))
	return next, skipped, err
}

// filterSourceRecords returns the records of a source topic that processing
// applies to the table (a key, and a key and value that deserialize); the
// others were skipped by the deserialization error handler. recs is not
// modified: it may be shared.
func filterSourceRecords(spec topology.StoreSpec, recs []*kgo.Record) []*kgo.Record {
	keep := make([]*kgo.Record, 0, len(recs))
	for _, r := range recs {
		if r.Key == nil {
			continue
		}
		if spec.RestoreCheck != nil && spec.RestoreCheck(r.Key, r.Value) != nil {
			continue
		}
		keep = append(keep, r)
	}
	return keep
}

// checkpointSourceTables adds the source tables' positions to a checkpoint:
// the offset up to which each store holds its source partition, restored
// or, beyond that, consumed by processing.
func (m *StateManager) checkpointSourceTables(offsets, consumed map[state.TopicPartition]int64) {
	for tp, restored := range m.sources {
		off := restored
		if c, ok := consumed[tp]; ok && c > off {
			off = c
		}
		offsets[tp] = off
	}
}

// clearStore deletes every key of s.
func clearStore(s topology.KeyValueStore) error {
	it, err := s.Range(nil, nil)
	if err != nil {
		return err
	}
	var keys [][]byte
	for it.Next() {
		keys = append(keys, it.Key())
	}
	if err := errors.Join(it.Err(), it.Close()); err != nil {
		return err
	}
	for _, k := range keys {
		if err := s.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
