package eddy

import (
	"time"

	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/topology"
)

// DroppedRecord is an input record a processor dropped on purpose, as given
// to the handler of WithDroppedRecordHandler. Key, Value and Headers are
// copies the handler may keep.
type DroppedRecord struct {
	// Reason is why: topology.DropLate, topology.DropExpired,
	// topology.DropNullKey.
	Reason string
	// Task is the task that dropped it.
	Task topology.TaskID
	// The record. Timestamp is the one its source's timestamp extractor
	// gave. A record dropped during a punctuation has no input: Topic is
	// empty, Partition and Offset are -1, Timestamp is the punctuation time.
	Topic     string
	Partition int32
	Offset    int64
	Timestamp int64
	Key       []byte
	Value     []byte
	Headers   []topology.Header
}

// Metrics are record counters summed over the tasks this App has run since
// it started. A task restarted after a failure counts again the records it
// processes again.
type Metrics struct {
	// Processed counts records run through the processors.
	Processed int64
	// Skipped counts records an error handler skipped or sent to a
	// dead-letter topic (undecodable, invalid timestamp, failed processing).
	Skipped int64
	// Dropped counts records dropped on purpose, by reason
	// (topology.DropLate, ...).
	Dropped map[string]int64
	// Commits counts task commits that made progress durable; CommitTime
	// is the time they took together, summed over tasks (a task processes
	// nothing while it commits), and CommitTimeMax the longest one.
	Commits       int64
	CommitTime    time.Duration
	CommitTimeMax time.Duration
	// BufferedBytes is the size of the records fetched and not yet
	// processed, summed over tasks (see WithMaxBufferedBytes), and
	// BufferedBytesPeak the most it has been. InputPaused says fetching is
	// paused because BufferedBytes passed the bound.
	BufferedBytes, BufferedBytesPeak int64
	InputPaused                      bool
}

// Metrics returns the App's record counters; zero before Start. Safe for
// concurrent use.
func (a *App) Metrics() Metrics {
	a.mu.Lock()
	node := a.node
	a.mu.Unlock()
	if node == nil {
		return Metrics{Dropped: map[string]int64{}}
	}
	m := node.Metrics()
	if m.Dropped == nil {
		m.Dropped = map[string]int64{}
	}
	buffered, peak, paused := node.BufferedBytes()
	return Metrics{Processed: m.Processed, Skipped: m.Skipped, Dropped: m.Dropped,
		Commits: m.Commits, CommitTime: m.CommitTime, CommitTimeMax: m.CommitTimeMax,
		BufferedBytes: buffered, BufferedBytesPeak: peak, InputPaused: paused}
}

// droppedHandler adapts the option's handler to the task's.
func (c *cfg) droppedHandler() func(partition.DroppedRecord) {
	fn := c.onDropped
	if fn == nil {
		return nil
	}
	return func(d partition.DroppedRecord) {
		fn(DroppedRecord{
			Reason: d.Reason, Task: d.Task, Topic: d.Topic, Partition: d.Partition, Offset: d.Offset,
			Timestamp: d.Timestamp, Key: d.Key, Value: d.Value, Headers: d.Headers,
		})
	}
}
