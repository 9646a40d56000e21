package partition

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/eddystreams/eddy/state"
	"github.com/eddystreams/eddy/topology"
)

// StateConfig is what a StateManager needs: where a task's stores live, how
// to open them, and where their changelogs are.
type StateConfig struct {
	ApplicationID string
	// Partition is the partition number of the stores' changelogs (the
	// task's partition).
	Partition int32
	// Stores are the stores to open, in the sub-topology's order: a
	// store's index here names it in commit metadata, and record caches
	// flush in this order.
	Stores []topology.StoreSpec
	// Dir is the state directory: the checkpoint file and the RocksDB
	// directories live under it.
	Dir           string
	DefaultEngine topology.Engine
	RocksDB       state.RocksDBConfig
	// Changelogs reads changelogs (and source topics) to restore from.
	Changelogs ChangelogReader
	// Changelog sends the stores' change-logged writes and the records of
	// a roll back, and tracks how far each changelog partition got. Nil:
	// positions are tracked but nothing can be sent (stores that are only
	// restored, never written).
	Changelog ChangelogWriter
	// Record is the record being processed, whose timestamp change-logged
	// writes carry and which record caches keep with each write. Nil: a
	// record context of its own, for stores nothing processes into.
	Record state.RecordContext
	// RecordCache is the node's record cache budget, for stores with
	// caching on (topology.WithCaching). Nil: no store caches.
	RecordCache *state.RecordCache
	// ExactlyOnce changes what an unclean stop leaves to trust: unlogged
	// stores are wiped too, and logged ones restore to the changelog's end
	// (see Restore).
	ExactlyOnce bool
	// Standby makes the stores read-only copies (a StandbyTask's): nothing
	// is ever written to a changelog, so restoration under at-least-once
	// stops at the last commit's positions and rolls nothing back.
	Standby bool
	Logger  *slog.Logger
	// Subtopology names the task, with Partition, for RestoreListener;
	// RestoreListener, when set, hears of each store's restoration.
	Subtopology     int
	RestoreListener RestoreListener
}

// ChangelogWriter is the one thing a StateManager needs of a producer:
// sending changelog records and knowing the next offset of each changelog
// partition, which go into checkpoints and commit metadata. RecordCollector
// implements it.
type ChangelogWriter interface {
	// SendChangelog sends key and value (nil: a tombstone) to a changelog
	// partition. Its offset counts in Tracked once acknowledged. A failed
	// send is the writer's to report (the collector fails the next flush).
	SendChangelog(tp state.TopicPartition, key, value []byte, ts int64) error
	// Track notes that tp's next offset is at least next (after a restore
	// read up to there).
	Track(tp state.TopicPartition, next int64)
	// Tracked returns the next offset of every tracked changelog partition.
	Tracked() map[state.TopicPartition]int64
}

// StateManager owns a task's stores and their durability (Kafka Streams'
// ProcessorStateManager): it reads the checkpoint, opens the engines, wipes
// what an unclean stop left untrustworthy, restores from changelogs (and
// source tables from their source topics), rolls back the uncommitted tail
// under at-least-once, keeps the record caches, and flushes, checkpoints and
// closes the stores. It knows nothing of processing: an active Task drives
// it between records, a GlobalTask uses its engines and restores, and a
// standby task can restore and checkpoint with it alone.
//
// Like a Task, it is not safe for concurrent use, apart from reading the
// stores it opened.
type StateManager struct {
	cfg StateConfig
	log *slog.Logger

	// checkpoint is what ReadCheckpoint found; cleanStop says a checkpoint
	// file was there at all (a clean close wrote it).
	checkpoint map[state.TopicPartition]int64
	cleanStop  bool
	// commit and streamTime are the commit point and stream time Restore
	// restores to.
	commit     CommitPoint
	streamTime int64
	// restored and restoredStores are what the last Restore applied from
	// changelogs, and to how many stores.
	restored       int64
	restoredStores int

	names     []string                                        // stores opened, in order
	stores    map[string]topology.StateStore                  // name -> the store as processors see it
	caches    []*state.CachingStore                           // record caches, in store order (cache.go)
	changelog map[string]state.TopicPartition                 // logged store -> its changelog partition
	engines   map[state.TopicPartition]topology.KeyValueStore // changelog partition -> the logged store's engine (ApplyChangelog)
	logIdx    map[int]state.TopicPartition                    // store index in Stores -> its changelog partition
	sources   map[state.TopicPartition]int64                  // source tables' partitions -> restored up to
	chunked   []state.ChunkWriter                             // engines that buffer a chunk's writes (BeginChunk)
}

// NewStateManager makes a state manager; nothing is opened until
// ReadCheckpoint and Restore.
func NewStateManager(cfg StateConfig) *StateManager {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Changelog == nil {
		cfg.Changelog = &trackOnly{tracked: map[state.TopicPartition]int64{}}
	}
	if cfg.Record == nil {
		cfg.Record = &recordHolder{}
	}
	st := &topology.Subtopology{Stores: cfg.Stores}
	return &StateManager{
		cfg:        cfg,
		log:        cfg.Logger,
		stores:     map[string]topology.StateStore{},
		changelog:  map[string]state.TopicPartition{},
		engines:    map[state.TopicPartition]topology.KeyValueStore{},
		logIdx:     changelogsByIndex(cfg.ApplicationID, st, cfg.Partition),
		streamTime: state.UnknownStreamTime,
	}
}

func (m *StateManager) checkpointPath() string { return filepath.Join(m.cfg.Dir, ".checkpoint") }

// ReadCheckpoint makes the state directory if missing and reads its
// checkpoint file (an empty checkpoint when there is none). Restore uses
// what it read: a store restores from its checkpointed offset only if the
// file was there, since only a clean close writes it.
func (m *StateManager) ReadCheckpoint() (*state.Checkpoint, error) {
	if err := os.MkdirAll(m.cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("state dir: %w", err)
	}
	_, statErr := os.Stat(m.checkpointPath())
	ckp, err := state.ReadCheckpointFile(m.checkpointPath())
	if err != nil {
		return nil, err
	}
	m.cleanStop = statErr == nil
	m.checkpoint = ckp.Offsets
	return ckp, nil
}

// RemoveCheckpoint deletes the checkpoint file. An active task does so
// before it writes to its stores, which are ahead of the last commit from
// then on: a crash without a checkpoint makes the next start restore.
func (m *StateManager) RemoveCheckpoint() error {
	return state.RemoveCheckpoint(m.checkpointPath())
}

// Store returns the store with that name as processors see it (with its
// caching and change-logging layers), or nil.
func (m *StateManager) Store(name string) topology.StateStore {
	if s, ok := m.stores[name]; ok {
		return s
	}
	return nil
}

// addStore registers an opened store as processors see it; Checkpoint
// flushes it and Close closes it.
func (m *StateManager) addStore(name string, s topology.StateStore) {
	if _, ok := m.stores[name]; !ok {
		m.names = append(m.names, name)
	}
	m.stores[name] = s
}

// StorePositions are the changelog positions the stores reached, by the
// store's index in StateConfig.Stores, with the fingerprint of the
// changelogs they belong to (CommitMetadata.StorePositions): what a commit
// under at-least-once stores to roll back to after a crash.
func (m *StateManager) StorePositions() (map[int]int64, uint32) {
	tracked := m.cfg.Changelog.Tracked()
	pos := make(map[int]int64, len(m.logIdx))
	for i, tp := range m.logIdx {
		pos[i] = tracked[tp]
	}
	return pos, fingerprintOf(m.logIdx)
}

// Checkpoint flushes the stores and writes the checkpoint file: the
// changelog positions reached, the source tables' positions (consumed holds
// the next input offsets processing reached, which a source table's store
// has applied too), and the stream time.
func (m *StateManager) Checkpoint(streamTime int64, consumed map[state.TopicPartition]int64) error {
	offsets := map[state.TopicPartition]int64{}
	tracked := m.cfg.Changelog.Tracked()
	for _, tp := range m.changelog {
		if o, ok := tracked[tp]; ok {
			offsets[tp] = o
		}
	}
	m.checkpointSourceTables(offsets, consumed)
	return m.writeCheckpoint(offsets, streamTime)
}

// writeCheckpoint flushes every store, in the order they were opened, then
// writes offsets and the stream time to the checkpoint file: the file
// must never say more than the stores hold on disk.
func (m *StateManager) writeCheckpoint(offsets map[state.TopicPartition]int64, streamTime int64) error {
	for _, name := range m.names {
		if err := m.stores[name].Flush(); err != nil {
			return fmt.Errorf("flush store %s: %w", name, err)
		}
	}
	return (&state.Checkpoint{Offsets: offsets, StreamTime: streamTime}).Write(m.checkpointPath())
}

// Close closes every store; it writes nothing (call Checkpoint first for a
// clean close). The stores are forgotten, so a second Close does nothing.
func (m *StateManager) Close() error {
	var errs []error
	for _, name := range m.names {
		if err := m.stores[name].Close(); err != nil {
			errs = append(errs, fmt.Errorf("close store %s: %w", name, err))
		}
	}
	m.names = nil
	m.chunked = nil
	clear(m.stores)
	clear(m.engines)
	m.caches = nil
	return errors.Join(errs...)
}

// BeginChunk makes the engines that can (RocksDB key-value stores) buffer
// their writes until EndChunk, which applies each one's as a single write
// batch (state.ChunkWriter): a Task brackets each chunk of records it
// processes with them. Reads see the buffered writes; the changelog is
// written per write as before.
func (m *StateManager) BeginChunk() {
	for _, cw := range m.chunked {
		cw.BeginWrites()
	}
}

// EndChunk applies the writes buffered since BeginChunk.
func (m *StateManager) EndChunk() error {
	var errs []error
	for _, cw := range m.chunked {
		if err := cw.EndWrites(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// trackOnly is the ChangelogWriter of a state manager given none: it tracks
// restored positions and refuses sends.
type trackOnly struct {
	tracked map[state.TopicPartition]int64
}

func (w *trackOnly) SendChangelog(tp state.TopicPartition, _, _ []byte, _ int64) error {
	return fmt.Errorf("cannot write to changelog %s: the state manager was given no ChangelogWriter", tp)
}

func (w *trackOnly) Track(tp state.TopicPartition, next int64) {
	if next > w.tracked[tp] {
		w.tracked[tp] = next
	}
}

func (w *trackOnly) Tracked() map[state.TopicPartition]int64 {
	m := make(map[state.TopicPartition]int64, len(w.tracked))
	for tp, o := range w.tracked {
		m[tp] = o
	}
	return m
}

// recordHolder is the record context of a state manager given none.
type recordHolder struct{ cur topology.RecordMeta }

func (r *recordHolder) Record() topology.RecordMeta     { return r.cur }
func (r *recordHolder) SetRecord(m topology.RecordMeta) { r.cur = m }
