package partition

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/eddystreams/eddy/state"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

// StandbyConfig is what a standby task needs from its node: the task's
// identity and where its stores live, as for an active Task.
type StandbyConfig struct {
	ApplicationID string
	ID            topology.TaskID
	Subtopology   *topology.Subtopology
	// Inputs are the task's input partitions: their commit metadata holds
	// the changelog positions of the active's last commit (at-least-once).
	Inputs        []state.TopicPartition
	Dir           string
	DefaultEngine topology.Engine
	RocksDB       state.RocksDBConfig
	// Changelogs restores the stores when the standby starts; after that
	// the node hands it changelog records (Apply).
	Changelogs  ChangelogReader
	ExactlyOnce bool
	Logger      *slog.Logger
}

// StandbyTask keeps a copy of a task's stores up to date from their
// changelogs without processing anything (Kafka Streams' StandbyTask), so
// that the task can fail over or move to this node with only the tail to
// restore. It opens the stores in the task's state directory through a
// StateManager, restores them from the checkpoint (or wipes them, by the
// usual rules), then applies the changelog records the node fetches for it,
// and checkpoints as it goes so that its progress survives a restart. An
// active Task started later in the same directory restores from that
// checkpoint.
//
// Under exactly-once the changelogs are read read_committed, to their end.
// Under at-least-once a changelog may hold records past the active's last
// commit which a crash would roll back (decision 0002): the standby never
// applies a record at or past the changelog positions of the last commit
// (UpdateCommitted), and holds such records until a commit covers them.
//
// Like a Task it is not safe for concurrent use, except Lag, Lags and
// Applied.
type StandbyTask struct {
	cfg   StandbyConfig
	state TaskState
	mgr   *StateManager
	log   *slog.Logger

	// bound is, under at-least-once, the position of the last commit per
	// changelog partition (records at or past it wait in pending); a
	// partition absent has no bound (exactly-once, or a commit without
	// positions).
	bound   map[state.TopicPartition]int64
	pending map[state.TopicPartition][]*kgo.Record
	// ends are the changelogs' ends (the next offset to be written, or the
	// last stable offset) as last seen; absent: unknown.
	ends map[state.TopicPartition]int64
	// dirty: records applied since the last checkpoint.
	dirty bool
	// streamTime is the task's stream time at the last commit seen, kept
	// in the checkpoint as an active task's clean close does.
	streamTime int64

	applied atomic.Int64
	held    atomic.Int64 // records in pending
	lagMu   sync.Mutex
	lags    map[state.TopicPartition]int64
	pos     map[state.TopicPartition]int64 // positions reached, for Positions
}

// NewStandbyTask makes a standby task; Initialize opens and restores its
// stores.
func NewStandbyTask(cfg StandbyConfig) *StandbyTask {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	log := cfg.Logger.With("task", cfg.ID.String(), "role", "standby")
	return &StandbyTask{
		cfg: cfg,
		log: log,
		mgr: NewStateManager(StateConfig{
			ApplicationID: cfg.ApplicationID,
			Partition:     cfg.ID.Partition,
			Stores:        cfg.Subtopology.Stores,
			Dir:           cfg.Dir,
			DefaultEngine: cfg.DefaultEngine,
			RocksDB:       cfg.RocksDB,
			Changelogs:    cfg.Changelogs,
			ExactlyOnce:   cfg.ExactlyOnce,
			Standby:       true,
			Logger:        log,
		}),
		bound:      map[state.TopicPartition]int64{},
		pending:    map[state.TopicPartition][]*kgo.Record{},
		ends:       map[state.TopicPartition]int64{},
		lags:       map[state.TopicPartition]int64{},
		pos:        map[state.TopicPartition]int64{},
		streamTime: state.UnknownStreamTime,
	}
}

// ID is the task's id.
func (s *StandbyTask) ID() topology.TaskID { return s.cfg.ID }

// Inputs are the task's input partitions, whose committed offsets' metadata
// says how far a standby may apply under at-least-once.
func (s *StandbyTask) Inputs() []state.TopicPartition { return s.cfg.Inputs }

// ExactlyOnce says the standby reads to the changelogs' committed end: it
// needs no commit point beyond the one Initialize got.
func (s *StandbyTask) ExactlyOnce() bool { return s.cfg.ExactlyOnce }

// State is the standby's lifecycle state: running once restored.
func (s *StandbyTask) State() TaskState { return s.state }

// Initialize opens the stores and restores them from the checkpoint (or from
// scratch when there is none) up to the last commit's positions under
// at-least-once, or to the end under exactly-once, then writes a checkpoint.
// cp is the task's commit point (NewCommitPoint); under exactly-once an
// empty one will do.
//
// The checkpoint file is removed first: while the stores restore they are
// ahead of it, and a wipe would make it lie (a crash then restores from
// scratch).
func (s *StandbyTask) Initialize(ctx context.Context, cp CommitPoint) error {
	if s.state != StateCreated {
		return fmt.Errorf("standby task %s: initialize in state %s", s.cfg.ID, s.state)
	}
	s.state = StateRestoring
	ckp, err := s.mgr.ReadCheckpoint()
	if err != nil {
		return fmt.Errorf("standby task %s: %w", s.cfg.ID, err)
	}
	if err := s.mgr.RemoveCheckpoint(); err != nil {
		return fmt.Errorf("standby task %s: %w", s.cfg.ID, err)
	}
	s.streamTime = max(ckp.StreamTime, cp.StreamTime)
	if err := s.mgr.Restore(ctx, cp, s.streamTime); err != nil {
		return fmt.Errorf("standby task %s: %w", s.cfg.ID, err)
	}
	s.state = StateRunning
	if err := s.UpdateCommitted(cp); err != nil {
		return err
	}
	s.dirty = true
	return s.Checkpoint()
}

// Changelogs are the changelog partitions the standby follows, with the
// next offset to fetch of each: where its stores are.
func (s *StandbyTask) Changelogs() map[state.TopicPartition]int64 {
	tracked := s.mgr.cfg.Changelog.Tracked()
	out := map[state.TopicPartition]int64{}
	for _, tp := range s.mgr.ChangelogPartitions() {
		out[tp] = tracked[tp]
	}
	return out
}

// UpdateCommitted takes a newer commit point of the task (at-least-once):
// records up to its changelog positions may now be applied, and are, from
// those held back. Under exactly-once it does nothing.
func (s *StandbyTask) UpdateCommitted(cp CommitPoint) error {
	if s.state != StateRunning {
		return nil
	}
	s.streamTime = max(s.streamTime, cp.StreamTime)
	if s.cfg.ExactlyOnce {
		for _, tp := range s.mgr.ChangelogPartitions() {
			s.updateLag(tp)
		}
		return nil
	}
	s.mgr.resolvePositions(&cp)
	for _, tp := range s.mgr.ChangelogPartitions() {
		switch pos, ok := cp.Positions[tp]; {
		case ok:
			s.bound[tp] = pos
		case !cp.Committed:
			s.bound[tp] = 0 // nothing committed: every changelog record may be rolled back
		default:
			delete(s.bound, tp) // a commit without positions: nothing to hold back by
		}
	}
	var errs []error
	for _, tp := range s.mgr.ChangelogPartitions() {
		errs = append(errs, s.drain(tp))
	}
	return errors.Join(errs...)
}

// Apply takes fetched records of changelog partition tp, in offset order
// and following what was applied before (control records included: they
// move the position on), and applies those the last commit covers; the
// rest wait for UpdateCommitted.
func (s *StandbyTask) Apply(tp state.TopicPartition, recs []*kgo.Record) error {
	if s.state != StateRunning {
		return fmt.Errorf("standby task %s: apply in state %s", s.cfg.ID, s.state)
	}
	if len(recs) == 0 {
		return nil
	}
	if n := recs[len(recs)-1].Offset + 1; n > s.ends[tp] {
		s.ends[tp] = n // the end is at least past what was fetched
	}
	s.pending[tp] = append(s.pending[tp], recs...)
	s.held.Add(int64(len(recs)))
	return s.drain(tp)
}

// drain applies tp's pending records below its bound.
func (s *StandbyTask) drain(tp state.TopicPartition) error {
	pend := s.pending[tp]
	if len(pend) == 0 {
		s.updateLag(tp)
		return nil
	}
	n := len(pend)
	if b, ok := s.bound[tp]; ok {
		n = 0
		for n < len(pend) && pend[n].Offset < b {
			n++
		}
	}
	if n == 0 {
		s.updateLag(tp)
		return nil
	}
	data := make([]*kgo.Record, 0, n)
	for _, r := range pend[:n] {
		if !r.Attrs.IsControl() {
			data = append(data, r)
		}
	}
	next := pend[n-1].Offset + 1
	if err := s.mgr.ApplyChangelog(tp, data, next); err != nil {
		return fmt.Errorf("standby task %s: %w", s.cfg.ID, err)
	}
	clear(pend[:n]) // let the applied records go
	s.held.Add(-int64(n))
	if n == len(pend) {
		delete(s.pending, tp)
	} else {
		s.pending[tp] = pend[n:]
	}
	s.applied.Add(int64(len(data)))
	s.dirty = true
	s.updateLag(tp)
	return nil
}

// UpdateEnd notes the end of changelog partition tp (its high watermark,
// or its last stable offset under read_committed), for the lag.
func (s *StandbyTask) UpdateEnd(tp state.TopicPartition, end int64) {
	if _, ok := s.mgr.engines[tp]; !ok {
		return // not a changelog of this task
	}
	if end > s.ends[tp] {
		s.ends[tp] = end
	}
	s.updateLag(tp)
}

// updateLag recomputes tp's lag: the records between the stores' position
// and what they can reach, the last commit's position under at-least-once
// (when known), else the changelog's end; -1 while that is unknown.
func (s *StandbyTask) updateLag(tp state.TopicPartition) {
	pos := s.mgr.cfg.Changelog.Tracked()[tp]
	target, ok := s.bound[tp]
	if !ok {
		target, ok = s.ends[tp]
	}
	lag := int64(-1)
	if ok {
		lag = max(0, target-pos)
	}
	s.lagMu.Lock()
	s.lags[tp] = lag
	s.pos[tp] = pos
	s.lagMu.Unlock()
}

// Positions are the changelog positions the stores reached (the next
// offset of each changelog partition), as of the last change. Safe from any
// goroutine.
func (s *StandbyTask) Positions() map[state.TopicPartition]int64 {
	s.lagMu.Lock()
	defer s.lagMu.Unlock()
	out := make(map[state.TopicPartition]int64, len(s.pos))
	for tp, o := range s.pos {
		out[tp] = o
	}
	return out
}

// Held counts the fetched changelog records held back because the last
// commit does not cover them yet (at-least-once). Safe from any goroutine.
func (s *StandbyTask) Held() int64 { return s.held.Load() }

// Lags are the lags of the standby's changelog partitions (-1: unknown).
// Safe from any goroutine.
func (s *StandbyTask) Lags() map[state.TopicPartition]int64 {
	s.lagMu.Lock()
	defer s.lagMu.Unlock()
	out := make(map[state.TopicPartition]int64, len(s.lags))
	for tp, l := range s.lags {
		out[tp] = l
	}
	return out
}

// Lag is the sum of the changelog lags, -1 while any is unknown or before
// the standby runs. A task without logged stores has lag 0. Safe from any
// goroutine.
func (s *StandbyTask) Lag() int64 {
	s.lagMu.Lock()
	defer s.lagMu.Unlock()
	var sum int64
	for _, l := range s.lags {
		if l < 0 {
			return -1
		}
		sum += l
	}
	return sum
}

// Applied counts the changelog records applied since Initialize (restored
// ones not included). Safe from any goroutine.
func (s *StandbyTask) Applied() int64 { return s.applied.Load() }

// Checkpoint flushes the stores and writes the checkpoint, if records were
// applied since the last one.
func (s *StandbyTask) Checkpoint() error {
	if s.state != StateRunning {
		return nil
	}
	if !s.dirty {
		return nil
	}
	if err := s.mgr.Checkpoint(s.streamTime, nil); err != nil {
		return fmt.Errorf("standby task %s: %w", s.cfg.ID, err)
	}
	s.dirty = false
	return nil
}

// Close checkpoints (when running) and closes the stores. Records held back
// are dropped: the next start fetches them again.
func (s *StandbyTask) Close() error {
	if s.state == StateClosed {
		return nil
	}
	var errs []error
	if s.state == StateRunning {
		s.dirty = true
		errs = append(errs, s.Checkpoint())
	}
	errs = append(errs, s.mgr.Close())
	s.state = StateClosed
	clear(s.pending)
	s.held.Store(0)
	return errors.Join(errs...)
}

// Store returns the standby's store with that name (read-only use: a
// standby answers queries that accept its lag), or nil.
func (s *StandbyTask) Store(name string) topology.StateStore { return s.mgr.Store(name) }
