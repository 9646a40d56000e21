package eddy

import (
	"fmt"
	"github.com/eddystreams/eddy/internal/settings"

	"github.com/eddystreams/eddy/actors"
	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/state"
)

const (
	// defaultMemoryBudget is RocksDB's memory on a node by default: the
	// previous 64 MiB block cache, plus as much again for memtables.
	defaultMemoryBudget = 128 << 20
	// defaultCacheMaxBytes is Kafka Streams' statestore.cache.max.bytes
	// default.
	defaultCacheMaxBytes = 10 << 20
)

// WithMemoryBudget bounds the memory RocksDB uses on this node, however many
// tasks and stores it runs: one block cache of that size, shared by every
// store, holds data, index and filter blocks, and every store's memtables
// are charged to it and take at most half of it (writes wait for flushes
// when they would take more), however many stores the node opens. RocksDB
// also allocates some memory outside the budget: about 175 KiB per open
// store, and flush and compaction buffers and the allocator's slack (about
// 30 MiB measured with 256 stores and a 64 MiB budget; see
// docs/benchmarks/memory-budget.md). A small budget shared by many stores
// means small memtables, so more flushes and compaction work: raise it for
// write-heavy state.
//
// Beside the budget, each key-value store keeps its latest writes and a
// read cache of its hottest keys in Go, in front of RocksDB: the stores share
// half the budget's total for that, each between 1 and 4 MiB (so with more
// than 64 stores at the default the total is 1 MiB a store).
//
// Default: 128 MiB. 0 removes the bound: each store gets a private 8 MiB
// block cache, up to 3 × 16 MiB of memtables and 2 MiB in Go.
func WithMemoryBudget(bytes uint64) Option {
	return optFunc(func(c *cfg) { c.memoryBudget = bytes })
}

// WithCacheMaxBytes sets the node's record cache budget (Kafka Streams'
// statestore.cache.max.bytes), shared by every store with caching on
// (topology.WithCaching): the updates each such store merges between
// commits. When the caches together pass it, the store being written sends
// its least recently used updates on early. 0 turns record caching off for
// every store. Default: 10 MiB.
func WithCacheMaxBytes(bytes int64) Option {
	return shared(func(s *settings.Settings) { s.CacheMaxBytes = bytes })
}

// startMemory makes the node's memory budget and record cache budget.
func (a *App) startMemory() error {
	if a.cfg.memoryBudget > 0 && state.RocksDBAvailable { // no RocksDB, no budget
		b, err := state.NewMemoryBudget(a.cfg.memoryBudget, a.cfg.memoryBudget/2)
		if err != nil {
			return fmt.Errorf("eddy: %w", err)
		}
		a.memMu.Lock()
		a.budget = b
		a.memMu.Unlock()
	}
	if a.cfg.CacheMaxBytes > 0 {
		a.memMu.Lock()
		a.records = state.NewRecordCache(a.cfg.CacheMaxBytes)
		a.memMu.Unlock()
	}
	return nil
}

// changelogReader restores stores from their changelogs, in fetches sized
// so that parallel restores hold about the input byte bound.
func (a *App) changelogReader() *partition.KafkaChangelogReader {
	return &partition.KafkaChangelogReader{Opts: a.clientOpts(), Admin: a.admin,
		FetchMaxBytes: actors.RestoreFetchBytes(a.cfg.maxBufferedBytes)}
}

// closeMemory releases the memory budget, once every store is closed.
func (a *App) closeMemory() {
	a.memMu.Lock()
	defer a.memMu.Unlock()
	if a.budget != nil && !a.budgetClosed {
		a.budget.Close()
		a.budgetClosed = true
	}
}

// rocksDBConfig is the configuration of every RocksDB store of the node.
func (a *App) rocksDBConfig() state.RocksDBConfig {
	return state.RocksDBConfig{Budget: a.budget, WriteBufferSize: a.cfg.writeBufferBytes}
}
