//go:build cgo

package state

import (
	"github.com/linxGnu/grocksdb"

	"github.com/eddystreams/eddy/topology"
)

// Range iterates keys in [from, to); a nil bound is unbounded. The
// iterator reads the implicit RocksDB snapshot taken when it is created,
// so later writes do not show through.
func (s *RocksDBStore) Range(from, to []byte) (topology.KeyValueIterator, error) {
	return s.newIterator("range", clone(from), clone(to))
}

// PrefixScan iterates keys that start with prefix.
func (s *RocksDBStore) PrefixScan(prefix []byte) (topology.KeyValueIterator, error) {
	p := clone(prefix)
	if p == nil {
		p = []byte{}
	}
	return s.newIterator("prefix scan", p, prefixEnd(p))
}

// newIterator takes ownership of from and to.
func (s *RocksDBStore) newIterator(op string, from, to []byte) (topology.KeyValueIterator, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, s.errorf(op, ErrClosed)
	}
	if err := s.applyPendingLocked(); err != nil {
		return nil, err
	}
	if emptyRange(from, to) {
		return &sliceIterator{}, nil
	}
	it := &rocksIterator{store: s, from: from}
	it.ro = grocksdb.NewDefaultReadOptions()
	if to != nil {
		// RocksDB keeps a pointer to to's bytes; it.ro (and grocksdb's
		// reference inside it) keeps them alive until release.
		it.ro.SetIterateUpperBound(to)
	}
	it.it = s.db.NewIterator(it.ro)
	s.itersMu.Lock()
	s.iters[it] = struct{}{}
	s.itersMu.Unlock()
	return it, nil
}

// rocksIterator adapts a grocksdb iterator to topology.KeyValueIterator,
// copying every key and value out of RocksDB's memory.
type rocksIterator struct {
	store   *RocksDBStore
	ro      *grocksdb.ReadOptions
	it      *grocksdb.Iterator // nil once released
	from    []byte
	started bool
	done    bool
	key     []byte
	value   []byte
	err     error
}

func (it *rocksIterator) Next() bool {
	it.store.mu.RLock()
	defer it.store.mu.RUnlock()
	it.key, it.value = nil, nil
	if it.done {
		return false
	}
	if it.it == nil {
		it.done = true
		it.err = it.store.errorf("iterate", ErrClosed)
		return false
	}
	if !it.started {
		it.started = true
		if it.from != nil {
			it.it.Seek(it.from)
		} else {
			it.it.SeekToFirst()
		}
	} else {
		it.it.Next()
	}
	if !it.it.Valid() {
		it.done = true
		if err := it.it.Err(); err != nil {
			it.err = it.store.errorf("iterate", err)
		}
		return false
	}
	it.key, it.value = copySlice(it.it.Key()), copySlice(it.it.Value())
	return true
}

func (it *rocksIterator) Key() []byte   { return it.key }
func (it *rocksIterator) Value() []byte { return it.value }
func (it *rocksIterator) Err() error    { return it.err }

func (it *rocksIterator) Close() error {
	it.store.mu.RLock()
	defer it.store.mu.RUnlock()
	it.done = true
	it.key, it.value = nil, nil
	if it.it == nil {
		return nil
	}
	it.store.itersMu.Lock()
	delete(it.store.iters, it)
	it.store.itersMu.Unlock()
	it.release()
	return nil
}

// release frees the C iterator and its read options. Callers hold the
// store's lock (read or write) and have removed it from store.iters, or
// are the store's Close.
func (it *rocksIterator) release() {
	it.it.Close()
	it.it = nil
	it.ro.Destroy()
	it.ro = nil
}

// copySlice copies a RocksDB-owned slice into Go memory and frees it.
func copySlice(s *grocksdb.Slice) []byte {
	if s == nil {
		return nil
	}
	defer s.Free()
	return append(make([]byte, 0, s.Size()), s.Data()...)
}
