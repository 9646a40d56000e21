package partition

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/eddystreams/eddy/state"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Restore opens every store and restores it, given the commit point the
// application last made for the task and the task's stream time then (the
// timestamp of roll-back records; state.UnknownStreamTime if unknown). Call
// ReadCheckpoint first: without it every logged store counts as left by an
// unclean stop.
//
// After a clean stop (a checkpoint file was there) the local stores are used
// and restored from their checkpointed offsets to the changelogs' ends.
// After an unclean stop the local stores cannot be trusted (they may be
// ahead of what was committed), so they are wiped and restored from their
// changelogs: under exactly-once to the end of the committed data; under
// at-least-once up to the positions of the last commit, after which every key
// written since then is written again with its value at that commit (see
// rollBack), so that the state matches the committed input offsets and
// reprocessing from them sends every update again rather than skipping some
// (Kafka Streams restores to the end instead, so its at-least-once may count
// a record twice and never send some intermediate results).
//
// A store whose restore failed stays open (Close closes it); an error that
// may pass when tried again (Kafka I/O) is a *RecoverableError.
//
// It logs at Info how many changelog records it applied in all, and how long
// opening and restoring the stores took, when the task has a store restored
// from a changelog (how much a failover or a move cost, as operators and the
// cluster benchmark read it).
func (m *StateManager) Restore(ctx context.Context, cp CommitPoint, streamTime int64) error {
	m.resolvePositions(&cp)
	m.commit = cp
	m.streamTime = streamTime
	began := time.Now()
	m.restored, m.restoredStores = 0, 0
	for _, spec := range m.cfg.Stores {
		if err := m.openStore(ctx, spec); err != nil {
			return fmt.Errorf("store %s: %w", spec.Name, err)
		}
	}
	if m.restoredStores > 0 {
		m.log.Info("restored state", "stores", m.restoredStores, "records", m.restored, "took", time.Since(began))
	}
	return nil
}

// engineOf is the engine a store's spec asks for, the default one if none;
// in a build without RocksDB (no cgo) every store is in memory.
func (m *StateManager) engineOf(spec topology.StoreSpec) topology.Engine {
	e := spec.Engine
	if e == topology.EngineDefault {
		e = m.cfg.DefaultEngine
	}
	if e != topology.EngineMemory && !state.RocksDBAvailable {
		return topology.EngineMemory
	}
	return e
}

func (m *StateManager) openStore(ctx context.Context, spec topology.StoreSpec) (err error) {
	engine := m.engineOf(spec)
	tp := state.TopicPartition{Topic: topology.ChangelogTopicName(m.cfg.ApplicationID, spec.Name), Partition: m.cfg.Partition}
	restorable := spec.Logging
	if spec.SourceTopic != "" {
		tp.Topic, restorable = spec.SourceTopic, true // a source table's changelog is its source topic
	}
	from, haveCkp := m.checkpoint[tp]
	haveCkp = haveCkp && m.cleanStop
	ckpAt := from
	// Without a checkpoint a logged store's local files may hold anything
	// (an unclean stop): start over from the changelog. An unlogged store
	// keeps its files, except after an unclean stop under exactly-once,
	// where they may hold uncommitted writes.
	wipe := restorable && !haveCkp || !restorable && m.cfg.ExactlyOnce && !m.cleanStop
	kv, err := m.openEngine(spec, engine, wipe)
	if err != nil {
		return err
	}
	if engine == topology.EngineMemory || wipe {
		from = 0 // memory starts empty whatever the checkpoint says
	}
	defer func() {
		// kv is the engine the store ends up on (a wipe reopens it).
		if cw, ok := kv.(state.ChunkWriter); ok && err == nil {
			m.chunked = append(m.chunked, cw)
		}
	}()
	if spec.SourceTopic != "" {
		m.addStore(spec.Name, kv) // written by processing its source topic: nothing to log
		return m.restoreSourceTable(ctx, spec, kv, tp, from)
	}
	if !spec.Logging {
		m.addStore(spec.Name, m.withCache(spec, kv))
		return nil
	}
	until := m.restoreUntil(tp, ckpAt, haveCkp)
	if until >= 0 && from > until {
		// The local store holds changelog records past the last commit
		// (it was checkpointed ahead of a commit that never came): they
		// may be rolled back, so start over.
		m.log.Warn("checkpoint beyond the last commit's changelog position; wiping the store and restoring up to the commit",
			"store", spec.Name, "changelog", tp.String(), "checkpoint", from, "commit_position", until)
		if cerr := kv.Close(); cerr != nil {
			return cerr
		}
		if kv, err = m.openEngine(spec, engine, true); err != nil {
			return err
		}
		from = 0
	}
	next, applied, err := m.restoreStore(ctx, kv, tp, from, until)
	var behind *ChangelogBehindError
	if errors.As(err, &behind) {
		// The checkpoint is past the changelog's end: the topic was
		// deleted and made again, or truncated. The local state matches a
		// changelog that is gone; only the one there now counts.
		m.log.Warn("checkpoint beyond the changelog's end: the local store no longer matches its changelog; wiping it and restoring from scratch",
			"store", spec.Name, "changelog", tp.String(), "checkpoint", behind.From, "changelog_end", behind.End)
		if cerr := kv.Close(); cerr != nil {
			return cerr
		}
		if kv, err = m.openEngine(spec, engine, true); err != nil {
			return err
		}
		from = 0
		var again int64
		next, again, err = m.restoreStore(ctx, kv, tp, from, until)
		applied += again
	}
	m.restoredStores++
	m.restored += applied
	m.changelog[spec.Name] = tp
	m.engines[tp] = kv
	m.addStore(spec.Name, m.withCache(spec, state.NewLoggedStore(kv, changeLogger{m: m, tp: tp})))
	if err != nil {
		return &RecoverableError{Err: fmt.Errorf("restore from %s-%d: %w", tp.Topic, tp.Partition, err)}
	}
	if next > from {
		m.log.Debug("restored", "store", spec.Name, "from", from, "to", next, "records", applied)
	}
	m.cfg.Changelog.Track(tp, next)
	if until >= 0 && !m.cfg.Standby {
		return m.rollBack(ctx, kv, tp, until)
	}
	return nil
}

// restoreUntil is the changelog position a logged store restores up to (-1:
// the end), given whether it has a checkpoint and the checkpoint's offset.
//
// Under exactly-once a changelog holds committed data only (restoration
// reads read_committed): the end. Under at-least-once the changelog may hold
// records past the last commit, written by an owner that crashed; they are
// rolled back (decision 0002), so restoration stops at the commit's
// position. That holds with a checkpoint too: a standby's checkpoint (or an
// earlier clean close of this node's, before another node owned the task)
// is at or before the last commit, and the tail past the commit may be
// anyone's uncommitted writes. A checkpoint when nothing was committed says
// how far the store is, and the rest is uncommitted. Without the commit's
// positions (they did not fit its metadata, or the topology changed),
// restoration goes to the end as Kafka Streams' does.
func (m *StateManager) restoreUntil(tp state.TopicPartition, ckpAt int64, haveCkp bool) int64 {
	if m.cfg.ExactlyOnce {
		return -1
	}
	switch pos, ok := m.commit.Positions[tp]; {
	case ok:
		return pos
	case !m.commit.Committed && haveCkp:
		return ckpAt
	case !m.commit.Committed:
		return 0 // nothing was committed: any changelog record is ahead
	}
	return -1
}

// openEngine opens a store's engine, wiped first when wipe is set, with a
// SegmentedStore over it for time-keyed stores.
func (m *StateManager) openEngine(spec topology.StoreSpec, engine topology.Engine, wipe bool) (topology.KeyValueStore, error) {
	var kv topology.KeyValueStore
	switch engine {
	case topology.EngineMemory:
		kv = state.NewMemoryStore(spec.Name)
	default:
		dir := filepath.Join(m.cfg.Dir, "rocksdb", spec.Name)
		if wipe {
			if err := state.WipeDir(dir); err != nil {
				return nil, err
			}
		}
		db, err := state.OpenRocksDB(dir, spec.Name, m.cfg.RocksDB)
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
func (m *StateManager) restoreStore(ctx context.Context, kv topology.KeyValueStore, tp state.TopicPartition, from, until int64) (next, applied int64, err error) {
	if seg, ok := kv.(*state.SegmentedStore); ok && until >= 0 && m.streamTime >= 0 {
		// Changelog records before the commit position may come from
		// processing rolled back after an earlier crash; their times must
		// not expire what the commit needs.
		seg.CapObservedStreamTime(m.streamTime)
		defer seg.UncapObservedStreamTime()
	}
	rs := newRestorer(kv) // write batches, bulk-load settings for long restores
	ctx, ended := m.traceRestore(ctx, kv.Name(), tp)
	next, err = m.cfg.Changelogs.Restore(ctx, tp, from, until, rs.apply)
	if ferr := rs.finish(); err == nil {
		err = ferr
	}
	ended(int64(rs.applied))
	return next, int64(rs.applied), err
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

// resolvePositions turns the commit point's positions by store index into
// positions by changelog partition, if they were written for these stores'
// changelogs. Positions written for other stores (the topology changed) are
// dropped: restoration then goes to the changelogs' ends.
func (m *StateManager) resolvePositions(cp *CommitPoint) {
	if cp.StorePositions == nil {
		return
	}
	if cp.Fingerprint != fingerprintOf(m.logIdx) {
		m.log.Warn("commit metadata was written for other stores (the topology changed?); restoring to the changelogs' ends", "fingerprint", cp.Fingerprint)
		return
	}
	pos := make(map[state.TopicPartition]int64, len(cp.StorePositions))
	for i, o := range cp.StorePositions {
		if tp, ok := m.logIdx[i]; ok {
			pos[tp] = o
		}
	}
	for tp, o := range cp.Positions {
		pos[tp] = o
	}
	cp.Positions = pos
}

// ChangelogPartitions are the changelog partitions of the logged stores
// Restore opened (source tables' topics excluded).
func (m *StateManager) ChangelogPartitions() []state.TopicPartition {
	tps := make([]state.TopicPartition, 0, len(m.engines))
	for tp := range m.engines {
		tps = append(tps, tp)
	}
	return tps
}

// ApplyChangelog writes changelog records of tp to its store's engine, as a
// restore does (the change-logging layer is bypassed: nothing is sent), and
// tracks next as the partition's position: the offset after the last
// record or marker the caller read. A standby task keeps its stores up to
// date this way.
func (m *StateManager) ApplyChangelog(tp state.TopicPartition, recs []*kgo.Record, next int64) error {
	kv, ok := m.engines[tp]
	if !ok {
		return fmt.Errorf("apply changelog %s: no logged store of the task has it as its changelog", tp)
	}
	if len(recs) > 0 {
		if err := applyChunked(kv, recs); err != nil {
			return fmt.Errorf("apply changelog %s: %w", tp, err)
		}
	}
	m.cfg.Changelog.Track(tp, next)
	return nil
}
