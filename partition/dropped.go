package partition

import (
	"bytes"
	"maps"
	"sync"
	"time"

	"github.com/eddystreams/eddy/topology"
)

// DroppedRecord is a record a processor dropped on purpose
// (topology.DroppedRecord).
type DroppedRecord = topology.DroppedRecord

// TaskMetrics are a task's record counters and commit timings.
type TaskMetrics struct {
	Processed int64            // records run through the processors
	Skipped   int64            // records an error handler skipped or dead-lettered
	Dropped   map[string]int64 // records dropped on purpose, by reason
	// Commits counts commits that had progress to make durable, and
	// CommitTime is the time the task stopped processing for them;
	// CommitTimeMax is the longest. Under at-least-once the offset commit
	// of the commit interval is sent in the background and not counted
	// (Task.CommitBackground): only the flush of the records sent is.
	Commits       int64
	CommitTime    time.Duration
	CommitTimeMax time.Duration
	// SkippedBy splits Skipped by what failed: "deserialization",
	// "processing" or "production".
	SkippedBy map[string]int64
	// Punctuations counts punctuator runs by type ("stream-time",
	// "wall-clock-time").
	Punctuations map[string]int64
	// ProcessLatency is the time records take through the processors,
	// sampled: one record in ProcessLatencySample is timed. CommitLatency
	// is every commit's time (as CommitTime), PunctuateLatency every
	// punctuator run's.
	ProcessLatency, CommitLatency, PunctuateLatency LatencySnapshot
}

// Add adds o's counts to m.
func (m *TaskMetrics) Add(o TaskMetrics) {
	m.Processed += o.Processed
	m.Skipped += o.Skipped
	m.Commits += o.Commits
	m.CommitTime += o.CommitTime
	m.CommitTimeMax = max(m.CommitTimeMax, o.CommitTimeMax)
	for r, n := range o.Dropped {
		if m.Dropped == nil {
			m.Dropped = map[string]int64{}
		}
		m.Dropped[r] += n
	}
	m.SkippedBy = addCounts(m.SkippedBy, o.SkippedBy)
	m.Punctuations = addCounts(m.Punctuations, o.Punctuations)
	m.ProcessLatency.Add(o.ProcessLatency)
	m.CommitLatency.Add(o.CommitLatency)
	m.PunctuateLatency.Add(o.PunctuateLatency)
}

func addCounts(m, o map[string]int64) map[string]int64 {
	for k, n := range o {
		if m == nil {
			m = map[string]int64{}
		}
		m[k] += n
	}
	return m
}

// dropCounters count dropped records by reason; other goroutines read them.
type dropCounters struct {
	mu sync.Mutex
	n  map[string]int64
}

func (c *dropCounters) add(reason string) {
	c.mu.Lock()
	if c.n == nil {
		c.n = map[string]int64{}
	}
	c.n[reason]++
	c.mu.Unlock()
}

func (c *dropCounters) snapshot() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.n)
}

// RecordDropped implements topology.DropRecorder: it counts the drop under
// reason and calls Config.OnDroppedRecord with the current input record.
func (c *ProcessorContext) RecordDropped(reason string) {
	c.dropped.add(reason)
	h := c.onDropped
	if h == nil {
		return
	}
	d := DroppedRecord{
		Task:      c.id,
		Reason:    reason,
		Topic:     c.cur.Topic,
		Partition: c.cur.Partition,
		Offset:    c.cur.Offset,
		Timestamp: c.cur.Timestamp,
	}
	if c.curRaw != nil {
		d.Key, d.Value = bytes.Clone(c.curRaw.Key), bytes.Clone(c.curRaw.Value)
	}
	for _, hd := range c.cur.Headers {
		d.Headers = append(d.Headers, topology.Header{Key: hd.Key, Value: bytes.Clone(hd.Value)})
	}
	h(d)
}

// RecordDropped counts a drop of the current record as the task's
// processors do (ProcessorContext.RecordDropped).
func (t *Task) RecordDropped(reason string) { t.pctx.RecordDropped(reason) }

// Metrics returns the task's counters. Safe from any goroutine.
func (t *Task) Metrics() TaskMetrics {
	return TaskMetrics{Processed: t.processed.Load(), Skipped: t.skipped.Load(), Dropped: t.pctx.dropped.snapshot(),
		Commits: t.commits.Load(), CommitTime: time.Duration(t.commitNanos.Load()), CommitTimeMax: time.Duration(t.commitMaxNanos.Load()),
		SkippedBy: t.skips.snapshot(), Punctuations: t.punctuations.snapshot(),
		ProcessLatency: t.processLatency.Snapshot(), CommitLatency: t.commitLatency.Snapshot(), PunctuateLatency: t.punctuateLatency.Snapshot()}
}

// timeCommit records one commit that took d.
func (t *Task) timeCommit(d time.Duration) {
	t.commits.Add(1)
	t.commitNanos.Add(int64(d))
	if int64(d) > t.commitMaxNanos.Load() {
		t.commitMaxNanos.Store(int64(d)) // only the task's goroutine writes it
	}
	t.commitLatency.Observe(d)
}
