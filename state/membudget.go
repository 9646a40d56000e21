package state

/*
#cgo CXXFLAGS: -std=c++17 -O2
#cgo LDFLAGS: -lrocksdb -lstdc++
#include "membudget_shim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"sync"
	"unsafe"

	"github.com/linxGnu/grocksdb"
)

const (
	// minWriteBufferShare and maxWriteBufferShare bound the memtable size a
	// budget gives each store. Below 1 MiB RocksDB writes tiny L0 files and
	// compacts them over and over; above 64 MiB a memtable only delays the
	// flush the write buffer manager forces anyway.
	minWriteBufferShare = 1 << 20
	maxWriteBufferShare = 64 << 20
)

// MemoryBudget bounds the memory RocksDB uses on a node, whatever the number
// of tasks and stores: one block cache of Total bytes holds data, index and
// filter blocks, and a write buffer manager charges every store's memtables
// to that cache, makes a store flush once the memtables of all stores
// together pass 7/8 of WriteBuffers bytes, and stalls writers while they are
// at WriteBuffers, until flushes free memory. So memtables take at most
// WriteBuffers of the cache, and blocks the rest.
//
// Each store's memtable size (write_buffer_size) is a share of WriteBuffers,
// re-shared as stores open and close: half of WriteBuffers divided by the
// number of stores. The manager flushes only the store being written, so
// idle stores keep their memtables; with that share they hold at most half,
// and a stalled writer always has room to get out of the stall. With more
// stores than WriteBuffers / 2 MiB the share stops at 1 MiB and the memtable
// bound grows to 2 MiB per store (see MemtableLimit).
//
// What is not bounded: memory RocksDB allocates outside the cache (table
// readers' bookkeeping, compaction and flush buffers, iterators pinning
// blocks) and the allocator's fragmentation. See
// docs/decisions/0007-rocksdb-memory-budget.md for measurements.
//
// RocksDB's C API has no write buffer manager; a small C++ shim
// (membudget_shim.cc) makes one. It is safe for concurrent use.
type MemoryBudget struct {
	total, writeBuffers uint64
	cache               *grocksdb.Cache
	wbm                 *C.eddy_wbm_t

	mu     sync.Mutex
	stores map[*RocksDBStore]struct{}
	share  uint64 // write_buffer_size of every registered store
	closed bool
}

// NewMemoryBudget makes a budget of total bytes, of which memtables may take
// writeBuffers (at most total). Close it after closing every store using it.
func NewMemoryBudget(total, writeBuffers uint64) (*MemoryBudget, error) {
	if total == 0 {
		return nil, errors.New("memory budget: total is 0")
	}
	if writeBuffers == 0 || writeBuffers > total {
		return nil, fmt.Errorf("memory budget: write buffers %d must be in (0, total %d]", writeBuffers, total)
	}
	b := &MemoryBudget{total: total, writeBuffers: writeBuffers, stores: map[*RocksDBStore]struct{}{}}
	b.cache = grocksdb.NewLRUCache(total)
	b.wbm = C.eddy_wbm_create(nativeCache(b.cache), C.size_t(total), C.size_t(writeBuffers))
	if b.wbm == nil {
		b.cache.Destroy()
		return nil, errors.New("memory budget: the RocksDB shim does not match this grocksdb/RocksDB (block cache check failed)")
	}
	b.share = b.shareFor(1)
	return b, nil
}

// Total is the budget in bytes; WriteBuffers is the part memtables may take.
func (b *MemoryBudget) Total() uint64        { return b.total }
func (b *MemoryBudget) WriteBuffers() uint64 { return b.writeBuffers }

// Cache is the block cache every store of the budget shares.
func (b *MemoryBudget) Cache() *grocksdb.Cache { return b.cache }

// CacheUsage is the memory charged to the block cache: blocks and, through
// the write buffer manager, memtables.
func (b *MemoryBudget) CacheUsage() uint64 { return b.cache.GetUsage() }

// MemtableUsage is the memory of every store's memtables, mutable and being
// flushed.
func (b *MemoryBudget) MemtableUsage() uint64 { return uint64(C.eddy_wbm_memory_usage(b.wbm)) }

// Stores is the number of open stores using the budget.
func (b *MemoryBudget) Stores() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.stores)
}

// WriteBufferShare is the memtable size each store is given now.
func (b *MemoryBudget) WriteBufferShare() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.share
}

// Close releases the budget's references to the cache and the write buffer
// manager. Stores still open keep theirs; close them first anyway, since
// they stop being re-shared.
func (b *MemoryBudget) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.closed = true
	C.eddy_wbm_destroy(b.wbm)
	b.cache.Destroy()
}

// shareFor is the write_buffer_size of each of n stores: WriteBuffers / 2n,
// rounded down to a power of two (so re-sharing happens O(log n) times as n
// grows) and clamped to [1 MiB, 64 MiB].
func (b *MemoryBudget) shareFor(n int) uint64 {
	s := b.writeBuffers / 2 / uint64(max(n, 1))
	if s > 0 {
		s = 1 << (bits.Len64(s) - 1)
	}
	return min(max(s, minWriteBufferShare), maxWriteBufferShare)
}

// MemtableLimit is the bound on all memtables now: WriteBuffers, or twice
// the memtables of every store at its share when that is more (more stores
// than WriteBuffers / 2 MiB), so that idle stores never fill the bound and
// stall the others for good.
func (b *MemoryBudget) MemtableLimit() uint64 { return uint64(C.eddy_wbm_buffer_size(b.wbm)) }

// prepare sets the budget's cache, manager and memtable share on options of
// a store about to open, and returns the share. b.mu must be held.
func (b *MemoryBudget) prepare(opts *grocksdb.Options, share uint64) error {
	if b.closed {
		return errors.New("memory budget is closed")
	}
	opts.SetWriteBufferSize(share)
	if C.eddy_wbm_attach(nativeOptions(opts), C.size_t(share), b.wbm) != 0 {
		return errors.New("memory budget: the RocksDB shim does not match this grocksdb/RocksDB (options check failed)")
	}
	return nil
}

// open opens a store's DB under the budget: the store gets the share of
// n+1 stores and the others are re-shared if that share changed.
func (b *MemoryBudget) open(s *RocksDBStore, open func(share uint64) error) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	share := b.shareFor(len(b.stores) + 1)
	if err := open(share); err != nil {
		return err
	}
	b.stores[s] = struct{}{}
	b.reshare(share)
	return nil
}

// release forgets a store that is about to close and re-shares the others.
func (b *MemoryBudget) release(s *RocksDBStore) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.stores[s]; !ok {
		return
	}
	delete(b.stores, s)
	if !b.closed {
		b.reshare(b.shareFor(len(b.stores)))
	}
}

// reshare sets the memtable bound for the stores open now and every store's
// memtable size to share when it changed. A failure leaves a store with its
// old size, which only costs memory or compaction work, so it is not
// reported. b.mu must be held.
func (b *MemoryBudget) reshare(share uint64) {
	limit := max(b.writeBuffers, 2*uint64(len(b.stores))*share)
	if uint64(C.eddy_wbm_buffer_size(b.wbm)) != limit {
		C.eddy_wbm_set_buffer_size(b.wbm, C.size_t(limit))
	}
	if share == b.share {
		return
	}
	b.share = share
	v := strconv.FormatUint(share, 10)
	for s := range b.stores {
		_ = s.setOptions([]string{"write_buffer_size"}, []string{v})
	}
}

// nativeOptions and nativeCache return the C objects behind grocksdb's
// wrappers, whose first field is that pointer (grocksdb v1.7.15, pinned in
// go.mod). The shim checks a value through each pointer before using it.
func nativeOptions(o *grocksdb.Options) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(o)) }
func nativeCache(c *grocksdb.Cache) unsafe.Pointer     { return *(*unsafe.Pointer)(unsafe.Pointer(c)) }
