//go:build cgo

package state

import (
	"unsafe"

	"github.com/linxGnu/grocksdb"
)

// Chunked writes: a task processes its records in chunks (a few hundred
// at a time, between two looks at its mailbox), and every record of a
// count or an aggregate reads and writes its key. Through cgo that is one
// RocksDB point read and one point write per record, each a search of the
// memtable's skip list: the largest cost of a stateful record
// (docs/benchmarks/hotpath.md). From BeginWrites on, the store keeps its
// writes in a Go map instead, the last value per key, and reads them back
// from there; once EndWrites finds more than maxPendingBytes buffered, or
// anything reads RocksDB as a whole (iterators, Flush, estimates, range
// deletes, batch writes, Close), they go to RocksDB as one write batch. So
// a key written many times between two such points reaches RocksDB once,
// and reading it back costs a map lookup.
//
// Nothing else changes: the change-logging layer above still logs every
// write (this is below it), a read sees every earlier write, and with the
// WAL off (the default) RocksDB's memtable was no more durable than this
// buffer: both are lost in a crash and rebuilt from the changelog. With the
// WAL on, BeginWrites does nothing, so that every write still reaches the
// WAL when it is made.

// maxPendingBytes bounds a store's buffered writes (keys, values and a
// per-entry estimate of the map's overhead): past it, EndWrites applies
// them.
const maxPendingBytes = 512 << 10

// pendingOverhead estimates a map entry's memory beyond its key and value.
const pendingOverhead = 64

var _ ChunkWriter = (*RocksDBStore)(nil)

// pendingValue is a buffered write: value, or a delete.
type pendingValue struct {
	value   []byte
	deleted bool
}

// BeginWrites starts buffering writes. It is a no-op with the WAL on.
func (s *RocksDBStore) BeginWrites() {
	if s.wal {
		return
	}
	s.pmu.Lock()
	s.chunked = true
	s.pmu.Unlock()
}

// EndWrites ends a chunk: writes made after it go to RocksDB directly
// again once the buffered ones are applied, which it does when they are
// more than maxPendingBytes.
func (s *RocksDBStore) EndWrites() error {
	s.pmu.Lock()
	s.chunked = false
	full := s.pendingBytes > maxPendingBytes
	s.pmu.Unlock()
	if !full {
		return nil
	}
	return s.applyPending()
}

// bufferWrite buffers a put (deleted false) or delete of key when a chunk
// is open or writes are still buffered (a direct write would be hidden by
// an older buffered one), and reports whether it did. The caller holds
// s.mu (read); the lock order is s.mu, then s.pmu.
func (s *RocksDBStore) bufferWrite(key, value []byte, deleted bool) bool {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	if !s.chunked && len(s.pending) == 0 {
		return false
	}
	if s.pending == nil {
		s.pending = make(map[string]pendingValue)
	}
	p, ok := s.pending[string(key)]
	if ok {
		s.pendingBytes -= len(p.value)
	} else {
		s.pendingBytes += len(key) + pendingOverhead
	}
	s.pendingBytes += len(value)
	if deleted {
		p = pendingValue{value: p.value[:0], deleted: true}
	} else {
		p = pendingValue{value: append(p.value[:0], value...)}
	}
	s.pending[string(key)] = p
	return true
}

// pendingGet returns a copy of key's buffered value (nil for a delete)
// and whether key has a buffered write.
func (s *RocksDBStore) pendingGet(key []byte) ([]byte, bool) {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	p, ok := s.pending[string(key)]
	if !ok {
		return nil, false
	}
	if p.deleted {
		return nil, true
	}
	return append(make([]byte, 0, len(p.value)), p.value...), true
}

// applyPending writes the buffered writes to RocksDB in one batch. On an
// error they stay buffered (a later call tries again) and the store
// reports it.
func (s *RocksDBStore) applyPending() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.applyPendingLocked()
}

// applyPendingLocked is applyPending for a caller holding s.mu.
func (s *RocksDBStore) applyPendingLocked() error {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	if len(s.pending) == 0 {
		return nil
	}
	if s.closed {
		return s.errorf("write chunk", ErrClosed)
	}
	if s.wb == nil {
		s.wb = grocksdb.NewWriteBatch()
	}
	s.wb.Clear()
	for k, p := range s.pending {
		// RocksDB copies key and value into the batch: k's bytes are
		// only read during the call.
		kb := unsafe.Slice(unsafe.StringData(k), len(k))
		if p.deleted {
			s.wb.Delete(kb)
		} else {
			s.wb.Put(kb, p.value)
		}
	}
	if err := s.db.Write(s.wo, s.wb); err != nil {
		return s.errorf("write chunk", err)
	}
	clear(s.pending)
	s.pendingBytes = 0
	return nil
}
