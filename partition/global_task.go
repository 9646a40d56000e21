package partition

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/eddystreams/eddy/state"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

// GlobalConfig is what a GlobalTask needs from its node.
type GlobalConfig struct {
	ApplicationID string
	// Subtopology is the topology's global sub-topology
	// (topology.Topology.GlobalSubtopology).
	Subtopology *topology.Subtopology
	// Dir is the global state directory: <state.dir>/<application.id>/global.
	Dir           string
	DefaultEngine topology.Engine
	RocksDB       state.RocksDBConfig
	// Partitions tells the partition count of each source topic.
	Partitions PartitionCounter
	// Changelogs restores the stores from their source topics.
	Changelogs ChangelogReader
	// OnDeserializationError decides what happens to undecodable records.
	// A dead-letter handler logs and skips them: the global task has no
	// producer.
	OnDeserializationError ErrorHandler
	Logger                 *slog.Logger
}

// GlobalTask keeps the stores of the global tables (Kafka Streams'
// GlobalStateManager and GlobalStateUpdateTask): every partition of their
// source topics, restored from a checkpoint to the end by Initialize, then
// kept up to date by Apply with records its owner fetches. Its StateManager
// opens, restores, flushes and closes the stores and writes the checkpoint;
// which partitions to restore, and to where, is the global task's. Tasks read the
// stores through Stores, concurrently with Apply (the engines are safe for
// concurrent use).
//
// Restoring a global store is idempotent (every record sets its key's
// latest value), so the checkpoint file stays in place while the task runs
// and is rewritten by Checkpoint; a crash replays from the last one. Without
// a checkpoint the local files are wiped first, since a delete whose
// tombstone was compacted away would not be replayed.
type GlobalTask struct {
	cfg GlobalConfig
	log *slog.Logger

	mu         sync.Mutex // Initialize, Apply, Checkpoint and Close exclude each other
	state      TaskState
	graph      *topology.TaskGraph
	stateMgr   *StateManager // its stores are the engines: global processors write them directly
	views      map[string]topology.StateStore
	positions  map[state.TopicPartition]int64 // next offset per source partition
	cur        topology.RecordMeta
	streamTime int64
	applied    int64 // records applied since the last checkpoint
	skipped    int64
}

// NewGlobalTask makes a global task; Initialize opens and restores its
// stores.
func NewGlobalTask(cfg GlobalConfig) (*GlobalTask, error) {
	if cfg.Subtopology == nil {
		return nil, errors.New("global task: no global sub-topology")
	}
	if err := cfg.OnDeserializationError.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	log := cfg.Logger.With("task", "global")
	return &GlobalTask{
		cfg: cfg,
		log: log,
		stateMgr: NewStateManager(StateConfig{
			ApplicationID: cfg.ApplicationID,
			Partition:     -1, // the global stores have no changelogs of their own
			Stores:        cfg.Subtopology.Stores,
			Dir:           cfg.Dir,
			DefaultEngine: cfg.DefaultEngine,
			RocksDB:       cfg.RocksDB,
			Changelogs:    cfg.Changelogs,
			Logger:        log,
		}),
		views:      map[string]topology.StateStore{},
		positions:  map[state.TopicPartition]int64{},
		streamTime: -1,
	}, nil
}

// Initialize opens the global stores and restores each from its source
// topic, every partition, from the checkpoint to the end (the last stable
// offset), then readies the processors for Apply.
func (g *GlobalTask) Initialize(ctx context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.state != StateCreated {
		return fmt.Errorf("global task: initialize in state %s", g.state)
	}
	g.state = StateRestoring
	// The checkpoint file stays: restoring a global store is idempotent.
	ckp, err := g.stateMgr.ReadCheckpoint()
	if errors.Is(err, state.ErrCorruptCheckpoint) {
		g.log.Warn("ignoring corrupt global checkpoint; restoring from the start", "error", err)
		ckp, err = &state.Checkpoint{Offsets: map[state.TopicPartition]int64{}}, nil
	}
	if err != nil {
		return fmt.Errorf("global task: %w", err)
	}
	for _, spec := range g.cfg.Subtopology.Stores {
		if err := g.openStore(ctx, spec, ckp.Offsets); err != nil {
			return fmt.Errorf("global store %s: %w", spec.Name, err)
		}
	}
	graph, err := g.cfg.Subtopology.Instantiate(g)
	if err != nil {
		return fmt.Errorf("global task: %w", err)
	}
	if err := graph.Init(); err != nil {
		return fmt.Errorf("global task: %w", err)
	}
	g.graph = graph
	g.state = StateRunning
	return nil
}

func (g *GlobalTask) openStore(ctx context.Context, spec topology.StoreSpec, ckp map[state.TopicPartition]int64) error {
	n, err := g.cfg.Partitions(spec.SourceTopic)
	if err != nil {
		return fmt.Errorf("partitions of %s: %w", spec.SourceTopic, err)
	}
	haveCkp := false
	for p := int32(0); p < n; p++ {
		if _, ok := ckp[state.TopicPartition{Topic: spec.SourceTopic, Partition: p}]; ok {
			haveCkp = true
		}
	}
	engine := g.stateMgr.engineOf(spec)
	if engine == topology.EngineMemory {
		haveCkp = false // memory starts empty whatever the checkpoint says
	}
	kv, err := g.stateMgr.openEngine(spec, engine, !haveCkp)
	if err != nil {
		return err
	}
	g.stateMgr.addStore(spec.Name, kv)
	g.views[spec.Name] = readOnlyStore{kv}
	for p := int32(0); p < n; p++ {
		tp := state.TopicPartition{Topic: spec.SourceTopic, Partition: p}
		from := int64(0)
		if haveCkp {
			from = ckp[tp]
		}
		next, skipped, err := g.stateMgr.restoreFromSource(ctx, spec, kv, tp, from, -1)
		if err != nil {
			return fmt.Errorf("restore from %s: %w", tp, err)
		}
		if next > from {
			g.log.Debug("restored", "store", spec.Name, "partition", p, "from", from, "to", next, "skipped", skipped)
		}
		g.positions[tp] = max(next, from)
	}
	return nil
}

// Positions returns the next offset to read of every source partition.
func (g *GlobalTask) Positions() map[state.TopicPartition]int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	m := make(map[state.TopicPartition]int64, len(g.positions))
	for tp, o := range g.positions {
		m[tp] = o
	}
	return m
}

// Apply processes fetched records of one source partition, in offset order:
// each updates its global table. Records before the partition's position
// (already applied) and control records only move the position.
func (g *GlobalTask) Apply(recs []*kgo.Record) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.state != StateRunning {
		return fmt.Errorf("global task: apply in state %s", g.state)
	}
	for _, r := range recs {
		tp := state.TopicPartition{Topic: r.Topic, Partition: r.Partition}
		pos, ok := g.positions[tp]
		if !ok {
			return fmt.Errorf("global task: %s is not a source partition of a global table", tp)
		}
		if r.Offset < pos {
			continue
		}
		g.positions[tp] = r.Offset + 1
		if r.Attrs.IsControl() {
			continue
		}
		raw := topology.RawRecord{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value, Timestamp: r.Timestamp.UnixMilli()}
		for _, h := range r.Headers {
			raw.Headers = append(raw.Headers, topology.Header{Key: h.Key, Value: h.Value})
		}
		// The table's timestamp extractor applies, as Kafka Streams'
		// Consumed.withTimestampExtractor does for a global table; a failed
		// extraction or a negative time goes to the deserialization
		// handler, as in a task.
		if ex := g.cfg.Subtopology.TimestampExtractor(g.cfg.ApplicationID, r.Topic); ex != nil {
			ts, err := extractGlobal(ex, &raw, g.streamTime)
			if err != nil {
				if herr := g.DeserializationFailed(&raw, err); herr != nil {
					return fmt.Errorf("global task: record %s@%d: %w", tp, r.Offset, herr)
				}
				continue
			}
			raw.Timestamp = ts
		}
		g.streamTime = max(g.streamTime, raw.Timestamp)
		g.cur = topology.RecordMeta{Topic: raw.Topic, Partition: raw.Partition, Offset: raw.Offset, Timestamp: raw.Timestamp, Headers: raw.Headers}
		if err := g.graph.Process(&raw); err != nil {
			return fmt.Errorf("global task: record %s@%d: %w", tp, r.Offset, err)
		}
		g.applied++
	}
	return nil
}

// Applied is the number of records applied since the last checkpoint.
func (g *GlobalTask) Applied() int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.applied
}

// Checkpoint flushes the stores and writes the positions to the checkpoint
// file.
func (g *GlobalTask) Checkpoint() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.checkpoint()
}

func (g *GlobalTask) checkpoint() error {
	if g.state != StateRunning {
		return nil
	}
	offs := make(map[state.TopicPartition]int64, len(g.positions))
	for tp, o := range g.positions {
		offs[tp] = o
	}
	if err := g.stateMgr.writeCheckpoint(offs, g.streamTime); err != nil {
		return fmt.Errorf("global task: %w", err)
	}
	g.applied = 0
	return nil
}

// Stores returns read-only views of the global stores, by name, for tasks
// (partition.Config.GlobalStores) and queries.
func (g *GlobalTask) Stores() map[string]topology.StateStore {
	g.mu.Lock()
	defer g.mu.Unlock()
	m := make(map[string]topology.StateStore, len(g.views))
	for n, s := range g.views {
		m[n] = s
	}
	return m
}

// Close writes a checkpoint when clean (and the task was running), then
// closes the stores.
func (g *GlobalTask) Close(clean bool) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.state == StateClosed {
		return nil
	}
	var errs []error
	if clean {
		errs = append(errs, g.checkpoint())
	}
	if g.graph != nil {
		errs = append(errs, g.graph.Close())
	}
	if err := g.stateMgr.Close(); err != nil {
		errs = append(errs, fmt.Errorf("global task: %w", err))
	}
	g.state = StateClosed
	return errors.Join(errs...)
}

// --- topology.TaskContext, for the global processors ---

// TaskID implements topology.TaskContext: the global task is -1_-1.
func (g *GlobalTask) TaskID() topology.TaskID { return topology.TaskID{Subtopology: -1, Partition: -1} }

// ApplicationID implements topology.TaskContext.
func (g *GlobalTask) ApplicationID() string { return g.cfg.ApplicationID }

// Store implements topology.TaskContext: the global processors write the
// engines themselves.
func (g *GlobalTask) Store(name string) topology.StateStore { return g.stateMgr.Store(name) }

// Send implements topology.TaskContext; global processors send nothing.
func (g *GlobalTask) Send(topic string, _, _ []byte, _ int64, _ []topology.Header) error {
	return fmt.Errorf("global task: cannot send to %s: global tables only update their stores", topic)
}

// Record implements topology.TaskContext.
func (g *GlobalTask) Record() topology.RecordMeta { return g.cur }

// StreamTime implements topology.TaskContext.
func (g *GlobalTask) StreamTime() int64 { return g.streamTime }

// DeserializationFailed implements topology.TaskContext: fail, or skip the
// record with a warning (the global task has no dead-letter producer, so
// a dead-letter choice skips too).
func (g *GlobalTask) DeserializationFailed(rec *topology.RawRecord, cause error) error {
	where := fmt.Sprintf("%s-%d@%d", rec.Topic, rec.Partition, rec.Offset)
	action, herr := g.cfg.OnDeserializationError.Decide(topology.ErrorContext{
		Kind: topology.DeserializationError, TaskID: "global",
		Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset, Timestamp: rec.Timestamp,
		Headers: rec.Headers, Key: rec.Key, Value: rec.Value, Err: cause,
	})
	if herr != nil {
		return fmt.Errorf("deserialization %s: %w (%v)", where, cause, herr)
	}
	if action == ActionFail {
		return fmt.Errorf("deserialization %s: %w (choose another deserialization error handler to skip such records)", where, cause)
	}
	g.skipped++
	g.log.Warn("skipping global table record: deserialization failed", "record", where, "error", cause)
	return nil
}

// readOnlyStore is a global store as tasks see it: writes fail, Close does
// nothing (the global task owns the store).
type readOnlyStore struct{ topology.KeyValueStore }

func (s readOnlyStore) Put(_, _ []byte) error {
	return fmt.Errorf("global store %s is read only: it follows its source topic", s.Name())
}

func (s readOnlyStore) Delete(_ []byte) error { return s.Put(nil, nil) }

func (s readOnlyStore) WriteBatch(_ []topology.KeyValue) error { return s.Put(nil, nil) }

func (s readOnlyStore) Flush() error { return nil }

func (s readOnlyStore) Close() error { return nil }

// extractGlobal runs a global table's timestamp extractor on rec: a
// negative time is an error wrapping topology.ErrInvalidTimestamp, and so
// is a panic in the extractor.
func extractGlobal(ex topology.TimestampExtractor, rec *topology.RawRecord, partitionTime int64) (ts int64, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("timestamp extractor panicked: %v", p)
		}
	}()
	if ts, err = ex(rec, partitionTime); err != nil {
		return -1, fmt.Errorf("timestamp extractor: %w", err)
	}
	if ts < 0 {
		return -1, fmt.Errorf("%w: %d", topology.ErrInvalidTimestamp, ts)
	}
	return ts, nil
}
