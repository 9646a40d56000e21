package partition_test

import (
	"testing"

	"github.com/eddystreams/eddy/state"
)

// needRocksDB skips a test of RocksDB's persistence (checkpoints, state
// kept across restarts) in a build without cgo, where stores are in memory.
func needRocksDB(t testing.TB) {
	t.Helper()
	if !state.RocksDBAvailable {
		t.Skip("RocksDB is not in this build (CGO_ENABLED=0)")
	}
}
