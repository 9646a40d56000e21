package streamtest

import "time"

// clock is the tasks' wall clock (partition.Config.Clock): the driver's,
// which moves only with AdvanceWallClock. Tasks call it with d.mu held.
func (d *Driver) clock() time.Time { return d.now }

// punctuateWallClock runs every task's due wall-clock punctuators, in task
// order, then processes what they sent to topics the tasks read, as Kafka
// Streams' TopologyTestDriver.advanceWallClockTime does. Stream-time
// punctuation needs nothing here: the tasks run it after every record.
// d.mu must be held.
func (d *Driver) punctuateWallClock() error {
	for _, t := range d.tasks {
		if err := t.PunctuateWallClock(d.now); err != nil {
			d.failed, d.failure = t, err
			return err
		}
	}
	return d.pump()
}
