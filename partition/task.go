package partition

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
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
	Logger         *slog.Logger
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
}

// Task runs one sub-topology on one partition number.
type Task struct {
	cfg       Config
	state     TaskState
	graph     *topology.TaskGraph
	stores    map[string]topology.StateStore
	engines   map[string]topology.KeyValueStore // unlogged engines, for restore
	caches    []*state.CachingStore             // record caches, in store order (cache.go)
	changelog map[string]state.TopicPartition   // store -> its changelog partition
	logIdx    map[int]state.TopicPartition      // store index in the sub-topology -> its changelog partition
	sources   map[state.TopicPartition]int64    // source tables' partitions -> restored up to
	queues    *partitionGroup
	collector *RecordCollector
	cancel    context.CancelFunc

	streamTime  int64
	cur         topology.RecordMeta
	consumed    map[state.TopicPartition]int64 // next offset to commit
	dirty       bool                           // processed since the last commit
	releasing   bool                           // the commit in progress is the owner's last (Release)
	forceCommit bool                           // commit the offsets even without progress (ConfirmOwnership)
	confirmedAt int64                          // wall ms when the broker's last accepted fence or commit began
	checkpoint  map[state.TopicPartition]int64 // as read at start
	commitPoint CommitPoint
	fenced      bool
	cleanStop   bool // a checkpoint file was found at start
	processed   atomic.Int64
	skipped     atomic.Int64
	// commit timings (see TaskMetrics)
	commits, commitNanos, commitMaxNanos atomic.Int64
	log                                  *slog.Logger
	punct                                punctuations        // punctuation.go
	curRaw                               *topology.RawRecord // the input record being processed, for drops
	dropped                              dropCounters        // dropped.go
	idling                               atomic.Bool         // idle.go: waiting for an empty input
	idleST                               idleStreamTime      // stream_time.go

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
		stores:     map[string]topology.StateStore{},
		engines:    map[string]topology.KeyValueStore{},
		changelog:  map[string]state.TopicPartition{},
		logIdx:     changelogsByIndex(cfg.ApplicationID, cfg.Subtopology, cfg.ID.Partition),
		queues:     newPartitionGroup(cfg.Inputs, extractors(cfg)),
		consumed:   map[state.TopicPartition]int64{},
		cancel:     cancel,
		streamTime: -1,
		log:        cfg.Logger.With("task", cfg.ID.String()),
	}
	t.queues.idle = idlePolicy{wait: cfg.WaitForInputs, maxIdle: cfg.MaxTaskIdle.Milliseconds()}
	t.collector = NewRecordCollector(ctx, cfg.Producer, cfg.Partitions)
	t.collector.onFailure = t.productionFailed
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

func (t *Task) checkpointPath() string { return filepath.Join(t.cfg.Dir, ".checkpoint") }

// Fence makes this task the only owner of its transactional id under
// exactly-once (InitProducerID): a zombie owner is fenced and its open
// transaction aborted, or a commit it had begun is completed. Call it before
// reading the committed offsets and the changelogs, so that both are final.
// Under at-least-once it does the same when the task commits through a
// transactional id (Config.Txn): the fenced owner's next commit is refused.
// Without Txn it does nothing. It may be called more than once.
func (t *Task) Fence(ctx context.Context) error {
	if t.cfg.Txn == nil || t.fenced {
		return nil
	}
	began := t.WallClockTime()
	if err := t.cfg.Txn.Init(ctx); err != nil {
		return fmt.Errorf("task %s: %w", t.cfg.ID, err)
	}
	t.fenced = true
	t.confirmedAt = began
	return nil
}

// FirstOwner says whether the fence found the task's transactional id
// unused before (see TxnProducer.First). False without a transactional id.
func (t *Task) FirstOwner() bool { return t.fenced && t.cfg.Txn.First() }

// AbortPendingOffsets ends, under exactly-once, offset commits that fenced
// owners of the task left pending in the application's group (see
// TxnProducer.AbortPendingOffsets). Call it after Fence when the committed
// offsets of the task's inputs stay unstable. Without a transactional id it
// does nothing.
func (t *Task) AbortPendingOffsets(ctx context.Context) error {
	if t.cfg.Txn == nil || !t.fenced {
		return nil
	}
	if err := t.cfg.Txn.AbortPendingOffsets(ctx); err != nil {
		return fmt.Errorf("task %s: %w", t.cfg.ID, err)
	}
	return nil
}

// CommitPoint is what the application last committed for a task's inputs.
type CommitPoint struct {
	// Committed is set when any input offset of the task was committed.
	Committed bool
	// Positions are the changelog positions stored with the commit
	// (at-least-once; see Task.Commit). Nil when there were none.
	Positions map[state.TopicPartition]int64
	// StorePositions are positions by the store's index in the
	// sub-topology, valid if Fingerprint is that of the task's changelogs
	// (see CommitMetadata); Initialize adds them to Positions.
	StorePositions map[int]int64
	Fingerprint    uint32
	// Offsets are the committed input offsets (the next to read) of the
	// task's inputs that have one. A source table restores its store from
	// its input partition up to this offset.
	Offsets map[state.TopicPartition]int64
	// StreamTime is the task's stream time stored with the commit
	// (state.UnknownStreamTime when none), so that it survives a crash.
	StreamTime int64
	// Owner, CommittedAt, Interval and Released describe the owner that
	// made the latest commit (see CommitMetadata).
	Owner       int64
	CommittedAt int64
	Interval    time.Duration
	Released    bool
}

// PredecessorGrace is how long, from the moment it fenced, a new owner of a
// task under at-least-once waits before it reads the changelog tail and
// processes, given the commit point it read: an earlier owner that did not
// release the task may still be processing and writing changelog and output
// records (at-least-once writes are not transactional) until its next commit
// attempt, which the broker refuses since the fence. That attempt comes
// within one commit interval of the fence, plus the time the commit's flush
// takes (margin). No wait is needed for a task nobody owned before, when the
// last owner released the task, or when it was this process run (owner),
// which closes a task before starting it again.
//
// first says the task's transactional id was new when it fenced: nobody
// owned the task before. Without it, an owner that never committed may
// still be at work, so the wait applies with this node's own interval.
func (cp CommitPoint) PredecessorGrace(owner int64, first bool, ownInterval, margin time.Duration) time.Duration {
	if first || cp.Released || (cp.Owner != 0 && cp.Owner == owner) {
		return 0
	}
	interval := cp.Interval
	if interval <= 0 {
		interval = ownInterval // a commit made before owners were recorded
	}
	return interval + margin
}

// Initialize opens the task's stores and restores them, then instantiates
// the processors; the task is running afterwards.
//
// After a clean stop (a checkpoint file is there) the local stores are used
// and restored from their checkpointed offsets to the changelogs' ends.
// After an unclean stop the local stores cannot be trusted (they may be
// ahead of what was committed), so they are wiped and restored from their
// changelogs: under exactly-once to the end of the committed data; under
// at-least-once up to the positions of the last commit, after which every key
// written since then is written again with its value at that commit, so that
// the state matches the committed input offsets and reprocessing from them
// sends every update again rather than skipping some (Kafka Streams restores
// to the end instead, so its at-least-once may count a record twice and never
// send some intermediate results).
func (t *Task) Initialize(ctx context.Context, cp CommitPoint) error {
	if err := t.transition(StateRestoring); err != nil {
		return err
	}
	if err := os.MkdirAll(t.cfg.Dir, 0o755); err != nil {
		return fmt.Errorf("task %s: state dir: %w", t.cfg.ID, err)
	}
	if err := t.Fence(ctx); err != nil {
		return err
	}
	_, statErr := os.Stat(t.checkpointPath())
	t.cleanStop = statErr == nil
	ckp, err := state.ReadCheckpointFile(t.checkpointPath())
	if err != nil {
		return fmt.Errorf("task %s: %w", t.cfg.ID, err)
	}
	// While the task runs its local stores are ahead of the last commit.
	// Without a checkpoint, a crash makes the next start restore.
	if err := state.RemoveCheckpoint(t.checkpointPath()); err != nil {
		return fmt.Errorf("task %s: %w", t.cfg.ID, err)
	}
	t.resolvePositions(&cp)
	t.commitPoint = cp
	t.checkpoint = ckp.Offsets
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
	for _, spec := range t.cfg.Subtopology.Stores {
		if err := t.openStore(ctx, spec); err != nil {
			return fmt.Errorf("task %s: store %s: %w", t.cfg.ID, spec.Name, err)
		}
	}
	g, err := t.cfg.Subtopology.Instantiate(t)
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

func (t *Task) openStore(ctx context.Context, spec topology.StoreSpec) error {
	engine := spec.Engine
	if engine == topology.EngineDefault {
		engine = t.cfg.DefaultEngine
	}
	tp := state.TopicPartition{Topic: topology.ChangelogTopicName(t.cfg.ApplicationID, spec.Name), Partition: t.cfg.ID.Partition}
	restorable := spec.Logging
	if spec.SourceTopic != "" {
		tp.Topic, restorable = spec.SourceTopic, true // a source table's changelog is its source topic
	}
	from, haveCkp := t.checkpoint[tp]
	haveCkp = haveCkp && t.cleanStop
	// Without a checkpoint a logged store's local files may hold anything
	// (an unclean stop): start over from the changelog. An unlogged store
	// keeps its files, except after an unclean stop under exactly-once,
	// where they may hold uncommitted writes.
	wipe := restorable && !haveCkp || !restorable && t.cfg.ExactlyOnce && !t.cleanStop
	kv, err := t.openEngine(spec, engine, wipe)
	if err != nil {
		return err
	}
	if engine == topology.EngineMemory || wipe {
		from = 0 // memory starts empty whatever the checkpoint says
	}
	t.engines[spec.Name] = kv
	if spec.SourceTopic != "" {
		t.stores[spec.Name] = kv // written by processing its source topic: nothing to log
		return t.restoreSourceTable(ctx, spec, kv, tp, from)
	}
	if !spec.Logging {
		t.stores[spec.Name] = t.withCache(spec, kv)
		return nil
	}
	until := int64(-1) // the end
	if !haveCkp && !t.cfg.ExactlyOnce {
		switch pos, ok := t.commitPoint.Positions[tp]; {
		case ok:
			until = pos
		case !t.commitPoint.Committed:
			until = 0 // nothing was committed: any changelog record is ahead
		}
	}
	next, err := t.restoreStore(ctx, kv, tp, from, until)
	var behind *ChangelogBehindError
	if errors.As(err, &behind) {
		// The checkpoint is past the changelog's end: the topic was
		// deleted and made again, or truncated. The local state matches a
		// changelog that is gone; only the one there now counts.
		t.log.Warn("checkpoint beyond the changelog's end: the local store no longer matches its changelog; wiping it and restoring from scratch",
			"store", spec.Name, "changelog", tp.String(), "checkpoint", behind.From, "changelog_end", behind.End)
		if cerr := kv.Close(); cerr != nil {
			return cerr
		}
		if kv, err = t.openEngine(spec, engine, true); err != nil {
			return err
		}
		t.engines[spec.Name] = kv
		from = 0
		next, err = t.restoreStore(ctx, kv, tp, from, until)
	}
	t.changelog[spec.Name] = tp
	t.stores[spec.Name] = t.withCache(spec, state.NewLoggedStore(kv, changeLogger{t: t, tp: tp}))
	if err != nil {
		return &RecoverableError{Err: fmt.Errorf("restore from %s-%d: %w", tp.Topic, tp.Partition, err)}
	}
	if next > from {
		t.log.Debug("restored", "store", spec.Name, "from", from, "to", next)
	}
	t.collector.Track(tp, next)
	if until >= 0 {
		return t.rollBack(ctx, kv, tp, until)
	}
	return nil
}

// openEngine opens a store's engine, wiped first when wipe is set, with a
// SegmentedStore over it for time-keyed stores.
func (t *Task) openEngine(spec topology.StoreSpec, engine topology.Engine, wipe bool) (topology.KeyValueStore, error) {
	var kv topology.KeyValueStore
	switch engine {
	case topology.EngineMemory:
		kv = state.NewMemoryStore(spec.Name)
	default:
		dir := filepath.Join(t.cfg.Dir, "rocksdb", spec.Name)
		if wipe {
			if err := state.WipeDir(dir); err != nil {
				return nil, err
			}
		}
		db, err := state.OpenRocksDB(dir, spec.Name, t.cfg.RocksDB)
		if err != nil {
			return nil, err
		}
		kv = db
	}
	if spec.Kind != topology.KindKeyValue {
		// Time-keyed: segments under the changelog layer, so that the
		// changelog and restoration carry logical keys (Kafka Streams'
		// changelog format) and restored expired keys are dropped.
		seg, err := segmented(kv, spec)
		if err != nil {
			kv.Close()
			return nil, err
		}
		kv = seg
	}
	return kv, nil
}

// restoreStore restores a logged store's engine from its changelog, from
// offset from up to until (-1: the end).
func (t *Task) restoreStore(ctx context.Context, kv topology.KeyValueStore, tp state.TopicPartition, from, until int64) (int64, error) {
	if seg, ok := kv.(*state.SegmentedStore); ok && until >= 0 && t.streamTime >= 0 {
		// Changelog records before the commit position may come from
		// processing rolled back after an earlier crash; their times must
		// not expire what the commit needs.
		seg.CapObservedStreamTime(t.streamTime)
		defer seg.UncapObservedStreamTime()
	}
	rs := newRestorer(kv) // write batches, bulk-load settings for long restores
	next, err := t.cfg.Changelogs.Restore(ctx, tp, from, until, rs.apply)
	if ferr := rs.finish(); err == nil {
		err = ferr
	}
	return next, err
}

// segmented puts a SegmentedStore over the engine of a time-keyed store,
// with the spec's retention and segment interval.
func segmented(engine topology.KeyValueStore, spec topology.StoreSpec) (*state.SegmentedStore, error) {
	e, ok := engine.(state.SegmentEngine)
	if !ok {
		return nil, fmt.Errorf("a %s store needs an engine with range deletes; %T has none", spec.Kind, engine)
	}
	return state.NewSegmentedStore(e, state.SegmentedConfig{
		Kind:            spec.Kind,
		Retention:       spec.Retention,
		SegmentInterval: spec.SegmentInterval,
	})
}

// rollBack writes again, with its restored value, every key that the
// changelog holds after position until: those writes came from processing
// that was never committed and will be redone.
func (t *Task) rollBack(ctx context.Context, kv topology.KeyValueStore, tp state.TopicPartition, until int64) error {
	seen := map[string]bool{}
	var keys [][]byte
	next, err := t.cfg.Changelogs.Restore(ctx, tp, until, -1, func(recs []*kgo.Record) error {
		for _, r := range recs {
			if !seen[string(r.Key)] {
				seen[string(r.Key)] = true
				keys = append(keys, r.Key)
			}
		}
		return nil
	})
	var behind *ChangelogBehindError
	if errors.As(err, &behind) {
		// The commit's position is past the changelog's end: the topic
		// was made again since, and holds nothing to roll back.
		t.log.Warn("commit position beyond the changelog's end (was it deleted and made again?); nothing to roll back",
			"changelog", tp.String(), "position", until, "changelog_end", behind.End)
		t.collector.Track(tp, behind.End)
		return nil
	}
	if err != nil {
		return &RecoverableError{Err: fmt.Errorf("read uncommitted tail of %s-%d: %w", tp.Topic, tp.Partition, err)}
	}
	for _, k := range keys {
		v, err := kv.Get(k)
		if err != nil {
			return err
		}
		if err := t.collector.SendTo(tp.Topic, tp.Partition, k, v, t.streamTime, nil, true); err != nil {
			return err
		}
	}
	if len(keys) > 0 {
		t.log.Info("rolled back uncommitted changelog records", "changelog", tp.String(), "from", until, "to", next, "keys", len(keys))
	}
	t.collector.Track(tp, next)
	return nil
}

// changeLogger sends a store's writes to its changelog partition.
type changeLogger struct {
	t  *Task
	tp state.TopicPartition
}

func (c changeLogger) LogChange(key, value []byte) {
	t := c.t
	// The store owns key and value after the call returns; the record
	// stays buffered until acknowledged, so it gets copies.
	k := append([]byte(nil), key...)
	var v []byte
	if value != nil {
		v = append(make([]byte, 0, len(value)), value...) // empty stays empty, not nil (a tombstone)
	}
	// A failed send is sticky in the collector and fails the next commit.
	_ = t.collector.SendTo(c.tp.Topic, c.tp.Partition, k, v, t.cur.Timestamp, nil, true)
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
func (t *Task) Process(max int) (int, error) {
	if t.state != StateRunning {
		return 0, fmt.Errorf("task %s: process in state %s", t.cfg.ID, t.state)
	}
	now := t.WallClockTime()
	n, waiting := 0, false
	defer func() { t.idling.Store(waiting) }()
	for n < max {
		if t.leaseExpired(t.WallClockTime()) {
			return n, ErrLeaseExpired
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
		t.consumed[q.tp] = r.Offset + 1
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
		if err := t.processOne(q.tp, r, ts); err != nil {
			return n, err
		}
		t.idleST.reset(now, t.streamTime)
		if err := t.punctuateStreamTime(); err != nil {
			return n, err
		}
	}
	return n, nil
}

// processOne runs r through the processors with timestamp ts, the one its
// source's extractor gave.
func (t *Task) processOne(tp state.TopicPartition, r *kgo.Record, ts int64) error {
	raw := rawRecord(tp, r, ts)
	if raw.Timestamp > t.streamTime {
		t.streamTime = raw.Timestamp
	}
	t.cur = topology.RecordMeta{Topic: raw.Topic, Partition: raw.Partition, Offset: raw.Offset, Timestamp: raw.Timestamp, Headers: raw.Headers}
	t.curRaw = &raw
	err := t.processGuarded(&raw)
	t.curRaw = nil
	if err != nil {
		if err = t.processingFailed(&raw, err); err != nil {
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
	t.cur = topology.RecordMeta{Topic: raw.Topic, Partition: raw.Partition, Offset: raw.Offset, Timestamp: raw.Timestamp, Headers: raw.Headers}
	if err := t.DeserializationFailed(&raw, cause); err != nil {
		return fmt.Errorf("task %s: record %s-%d@%d: %w", t.cfg.ID, raw.Topic, raw.Partition, raw.Offset, err)
	}
	return nil
}

// Processed and Skipped count records processed and records skipped by an
// error handler. Safe from any goroutine.
func (t *Task) Processed() int64 { return t.processed.Load() }
func (t *Task) Skipped() int64   { return t.skipped.Load() }

// OffsetCommitter commits input offsets for the application's consumer
// group (at-least-once).
type OffsetCommitter interface {
	// CommitOffsets commits offsets, each with the metadata of its
	// partition stored beside it (at most MaxCommitMetadataBytes).
	CommitOffsets(ctx context.Context, offsets map[state.TopicPartition]int64, metadata map[state.TopicPartition]string) error
}

// Commit makes the task's progress durable. At-least-once: wait until every
// record sent is acknowledged, then commit the input offsets with the
// changelog positions reached (as commit metadata, read back by Initialize
// after a crash). Exactly-once: the same records and the input offsets are
// committed in the task's transaction. The checkpoint file is written on a
// clean close only.
func (t *Task) Commit(ctx context.Context, oc OffsetCommitter) error {
	if t.dirty {
		defer func(start time.Time) { t.timeCommit(time.Since(start)) }(time.Now())
	}
	// Record caches first: what they flush goes downstream and to the
	// changelogs, and must be in this commit.
	if err := t.flushCaches(); err != nil {
		return fmt.Errorf("task %s: %w", t.cfg.ID, err)
	}
	if err := t.collector.Flush(ctx); err != nil {
		return fmt.Errorf("task %s: %w", t.cfg.ID, err)
	}
	var offs map[state.TopicPartition]int64
	if t.dirty || t.releasing || t.forceCommit {
		offs = make(map[state.TopicPartition]int64, len(t.consumed))
		for tp, o := range t.consumed {
			offs[tp] = o
		}
		if (t.releasing || t.forceCommit) && len(offs) == 0 {
			// Nothing consumed, nothing committed: the release or the
			// ownership check goes to the broker all the same, as
			// offset -1 (none; readers start from the beginning) with
			// the metadata beside it.
			for _, tp := range t.cfg.Inputs {
				offs[tp] = -1
			}
		}
	}
	if t.cfg.ExactlyOnce {
		// The stream time rides along as offset metadata; changelog
		// positions are not needed (restores go to the committed end).
		meta := EncodeCommitMetadata(t.withOwner(CommitMetadata{StreamTime: t.streamTime}))
		if err := t.cfg.Txn.Commit(ctx, offs, meta); err != nil {
			return fmt.Errorf("task %s: %w", t.cfg.ID, err)
		}
		t.dirty = false
		return nil
	}
	if len(offs) > 0 {
		inputs := make([]state.TopicPartition, 0, len(offs))
		for tp := range offs {
			inputs = append(inputs, tp)
		}
		slices.SortFunc(inputs, func(a, b state.TopicPartition) int {
			return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
		})
		metas := t.commitMetadata(inputs)
		if t.cfg.Txn != nil {
			began := t.WallClockTime()
			if err := t.cfg.Txn.CommitOffsetsOnly(ctx, offs, metas); err != nil {
				return fmt.Errorf("task %s: commit offsets: %w", t.cfg.ID, err)
			}
			t.confirmedAt = began
		} else if err := oc.CommitOffsets(ctx, offs, metas); err != nil {
			err = fmt.Errorf("task %s: commit offsets: %w", t.cfg.ID, err)
			if errors.Is(err, ErrFenced) {
				return err // another instance owns the task: no retry
			}
			return &RecoverableError{Err: err, CommitOnly: true}
		}
	}
	t.dirty = false
	return nil
}

// withOwner adds who commits, when and how often to commit metadata
// (CommitMetadata.Owner).
func (t *Task) withOwner(md CommitMetadata) CommitMetadata {
	md.Owner = t.cfg.Owner
	md.CommittedAt = t.WallClockTime()
	md.Interval = t.cfg.CommitInterval
	md.Released = t.releasing
	return md
}

// ErrLeaseExpired stops Process when the task's ownership lease ran out
// (Config.OwnershipLease): it must ConfirmOwnership before it goes on.
var ErrLeaseExpired = errors.New("ownership lease expired: commit before processing more")

// leaseExpired says whether the ownership lease ran out at wall time now.
func (t *Task) leaseExpired(now int64) bool {
	return t.cfg.OwnershipLease > 0 && now-t.confirmedAt > t.cfg.OwnershipLease.Milliseconds()
}

// ConfirmOwnership commits, even without progress, so that the broker
// either accepts this owner again (renewing the lease) or refuses it as
// fenced (ErrFenced).
func (t *Task) ConfirmOwnership(ctx context.Context, oc OffsetCommitter) error {
	if t.cfg.Txn == nil {
		// Nothing to ask the broker with: only a fence and a commit
		// through a transactional id say who owns the task.
		t.confirmedAt = t.WallClockTime()
		return nil
	}
	t.forceCommit = true
	defer func() { t.forceCommit = false }()
	return t.Commit(ctx, oc)
}

// Release makes the last commit of this owner before a clean close: it
// commits even without new progress, marked released, so that the next
// owner need not wait for this one to stop writing (see
// CommitPoint.PredecessorGrace). Call Close(true) after it.
func (t *Task) Release(ctx context.Context, oc OffsetCommitter) error {
	t.releasing = true
	defer func() { t.releasing = false }()
	return t.Commit(ctx, oc)
}

func (t *Task) writeCheckpoint() error {
	for name, s := range t.stores {
		if err := s.Flush(); err != nil {
			return fmt.Errorf("task %s: flush store %s: %w", t.cfg.ID, name, err)
		}
	}
	ckp := &state.Checkpoint{Offsets: map[state.TopicPartition]int64{}, StreamTime: t.streamTime}
	tracked := t.collector.Tracked()
	for _, tp := range t.changelog {
		if o, ok := tracked[tp]; ok {
			ckp.Offsets[tp] = o
		}
	}
	t.checkpointSourceTables(ckp.Offsets)
	if err := ckp.Write(t.checkpointPath()); err != nil {
		return fmt.Errorf("task %s: %w", t.cfg.ID, err)
	}
	return nil
}

// CommitFailed marks the task as having uncommitted progress again after
// the offsets from PrepareCommit could not be committed.
func (t *Task) CommitFailed() { t.dirty = true }

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
	if clean && t.cachesDirty() {
		// Only a commit flushes record caches: writes still cached were
		// never committed, so the stores must not be checkpointed.
		errs = append(errs, fmt.Errorf("task %s: clean close with record cache writes not committed; closing unclean", t.cfg.ID))
		clean = false
	}
	if clean && t.state == StateRunning {
		errs = append(errs, t.writeCheckpoint())
	}
	if t.cfg.Txn != nil {
		if !clean {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = t.cfg.Txn.Abort(ctx) // best effort: the next owner's Init aborts it anyway
			cancel()
		}
		t.cfg.Txn.Close()
	}
	t.cancel()
	for name, s := range t.stores {
		if err := s.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close store %s: %w", name, err))
		}
	}
	t.state = StateClosed
	return errors.Join(errs...)
}

// --- topology.TaskContext ---

// TaskID implements topology.TaskContext.
func (t *Task) TaskID() topology.TaskID { return t.cfg.ID }

// ApplicationID implements topology.TaskContext.
func (t *Task) ApplicationID() string { return t.cfg.ApplicationID }

// Store implements topology.TaskContext.
func (t *Task) Store(name string) topology.StateStore {
	if s, ok := t.stores[name]; ok {
		return s
	}
	if s, ok := t.cfg.GlobalStores[name]; ok {
		return s // read only, shared by every task
	}
	return nil
}

// Send implements topology.TaskContext.
func (t *Task) Send(topic string, key, value []byte, ts int64, headers []topology.Header) error {
	return t.collector.Send(topic, key, value, ts, headers)
}

// Record implements topology.TaskContext.
func (t *Task) Record() topology.RecordMeta { return t.cur }
