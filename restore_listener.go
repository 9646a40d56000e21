package eddy

import (
	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/state"
	"github.com/eddystreams/eddy/topology"
)

// RestoreListener is told of the restores of active tasks' stores from
// their changelogs (Kafka Streams' StateRestoreListener): OnRestoreStart
// with the changelog partition and the offsets to read (start up to end,
// exclusive), OnBatchRestored after each batch written (the offset of its
// last record and how many records it had), OnRestoreEnd with the records
// restored in all, also when the restore failed or was cancelled (the task
// then restores again when it restarts). The methods run on the restoring
// task's goroutine between batches: they must return soon. Standby tasks,
// which follow their changelogs all the time, are not reported.
//
// Restores also log their progress at Info every 5 s (percent, records/s,
// time left) whether or not a listener is set.
type RestoreListener interface {
	OnRestoreStart(store string, task topology.TaskID, changelog state.TopicPartition, start, end int64)
	OnBatchRestored(store string, task topology.TaskID, changelog state.TopicPartition, batchEnd int64, records int)
	OnRestoreEnd(store string, task topology.TaskID, changelog state.TopicPartition, restored int64)
}

// WithRestoreListener sets the restore listener. Default: none.
func WithRestoreListener(l RestoreListener) Option {
	return optFunc(func(c *cfg) { c.restoreListener = l })
}

// restoreListener is the tasks' partition.RestoreListener: the restore
// metrics (metrics_prom.go), then the user's listener if any.
func (a *App) restoreListener() partition.RestoreListener {
	if a.cfg.restoreListener == nil {
		return &a.restores
	}
	return restoreListeners{&a.restores, userRestores{a.cfg.restoreListener}}
}

type restoreListeners []partition.RestoreListener

func (ls restoreListeners) OnRestoreStart(task topology.TaskID, store string, tp state.TopicPartition, from, end int64) {
	for _, l := range ls {
		l.OnRestoreStart(task, store, tp, from, end)
	}
}

func (ls restoreListeners) OnBatchRestored(task topology.TaskID, store string, tp state.TopicPartition, next int64, records int) {
	for _, l := range ls {
		l.OnBatchRestored(task, store, tp, next, records)
	}
}

func (ls restoreListeners) OnRestoreEnd(task topology.TaskID, store string, tp state.TopicPartition, restored int64) {
	for _, l := range ls {
		l.OnRestoreEnd(task, store, tp, restored)
	}
}

// userRestores gives the user's RestoreListener what the tasks report, in
// its terms: a batch by the offset of its last record.
type userRestores struct{ l RestoreListener }

func (u userRestores) OnRestoreStart(task topology.TaskID, store string, tp state.TopicPartition, from, end int64) {
	u.l.OnRestoreStart(store, task, tp, from, end)
}

func (u userRestores) OnBatchRestored(task topology.TaskID, store string, tp state.TopicPartition, next int64, records int) {
	u.l.OnBatchRestored(store, task, tp, next-1, records)
}

func (u userRestores) OnRestoreEnd(task topology.TaskID, store string, tp state.TopicPartition, restored int64) {
	u.l.OnRestoreEnd(store, task, tp, restored)
}
