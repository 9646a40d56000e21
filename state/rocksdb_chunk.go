//go:build cgo

package state

import (
	"slices"
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
// from there; once EndWrites finds more than half the bound buffered, or
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
// WAL when it is made. After a batch reached RocksDB its entries stay, clean,
// as a read cache.

// A store's writes and read cache in Go are bounded together (bufferBound):
// the dirty writes go to RocksDB once they are past half the bound, at the
// end of a chunk; the clean entries (applied writes, and values read from
// RocksDB) are a read cache in front of RocksDB's memtable and block cache,
// dropped at random down to 3/4 of the bound once the whole is past it.
// The entries mirror RocksDB exactly: every write to RocksDB updates or
// drops them.
//
// A count or an aggregate reads every key it writes. With more keys than the
// buffer holds, each read went through cgo to a memtable skip list holding
// many versions of each key, and each apply inserted thousands of keys into
// it: the largest costs of a stateful record (docs/benchmarks/hotpath.md).
// A task whose keys fit reaches RocksDB only when something reads it as a
// whole (iterators, Flush at a checkpoint, Close).
//
// Under a memory budget (eddy.WithMemoryBudget) the stores share half the
// budget's total beside it, each between minStoreBuffer and maxStoreBuffer;
// without one a store has defaultStoreBuffer.
const (
	minStoreBuffer     = 1 << 20
	maxStoreBuffer     = 4 << 20
	defaultStoreBuffer = 2 << 20
)

// storeBufferFor is each of n stores' share of half of a budget's total.
func storeBufferFor(total uint64, n int) int {
	if n < 1 {
		n = 1
	}
	return int(min(max(total/2/uint64(n), minStoreBuffer), maxStoreBuffer))
}

// bufferBound is the store's bound for its dirty and clean entries.
func (s *RocksDBStore) bufferBound() int {
	if s.budget != nil {
		if n := s.budget.storeBuffer.Load(); n > 0 {
			return int(n)
		}
	}
	return defaultStoreBuffer
}

// pendingOverhead estimates a map entry's memory beyond its key and value:
// the map's slot, the key's and the value's allocations and the map's
// slack (113-156 bytes an entry of 27 bytes of key and value, measured on
// Go 1.26).
const pendingOverhead = 112

var _ ChunkWriter = (*RocksDBStore)(nil)

// pendingValue is a buffered write: value, or a delete; clean when RocksDB
// holds it already (kept to be read, never written again).
type pendingValue struct {
	value   []byte
	deleted bool
	clean   bool
}

func entryBytes(key string, p pendingValue) int { return len(key) + len(p.value) + pendingOverhead }

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
// past half the store's buffer bound.
func (s *RocksDBStore) EndWrites() error {
	s.pmu.Lock()
	s.chunked = false
	full := s.pendingBytes > s.bufferBound()/2
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
	if !s.chunked && s.dirty == 0 {
		return false
	}
	if s.pending == nil {
		s.pending = make(map[string]pendingValue)
	}
	p, ok := s.pending[string(key)]
	switch {
	case !ok:
		s.dirty++
	case p.clean:
		s.cleanBytes -= entryBytes(string(key), p)
		s.dirty++
	default:
		s.pendingBytes -= entryBytes(string(key), p)
	}
	if deleted {
		p = pendingValue{value: p.value[:0], deleted: true}
	} else {
		p = pendingValue{value: append(p.value[:0], value...)}
	}
	s.pending[string(key)] = p
	s.pendingBytes += entryBytes(string(key), p)
	return true
}

// wroteDirect records a write of key made to RocksDB directly (not
// buffered): its clean entry, now stale, goes. The caller holds s.mu.
func (s *RocksDBStore) wroteDirect(key []byte) {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	s.gen++
	if p, ok := s.pending[string(key)]; ok && p.clean {
		s.cleanBytes -= entryBytes(string(key), p)
		delete(s.pending, string(key))
	}
}

// pendingGet returns a copy of key's buffered or cached value (nil for a
// delete or a key RocksDB does not have) and whether key has an entry. If
// not, gen is the generation to pass to remember with what RocksDB says.
func (s *RocksDBStore) pendingGet(key []byte) (v []byte, ok bool, gen uint64) {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	p, ok := s.pending[string(key)]
	if !ok {
		return nil, false, s.gen
	}
	if p.deleted {
		return nil, true, 0
	}
	return append(make([]byte, 0, len(p.value)), p.value...), true, 0
}

// remember keeps value (nil: absent) as key's clean entry, read from
// RocksDB after pendingGet returned gen: unless RocksDB changed since (the
// read may be older than the change) or key has an entry now.
func (s *RocksDBStore) remember(key, value []byte, gen uint64) {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	if s.gen != gen {
		return
	}
	if _, ok := s.pending[string(key)]; ok {
		return
	}
	if s.pending == nil {
		s.pending = make(map[string]pendingValue)
	}
	p := pendingValue{value: append([]byte(nil), value...), deleted: value == nil, clean: true}
	s.pending[string(key)] = p
	s.cleanBytes += entryBytes(string(key), p)
	s.evictCleanLocked()
}

// evictCleanLocked drops clean entries at random (map order) once the
// entries are past the buffer bound, until they are down to 3/4 of it (or
// no clean one is left). The caller holds s.pmu.
func (s *RocksDBStore) evictCleanLocked() {
	bound := s.bufferBound()
	if s.cleanBytes == 0 || s.pendingBytes+s.cleanBytes <= bound {
		return
	}
	for k, p := range s.pending {
		if s.cleanBytes == 0 || s.pendingBytes+s.cleanBytes <= bound*3/4 {
			return
		}
		if p.clean {
			s.cleanBytes -= entryBytes(k, p)
			delete(s.pending, k)
		}
	}
}

// dropClean forgets every clean entry: RocksDB changed by other means than
// the buffered writes (a batch, a range delete).
func (s *RocksDBStore) dropClean() {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	s.gen++
	if s.cleanBytes == 0 {
		return
	}
	for k, p := range s.pending {
		if p.clean {
			delete(s.pending, k)
		}
	}
	s.cleanBytes = 0
}

// applyPending writes the buffered writes to RocksDB in one batch. On an
// error they stay buffered (a later call tries again) and the store
// reports it.
func (s *RocksDBStore) applyPending() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.applyPendingLocked()
}

// applyPendingLocked is applyPending for a caller holding s.mu. The
// applied entries stay, clean.
func (s *RocksDBStore) applyPendingLocked() error {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	if s.dirty == 0 {
		return nil
	}
	if s.closed {
		return s.errorf("write chunk", ErrClosed)
	}
	if s.wb == nil {
		s.wb = grocksdb.NewWriteBatch()
	}
	s.wb.Clear()
	// In key order: the memtable's skip list then finds each insert's
	// place next to the previous one's instead of searching from the top
	// (most of a batch's cost with keys in random order).
	keys := s.applyKeys[:0]
	for k, p := range s.pending {
		if !p.clean {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		p := s.pending[k]
		// RocksDB copies key and value into the batch: k's bytes are
		// only read during the call.
		kb := unsafe.Slice(unsafe.StringData(k), len(k))
		if p.deleted {
			s.wb.Delete(kb)
		} else {
			s.wb.Put(kb, p.value)
		}
	}
	s.gen++
	err := s.db.Write(s.wo, s.wb)
	if err == nil {
		for _, k := range keys {
			p := s.pending[k]
			p.clean = true
			s.pending[k] = p
		}
	}
	clear(keys)
	s.applyKeys = keys[:0]
	if err != nil {
		return s.errorf("write chunk", err)
	}
	s.cleanBytes += s.pendingBytes
	s.pendingBytes, s.dirty = 0, 0
	s.evictCleanLocked()
	return nil
}
