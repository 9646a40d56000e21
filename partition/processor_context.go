package partition

import (
	"time"

	"github.com/eddystreams/eddy/topology"
)

// ProcessorContext is what a task's processors see of the task (Kafka
// Streams' ProcessorContext): topology.TaskContext, and the optional
// topology.Scheduler, topology.DropRecorder and topology.PartitionSender.
// It is its own type so that processors reach stores, sends, the current
// record and punctuation, and nothing of the task's lifecycle or commits.
// The Task owns one, sets its current record as it processes, and runs
// the punctuators it schedules.
type ProcessorContext struct {
	id        topology.TaskID
	appID     string
	task      contextOwner
	stores    *StateManager
	globals   map[string]topology.StateStore
	collector *RecordCollector
	punct     *punctuations // the task's: the task runs them
	clock     func() time.Time
	onDropped func(DroppedRecord)

	cur     topology.RecordMeta
	curRaw  *topology.RawRecord // the input record being processed, for drops
	dropped dropCounters        // dropped.go
}

// contextOwner is what a ProcessorContext asks of the task it belongs to:
// its stream time, whether it still runs, and what the user chose to do
// with records that do not decode.
type contextOwner interface {
	StreamTime() int64
	State() TaskState
	deserializationFailed(rec *topology.RawRecord, cause error) error
}

var (
	_ topology.TaskContext     = (*ProcessorContext)(nil)
	_ topology.Scheduler       = (*ProcessorContext)(nil)
	_ topology.DropRecorder    = (*ProcessorContext)(nil)
	_ topology.PartitionSender = (*ProcessorContext)(nil)
)

// TaskID implements topology.TaskContext.
func (c *ProcessorContext) TaskID() topology.TaskID { return c.id }

// ApplicationID implements topology.TaskContext.
func (c *ProcessorContext) ApplicationID() string { return c.appID }

// Store implements topology.TaskContext: the task's own stores, then the
// global tables' read-only views.
func (c *ProcessorContext) Store(name string) topology.StateStore {
	if s := c.stores.Store(name); s != nil {
		return s
	}
	if s, ok := c.globals[name]; ok {
		return s // read only, shared by every task
	}
	return nil
}

// Send implements topology.TaskContext.
func (c *ProcessorContext) Send(topic string, key, value []byte, ts int64, headers []topology.Header) error {
	return c.collector.Send(topic, key, value, ts, headers)
}

// SendToPartition implements topology.PartitionSender: a foreign-key join
// answers to the partition its left record came from.
func (c *ProcessorContext) SendToPartition(topic string, partition int32, key, value []byte, ts int64, headers []topology.Header) error {
	return c.collector.SendTo(topic, partition, key, value, ts, headers, false)
}

// Record implements topology.TaskContext.
func (c *ProcessorContext) Record() topology.RecordMeta { return c.cur }

// SetRecord sets the record context, for a record cache flushing a write
// with the context it was made in (state.RecordContext).
func (c *ProcessorContext) SetRecord(m topology.RecordMeta) { c.cur = m }

// StreamTime implements topology.TaskContext.
func (c *ProcessorContext) StreamTime() int64 { return c.task.StreamTime() }

// DeserializationFailed implements topology.TaskContext: it applies the
// user's deserialization error handler.
func (c *ProcessorContext) DeserializationFailed(rec *topology.RawRecord, cause error) error {
	return c.task.deserializationFailed(rec, cause)
}

// WallClockTime implements topology.Scheduler: the task's clock
// (Config.Clock, time.Now by default) in milliseconds since the epoch.
func (c *ProcessorContext) WallClockTime() int64 { return wallClockMillis(c.clock) }

// setInput makes raw the input record being processed, with its metadata
// as the record context; endInput ends it (the record context stays until
// the next one is set).
func (c *ProcessorContext) setInput(raw *topology.RawRecord) {
	c.cur, c.curRaw = metaOf(raw), raw
}

func (c *ProcessorContext) endInput() { c.curRaw = nil }

// metaOf is the record context of an input record.
func metaOf(raw *topology.RawRecord) topology.RecordMeta {
	return topology.RecordMeta{Topic: raw.Topic, Partition: raw.Partition, Offset: raw.Offset, Timestamp: raw.Timestamp, Headers: raw.Headers}
}

func wallClockMillis(clock func() time.Time) int64 {
	if clock != nil {
		return clock().UnixMilli()
	}
	return time.Now().UnixMilli()
}
