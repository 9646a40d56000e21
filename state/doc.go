// Package state holds Eddy's byte-level state: the storage engines and the
// layers stacked on them, bottom to top as in Kafka Streams.
//
//   - Engines: RocksDBStore (grocksdb, one DB per directory, WAL off by
//     default because the changelog topic is the durable copy) and
//     MemoryStore (an ordered B-tree).
//   - SegmentedStore: the layer of time-keyed stores (windows, sessions,
//     versioned tables) right above the engine, under the change-logging
//     layer. It takes logical keys (topology's window_keys.go layouts),
//     prefixes each with its time segment, and drops whole segments with a
//     range delete once they fall behind the observed stream time by more
//     than the retention (docs/decisions/0009-segmented-stores.md).
//   - Layers: CachingStore (the record cache) keeps writes in memory,
//     merged per key, until a commit or the node's RecordCache budget
//     flushes them to the layer below and to a flush listener. LoggedStore
//     forwards every write to a ChangeLogger. Restoration writes go to the
//     engine underneath (LoggedStore.Inner), never through those layers,
//     in bulk mode for long restores (BulkLoader).
//   - MemoryBudget: one block cache and one write buffer manager for every
//     RocksDB store of a node (a small C++ shim, membudget_shim.cc, since
//     RocksDB's C API has no write buffer manager).
//   - Checkpoint files: the changelog offsets (and stream time) a task's
//     stores are known to contain, written atomically after each flush.
//
// Everything here works on []byte keys ordered bytewise; typed stores live
// above this package. state imports only topology's store interfaces (and
// the grocksdb and btree libraries); it must not import the runtime.
package state
