//go:build !cgo

package state

import (
	"errors"

	"github.com/eddystreams/eddy/topology"
)

// RocksDBAvailable tells whether this build has RocksDB. Without cgo it
// has not: stores are in memory (rebuilt from their changelogs at start),
// and OpenRocksDB and NewMemoryBudget fail.
const RocksDBAvailable = false

// ErrNoRocksDB is the error of OpenRocksDB and NewMemoryBudget in a build
// without cgo.
var ErrNoRocksDB = errors.New("state: RocksDB is not in this build (built with CGO_ENABLED=0): use in-memory stores")

// RocksDBConfig configures one RocksDB store; see the cgo build. Without
// cgo it is only carried along.
type RocksDBConfig struct {
	WriteBufferSize   uint64
	DBWriteBufferSize uint64
	EnableWAL         bool
	Budget            *MemoryBudget
}

// RocksDBStore is a RocksDB store; without cgo none can be opened.
type RocksDBStore struct{ topology.KeyValueStore }

// OpenRocksDB fails without cgo.
func OpenRocksDB(dir, name string, cfg RocksDBConfig) (*RocksDBStore, error) {
	return nil, ErrNoRocksDB
}

// MemoryBudget is RocksDB's node-wide memory budget; without cgo none can
// be made, and a nil one reports nothing.
type MemoryBudget struct{}

// NewMemoryBudget fails without cgo.
func NewMemoryBudget(total, writeBuffers uint64) (*MemoryBudget, error) {
	return nil, ErrNoRocksDB
}

func (b *MemoryBudget) Total() uint64            { return 0 }
func (b *MemoryBudget) WriteBuffers() uint64     { return 0 }
func (b *MemoryBudget) CacheUsage() uint64       { return 0 }
func (b *MemoryBudget) MemtableUsage() uint64    { return 0 }
func (b *MemoryBudget) MemtableLimit() uint64    { return 0 }
func (b *MemoryBudget) Stores() int              { return 0 }
func (b *MemoryBudget) WriteBufferShare() uint64 { return 0 }
func (b *MemoryBudget) ReclaimFlushes() int64    { return 0 }
func (b *MemoryBudget) Close()                   {}
