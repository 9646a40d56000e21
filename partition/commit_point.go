package partition

import (
	"fmt"
	"time"

	"github.com/eddystreams/eddy/state"
	"github.com/eddystreams/eddy/topology"
)

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

// CommittedOffset is an input partition's committed offset (the next to
// read) and the metadata stored beside it.
type CommittedOffset struct {
	Offset   int64
	Metadata string
}

// NewCommitPoint makes a task's CommitPoint from the committed offsets of
// its input partitions (those without one left out; an offset of -1 counts
// as none, but its metadata says who released the task). The metadata of all of
// them is read together: a large commit is split across them (see
// SplitCommitMetadata).
func NewCommitPoint(committed map[state.TopicPartition]CommittedOffset) (CommitPoint, error) {
	cp := CommitPoint{Offsets: map[state.TopicPartition]int64{}, StreamTime: state.UnknownStreamTime}
	metas := make([]string, 0, len(committed))
	var released []string // the metadata of offsets -1 (Task.Release of a task that never consumed)
	for tp, o := range committed {
		if o.Offset < 0 {
			released = append(released, o.Metadata)
			continue
		}
		cp.Committed = true
		cp.Offsets[tp] = o.Offset
		metas = append(metas, o.Metadata)
	}
	if !cp.Committed {
		metas = released
	}
	md, err := DecodeCommitMetadata(metas...)
	if err != nil {
		return cp, err
	}
	cp.Owner, cp.CommittedAt, cp.Interval, cp.Released = md.Owner, md.CommittedAt, md.Interval, md.Released
	if !cp.Committed {
		return cp, nil
	}
	cp.Positions = md.Positions
	cp.StorePositions, cp.Fingerprint = md.StorePositions, md.Fingerprint
	cp.StreamTime = md.StreamTime
	return cp, nil
}

// changelogsByIndex maps the index in the sub-topology's Stores of each
// store with a changelog of its own to its changelog partition.
func changelogsByIndex(appID string, st *topology.Subtopology, partition int32) map[int]state.TopicPartition {
	m := map[int]state.TopicPartition{}
	for i, spec := range st.Stores {
		if spec.Logging && spec.SourceTopic == "" {
			m[i] = state.TopicPartition{Topic: topology.ChangelogTopicName(appID, spec.Name), Partition: partition}
		}
	}
	return m
}

func fingerprintOf(byIndex map[int]state.TopicPartition) uint32 {
	names := make(map[int]string, len(byIndex))
	for i, tp := range byIndex {
		names[i] = fmt.Sprintf("%s-%d", tp.Topic, tp.Partition)
	}
	return ChangelogFingerprint(names)
}

// commitMetadata encodes the positions of the task's changelogs and its
// stream time for the input partitions committed, split across them when
// it does not fit one (MaxCommitMetadataBytes each).
func (t *Task) commitMetadata(inputs []state.TopicPartition) map[state.TopicPartition]string {
	pos, fingerprint := t.stateMgr.StorePositions()
	md := t.withOwner(CommitMetadata{StorePositions: pos, Fingerprint: fingerprint, StreamTime: t.streamTime})
	parts, ok := SplitCommitMetadata(EncodeCommitMetadata(md), len(inputs))
	if !ok {
		if !t.warnedMetadata {
			t.warnedMetadata = true
			t.log.Warn("the changelog positions of the task's stores do not fit its input partitions' commit metadata; a restart after a crash restores to the changelogs' ends",
				"stores", len(pos), "inputs", len(inputs), "max_bytes_per_partition", MaxCommitMetadataBytes)
		}
		md.StorePositions, md.PositionsOmitted = nil, true
		parts = []string{EncodeCommitMetadata(md)}
	}
	out := make(map[state.TopicPartition]string, len(inputs))
	for i, tp := range inputs {
		if len(parts) == 1 {
			out[tp] = parts[0]
		} else if i < len(parts) {
			out[tp] = parts[i]
		} else {
			out[tp] = "" // the parts fill the first partitions
		}
	}
	return out
}
