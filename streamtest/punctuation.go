package streamtest

import (
	"time"

	"github.com/eddystreams/eddy/partition"
)

// clock is the tasks' wall clock (partition.Config.Clock): the driver's,
// which moves only with AdvanceWallClock. Tasks call it with d.mu held.
func (d *Driver) clock() time.Time { return d.now }

// punctuateWallClock runs every task's due wall-clock punctuators, in task
// order, then processes what they sent to topics the tasks read, as Kafka
// Streams' TopologyTestDriver.advanceWallClockTime does. Stream-time
// punctuation needs nothing here (the tasks run it after every record)
// except with WithIdleStreamTimeAdvance: then an idle task's stream time
// follows the wall clock, and its stream-time punctuators run, after its
// wall-clock ones. d.mu must be held.
func (d *Driver) punctuateWallClock() error {
	for _, t := range d.tasks {
		err := t.PunctuateWallClock(d.now)
		if err == nil {
			err = t.AdvanceIdleStreamTime(d.now)
		}
		if err != nil {
			d.failed, d.failure = t, err
			return err
		}
	}
	return d.pump()
}

// DroppedRecords counts, by reason (topology.DropLate, DropExpired,
// DropNullKey), the input records the tasks dropped on purpose since New,
// across restarts.
func (d *Driver) DroppedRecords() map[string]int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	m := partition.TaskMetrics{Dropped: map[string]int64{}}
	m.Add(d.retired)
	for _, t := range d.tasks {
		m.Add(t.Metrics())
	}
	return m.Dropped
}
