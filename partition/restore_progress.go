package partition

import (
	"log/slog"
	"time"

	"github.com/eddystreams/eddy/state"
	"github.com/eddystreams/eddy/topology"
)

// restoreProgressEvery is how often a long restore logs its progress.
const restoreProgressEvery = 5 * time.Second

// restoreProgress logs one store's restore at Info every
// restoreProgressEvery (traceRestore). Per batch it costs a clock read.
type restoreProgress struct {
	log        *slog.Logger
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

func (p *restoreProgress) begin(start, end int64) {
	p.started, p.start, p.end = true, start, end
	p.began = time.Now()
	p.lastLog = p.began
}

func (p *restoreProgress) batch(next int64, records int) {
	if records <= 0 {
		return
	}
	p.records += int64(records)
	if now := time.Now(); now.Sub(p.lastLog) >= restoreProgressEvery {
		p.lastLog, p.logged = now, true
		p.logProgress(now, next)
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
}
