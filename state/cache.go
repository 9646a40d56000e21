package state

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/google/btree"

	"github.com/eddystreams/eddy/topology"
)

// cacheEntryOverhead approximates what an entry costs beyond its key and
// value bytes: the entry struct, its B-tree slot and list links.
const cacheEntryOverhead = 128

// RecordCache is the byte budget shared by the record caches of a node's
// stores (Kafka Streams' statestore.cache.max.bytes). Each CachingStore
// charges its entries to it; a store that writes while the budget is
// exceeded evicts its own least recently used entries, flushing its dirty
// ones first, as Kafka Streams does within a stream thread. So the caches
// hold at most MaxBytes plus one entry per store being written at that
// moment. It is safe for concurrent use.
type RecordCache struct {
	max  int64
	used atomic.Int64

	// The stores charging the budget, for Lookups, and the lookups of
	// those closed.
	mu           sync.Mutex
	stores       map[*CachingStore]struct{}
	hits, misses int64
}

// NewRecordCache makes a budget of maxBytes (> 0).
func NewRecordCache(maxBytes int64) *RecordCache {
	return &RecordCache{max: maxBytes}
}

// MaxBytes is the budget.
func (c *RecordCache) MaxBytes() int64 { return c.max }

// Used is the bytes charged by every cache now.
func (c *RecordCache) Used() int64 { return c.used.Load() }

// Lookups counts the reads of keys (Get) of every store with this budget
// since it was made: those the cache answered (hits) and those it passed to
// the store underneath (misses), as Kafka Streams' record cache hit ratio.
func (c *RecordCache) Lookups() (hits, misses int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	hits, misses = c.hits, c.misses
	for s := range c.stores {
		s.mu.Lock()
		hits += s.hits
		misses += s.misses
		s.mu.Unlock()
	}
	return hits, misses
}

func (c *RecordCache) register(s *CachingStore) {
	c.mu.Lock()
	if c.stores == nil {
		c.stores = map[*CachingStore]struct{}{}
	}
	c.stores[s] = struct{}{}
	c.mu.Unlock()
}

// unregister forgets a closed store, keeping its lookups (given, as s.mu
// is not held here).
func (c *RecordCache) unregister(s *CachingStore, hits, misses int64) {
	c.mu.Lock()
	delete(c.stores, s)
	c.hits += hits
	c.misses += misses
	c.mu.Unlock()
}

func (c *RecordCache) over() bool { return c.used.Load() > c.max }

// RecordContext is the context of the record being processed, which a
// CachingStore keeps with each write and puts back while it flushes that
// write, so the changelog and the records forwarded carry the timestamp and
// headers of the write, not of whatever is processed at flush time.
type RecordContext interface {
	Record() topology.RecordMeta
	SetRecord(topology.RecordMeta)
}

// CachingStore is the caching layer (Kafka Streams' CachingKeyValueStore):
// writes stay in memory, merged per key, until the cache is flushed (at
// every commit) or evicts them; then the latest value of each dirty key is
// written to the store underneath (with its changelog) and handed to the
// flush listener, which forwards it downstream. Reads see cached writes.
//
// Writes, FlushCache, Flush and Close must come from one goroutine (the
// task's); reads may come from any.
type CachingStore struct {
	inner  topology.KeyValueStore
	budget *RecordCache
	ctx    RecordContext
	exp    Expiring // the inner store's retention, when it has one

	mu       sync.Mutex
	entries  *btree.BTreeG[*cacheEntry]
	lru      entryList // most recently used first
	dirty    entryList // oldest write first
	size     int64     // bytes charged to budget
	listener topology.CacheFlushListener
	flushing bool
	closed   bool
	// reads of keys the cache answered, and those it did not
	hits, misses int64
}

var (
	_ topology.KeyValueStore = (*CachingStore)(nil)
	_ topology.CachedStore   = (*CachingStore)(nil)
)

// cacheEntry is a cached key. A nil value is a delete, which is always
// dirty: once flushed the entry goes.
type cacheEntry struct {
	key, value []byte
	dirty      bool
	// stored: a flush of this entry wrote a value to the inner store, so
	// a later delete is sent on although the inner store no longer
	// returns the key.
	stored   bool
	version  uint64 // bumped by every write, so a flush sees a rewrite
	meta     topology.RecordMeta
	size     int64
	lru, drt links
}

type links struct{ prev, next *cacheEntry }

// entryList is an intrusive doubly linked list through one of an entry's
// links.
type entryList struct {
	head, tail *cacheEntry
	at         func(*cacheEntry) *links
}

func (l *entryList) pushFront(e *cacheEntry) {
	ln := l.at(e)
	ln.prev, ln.next = nil, l.head
	if l.head != nil {
		l.at(l.head).prev = e
	} else {
		l.tail = e
	}
	l.head = e
}

func (l *entryList) pushBack(e *cacheEntry) {
	ln := l.at(e)
	ln.prev, ln.next = l.tail, nil
	if l.tail != nil {
		l.at(l.tail).next = e
	} else {
		l.head = e
	}
	l.tail = e
}

func (l *entryList) remove(e *cacheEntry) {
	ln := l.at(e)
	if ln.prev != nil {
		l.at(ln.prev).next = ln.next
	} else {
		l.head = ln.next
	}
	if ln.next != nil {
		l.at(ln.next).prev = ln.prev
	} else {
		l.tail = ln.prev
	}
	ln.prev, ln.next = nil, nil
}

// Expiring is a store that drops keys by time (a SegmentedStore, or a
// LoggedStore over one). A CachingStore in front of it moves the store's
// observed stream time with every cached write and hides the cached keys
// the store would have dropped, so that the cache changes when writes go
// downstream, not what reads see.
type Expiring interface {
	// ObserveWrite moves the observed stream time as a write of key would.
	ObserveWrite(key []byte)
	// Expired says whether key is past the store's retention.
	Expired(key []byte) bool
}

// NewCachingStore puts a record cache in front of inner, charging budget.
// ctx gives the context of the record being processed.
func NewCachingStore(inner topology.KeyValueStore, budget *RecordCache, ctx RecordContext) *CachingStore {
	s := &CachingStore{
		inner:   inner,
		budget:  budget,
		ctx:     ctx,
		entries: btree.NewG(btreeDegree, func(a, b *cacheEntry) bool { return string(a.key) < string(b.key) }),
		lru:     entryList{at: func(e *cacheEntry) *links { return &e.lru }},
		dirty:   entryList{at: func(e *cacheEntry) *links { return &e.drt }},
	}
	if e, ok := inner.(Expiring); ok {
		s.exp = e
	}
	budget.register(s)
	return s
}

// Inner returns the store underneath.
func (s *CachingStore) Inner() topology.KeyValueStore { return s.inner }

// Name returns the inner store's name.
func (s *CachingStore) Name() string { return s.inner.Name() }

// SetFlushListener implements topology.CachedStore.
func (s *CachingStore) SetFlushListener(l topology.CacheFlushListener) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.listener = l
}

// Get returns the cached value of key, or the inner store's.
func (s *CachingStore) Get(key []byte) ([]byte, error) {
	if key == nil {
		return nil, s.errorf("get", ErrNilKey)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, s.errorf("get", ErrClosed)
	}
	if e, ok := s.entries.Get(&cacheEntry{key: key}); ok {
		s.hits++
		s.lru.remove(e)
		s.lru.pushFront(e)
		v := clone(e.value)
		if s.exp != nil && s.exp.Expired(key) {
			v = nil
		}
		s.mu.Unlock()
		return v, nil
	}
	s.misses++
	s.mu.Unlock()
	return s.inner.Get(key)
}

// Put caches value under key (nil deletes); the write reaches the inner
// store when the cache is flushed or evicts it.
func (s *CachingStore) Put(key, value []byte) error {
	op := "put"
	if value == nil {
		op = "delete"
	}
	if key == nil {
		return s.errorf(op, ErrNilKey)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return s.errorf(op, ErrClosed)
	}
	e, ok := s.entries.Get(&cacheEntry{key: key})
	if !ok {
		e = &cacheEntry{key: clone(key)}
		s.entries.ReplaceOrInsert(e)
	} else {
		s.lru.remove(e)
		if e.dirty {
			s.dirty.remove(e)
		}
	}
	e.value = clone(value)
	e.dirty = true
	e.version++
	e.meta = s.ctx.Record()
	s.resize(e)
	s.lru.pushFront(e)
	s.dirty.pushBack(e)
	s.mu.Unlock()
	if s.exp != nil {
		s.exp.ObserveWrite(key)
	}
	return s.maybeEvict()
}

// Delete caches a delete of key.
func (s *CachingStore) Delete(key []byte) error { return s.Put(key, nil) }

// resize charges e's current size. s.mu must be held.
func (s *CachingStore) resize(e *cacheEntry) {
	n := int64(len(e.key)+len(e.value)+len(e.meta.Topic)) + cacheEntryOverhead
	for _, h := range e.meta.Headers {
		n += int64(len(h.Key) + len(h.Value))
	}
	d := n - e.size
	e.size = n
	s.size += d
	s.budget.used.Add(d)
}

// drop removes e from the cache. s.mu must be held.
func (s *CachingStore) drop(e *cacheEntry) {
	s.entries.Delete(e)
	s.lru.remove(e)
	if e.dirty {
		s.dirty.remove(e)
	}
	s.size -= e.size
	s.budget.used.Add(-e.size)
}

// maybeEvict evicts this store's least recently used entries while the
// budget is exceeded. Evicting a dirty entry flushes every dirty entry
// first, in write order.
func (s *CachingStore) maybeEvict() error {
	for s.budget.over() {
		s.mu.Lock()
		e := s.lru.tail
		if e == nil || e.dirty && s.flushing {
			// Nothing of ours left, or a write made while flushing (by
			// the listener): the flush in progress takes care of it.
			s.mu.Unlock()
			return nil
		}
		if e.dirty {
			s.mu.Unlock()
			if err := s.FlushCache(); err != nil {
				return err
			}
			continue
		}
		s.drop(e)
		s.mu.Unlock()
	}
	return nil
}

// Dirty is the number of cached writes not yet flushed.
func (s *CachingStore) Dirty() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for e := s.dirty.head; e != nil; e = e.drt.next {
		n++
	}
	return n
}

// FlushCache writes every dirty entry, oldest write first, to the inner
// store and hands it to the flush listener, each with the record context of
// its write. Entries stay cached, clean (deletes go). A delete of a key the
// inner store does not hold is dropped without a trace, as in Kafka
// Streams. A call from the listener itself returns at once: the flush in
// progress also flushes what the listener writes.
func (s *CachingStore) FlushCache() error {
	s.mu.Lock()
	if s.flushing || s.closed {
		s.mu.Unlock()
		return nil
	}
	s.flushing = true
	listener := s.listener
	s.mu.Unlock()
	saved := s.ctx.Record()
	defer func() {
		s.ctx.SetRecord(saved)
		s.mu.Lock()
		s.flushing = false
		s.mu.Unlock()
	}()
	for {
		s.mu.Lock()
		e := s.dirty.head
		if e == nil {
			s.mu.Unlock()
			return nil
		}
		key, value, meta, version, stored := e.key, e.value, e.meta, e.version, e.stored
		s.mu.Unlock()

		if err := s.flushOne(listener, key, value, meta, stored); err != nil {
			return err
		}

		s.mu.Lock()
		e.stored = value != nil
		if e.version == version && e.dirty {
			// Not rewritten meanwhile (a rewrite moved it to the back of
			// the dirty list and is flushed in turn).
			e.dirty = false
			s.dirty.remove(e)
			if e.value == nil {
				s.drop(e)
			}
		}
		s.mu.Unlock()
	}
}

func (s *CachingStore) flushOne(listener topology.CacheFlushListener, key, value []byte, meta topology.RecordMeta, stored bool) error {
	var old []byte
	if listener != nil {
		var err error
		if old, err = s.inner.Get(key); err != nil {
			return err
		}
		// Deleting what was never there goes nowhere. A key the inner
		// store dropped by retention may have been there: its delete goes
		// on (a session merged away after it expired must leave downstream
		// too), at worst a tombstone of what was never sent.
		if value == nil && old == nil && !stored && (s.exp == nil || !s.exp.Expired(key)) {
			return nil
		}
	}
	s.ctx.SetRecord(meta)
	var err error
	if value == nil {
		err = s.inner.Delete(key)
	} else {
		err = s.inner.Put(key, value)
	}
	if err != nil {
		return err
	}
	if listener != nil {
		return listener(key, value, old, meta)
	}
	return nil
}

// Flush flushes the cache, then the inner store.
func (s *CachingStore) Flush() error {
	if err := s.FlushCache(); err != nil {
		return err
	}
	return s.inner.Flush()
}

// Close drops the cached entries without flushing them (a clean close
// flushes by committing first) and closes the inner store.
func (s *CachingStore) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.budget.used.Add(-s.size)
	s.size = 0
	s.entries.Clear(false)
	s.lru = entryList{at: s.lru.at}
	s.dirty = entryList{at: s.dirty.at}
	hits, misses := s.hits, s.misses
	s.hits, s.misses = 0, 0
	s.mu.Unlock()
	s.budget.unregister(s, hits, misses)
	return s.inner.Close()
}

// ApproximateNumEntries asks the inner store; cached writes not yet flushed
// are not counted.
func (s *CachingStore) ApproximateNumEntries() (int64, error) {
	return s.inner.ApproximateNumEntries()
}

// Range iterates keys in [from, to) of the inner store and the cache
// merged, cached values first; see PrefixScan.
func (s *CachingStore) Range(from, to []byte) (topology.KeyValueIterator, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, s.errorf("range", ErrClosed)
	}
	// The cache first: a flush between the two steps then only moves
	// values the snapshot already has.
	var cached []kv
	if !emptyRange(from, to) {
		collect := func(e *cacheEntry) bool {
			if to != nil && string(e.key) >= string(to) {
				return false
			}
			v := e.value
			if v != nil && s.exp != nil && s.exp.Expired(e.key) {
				v = nil // hidden, as the inner store hides it
			}
			cached = append(cached, kv{key: e.key, value: v})
			return true
		}
		if from == nil {
			s.entries.Ascend(collect)
		} else {
			s.entries.AscendGreaterOrEqual(&cacheEntry{key: from}, collect)
		}
	}
	s.mu.Unlock()
	it, err := s.inner.Range(from, to)
	if err != nil {
		return nil, err
	}
	return &mergedIterator{inner: it, cached: cached}, nil
}

// PrefixScan iterates keys that start with prefix, cache and inner store
// merged.
func (s *CachingStore) PrefixScan(prefix []byte) (topology.KeyValueIterator, error) {
	if prefix == nil {
		prefix = []byte{}
	}
	return s.Range(prefix, prefixEnd(prefix))
}

func (s *CachingStore) errorf(op string, err error) error {
	return fmt.Errorf("caching store %s: %s: %w", s.inner.Name(), op, err)
}

// mergedIterator merges an inner store's iterator with a snapshot of cached
// entries: on equal keys the cache wins, and a cached delete hides the key.
type mergedIterator struct {
	inner  topology.KeyValueIterator
	cached []kv // sorted; value nil is a delete

	innerOK    bool // inner is positioned on an entry not yet returned
	innerMoved bool // inner.Next has been called at least once
	key, value []byte
	err        error
	done       bool
}

func (m *mergedIterator) Next() bool {
	if m.done {
		return false
	}
	if !m.innerMoved {
		m.innerMoved = true
		m.innerOK = m.inner.Next()
	}
	for {
		var c *kv
		if len(m.cached) > 0 {
			c = &m.cached[0]
		}
		switch {
		case c == nil && !m.innerOK:
			m.done = true
			m.err = m.inner.Err()
			return false
		case c == nil || m.innerOK && string(m.inner.Key()) < string(c.key):
			m.key, m.value = m.inner.Key(), m.inner.Value()
			m.innerOK = m.inner.Next()
			return true
		default:
			if m.innerOK && string(m.inner.Key()) == string(c.key) {
				m.innerOK = m.inner.Next() // shadowed by the cache
			}
			m.cached = m.cached[1:]
			if c.value == nil {
				continue // a cached delete
			}
			m.key, m.value = clone(c.key), clone(c.value)
			return true
		}
	}
}

func (m *mergedIterator) Key() []byte   { return m.key }
func (m *mergedIterator) Value() []byte { return m.value }

func (m *mergedIterator) Err() error {
	if m.err != nil {
		return m.err
	}
	return m.inner.Err()
}

func (m *mergedIterator) Close() error {
	m.done = true
	m.cached = nil
	return m.inner.Close()
}
