//go:build cgo

package state

import (
	"github.com/linxGnu/grocksdb"
)

// DeleteRange removes every key in [from, to) at once: one range tombstone,
// however many keys the range holds. Both bounds are required, and an empty
// range (from >= to) deletes nothing. SegmentedStore drops expired segments
// with it.
func (s *RocksDBStore) DeleteRange(from, to []byte) error {
	if from == nil || to == nil {
		return s.errorf("delete range", ErrNilKey)
	}
	if emptyRange(from, to) {
		return nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return s.errorf("delete range", ErrClosed)
	}
	if err := s.applyPendingLocked(); err != nil {
		return err
	}
	wb := grocksdb.NewWriteBatch()
	defer wb.Destroy()
	wb.DeleteRange(from, to)
	err := s.db.Write(s.wo, wb)
	s.dropClean()
	if err != nil {
		return s.errorf("delete range", err)
	}
	return nil
}
