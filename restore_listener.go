package eddy

import "github.com/eddystreams/eddy/partition"

// RestoreListener is told of the restores of active tasks' stores from
// their changelogs (Kafka Streams' StateRestoreListener): OnRestoreStart
// with the changelog partition and the offsets to read (start up to end,
// exclusive), OnBatchRestored after each batch written (the offset of its
// last record and how many records it had), OnRestoreEnd with the records
// restored in all. The methods run on the restoring task's goroutine
// between batches: they must return soon. Standby tasks, which follow
// their changelogs all the time, are not reported.
//
// Restores also log their progress at Info every 5 s (percent, records/s,
// time left) whether or not a listener is set.
type RestoreListener = partition.RestoreListener

// WithRestoreListener sets the restore listener. Default: none.
func WithRestoreListener(l RestoreListener) Option {
	return optFunc(func(c *cfg) { c.restoreListener = l })
}
