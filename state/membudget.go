//go:build cgo

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
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/linxGnu/grocksdb"
)

const (
	// minWriteBufferShare and maxWriteBufferShare bound the memtable size a
	// budget gives each store. 64 KiB is RocksDB's own minimum
	// write_buffer_size; above 64 MiB a memtable only delays the flush the
	// write buffer manager forces anyway.
	minWriteBufferShare = 64 << 10
	maxWriteBufferShare = 64 << 20
	// reclaimEvery is how often the budget looks for idle memtables to flush.
	reclaimEvery = 20 * time.Millisecond
)

// MemoryBudget bounds the memory RocksDB uses on a node, whatever the number
// of tasks and stores: one block cache of Total bytes holds data, index and
// filter blocks and table readers (one table factory for every store), and
// a write buffer manager
// charges every store's memtables to that cache, makes a store flush once
// the memtables of all stores together pass 7/8 of WriteBuffers bytes, and
// stalls writers while they are at WriteBuffers, until flushes free memory.
// So memtables take at most WriteBuffers of the cache, and the rest the
// other.
//
// Each store's memtable size (write_buffer_size) is a share of WriteBuffers,
// re-shared as stores open and close: half of WriteBuffers divided by the
// number of stores, between 64 KiB and 64 MiB. The manager flushes only the
// store being written, so idle stores would keep their memtables and could
// hold the whole limit, stalling every writer for good; the budget flushes
// the largest memtables itself once all of them pass 3/4 of WriteBuffers
// (see reclaim). So the bound stays WriteBuffers however many stores open.
//
// What is not bounded: memory RocksDB allocates outside the cache (flush
// and compaction buffers, iterators pinning blocks, each DB's fixed
// structures) and the allocator's fragmentation. See
// docs/decisions/0007-rocksdb-memory-budget.md and
// 0017-memory-bounds-with-many-stores.md for measurements.
//
// RocksDB's C API has no write buffer manager; a small C++ shim
// (membudget_shim.cc) makes one. It is safe for concurrent use.
type MemoryBudget struct {
	total, writeBuffers uint64
	cache               *grocksdb.Cache
	wbm                 *C.eddy_wbm_t
	flushNoWait         *grocksdb.FlushOptions

	mu     sync.Mutex
	stores map[*RocksDBStore]struct{}
	share  uint64 // write_buffer_size of every registered store
	closed bool

	stop     chan struct{} // closed by Close: the reclaim loop ends
	done     chan struct{} // closed when the reclaim loop has ended
	flushing sync.WaitGroup
	flushes  atomic.Int64 // memtables flushed by reclaim
	// storeBuffer is each store's bound for its writes and read cache in
	// Go (rocksdb_chunk.go), re-shared as stores open and close.
	storeBuffer atomic.Int64
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
	// Under a budget L0's index and filter blocks are not pinned: pinned
	// blocks stay in the cache past its capacity, and hundreds of stores
	// with dozens of L0 files each (a bulk load allows 64) would pin more
	// than the whole budget.
	tables := tableOptions(b.cache, false)
	b.wbm = C.eddy_wbm_create(nativeCache(b.cache), C.size_t(total), C.size_t(writeBuffers),
		nativeTableOptions(tables), C.uint64_t(metadataBlockSize))
	tables.Destroy()
	if b.wbm == nil {
		b.cache.Destroy()
		return nil, errors.New("memory budget: the RocksDB shim does not match this grocksdb/RocksDB (block cache or table options check failed)")
	}
	b.share = b.shareFor(1)
	b.flushNoWait = grocksdb.NewDefaultFlushOptions()
	b.flushNoWait.SetWait(false)
	b.stop, b.done = make(chan struct{}), make(chan struct{})
	go b.reclaimLoop(reclaimEvery)
	return b, nil
}

// Total is the budget in bytes; WriteBuffers is the part memtables may take.
func (b *MemoryBudget) Total() uint64        { return b.total }
func (b *MemoryBudget) WriteBuffers() uint64 { return b.writeBuffers }

// Cache is the block cache every store of the budget shares.
func (b *MemoryBudget) Cache() *grocksdb.Cache { return b.cache }

// CacheUsage is the memory charged to the block cache: blocks, table
// readers and, through the write buffer manager, memtables.
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

// ReclaimFlushes counts the memtables the budget flushed to keep idle
// stores from holding the memtable bound.
func (b *MemoryBudget) ReclaimFlushes() int64 { return b.flushes.Load() }

// Close stops reclaiming memtables and releases the budget's references to
// the cache and the write buffer manager. Stores still open keep theirs;
// close them first anyway, since they stop being re-shared and reclaimed.
func (b *MemoryBudget) Close() {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.closed = true
	b.mu.Unlock()
	close(b.stop)
	<-b.done
	b.flushing.Wait()
	C.eddy_wbm_destroy(b.wbm)
	b.cache.Destroy()
	b.flushNoWait.Destroy()
}

// shareFor is the write_buffer_size of each of n stores: WriteBuffers / 2n,
// rounded down to a power of two (so re-sharing happens O(log n) times as n
// grows) and clamped to [64 KiB, 64 MiB]. A memtable's arena grows in blocks
// of an eighth of it, so a store written once holds that much: shares that
// shrink with n keep those blocks at WriteBuffers / 16 in all.
func (b *MemoryBudget) shareFor(n int) uint64 {
	s := b.writeBuffers / 2 / uint64(max(n, 1))
	if s > 0 {
		s = 1 << (bits.Len64(s) - 1)
	}
	return min(max(s, minWriteBufferShare), maxWriteBufferShare)
}

// arenaBlockSize is the memtable arena block size RocksDB picks for a
// write_buffer_size: an eighth, at most 1 MiB.
func arenaBlockSize(writeBufferSize uint64) uint64 { return min(writeBufferSize/8, 1<<20) }

// MemtableLimit is the bound on all memtables: WriteBuffers, whatever the
// number of stores.
func (b *MemoryBudget) MemtableLimit() uint64 { return uint64(C.eddy_wbm_buffer_size(b.wbm)) }

// prepare sets the budget's cache, manager and memtable share on options of
// a store about to open, and returns the share. b.mu must be held.
func (b *MemoryBudget) prepare(opts *grocksdb.Options, share uint64) error {
	if b.closed {
		return errors.New("memory budget is closed")
	}
	opts.SetWriteBufferSize(share)
	opts.SetArenaBlockSize(arenaBlockSize(share))
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
	b.storeBuffer.Store(int64(storeBufferFor(b.total, len(b.stores))))
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
	b.storeBuffer.Store(int64(storeBufferFor(b.total, len(b.stores))))
}

// reshare sets every store's memtable size to share when it changed. A
// failure leaves a store with its old size, which only costs memory or
// compaction work, so it is not reported. b.mu must be held.
func (b *MemoryBudget) reshare(share uint64) {
	if share == b.share {
		return
	}
	b.share = share
	// The arena block size goes with it (RocksDB derives it, an eighth of
	// write_buffer_size, only when a DB opens): a memtable whose arena
	// blocks are large against its size counts as full as soon as it is
	// made, which RocksDB asserts against.
	keys := []string{"write_buffer_size", "arena_block_size"}
	values := []string{strconv.FormatUint(share, 10), strconv.FormatUint(arenaBlockSize(share), 10)}
	for s := range b.stores {
		_ = s.setOptions(keys, values)
	}
}

func (b *MemoryBudget) reclaimLoop(every time.Duration) {
	defer close(b.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			b.reclaim()
		}
	}
}

// reclaim flushes the stores with the largest memtables once all memtables
// pass 3/4 of WriteBuffers, until their mutable memtables are projected
// under half of it. The write buffer manager alone flushes only the store
// being written; stores written a while ago and then left idle would keep
// their memtables, and with many stores those fill the bound and stall every
// writer until something else flushes them. 3/4 comes before the manager's
// own flush at 7/8, so a busy store is rarely made to flush a small memtable
// because idle ones hold the rest.
//
// Flushes do not wait for the memtable to be written, and each runs on a
// goroutine of its own: RocksDB's flush call waits for the store's writers,
// and a writer stalled by the manager waits for memory that flushes of
// other stores free, so one such store must not hold up the others.
func (b *MemoryBudget) reclaim() {
	limit := b.writeBuffers
	if uint64(C.eddy_wbm_memory_usage(b.wbm)) < limit/4*3 {
		return
	}
	mutable := uint64(C.eddy_wbm_mutable_memory_usage(b.wbm))
	if mutable <= limit/2 {
		return // the rest is being flushed already
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	type held struct {
		s *RocksDBStore
		n uint64
	}
	stores := make([]held, 0, len(b.stores))
	for s := range b.stores {
		stores = append(stores, held{s: s})
	}
	b.mu.Unlock()
	for i := range stores {
		stores[i].n = stores[i].s.activeMemtableSize()
	}
	sort.Slice(stores, func(i, j int) bool { return stores[i].n > stores[j].n })
	var freed uint64
	for _, h := range stores {
		if freed >= mutable-limit/2 || h.n == 0 {
			break
		}
		if !h.s.reclaiming.CompareAndSwap(false, true) {
			continue // the previous flush call has not returned yet
		}
		freed += h.n
		b.flushes.Add(1)
		b.flushing.Add(1)
		go func() {
			defer b.flushing.Done()
			defer h.s.reclaiming.Store(false)
			_ = h.s.flushWith(b.flushNoWait) // a closed store has nothing to free
		}()
	}
}

// nativeOptions and nativeCache return the C objects behind grocksdb's
// wrappers, whose first field is that pointer (grocksdb v1.7.15, pinned in
// go.mod). The shim checks a value through each pointer before using it.
func nativeOptions(o *grocksdb.Options) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(o)) }
func nativeCache(c *grocksdb.Cache) unsafe.Pointer     { return *(*unsafe.Pointer)(unsafe.Pointer(c)) }
func nativeTableOptions(o *grocksdb.BlockBasedTableOptions) unsafe.Pointer {
	return *(*unsafe.Pointer)(unsafe.Pointer(o))
}
