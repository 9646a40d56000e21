package eddy

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/eddystreams/eddy/actors"
	"github.com/eddystreams/eddy/internal/settings"
	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/state"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Option configures an App, or a test driver (streamtest.New takes the same
// options; those that need a broker mean nothing there and are ignored).
type Option = settings.Option

// optFunc makes an option of the App's own settings: the test driver
// ignores it.
type optFunc func(*cfg)

func (f optFunc) Apply(s *settings.Settings) {
	if c, ok := s.App.(*cfg); ok {
		f(c)
	}
}

// shared makes an option of a setting the App and the test driver both have.
func shared(f func(*settings.Settings)) Option { return settings.Func(f) }

type cfg struct {
	settings.Settings // shared with the test driver
	brokers           []string
	embedded          bool
	embeddedDataDir   string
	commitInterval    time.Duration
	replication       int16
	createTopics      []topicsToCreate // topics_create.go
	maxBuffered       int
	maxBufferedBytes  int64
	kafkaOpts         []kgo.Opt
	security          kafkaSecurity // options_security.go
	memoryBudget      uint64        // memory.go
	writeBufferBytes  uint64
	guarantee         Guarantee
	commitSet         bool
	txnTimeout        time.Duration
	maxTaskIdle       time.Duration           // < 0: NoTaskIdle
	purgeInterval     time.Duration           // 0: no purge
	internalConfig    map[string]string       // configs of every internal topic
	cluster           clusterCfg              // options_cluster.go
	query             queryCfg                // options_query.go
	http              httpCfg                 // options_http.go
	stateListener     func(old, new State)    // lifecycle.go
	fatalHandler      func(error) FatalAction // fatal.go
	restoreListener   RestoreListener         // restore_listener.go
	// Set by tests only (export_test.go): 0 is the default.
	brokerWarnEvery time.Duration // broker_watch.go
	commitTimeout   time.Duration // actors.NodeConfig.CommitTimeout
}

// Guarantee is the processing guarantee.
type Guarantee int

const (
	// AtLeastOnce commits input offsets after the outputs they caused are
	// acknowledged: nothing is lost, a crash may repeat some outputs.
	AtLeastOnce Guarantee = iota
	// ExactlyOnce commits outputs, changelog records and input offsets in one
	// Kafka transaction per task and reads read_committed: a crash repeats
	// nothing that a read_committed reader sees.
	ExactlyOnce
)

func (g Guarantee) String() string {
	if g == ExactlyOnce {
		return "exactly_once"
	}
	return "at_least_once"
}

// ParseGuarantee reads "at_least_once" or "exactly_once".
func ParseGuarantee(s string) (Guarantee, error) {
	switch s {
	case "at_least_once":
		return AtLeastOnce, nil
	case "exactly_once", "exactly_once_v2":
		return ExactlyOnce, nil
	}
	return 0, fmt.Errorf("unknown processing guarantee %q (want at_least_once or exactly_once)", s)
}

// defaultEngine is RocksDB, or memory in a build without cgo (and so
// without RocksDB).
func defaultEngine() topology.Engine {
	if state.RocksDBAvailable {
		return topology.EngineRocksDB
	}
	return topology.EngineMemory
}

func defaultCfg() cfg {
	return cfg{
		Settings: settings.Settings{
			StateDir:      filepath.Join(os.TempDir(), "eddy"),
			Engine:        defaultEngine(),
			CacheMaxBytes: defaultCacheMaxBytes,
		},
		commitInterval:   30 * time.Second,
		replication:      -1,
		maxBuffered:      10000,
		maxBufferedBytes: actors.DefaultMaxBufferedBytes,
		memoryBudget:     defaultMemoryBudget,
		txnTimeout:       60 * time.Second,
		purgeInterval:    30 * time.Second,
		cluster:          clusterCfg{standbys: 1},
		http:             httpCfg{bind: defaultHTTPBind},
	}
}

func (c *cfg) validate() error {
	errs := []error{c.Settings.Validate()}
	if c.AppID == "" {
		errs = append(errs, errors.New("application id is required (WithApplicationID)"))
	}
	if len(c.brokers) == 0 && !c.embedded {
		errs = append(errs, errors.New("no brokers: use WithBrokers or WithEmbeddedBroker"))
	}
	if len(c.brokers) > 0 && c.embedded {
		errs = append(errs, errors.New("WithBrokers and WithEmbeddedBroker exclude each other"))
	}
	if c.commitInterval < 0 {
		errs = append(errs, fmt.Errorf("commit interval %v is negative", c.commitInterval))
	}
	if c.StateDir == "" {
		errs = append(errs, errors.New("state dir is empty"))
	}
	if c.Engine != topology.EngineRocksDB && c.Engine != topology.EngineMemory {
		errs = append(errs, fmt.Errorf("default store engine must be rocksdb or memory, not %s", c.Engine))
	}
	if c.maxBufferedBytes <= 0 {
		errs = append(errs, fmt.Errorf("max buffered bytes %d: want more than 0", c.maxBufferedBytes))
	}
	if c.guarantee != AtLeastOnce && c.guarantee != ExactlyOnce {
		errs = append(errs, fmt.Errorf("unknown processing guarantee %d", c.guarantee))
	}
	if c.purgeInterval < 0 {
		errs = append(errs, fmt.Errorf("repartition purge interval %v is negative (0 turns the purge off)", c.purgeInterval))
	}
	errs = append(errs, c.cluster.validate(), c.query.validate(), c.http.validate(), c.security.validate())
	return errors.Join(errs...)
}

// WithBrokers sets the Kafka bootstrap servers ("host:port").
func WithBrokers(addrs ...string) Option {
	return optFunc(func(c *cfg) { c.brokers = append(c.brokers, addrs...) })
}

// WithEmbeddedBroker starts an in-process Kafka-compatible broker (franz-go's
// kfake) for development and tests; App.Close stops it. dataDir persists its
// log across runs ("" keeps it in memory only).
func WithEmbeddedBroker(dataDir string) Option {
	return optFunc(func(c *cfg) { c.embedded, c.embeddedDataDir = true, dataDir })
}

// WithApplicationID names the application: its consumer group, the prefix of
// its internal topics and its state directory. Required.
func WithApplicationID(id string) Option { return shared(func(s *settings.Settings) { s.AppID = id }) }

// WithStateDir sets the directory for local state. Default: $TMPDIR/eddy.
func WithStateDir(dir string) Option { return shared(func(s *settings.Settings) { s.StateDir = dir }) }

// WithCommitInterval sets how often tasks commit (flush outputs, commit
// input offsets). Default: 30s, as Kafka Streams under at-least-once.
func WithCommitInterval(d time.Duration) Option {
	return optFunc(func(c *cfg) { c.commitInterval, c.commitSet = d, true })
}

// WithProcessingGuarantee selects at-least-once (default) or exactly-once.
// Under exactly-once the commit interval defaults to 100ms, as in Kafka
// Streams. The test driver (streamtest) takes it too: it then runs its tasks
// in transactions.
func WithProcessingGuarantee(g Guarantee) Option {
	return shared(func(s *settings.Settings) {
		s.ExactlyOnce = g == ExactlyOnce
		if c, ok := s.App.(*cfg); ok {
			c.guarantee = g
		}
	})
}

// WithTransactionTimeout sets the transaction timeout of exactly-once task
// producers. Default: 60s (long enough to ride out a broker restart; a task
// that restarts aborts its own open transaction at once).
func WithTransactionTimeout(d time.Duration) Option {
	return optFunc(func(c *cfg) { c.txnTimeout = d })
}

// WithDefaultStoreEngine picks the engine of stores that do not choose one.
// Default: RocksDB.
func WithDefaultStoreEngine(e topology.Engine) Option {
	return shared(func(s *settings.Settings) { s.Engine = e })
}

// ErrorHandler is the choice for records Eddy cannot handle: fail, log and
// continue, or a dead-letter topic (streamtest takes the same).
type ErrorHandler = topology.ErrorHandler

// Handler choices for records Eddy cannot handle.
var (
	// FailOnError stops processing with the error (default).
	FailOnError = partition.ErrorHandler{Action: partition.ActionFail}
	// LogAndContinue logs the record's coordinates and the error and skips it.
	LogAndContinue = partition.ErrorHandler{Action: partition.ActionContinue}
)

// DeadLetter sends failed records unchanged to topic, with the error and the
// record's origin in headers (eddy.error, eddy.topic, eddy.partition,
// eddy.offset, eddy.task), and skips them.
func DeadLetter(topic string) ErrorHandler {
	return partition.ErrorHandler{Action: partition.ActionDeadLetter, DeadLetterTopic: topic}
}

// ErrorContext is what a handler function learns of a failed record.
type ErrorContext = topology.ErrorContext

// DecideErrors is a handler whose fn decides for each failed record:
// FailOnError's ActionFail, ActionContinue, or ActionDeadLetter to
// deadLetterTopic (may be "" when fn never chooses it). fn runs on a
// producer's goroutine for production errors: it must be safe for
// concurrent use. A panic in fn, or a dead-letter choice without a topic,
// fails the record.
func DecideErrors(deadLetterTopic string, fn func(ErrorContext) topology.ErrorAction) ErrorHandler {
	return partition.ErrorHandler{Func: fn, DeadLetterTopic: deadLetterTopic}
}

// WithDeserializationErrorHandler chooses what happens to input records whose
// key or value cannot be deserialized. Default: FailOnError.
func WithDeserializationErrorHandler(h ErrorHandler) Option {
	return shared(func(s *settings.Settings) { s.OnDeserialize = h })
}

// WithProcessingErrorHandler chooses what happens to an input record whose
// processing returns an error or panics (user functions, stores). Default:
// FailOnError. Dead letters are the input record, unchanged.
func WithProcessingErrorHandler(h ErrorHandler) Option {
	return shared(func(s *settings.Settings) { s.OnProcessing = h })
}

// WithProductionErrorHandler chooses what happens to an output record Kafka
// refuses for good (too large, invalid; errors Kafka calls retriable are
// retried, not handled). Default: FailOnError. Dead letters are the refused
// record with the error in headers. Under exactly-once only records the client
// refuses before they join the transaction (too large) can be skipped; any
// other refusal fails the task. A store's changelog record is never skipped:
// its refusal fails the task whatever the handler, since the store already
// holds the write its changelog would lack.
func WithProductionErrorHandler(h ErrorHandler) Option {
	return shared(func(s *settings.Settings) { s.OnProduction = h })
}

// WithLogger sets the logger. Default: slog.Default().
func WithLogger(l *slog.Logger) Option { return shared(func(s *settings.Settings) { s.Logger = l }) }

// WithReplicationFactor sets the replication factor of internal topics.
// Default: -1, the broker's default.
func WithReplicationFactor(n int16) Option { return optFunc(func(c *cfg) { c.replication = n }) }

// WithMaxBufferedRecords bounds the records fetched for a task and not yet
// processed; above it the task's partitions are paused. Default: 10000.
func WithMaxBufferedRecords(n int) Option { return optFunc(func(c *cfg) { c.maxBuffered = n }) }

// WithMaxBufferedBytes bounds the bytes (keys, values, headers) of records
// fetched for all tasks of this node and not yet processed, as Kafka
// Streams' input.buffer.max.bytes: above it, tasks handed more records are
// paused until the node holds less than half. The node may hold up to one
// fetch more than the bound (a fetch is at most this many bytes too, or
// 50 MiB, or one record batch larger than that), and a record larger than
// the bound is still processed. Default: 64 MiB.
func WithMaxBufferedBytes(n int64) Option { return optFunc(func(c *cfg) { c.maxBufferedBytes = n }) }

// WithKafkaOptions adds franz-go client options (TLS, SASL, ...) to every
// client Eddy makes.
func WithKafkaOptions(opts ...kgo.Opt) Option {
	return optFunc(func(c *cfg) { c.kafkaOpts = append(c.kafkaOpts, opts...) })
}

// WithBlockCache sets the size of the RocksDB block cache shared by every
// store of the node, which now holds the stores' memtables too.
//
// Deprecated: it is WithMemoryBudget(bytes); use that.
func WithBlockCache(bytes uint64) Option { return WithMemoryBudget(bytes) }

// NoTaskIdle, given to WithMaxTaskIdle, makes tasks never wait for an empty
// input partition (Kafka Streams' max.task.idle.ms = -1).
const NoTaskIdle time.Duration = -1

// WithMaxTaskIdle sets how a task that reads several partitions (a join, a
// merge, a co-partitioned aggregation) waits for one that has nothing
// buffered, so that it processes their records in timestamp order: Kafka
// Streams' max.task.idle.ms (KIP-695).
//
//   - 0 (the default): wait while the empty partition has records on the
//     broker not yet fetched (or before its end is known), never for
//     records not yet produced. With all input already in Kafka, the
//     interleaving is then decided by timestamps alone, so joins give the
//     same results however fetches happen to arrive.
//   - d > 0: additionally wait up to d of wall-clock time for producers to
//     send to a caught-up empty partition (checked about every 100ms).
//   - NoTaskIdle (or any negative value): never wait; process whatever is
//     buffered.
//
// Under exactly-once a partition's end is its last stable offset: records
// of open transactions are not waited for.
func WithMaxTaskIdle(d time.Duration) Option {
	return optFunc(func(c *cfg) { c.maxTaskIdle = d })
}

// WithIdleStreamTimeAdvance makes a task's stream time follow the wall
// clock once the task has had no input record for d: stream time becomes
// the stream time of its last record plus the wall time elapsed since that
// record was processed, and stream-time punctuators run, so windows close
// and suppressed final results come out although input went quiet. Default:
// 0, off (stream time moves only with records, as in Kafka Streams).
//
// The trade-off: a record that arrives afterwards with a timestamp older
// than the advanced stream time is late; windows it belongs to may have
// closed and it is then dropped (counted in App.Metrics and given to the
// dropped-record handler). Choose d above the longest pause of a healthy
// input, and grace periods that cover the delays you still accept. The
// advance is checked about every 100ms, and never while records are
// buffered for the task.
func WithIdleStreamTimeAdvance(d time.Duration) Option {
	return shared(func(s *settings.Settings) { s.IdleAdvance = d })
}

// WithDroppedRecordHandler calls fn with every input record a processor
// drops on purpose — too late for its window, older than a store's
// retention, a join or aggregation input without a key — with the reason.
// fn runs on the task's goroutine, concurrently for different tasks: keep
// it short and safe for concurrent use. Counts by reason are in
// App.Metrics whether or not a handler is set. Default: none.
func WithDroppedRecordHandler(fn func(DroppedRecord)) Option {
	return shared(func(s *settings.Settings) { s.OnDropped = fn })
}

// WithRepartitionPurgeInterval sets how often the records of repartition
// topics that the application has committed are deleted from the broker
// (DeleteRecords up to the committed offsets): Kafka Streams'
// repartition.purge.interval.ms. Repartition topics are created with
// retention.ms=-1, so that records are never deleted before they are
// processed, however old their timestamps; the purge is what bounds their
// size. Default: 30s, as in Kafka Streams. 0 turns the purge off (the
// topics then grow without bound).
func WithRepartitionPurgeInterval(d time.Duration) Option {
	return optFunc(func(c *cfg) { c.purgeInterval = d })
}

// WithInternalTopicConfig adds topic configs (e.g. "segment.bytes",
// "min.insync.replicas") to every internal topic Eddy creates, repartition
// topics and changelogs: Kafka Streams' "topic."-prefixed settings. They
// apply at creation only. A store's own changelog configs
// (topology.Materialized) win over them, and repartition topics keep
// retention.ms=-1 and cleanup.policy=delete whatever is given here, as
// changelogs keep cleanup.policy=compact. Default: none (the broker's
// defaults, besides Eddy's own settings).
func WithInternalTopicConfig(configs map[string]string) Option {
	return optFunc(func(c *cfg) {
		if c.internalConfig == nil {
			c.internalConfig = map[string]string{}
		}
		for k, v := range configs {
			c.internalConfig[k] = v
		}
	})
}
