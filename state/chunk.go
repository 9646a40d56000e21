package state

// ChunkWriter is a store that can buffer the writes of one chunk of
// records (BeginWrites) and apply them at once (EndWrites); reads see the
// buffered writes. RocksDBStore is one (rocksdb_chunk.go).
type ChunkWriter interface {
	BeginWrites()
	EndWrites() error
}
