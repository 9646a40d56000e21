package streamtest

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/topology"
)

// Option configures a Driver.
type Option interface{ apply(*cfg) }

type optFunc func(*cfg)

func (f optFunc) apply(c *cfg) { f(c) }

type cfg struct {
	appID           string
	stateDir        string
	engine          topology.Engine
	onDeserialize   partition.ErrorHandler
	partitions      int32
	topicPartitions map[string]int32
	startTime       time.Time
	logger          *slog.Logger
	cache           recordCacheCfg // cache.go
	idleAdvance     time.Duration  // punctuation.go
	onDropped       func(partition.DroppedRecord)
}

func defaultCfg() cfg {
	return cfg{
		appID:           "streamtest",
		engine:          topology.EngineMemory,
		partitions:      1,
		topicPartitions: map[string]int32{},
		startTime:       time.Now(),
		logger:          slog.New(slog.DiscardHandler),
	}
}

func (c *cfg) validate() error {
	var errs []error
	if err := topology.ValidateApplicationID(c.appID); err != nil {
		errs = append(errs, err)
	}
	if c.partitions < 1 {
		errs = append(errs, fmt.Errorf("partition count %d: need at least 1", c.partitions))
	}
	for t, n := range c.topicPartitions {
		if t == "" {
			errs = append(errs, errors.New("WithTopicPartitions: empty topic name"))
		}
		if n < 1 {
			errs = append(errs, fmt.Errorf("topic %q: partition count %d: need at least 1", t, n))
		}
	}
	if c.engine < topology.EngineDefault || c.engine > topology.EngineMemory {
		errs = append(errs, fmt.Errorf("unknown store engine %d", c.engine))
	}
	if err := c.onDeserialize.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("deserialization error handler: %w", err))
	}
	if c.logger == nil {
		errs = append(errs, errors.New("nil logger"))
	}
	if c.idleAdvance < 0 || c.idleAdvance > 0 && c.idleAdvance < time.Millisecond {
		errs = append(errs, fmt.Errorf("idle stream time advance %v: want 0 (off) or at least 1ms", c.idleAdvance))
	}
	return errors.Join(errs...)
}

// WithApplicationID sets the application id, which prefixes the internal
// topics ("<id>-<store>-repartition", "<id>-<store>-changelog") and names the
// state directory of the tasks. Default: "streamtest".
func WithApplicationID(id string) Option { return optFunc(func(c *cfg) { c.appID = id }) }

// WithStateDir keeps the tasks' state under dir (in dir/<application id>/<task>)
// and leaves it in place on Close. Default: a new temporary directory that
// the driver removes on Close.
func WithStateDir(dir string) Option { return optFunc(func(c *cfg) { c.stateDir = dir }) }

// WithDefaultStoreEngine sets the engine of stores that do not choose one.
// Default: topology.EngineMemory, which is fastest in tests; pass
// topology.EngineRocksDB (or EngineDefault, the application's default) to
// exercise local state on disk and checkpoints.
func WithDefaultStoreEngine(e topology.Engine) Option {
	return optFunc(func(c *cfg) { c.engine = e })
}

// WithDeserializationErrorHandler decides what a task does with an input
// record it cannot deserialize: fail (the error is returned by PipeInput),
// skip it, or send it to a dead-letter topic that a TestOutputTopic can read.
// Default: fail.
func WithDeserializationErrorHandler(h partition.ErrorHandler) Option {
	return optFunc(func(c *cfg) { c.onDeserialize = h })
}

// WithPartitions sets the partition count of every external topic (input,
// output, dead-letter) not set by WithTopicPartitions. Internal topics get
// theirs as in production: a repartition topic the largest count among the
// inputs of the sub-topology writing it, a changelog one partition per task.
// Default: 1.
func WithPartitions(n int32) Option { return optFunc(func(c *cfg) { c.partitions = n }) }

// WithTopicPartitions sets the partition count of one external topic.
// Default: the count of WithPartitions.
func WithTopicPartitions(topic string, n int32) Option {
	return optFunc(func(c *cfg) { c.topicPartitions[topic] = n })
}

// WithStartTime sets the wall clock's time when the driver starts. Default:
// the time New is called.
func WithStartTime(t time.Time) Option { return optFunc(func(c *cfg) { c.startTime = t }) }

// WithIdleStreamTimeAdvance lets a task's stream time follow the driver's
// wall clock once the task has had no record for d, as the application's
// eddy.WithIdleStreamTimeAdvance does: AdvanceWallClock then moves stream
// time to the stream time of the task's last record plus the wall time
// since it was processed, and runs the stream-time punctuators (closing
// windows). Default: 0, off.
func WithIdleStreamTimeAdvance(d time.Duration) Option {
	return optFunc(func(c *cfg) { c.idleAdvance = d })
}

// WithDroppedRecordHandler calls fn with every input record a processor
// drops on purpose (late for its window, expired, without a key), as the
// application's eddy.WithDroppedRecordHandler. Driver.DroppedRecords counts
// them in any case. Default: none.
func WithDroppedRecordHandler(fn func(partition.DroppedRecord)) Option {
	return optFunc(func(c *cfg) { c.onDropped = fn })
}

// WithLogger receives the tasks' logs (for instance the records a
// log-and-continue handler skips). Default: logs are discarded.
func WithLogger(l *slog.Logger) Option { return optFunc(func(c *cfg) { c.logger = l }) }

// RestartOption configures one Driver.Restart.
type RestartOption interface{ applyRestart(*restartCfg) }

type restartOptFunc func(*restartCfg)

func (f restartOptFunc) applyRestart(c *restartCfg) { f(c) }

type restartCfg struct {
	unclean bool
	wipe    bool
}

// Unclean makes Restart stop the tasks as a crash would: nothing is committed
// and no checkpoint is written. The new tasks restore their stores from the
// last checkpoint (or from the start of the changelogs) and process again
// every input record after the last Commit, as an at-least-once application
// does after a crash. Default: a clean stop (commit, checkpoint, close).
func Unclean() RestartOption { return restartOptFunc(func(c *restartCfg) { c.unclean = true }) }

// WipeState makes Restart delete the application's state directory between
// closing the old tasks and making the new ones, as when a task moves to a
// machine with no local state: stores are rebuilt from their changelogs.
// Default: the state directory is kept.
func WipeState() RestartOption { return restartOptFunc(func(c *restartCfg) { c.wipe = true }) }
