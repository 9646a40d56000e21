package partition

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/eddystreams/eddy/state"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TaskState is the lifecycle of a task. Transitions are checked.
type TaskState int

const (
	StateCreated   TaskState = iota // stores not open
	StateRestoring                  // stores open, catching up from changelogs
	StateRunning                    // processing records
	StateClosed                     // stores closed
)

func (s TaskState) String() string {
	return [...]string{"created", "restoring", "running", "closed"}[s]
}

var validTransitions = map[TaskState][]TaskState{
	StateCreated:   {StateRestoring, StateClosed},
	StateRestoring: {StateRunning, StateClosed},
	StateRunning:   {StateClosed},
}

// Config is everything a task needs from its node.
type Config struct {
	ApplicationID string
	ID            topology.TaskID
	Subtopology   *topology.Subtopology
	// Inputs are the task's input partitions, with full topic names.
	Inputs []state.TopicPartition
	// Dir is the task's state directory: <state.dir>/<application.id>/<task>.
	Dir           string
	DefaultEngine topology.Engine
	RocksDB       state.RocksDBConfig
	Producer      Producer
	Partitions    PartitionCounter
	Changelogs    ChangelogReader
	// RecordCache is the node's record cache budget, for stores with
	// caching on (topology.WithCaching). Nil: no store caches.
	RecordCache *state.RecordCache
	// OnDeserializationError decides what happens to undecodable records.
	OnDeserializationError ErrorHandler
	// OnProcessingError decides what happens to a record whose processing
	// returns an error or panics (user code, stores).
	OnProcessingError ErrorHandler
	// OnProductionError decides what happens to a record Kafka refuses for
	// good (too large, invalid); see Task.productionFailed.
	OnProductionError ErrorHandler
	// GlobalStores are the global tables' stores (read-only views), which
	// Store returns too.
	GlobalStores map[string]topology.StateStore
	// ExactlyOnce selects exactly-once processing: Txn is then the task's
	// producer, and the checkpoint is only written on a clean close.
	ExactlyOnce bool
	// Txn is the task's transactional producer. Under exactly-once every
	// record and the offsets go through it; under at-least-once, when set,
	// only the offset commits do (TxnProducer.CommitOffsetsOnly), so that
	// the broker refuses commits from an owner a newer one fenced. Nil under
	// at-least-once: offsets go to the OffsetCommitter given to Commit.
	Txn Transactional
	// Owner identifies this run of the process in commit metadata, and
	// CommitInterval is how often it commits (see CommitMetadata.Owner).
	Owner          int64
	CommitInterval time.Duration
	// OwnershipLease, when above 0, is how long after the broker last
	// accepted this owner (a fence or a commit; see ErrLeaseExpired) the
	// task may go on processing: past it, Process stops and the task must
	// commit (ConfirmOwnership) before it goes on. Under at-least-once with
	// Txn this bounds how long an owner fenced by a newer one keeps
	// writing, also after a pause (a stopped process, a long GC), to what
	// the new owner waits for (CommitPoint.PredecessorGrace).
	OwnershipLease time.Duration
	// NodeLease, when set, is the node's lease in its cluster: Process
	// checks it before every record and stops with ErrNodeLeaseExpired
	// once it ran out, so that a process resumed after a pause writes
	// nothing more before it has confirmed the task is still its own.
	// Under at-least-once this is what lets a new owner wait only the
	// lease, not the old owner's commit interval (eddy's cluster).
	NodeLease interface{ Valid(time.Time) bool }
	Logger    *slog.Logger
	// Clock is the wall clock of wall-clock punctuation (see
	// PunctuateWallClock), of task idling and of the idle advance of stream
	// time. Default: time.Now.
	Clock func() time.Time
	// WaitForInputs makes a task that reads several partitions hold back
	// while one is empty and its lag is unknown or above 0, and MaxTaskIdle
	// more while it is caught up (Kafka Streams' max.task.idle.ms; see
	// idle.go). The caller then reports lags with UpdateFetchedLag. False
	// (Kafka Streams' -1): process whatever is buffered.
	WaitForInputs bool
	MaxTaskIdle   time.Duration
	// IdleStreamTimeAdvance, when above 0, moves stream time with the wall
	// clock once the task has had no record for that long (stream_time.go).
	IdleStreamTimeAdvance time.Duration
	// OnDroppedRecord, when set, is called with each record a processor
	// drops on purpose (topology.RecordDropped; dropped.go), on the task's
	// goroutine.
	OnDroppedRecord func(DroppedRecord)
	// RestoreListener, when set, hears of the restoration of the task's
	// stores (restore_listener.go).
	RestoreListener RestoreListener
}

// Task runs one sub-topology on one partition number (Kafka Streams'
// StreamTask): its lifecycle, its record queues and the order records are
// processed in, stream time, punctuation and commits. Its stores and their
// durability are its StateManager's; what its processors see of it is its
// ProcessorContext.
type Task struct {
	cfg       Config
	state     TaskState
	graph     *topology.TaskGraph
	stateMgr  *StateManager
	pctx      *ProcessorContext
	queues    *partitionGroup
	collector *RecordCollector
	cancel    context.CancelFunc

	streamTime  int64
	consumed    map[state.TopicPartition]int64 // next offset to commit
	raw         topology.RawRecord             // the input record being processed (processOne)
	dirty       bool                           // processed since the last commit
	releasing   bool                           // the commit in progress is the owner's last (Release)
	forceCommit bool                           // commit the offsets even without progress (ConfirmOwnership)
	confirmedAt int64                          // wall ms when the broker's last accepted fence or commit began
	fenced      bool
	inflight    *offsetCommit // an at-least-once offset commit sent by CommitBackground, not yet finished
	processed   atomic.Int64
	skipped     atomic.Int64
	// commit timings (see TaskMetrics)
	commits, commitNanos, commitMaxNanos atomic.Int64
	// latencies and counts by kind (see TaskMetrics); sampled counts the
	// records towards the next timed one.
	processLatency, commitLatency, punctuateLatency Latency
	skips, punctuations                             dropCounters
	sampled                                         int
	log                                             *slog.Logger
	punct                                           punctuations   // punctuation.go; the processor context schedules into it
	idling                                          atomic.Bool    // idle.go: waiting for an empty input
	idleST                                          idleStreamTime // stream_time.go

	// warnedMetadata is set once the task warned that its changelog
	// positions do not fit its commit metadata (commit_point.go).
	warnedMetadata bool
}

// NewTask makes a task; Initialize opens and restores its stores.
func NewTask(cfg Config) (*Task, error) {
	for _, h := range []ErrorHandler{cfg.OnDeserializationError, cfg.OnProcessingError, cfg.OnProductionError} {
		if err := h.Validate(); err != nil {
			return nil, err
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	t := &Task{
		cfg:        cfg,
		queues:     newPartitionGroup(cfg.Inputs, extractors(cfg)),
		consumed:   map[state.TopicPartition]int64{},
		cancel:     cancel,
		streamTime: -1,
		log:        cfg.Logger.With("task", cfg.ID.String()),
	}
	t.queues.idle = idlePolicy{wait: cfg.WaitForInputs, maxIdle: cfg.MaxTaskIdle.Milliseconds()}
	t.collector = NewRecordCollector(ctx, cfg.Producer, cfg.Partitions)
	t.collector.onFailure = t.productionFailed
	t.pctx = &ProcessorContext{
		id:        cfg.ID,
		appID:     cfg.ApplicationID,
		task:      t,
		globals:   cfg.GlobalStores,
		collector: t.collector,
		punct:     &t.punct,
		clock:     cfg.Clock,
		onDropped: cfg.OnDroppedRecord,
	}
	t.stateMgr = NewStateManager(StateConfig{
		ApplicationID:   cfg.ApplicationID,
		Partition:       cfg.ID.Partition,
		Stores:          cfg.Subtopology.Stores,
		Dir:             cfg.Dir,
		DefaultEngine:   cfg.DefaultEngine,
		RocksDB:         cfg.RocksDB,
		Changelogs:      cfg.Changelogs,
		Changelog:       t.collector,
		Record:          t.pctx,
		RecordCache:     cfg.RecordCache,
		ExactlyOnce:     cfg.ExactlyOnce,
		Logger:          t.log,
		Subtopology:     cfg.ID.Subtopology,
		RestoreListener: cfg.RestoreListener,
	})
	t.pctx.stores = t.stateMgr
	return t, nil
}

// ID is the task's id.
func (t *Task) ID() topology.TaskID { return t.cfg.ID }

// State is the task's lifecycle state.
func (t *Task) State() TaskState { return t.state }

// Inputs are the task's input partitions.
func (t *Task) Inputs() []state.TopicPartition { return t.cfg.Inputs }

func (t *Task) transition(to TaskState) error {
	for _, ok := range validTransitions[t.state] {
		if ok == to {
			t.state = to
			return nil
		}
	}
	return fmt.Errorf("task %s: invalid transition %s -> %s", t.cfg.ID, t.state, to)
}

// Initialize fences the task (Fence), opens its stores and restores them
// (StateManager.Restore says to what), then instantiates the processors;
// the task is running afterwards.
//
// The checkpoint file is removed before anything is written: while the
// task runs its local stores are ahead of the last commit, and without a
// checkpoint a crash makes the next start restore.
func (t *Task) Initialize(ctx context.Context, cp CommitPoint) error {
	if err := t.transition(StateRestoring); err != nil {
		return err
	}
	if err := t.Fence(ctx); err != nil {
		return err
	}
	ckp, err := t.stateMgr.ReadCheckpoint()
	if err != nil {
		return fmt.Errorf("task %s: %w", t.cfg.ID, err)
	}
	if err := t.stateMgr.RemoveCheckpoint(); err != nil {
		return fmt.Errorf("task %s: %w", t.cfg.ID, err)
	}
	// Stream time never goes back: the checkpoint has it after a clean
	// close, the commit after any stop.
	if ckp.StreamTime > t.streamTime {
		t.streamTime = ckp.StreamTime
	}
	if cp.Committed && cp.StreamTime > t.streamTime {
		t.streamTime = cp.StreamTime
	}
	for tp, o := range cp.Offsets {
		if _, ok := t.consumed[tp]; !ok {
			t.consumed[tp] = o // committed again with the stream time
		}
	}
	if err := t.stateMgr.Restore(ctx, cp, t.streamTime); err != nil {
		return fmt.Errorf("task %s: %w", t.cfg.ID, err)
	}
	g, err := t.cfg.Subtopology.Instantiate(t.pctx)
	if err != nil {
		return fmt.Errorf("task %s: %w", t.cfg.ID, err)
	}
	t.graph = g
	if err := g.Init(); err != nil { // processors' Init, after restore
		return fmt.Errorf("task %s: %w", t.cfg.ID, err)
	}
	t.idleST.reset(t.WallClockTime(), t.streamTime)
	return t.transition(StateRunning)
}

// AddRecords buffers fetched records of one input partition. It returns
// false if the partition is not an input of this task.
func (t *Task) AddRecords(tp state.TopicPartition, recs []*kgo.Record) bool {
	return t.queues.add(tp, recs)
}

// Buffered is the number of records waiting to be processed.
func (t *Task) Buffered() int { return t.queues.buffered }

// Process processes up to max buffered records, lowest extracted timestamp
// first, and returns how many it took from the buffers. It stops early
// while the task waits for an empty input partition (idle.go; see
// WaitingForInput).
func (t *Task) Process(max int) (n int, err error) {
	if t.state != StateRunning {
		return 0, fmt.Errorf("task %s: process in state %s", t.cfg.ID, t.state)
	}
	now := t.WallClockTime()
	leaseStart := time.Now() // checkLeases
	waiting := false
	defer func() { t.idling.Store(waiting) }()
	// The chunk's store writes go to RocksDB as one batch per store at
	// its end (StateManager.BeginChunk).
	t.stateMgr.BeginChunk()
	defer func() {
		if cerr := t.stateMgr.EndChunk(); cerr != nil && err == nil {
			err = fmt.Errorf("task %s: %w", t.cfg.ID, cerr)
		}
	}()
	// The next offset to commit of the partition taken from last, written
	// to consumed when the partition changes and when Process returns,
	// rather than hashed into the map per record.
	var lastQ *recordQueue
	var lastNext int64
	defer func() {
		if lastQ != nil {
			t.consumed[lastQ.tp] = lastNext
		}
	}()
	for n < max {
		if err := t.checkLeases(leaseStart); err != nil {
			return n, err
		}
		if !t.queues.ready(now) {
			waiting = t.queues.buffered > 0
			break
		}
		q, r, ts, xerr := t.queues.next()
		if r == nil {
			break
		}
		n++
		if q != lastQ && lastQ != nil {
			t.consumed[lastQ.tp] = lastNext
		}
		lastQ, lastNext = q, r.Offset+1
		t.dirty = true
		if r.Attrs.IsControl() {
			continue
		}
		if xerr != nil {
			if err := t.invalidTimestamp(q.tp, r, xerr); err != nil {
				return n, err
			}
			continue
		}
		if t.sampled++; t.sampled == ProcessLatencySample {
			t.sampled = 0
			began := time.Now()
			err := t.processOne(q.tp, r, ts)
			t.processLatency.Observe(time.Since(began))
			if err != nil {
				return n, err
			}
		} else if err := t.processOne(q.tp, r, ts); err != nil {
			return n, err
		}
		t.idleST.reset(now, t.streamTime)
		if err := t.punctuateStreamTime(); err != nil {
			return n, err
		}
	}
	return n, nil
}

// ProcessLatencySample is how often a record's time through the processors
// is measured: one record in that many, so that the clock is read twice per
// ProcessLatencySample records rather than per record.
const ProcessLatencySample = 16

// processOne runs r through the processors with timestamp ts, the one its
// source's extractor gave.
func (t *Task) processOne(tp state.TopicPartition, r *kgo.Record, ts int64) error {
	// One RawRecord per task, reused for each record rather than one on
	// the heap per record: nothing keeps it past the record (the graph's
	// sources decode it, the handlers copy what they need), and it is
	// cleared after so that it does not hold the input's bytes.
	t.raw = rawRecord(tp, r, ts)
	raw := &t.raw
	defer func() { *raw = topology.RawRecord{} }()
	if raw.Timestamp > t.streamTime {
		t.streamTime = raw.Timestamp
	}
	t.pctx.setInput(raw)
	err := t.processGuarded(raw)
	t.pctx.endInput()
	if err != nil {
		if err = t.processingFailed(raw, err); err != nil {
			return fmt.Errorf("task %s: record %s-%d@%d: %w", t.cfg.ID, raw.Topic, raw.Partition, raw.Offset, err)
		}
		return nil
	}
	t.processed.Add(1)
	return nil
}

// invalidTimestamp hands a record whose timestamp could not be extracted
// (an extractor error, or a negative time) to the deserialization error
// handler, as Kafka Streams does; the record is not processed, and its
// offset counts as consumed.
func (t *Task) invalidTimestamp(tp state.TopicPartition, r *kgo.Record, cause error) error {
	raw := rawRecord(tp, r, r.Timestamp.UnixMilli())
	t.pctx.SetRecord(metaOf(&raw))
	if err := t.deserializationFailed(&raw, cause); err != nil {
		return fmt.Errorf("task %s: record %s-%d@%d: %w", t.cfg.ID, raw.Topic, raw.Partition, raw.Offset, err)
	}
	return nil
}

// Processed and Skipped count records processed and records skipped by an
// error handler. Safe from any goroutine.
func (t *Task) Processed() int64 { return t.processed.Load() }
func (t *Task) Skipped() int64   { return t.skipped.Load() }

// StreamTime is the largest timestamp processed (-1 before any).
func (t *Task) StreamTime() int64 { return t.streamTime }

// Close closes the processors (their Close), then the stores. A clean close
// (after a successful commit) writes a checkpoint first; an unclean one
// leaves the last checkpoint, so the next start restores from there.
func (t *Task) Close(clean bool) error {
	if t.state == StateClosed {
		return nil
	}
	var errs []error
	if t.graph != nil {
		errs = append(errs, t.graph.Close()) // processors' Close, before their stores close
	}
	if clean && t.stateMgr.CachesDirty() {
		// Only a commit flushes record caches: writes still cached were
		// never committed, so the stores must not be checkpointed.
		errs = append(errs, fmt.Errorf("task %s: clean close with record cache writes not committed; closing unclean", t.cfg.ID))
		clean = false
	}
	if clean && t.state == StateRunning {
		errs = append(errs, t.writeCheckpoint())
	}
	if t.cfg.Txn != nil {
		// An offset commit still on its way uses the transactional
		// producer: it ends first (its outcome no longer matters: a clean
		// close came after Release, which waited for it). Both steps
		// share one bound, so a broker that does not answer holds Close 5 s
		// at most.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = t.awaitOffsets(ctx)
		if !clean {
			_ = t.cfg.Txn.Abort(ctx) // best effort: the next owner's Init aborts it anyway
		}
		cancel()
		t.cfg.Txn.Close()
	}
	t.cancel()
	errs = append(errs, t.stateMgr.Close())
	t.state = StateClosed
	return errors.Join(errs...)
}

// FlushSent waits, until ctx ends, for the records the task sent to be
// acknowledged, without committing anything: before a task that failed is
// closed, its outputs still reach Kafka under at-least-once (a restart may
// send them again, as at-least-once allows). Under exactly-once it does
// nothing: the open transaction is aborted anyway.
func (t *Task) FlushSent(ctx context.Context) {
	if t.cfg.ExactlyOnce || t.state != StateRunning {
		return
	}
	_ = t.collector.Flush(ctx)
}

// Store is the task's store with that name, or a global table's, as its
// processors see it (ProcessorContext.Store); nil if there is none.
func (t *Task) Store(name string) topology.StateStore { return t.pctx.Store(name) }
