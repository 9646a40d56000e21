//go:build cgo

package state

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/linxGnu/grocksdb"

	"github.com/eddystreams/eddy/topology"
)

// RocksDBAvailable tells whether this build has RocksDB: builds without
// cgo have in-memory stores only (rocksdb_nocgo.go).
const RocksDBAvailable = true

var (
	_ SegmentEngine = (*RocksDBStore)(nil)
	_ BulkLoader    = (*RocksDBStore)(nil)
)

const (
	defaultWriteBufferSize = 16 << 20 // per memtable
	privateBlockCacheSize  = 8 << 20  // when no shared cache is given
	maxWriteBufferNumber   = 3        // room to keep writing while one memtable flushes
	bloomBitsPerKey        = 10       // ~1% false positives
	// backgroundThreads sizes the flush/compaction pool of RocksDB's default
	// Env, which every store in the process shares.
	backgroundThreads = 2
	// maxOpenFiles bounds the SST files each store keeps open (file
	// descriptors and table readers); index and filter blocks live in the
	// block cache either way.
	maxOpenFiles = 512
	// metadataBlockSize is the size of the partitions of index and filter
	// blocks, so a large SST file does not need its whole index in memory.
	metadataBlockSize = 4096
)

// RocksDBConfig configures one RocksDB store. The zero value is Eddy's
// default: a small private block cache, 16 MiB memtables and no WAL.
type RocksDBConfig struct {
	// BlockCache is the block cache, usually one per node shared by every
	// store (see NewSharedBlockCache); index and filter blocks are charged
	// to it too. The caller keeps ownership and destroys it after closing
	// every store that uses it. Default nil: a private 8 MiB cache.
	BlockCache *grocksdb.Cache
	// WriteBufferSize is the size of one memtable in bytes; up to three
	// exist at a time. Default 0: 16 MiB.
	WriteBufferSize uint64
	// DBWriteBufferSize bounds the memtables of this DB in total (RocksDB's
	// db_write_buffer_size); a node-wide memory budget can hand each DB a
	// share. Default 0: no bound beyond WriteBufferSize × 3.
	DBWriteBufferSize uint64
	// EnableWAL turns RocksDB's write-ahead log on. Default false: the
	// changelog topic is the durable copy, so writes since the last Flush
	// are lost on a crash and rebuilt from the checkpointed offsets.
	EnableWAL bool
	// Budget is the node's memory budget (see MemoryBudget). When set, the
	// store uses its block cache and write buffer manager, and its memtable
	// size is the budget's share; BlockCache, WriteBufferSize and
	// DBWriteBufferSize are ignored. Default nil: no node-wide bound.
	Budget *MemoryBudget
}

// NewSharedBlockCache returns an LRU block cache of the given capacity to
// share between stores through RocksDBConfig.BlockCache. Destroy it after
// every store using it is closed.
func NewSharedBlockCache(bytes uint64) *grocksdb.Cache {
	return grocksdb.NewLRUCache(bytes)
}

// RocksDBStore is a topology.KeyValueStore and topology.BatchWriter backed
// by one RocksDB database. It is safe for concurrent use; Close waits for
// calls in flight and closes iterators still open.
type RocksDBStore struct {
	name string
	dir  string

	// mu is read-locked by every operation and write-locked by Close, so
	// no call can touch the C objects after they are freed.
	mu     sync.RWMutex
	closed bool

	db           *grocksdb.DB
	budget       *MemoryBudget
	bulk         *bulkLoad // settings to put back after a bulk load
	opts         *grocksdb.Options
	bbto         *grocksdb.BlockBasedTableOptions
	privateCache *grocksdb.Cache
	ro           *grocksdb.ReadOptions
	wo           *grocksdb.WriteOptions
	fo           *grocksdb.FlushOptions

	itersMu sync.Mutex
	iters   map[*rocksIterator]struct{}

	reclaiming atomic.Bool // the budget is flushing the memtable (MemoryBudget.reclaim)

	// Chunked writes (rocksdb_chunk.go): writes wait in pending (dirty of
	// its entries, about pendingBytes) and go to RocksDB as one batch (wb);
	// the entries stay as a read cache (clean, about cleanBytes), with
	// values read from RocksDB. gen counts the changes to RocksDB. Guarded
	// by pmu, taken after mu.
	wal          bool
	pmu          sync.Mutex
	chunked      bool
	pending      map[string]pendingValue
	pendingBytes int
	dirty        int
	cleanBytes   int
	gen          uint64
	wb           *grocksdb.WriteBatch
	applyKeys    []string // the dirty keys of an apply, sorted
}

var (
	_ topology.KeyValueStore = (*RocksDBStore)(nil)
	_ topology.BatchWriter   = (*RocksDBStore)(nil)
)

// OpenRocksDB opens the RocksDB database in dir, creating dir and the
// database if missing. dir holds exactly one store (for example
// <task dir>/rocksdb/<store name>); name is the store's topology name.
func OpenRocksDB(dir, name string, cfg RocksDBConfig) (*RocksDBStore, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("open rocksdb store %s: %w", name, err)
	}
	s := &RocksDBStore{name: name, dir: dir, iters: make(map[*rocksIterator]struct{})}

	cache := cfg.BlockCache
	if cfg.Budget != nil {
		cache = cfg.Budget.Cache()
	}
	if cache == nil {
		s.privateCache = grocksdb.NewLRUCache(privateBlockCacheSize)
		cache = s.privateCache
	}
	// Under a budget the budget's shared table factory replaces this one
	// (MemoryBudget.prepare).
	s.bbto = tableOptions(cache, true)

	wbs := cfg.WriteBufferSize
	if wbs == 0 {
		wbs = defaultWriteBufferSize
	}
	s.opts = grocksdb.NewDefaultOptions()
	s.opts.SetCreateIfMissing(true)
	s.opts.IncreaseParallelism(backgroundThreads)
	s.opts.SetWriteBufferSize(wbs)
	s.opts.SetMaxWriteBufferNumber(maxWriteBufferNumber)
	s.opts.SetMaxOpenFiles(maxOpenFiles)
	if cfg.DBWriteBufferSize > 0 && cfg.Budget == nil {
		s.opts.SetDbWriteBufferSize(cfg.DBWriteBufferSize)
	}
	s.opts.SetBlockBasedTableFactory(s.bbto)

	open := func() (err error) {
		s.db, err = grocksdb.OpenDb(s.opts, dir)
		return err
	}
	var err error
	if cfg.Budget != nil {
		s.budget = cfg.Budget
		err = cfg.Budget.open(s, func(share uint64) error {
			if err := cfg.Budget.prepare(s.opts, share); err != nil {
				return err
			}
			return open()
		})
	} else {
		err = open()
	}
	if err != nil {
		s.freeOptions()
		return nil, fmt.Errorf("open rocksdb store %s in %s: %w", name, dir, err)
	}
	s.ro = grocksdb.NewDefaultReadOptions()
	s.wo = grocksdb.NewDefaultWriteOptions()
	s.wo.DisableWAL(!cfg.EnableWAL)
	s.wal = cfg.EnableWAL
	s.fo = grocksdb.NewDefaultFlushOptions()
	s.fo.SetWait(true)
	return s, nil
}

// tableOptions are the block-based table options of stores using cache.
// Bounded memory: index and filter blocks are cached (and charged to the
// cache), in small partitions; the top level of each, and L0's if pinL0, are
// pinned, and all of them are evicted last.
func tableOptions(cache *grocksdb.Cache, pinL0 bool) *grocksdb.BlockBasedTableOptions {
	o := grocksdb.NewDefaultBlockBasedTableOptions()
	o.SetBlockCache(cache)
	o.SetFilterPolicy(grocksdb.NewBloomFilterFull(bloomBitsPerKey))
	o.SetCacheIndexAndFilterBlocks(true)
	o.SetCacheIndexAndFilterBlocksWithHighPriority(true)
	o.SetPinL0FilterAndIndexBlocksInCache(pinL0)
	o.SetIndexType(grocksdb.KTwoLevelIndexSearchIndexType)
	o.SetPartitionFilters(true)
	o.SetMetadataBlockSize(metadataBlockSize)
	o.SetPinTopLevelIndexAndFilter(true)
	return o
}

// Name returns the store's name.
func (s *RocksDBStore) Name() string { return s.name }

// Dir returns the directory holding the database.
func (s *RocksDBStore) Dir() string { return s.dir }

// Get returns a copy of key's value, or nil when key is absent.
func (s *RocksDBStore) Get(key []byte) ([]byte, error) {
	if key == nil {
		return nil, s.errorf("get", ErrNilKey)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, s.errorf("get", ErrClosed)
	}
	v, ok, gen := s.pendingGet(key)
	if ok {
		return v, nil
	}
	h, err := s.db.GetPinned(s.ro, key)
	if err != nil {
		return nil, s.errorf("get", err)
	}
	if !h.Exists() {
		s.remember(key, nil, gen)
		return nil, nil
	}
	defer h.Destroy()
	v = append(make([]byte, 0, len(h.Data())), h.Data()...)
	s.remember(key, v, gen)
	return v, nil
}

// Put stores value under key; a nil value deletes key.
func (s *RocksDBStore) Put(key, value []byte) error {
	if value == nil {
		return s.Delete(key)
	}
	if key == nil {
		return s.errorf("put", ErrNilKey)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return s.errorf("put", ErrClosed)
	}
	if s.bufferWrite(key, value, false) {
		return nil
	}
	err := s.db.Put(s.wo, key, value)
	s.wroteDirect(key)
	if err != nil {
		return s.errorf("put", err)
	}
	return nil
}

// Delete removes key.
func (s *RocksDBStore) Delete(key []byte) error {
	if key == nil {
		return s.errorf("delete", ErrNilKey)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return s.errorf("delete", ErrClosed)
	}
	if s.bufferWrite(key, nil, true) {
		return nil
	}
	err := s.db.Delete(s.wo, key)
	s.wroteDirect(key)
	if err != nil {
		return s.errorf("delete", err)
	}
	return nil
}

// WriteBatch applies kvs in order as one atomic RocksDB write batch; a nil
// Value deletes its key. Nothing is written if any key is nil.
func (s *RocksDBStore) WriteBatch(kvs []topology.KeyValue) error {
	if err := s.writeBatch(kvs); err != nil {
		return err
	}
	if s.bulk != nil {
		return s.bulkWritten()
	}
	return nil
}

func (s *RocksDBStore) writeBatch(kvs []topology.KeyValue) error {
	for i := range kvs {
		if kvs[i].Key == nil {
			return s.errorf(fmt.Sprintf("write batch record %d", i), ErrNilKey)
		}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return s.errorf("write batch", ErrClosed)
	}
	if err := s.applyPendingLocked(); err != nil {
		return err
	}
	wb := grocksdb.NewWriteBatch()
	defer wb.Destroy()
	for _, kv := range kvs {
		if kv.Value == nil {
			wb.Delete(kv.Key)
		} else {
			wb.Put(kv.Key, kv.Value)
		}
	}
	err := s.db.Write(s.wo, wb)
	s.dropClean()
	if err != nil {
		return s.errorf("write batch", err)
	}
	return nil
}

// Flush writes the memtables to SST files and waits for it, so everything
// written so far survives a crash even with the WAL off.
func (s *RocksDBStore) Flush() error {
	return s.flushWith(s.fo)
}

// flushWith flushes the memtables with options fo.
func (s *RocksDBStore) flushWith(fo *grocksdb.FlushOptions) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return s.errorf("flush", ErrClosed)
	}
	if err := s.applyPendingLocked(); err != nil {
		return err
	}
	if err := s.db.Flush(fo); err != nil {
		return s.errorf("flush", err)
	}
	return nil
}

// activeMemtableSize is the memory of the store's mutable memtable, 0 once
// closed.
func (s *RocksDBStore) activeMemtableSize() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return 0
	}
	n, _ := strconv.ParseUint(s.db.GetProperty("rocksdb.cur-size-active-mem-table"), 10, 64)
	return n
}

// ApproximateNumEntries returns RocksDB's estimate of the number of keys
// ("rocksdb.estimate-num-keys"); it counts overwrites and deletes loosely.
func (s *RocksDBStore) ApproximateNumEntries() (int64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return 0, s.errorf("estimate entries", ErrClosed)
	}
	if err := s.applyPendingLocked(); err != nil {
		return 0, err
	}
	v := s.db.GetProperty("rocksdb.estimate-num-keys")
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, s.errorf("estimate entries", fmt.Errorf("parse %q: %w", v, err))
	}
	if n > 1<<63-1 {
		n = 1<<63 - 1
	}
	return int64(n), nil
}

// Close closes iterators still open, then the database, and frees the
// options (and the block cache if it is private). Further calls return
// ErrClosed; closing twice is a no-op. With the WAL off, RocksDB flushes
// the memtables on close.
func (s *RocksDBStore) Close() error {
	if s.budget != nil {
		// Before taking s.mu: the budget holds its lock while it re-shares
		// memtables through s.setOptions.
		s.budget.release(s)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	// Buffered writes reach RocksDB before it closes, as direct ones
	// would have.
	pendingErr := s.applyPendingLocked()
	s.closed = true
	s.itersMu.Lock()
	for it := range s.iters {
		it.release()
	}
	s.iters = nil
	s.itersMu.Unlock()

	s.db.Close()
	s.ro.Destroy()
	s.wo.Destroy()
	s.fo.Destroy()
	if s.wb != nil {
		s.wb.Destroy()
	}
	s.freeOptions()
	return pendingErr
}

func (s *RocksDBStore) freeOptions() {
	s.opts.Destroy()
	s.bbto.Destroy()
	if s.privateCache != nil {
		s.privateCache.Destroy()
	}
}

func (s *RocksDBStore) errorf(op string, err error) error {
	return fmt.Errorf("rocksdb store %s: %s: %w", s.name, op, err)
}

// setOptions changes mutable column family options (RocksDB's SetOptions).
func (s *RocksDBStore) setOptions(keys, values []string) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return s.errorf("set options", ErrClosed)
	}
	if err := s.db.SetOptions(keys, values); err != nil {
		return s.errorf("set options", err)
	}
	return nil
}
