package streamtest

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/internal/settings"
	"github.com/eddystreams/eddy/topology"
)

// Option configures a Driver. The driver takes the options of eddy.New
// (one vocabulary: WithApplicationID, WithStateDir, WithDefaultStoreEngine,
// the error handlers, WithLogger, WithCacheMaxBytes,
// WithIdleStreamTimeAdvance, WithDroppedRecordHandler, ...; those about
// brokers, commits and the node mean nothing here and are ignored, as Kafka
// Streams' TopologyTestDriver ignores bootstrap.servers) and its own below,
// which an App refuses.
type Option = eddy.Option

// testOpt makes an option of the driver's own.
type testOpt struct {
	name string
	f    func(*cfg)
}

func (o testOpt) Apply(s *settings.Settings) {
	if c, ok := s.Test.(*cfg); ok {
		o.f(c)
		return
	}
	s.Misplaced = append(s.Misplaced, "streamtest."+o.name)
}

type cfg struct {
	settings.Settings // shared with eddy.New
	partitions        int32
	topicPartitions   map[string]int32
	startTime         time.Time
	cache             recordCacheCfg // cache.go
}

func defaultCfg() cfg {
	return cfg{
		Settings: settings.Settings{
			AppID:  "streamtest",
			Engine: topology.EngineMemory,
			Logger: slog.New(slog.DiscardHandler),
		},
		partitions:      1,
		topicPartitions: map[string]int32{},
		startTime:       time.Now(),
	}
}

func (c *cfg) validate() error {
	errs := []error{c.Settings.Validate()}
	if c.AppID == "" {
		errs = append(errs, errors.New("application id is empty"))
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
	if c.Logger == nil {
		errs = append(errs, errors.New("nil logger"))
	}
	return errors.Join(errs...)
}

// WithPartitions sets the partition count of every external topic (input,
// output, dead-letter) not set by WithTopicPartitions. Internal topics get
// theirs as in production: a repartition topic the largest count among the
// inputs of the sub-topology writing it, a changelog one partition per task.
// Default: 1.
func WithPartitions(n int32) Option {
	return testOpt{"WithPartitions", func(c *cfg) { c.partitions = n }}
}

// WithTopicPartitions sets the partition count of one external topic.
// Default: the count of WithPartitions.
func WithTopicPartitions(topic string, n int32) Option {
	return testOpt{"WithTopicPartitions", func(c *cfg) { c.topicPartitions[topic] = n }}
}

// WithStartTime sets the wall clock's time when the driver starts. Default:
// the time New is called.
func WithStartTime(t time.Time) Option {
	return testOpt{"WithStartTime", func(c *cfg) { c.startTime = t }}
}

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
