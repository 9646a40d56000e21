package streamtest

import "github.com/eddystreams/eddy/topology"

// PipeTombstone sends a record with key k and a null value, stamped with the
// driver's wall clock: read as a table, it deletes k.
func (t *TestInputTopic[K, V]) PipeTombstone(k K) error {
	return t.PipeTombstoneAt(k, t.d.WallClock().UnixMilli())
}

// PipeTombstoneAt sends a record with key k and a null value, with
// timestamp ts (milliseconds since the epoch).
func (t *TestInputTopic[K, V]) PipeTombstoneAt(k K, ts int64) error {
	return t.PipeRecord(topology.Record[K, V]{Key: k, NullValue: true, Timestamp: ts})
}
