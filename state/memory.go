package state

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/google/btree"

	"github.com/eddystreams/eddy/topology"
)

// btreeDegree is the B-tree's minimum degree; 32 keeps nodes a few cache
// lines wide, as google/btree suggests for in-memory use.
const btreeDegree = 32

// MemoryStore is an ordered in-memory topology.KeyValueStore and
// topology.BatchWriter, for tests and for stores that need no local
// durability (the changelog still restores it). It is safe for concurrent
// use; writers exclude each other and readers.
type MemoryStore struct {
	name string

	mu     sync.RWMutex
	tree   *btree.BTreeG[kv] // nil once closed
	closed bool
}

var (
	_ topology.KeyValueStore = (*MemoryStore)(nil)
	_ topology.BatchWriter   = (*MemoryStore)(nil)
)

// NewMemoryStore returns an empty in-memory store called name.
func NewMemoryStore(name string) *MemoryStore {
	return &MemoryStore{
		name: name,
		tree: btree.NewG(btreeDegree, func(a, b kv) bool { return bytes.Compare(a.key, b.key) < 0 }),
	}
}

// Name returns the store's name.
func (s *MemoryStore) Name() string { return s.name }

// Get returns a copy of key's value, or nil when key is absent.
func (s *MemoryStore) Get(key []byte) ([]byte, error) {
	if key == nil {
		return nil, s.errorf("get", ErrNilKey)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, s.errorf("get", ErrClosed)
	}
	item, ok := s.tree.Get(kv{key: key})
	if !ok {
		return nil, nil
	}
	return clone(item.value), nil
}

// Put stores copies of key and value; a nil value deletes key.
func (s *MemoryStore) Put(key, value []byte) error {
	return s.write("put", key, value)
}

// Delete removes key.
func (s *MemoryStore) Delete(key []byte) error {
	return s.write("delete", key, nil)
}

func (s *MemoryStore) write(op string, key, value []byte) error {
	if key == nil {
		return s.errorf(op, ErrNilKey)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return s.errorf(op, ErrClosed)
	}
	s.apply(key, value)
	return nil
}

// WriteBatch applies kvs in order under one lock; a nil Value deletes its
// key. Nothing is written if any key is nil.
func (s *MemoryStore) WriteBatch(kvs []topology.KeyValue) error {
	for i := range kvs {
		if kvs[i].Key == nil {
			return s.errorf(fmt.Sprintf("write batch record %d", i), ErrNilKey)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return s.errorf("write batch", ErrClosed)
	}
	for _, r := range kvs {
		s.apply(r.Key, r.Value)
	}
	return nil
}

// apply writes one pair; the caller holds the write lock.
func (s *MemoryStore) apply(key, value []byte) {
	if value == nil {
		s.tree.Delete(kv{key: key})
		return
	}
	s.tree.ReplaceOrInsert(kv{key: clone(key), value: clone(value)})
}

// Range iterates keys in [from, to); a nil bound is unbounded.
//
// The iterator copies the matching entries (references, not bytes) when it
// is created, so it is unaffected by later writes and holds no lock. That
// costs O(entries in range) up front — fine for now; a copy-on-write
// snapshot (btree Clone) would make creation O(1) if large scans matter.
func (s *MemoryStore) Range(from, to []byte) (topology.KeyValueIterator, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, s.errorf("range", ErrClosed)
	}
	if emptyRange(from, to) {
		return &sliceIterator{}, nil
	}
	var items []kv
	collect := func(item kv) bool {
		items = append(items, item)
		return true
	}
	switch {
	case from == nil && to == nil:
		s.tree.Ascend(collect)
	case from == nil:
		s.tree.AscendLessThan(kv{key: to}, collect)
	case to == nil:
		s.tree.AscendGreaterOrEqual(kv{key: from}, collect)
	default:
		s.tree.AscendRange(kv{key: from}, kv{key: to}, collect)
	}
	return &sliceIterator{items: items}, nil
}

// PrefixScan iterates keys that start with prefix; see Range.
func (s *MemoryStore) PrefixScan(prefix []byte) (topology.KeyValueIterator, error) {
	if prefix == nil {
		prefix = []byte{}
	}
	return s.Range(prefix, prefixEnd(prefix))
}

// ApproximateNumEntries returns the exact number of keys.
func (s *MemoryStore) ApproximateNumEntries() (int64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return 0, s.errorf("estimate entries", ErrClosed)
	}
	return int64(s.tree.Len()), nil
}

// Flush does nothing: memory holds no durable copy.
func (s *MemoryStore) Flush() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return s.errorf("flush", ErrClosed)
	}
	return nil
}

// Close drops the contents. Further calls return ErrClosed; closing twice
// is a no-op. Open iterators keep their snapshots.
func (s *MemoryStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.tree = nil
	return nil
}

func (s *MemoryStore) errorf(op string, err error) error {
	return fmt.Errorf("memory store %s: %s: %w", s.name, op, err)
}
