package eddy

import (
	"time"

	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/topology"
)

// DroppedRecord is an input record a processor dropped on purpose, as given
// to the WithDroppedRecordHandler callback (streamtest's handler gets the
// same type).
type DroppedRecord = topology.DroppedRecord

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
	// Running is the number of tasks running now. TasksLost counts tasks
	// given up because another instance with the same application id
	// fenced them (it owns them now); TaskRestarts counts restarts after
	// recoverable errors.
	Running      int
	TasksLost    int64
	TaskRestarts int64
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
		Running: len(node.RunningTasks()), TasksLost: node.Lost(), TaskRestarts: node.Restarts(),
		BufferedBytes: buffered, BufferedBytesPeak: peak, InputPaused: paused}
}

// droppedHandler is the option's handler, for the tasks.
func (c *cfg) droppedHandler() func(partition.DroppedRecord) { return c.OnDropped }
