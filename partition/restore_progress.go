package partition

import (
	"context"
	"log/slog"
	"time"

	"github.com/eddystreams/eddy/state"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

// RestoreListener is told of the restores of active tasks' stores from
// their changelogs (Kafka Streams' StateRestoreListener). Its methods run on
// the restoring task's goroutine, between batches: they must return soon
// and not call into the task.
type RestoreListener interface {
	// OnRestoreStart: store of task restores from changelog partition tp,
	// from offset start up to end (exclusive). Only restores with records
	// to read start.
	OnRestoreStart(store string, task topology.TaskID, tp state.TopicPartition, start, end int64)
	// OnBatchRestored: a batch of records was written to the store;
	// batchEnd is the offset of its last record.
	OnBatchRestored(store string, task topology.TaskID, tp state.TopicPartition, batchEnd int64, records int)
	// OnRestoreEnd: the restore ended, after restored records in all. It
	// is not called when the restore failed (the task restarts and
	// restores again).
	OnRestoreEnd(store string, task topology.TaskID, tp state.TopicPartition, restored int64)
}

// RangedChangelogReader is a ChangelogReader that tells, before the first
// batch, the offsets a restore reads: from start up to end (exclusive).
// onRange is not called when there is nothing to read.
type RangedChangelogReader interface {
	RestoreRange(ctx context.Context, tp state.TopicPartition, from, until int64, onRange func(start, end int64), apply func([]*kgo.Record) error) (int64, error)
}

// restoreProgressEvery is how often a long restore logs its progress.
const restoreProgressEvery = 5 * time.Second

// restoreProgress follows one store's restore: it tells the listener and
// logs the progress at Info every restoreProgressEvery. Per batch it costs
// a clock read and, with a listener, a call.
type restoreProgress struct {
	log        *slog.Logger
	listener   RestoreListener
	store      string
	task       topology.TaskID
	tp         state.TopicPartition
	start, end int64 // -1: unknown end
	began      time.Time
	lastLog    time.Time
	logged     bool // a progress line went out
	records    int64
	started    bool
}

// restoreFrom reads tp from from up to until (see ChangelogReader.Restore)
// into apply, telling the listener and logging the progress.
func (m *StateManager) restoreFrom(ctx context.Context, store string, tp state.TopicPartition, from, until int64, apply func([]*kgo.Record) error) (int64, error) {
	p := &restoreProgress{log: m.log, listener: m.cfg.RestoreListener, store: store, task: m.cfg.Task, tp: tp, start: from, end: -1}
	wrapped := func(recs []*kgo.Record) error {
		if err := apply(recs); err != nil {
			return err
		}
		p.batch(recs)
		return nil
	}
	var next int64
	var err error
	if r, ok := m.cfg.Changelogs.(RangedChangelogReader); ok {
		next, err = r.RestoreRange(ctx, tp, from, until, p.begin, wrapped)
	} else {
		next, err = m.cfg.Changelogs.Restore(ctx, tp, from, until, func(recs []*kgo.Record) error {
			if !p.started && len(recs) > 0 {
				p.begin(from, until) // the end is unknown unless until says it
			}
			return wrapped(recs)
		})
	}
	if err == nil {
		p.finish()
	}
	return next, err
}

func (p *restoreProgress) begin(start, end int64) {
	p.started, p.start, p.end = true, start, end
	p.began = time.Now()
	p.lastLog = p.began
	if p.listener != nil {
		p.listener.OnRestoreStart(p.store, p.task, p.tp, start, end)
	}
}

func (p *restoreProgress) batch(recs []*kgo.Record) {
	if len(recs) == 0 {
		return
	}
	p.records += int64(len(recs))
	last := recs[len(recs)-1].Offset
	if p.listener != nil {
		p.listener.OnBatchRestored(p.store, p.task, p.tp, last, len(recs))
	}
	if now := time.Now(); now.Sub(p.lastLog) >= restoreProgressEvery {
		p.lastLog, p.logged = now, true
		p.logProgress(now, last+1)
	}
}

// logProgress logs how far the restore is at offset next: percent of the
// offsets to read, records per second, and the time left at that pace.
func (p *restoreProgress) logProgress(now time.Time, next int64) {
	took := now.Sub(p.began)
	rate := float64(p.records) / max(took.Seconds(), 1e-3)
	attrs := []any{"store", p.store, "task", p.task.String(), "changelog", p.tp.String(),
		"records", p.records, "records_per_s", int64(rate)}
	if p.end > p.start {
		done := float64(next-p.start) / float64(p.end-p.start)
		attrs = append(attrs, "percent", int(100*done))
		if done > 0 {
			left := time.Duration(float64(took) * (1 - done) / done)
			attrs = append(attrs, "left", left.Round(time.Second).String())
		}
	}
	p.log.Info("restoring", attrs...)
}

func (p *restoreProgress) finish() {
	if !p.started {
		return
	}
	if p.logged {
		took := time.Since(p.began)
		p.log.Info("restored store", "store", p.store, "task", p.task.String(), "changelog", p.tp.String(),
			"records", p.records, "took", took.Round(time.Millisecond).String(),
			"records_per_s", int64(float64(p.records)/max(took.Seconds(), 1e-3)))
	}
	if p.listener != nil {
		p.listener.OnRestoreEnd(p.store, p.task, p.tp, p.records)
	}
}
