package partition

import (
	"context"

	"github.com/eddystreams/eddy/state"
	"github.com/eddystreams/eddy/topology"
)

// RestoreListener hears how the restoration of an active task's stores
// goes, as Kafka Streams' StateRestoreListener: a start when a store has
// changelog records to restore, each batch written, and the end. Its
// methods run on the restoring goroutine, one store at a time per task, and
// must return quickly.
type RestoreListener interface {
	// OnRestoreStart: the store restores tp from offset from up to end
	// (exclusive).
	OnRestoreStart(task topology.TaskID, store string, tp state.TopicPartition, from, end int64)
	// OnBatchRestored: records more were written; next is the offset after
	// the last one read.
	OnBatchRestored(task topology.TaskID, store string, tp state.TopicPartition, next int64, records int)
	// OnRestoreEnd: the restoration ended (done, failed or cancelled) after
	// restored records.
	OnRestoreEnd(task topology.TaskID, store string, tp state.TopicPartition, restored int64)
}

// restoreTrace is how a ChangelogReader reports a restoration's bounds and
// batches to the StateManager that asked for it; it rides in the context
// of Restore, as net/http/httptrace's hooks do, so that ChangelogReader
// implementations that do not report keep working.
type restoreTrace struct {
	start func(from, end int64)
	batch func(next int64, records int)
}

type restoreTraceKey struct{}

func withRestoreTrace(ctx context.Context, t *restoreTrace) context.Context {
	return context.WithValue(ctx, restoreTraceKey{}, t)
}

// restoreTraceOf is ctx's trace; nil when there is none.
func restoreTraceOf(ctx context.Context) *restoreTrace {
	t, _ := ctx.Value(restoreTraceKey{}).(*restoreTrace)
	return t
}

// traceRestore puts a trace into ctx reporting the store's restoration to
// the configured RestoreListener and logging its progress at Info
// (restore_progress.go), and returns the func that reports its end (after
// restored records).
func (m *StateManager) traceRestore(ctx context.Context, store string, tp state.TopicPartition) (context.Context, func(restored int64)) {
	l := m.cfg.RestoreListener
	id := topology.TaskID{Subtopology: m.cfg.Subtopology, Partition: m.cfg.Partition}
	p := &restoreProgress{log: m.log, store: store, task: id, tp: tp}
	t := &restoreTrace{
		start: func(from, end int64) {
			p.begin(from, end)
			if l != nil {
				l.OnRestoreStart(id, store, tp, from, end)
			}
		},
		batch: func(next int64, n int) {
			p.batch(next, n)
			if l != nil {
				l.OnBatchRestored(id, store, tp, next, n)
			}
		},
	}
	return withRestoreTrace(ctx, t), func(restored int64) {
		if !p.started {
			return
		}
		p.finish()
		if l != nil {
			l.OnRestoreEnd(id, store, tp, restored)
		}
	}
}
