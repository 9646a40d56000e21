//go:build cgo

package state

import (
	"strconv"
)

const (
	// bulkMaxL0Files bounds the L0 files a bulk load piles up: past it,
	// compactions run again until half are gone, so a long restore with
	// small memtables does not leave thousands of files to merge at once.
	bulkMaxL0Files = 64
	// bulkCheckEvery is how many write batches go by between looks at L0.
	bulkCheckEvery = 16
)

// bulkLoad is a bulk load in progress.
type bulkLoad struct {
	keys, normal []string // the options changed, and their normal values
	compacting   bool     // compactions turned back on by the L0 bound
	batches      int
}

// BeginBulkLoad turns automatic compactions off, and with them the write
// stalls that L0 files and pending compactions cause (as RocksDB's
// PrepareForBulkLoad does): restoring then writes memtables out as L0 files
// and does nothing else. EndBulkLoad turns compactions back on, and they
// merge those files in the background, in one pass instead of rewriting the
// early ones again and again while the load runs. A task's writes may stall
// until they have (the normal L0 triggers), which is cheaper than waiting
// for the restore to compact. See docs/decisions/0008-fast-restoration.md.
//
// It and EndBulkLoad must come from the goroutine that writes.
func (s *RocksDBStore) BeginBulkLoad() error {
	if s.bulk != nil {
		return nil
	}
	keys := []string{
		"disable_auto_compactions",
		"level0_slowdown_writes_trigger",
		"level0_stop_writes_trigger",
		"soft_pending_compaction_bytes_limit",
		"hard_pending_compaction_bytes_limit",
	}
	normal := []string{
		"false",
		strconv.Itoa(s.opts.GetLevel0SlowdownWritesTrigger()),
		strconv.Itoa(s.opts.GetLevel0StopWritesTrigger()),
		strconv.FormatUint(s.opts.GetSoftPendingCompactionBytesLimit(), 10),
		strconv.FormatUint(s.opts.GetHardPendingCompactionBytesLimit(), 10),
	}
	if err := s.setOptions(keys, []string{"true", "1000000000", "1000000000", "0", "0"}); err != nil {
		return err
	}
	s.bulk = &bulkLoad{keys: keys, normal: normal}
	return nil
}

// EndBulkLoad puts the normal settings back; compactions resume.
func (s *RocksDBStore) EndBulkLoad() error {
	if s.bulk == nil {
		return nil
	}
	b := s.bulk
	s.bulk = nil
	return s.setOptions(b.keys, b.normal)
}

// bulkWritten runs after each write batch of a bulk load: it turns
// compactions on while L0 holds bulkMaxL0Files or more, and off again once
// it holds half as many.
func (s *RocksDBStore) bulkWritten() error {
	b := s.bulk
	if b.batches++; b.batches%bulkCheckEvery != 0 {
		return nil
	}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return s.errorf("bulk load", ErrClosed)
	}
	l0, _ := strconv.Atoi(s.db.GetProperty("rocksdb.num-files-at-level0"))
	s.mu.RUnlock()
	switch {
	case !b.compacting && l0 >= bulkMaxL0Files:
		b.compacting = true
		return s.setOptions([]string{"disable_auto_compactions"}, []string{"false"})
	case b.compacting && l0 <= bulkMaxL0Files/2:
		b.compacting = false
		return s.setOptions([]string{"disable_auto_compactions"}, []string{"true"})
	}
	return nil
}
