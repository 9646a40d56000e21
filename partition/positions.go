package partition

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/eddystreams/eddy/state"
)

// positionsPrefix marks Eddy's commit metadata; Kafka topic names cannot
// contain spaces or semicolons, so the format needs no escaping.
const positionsPrefix = "eddy/1;"

// streamTimeEntry names the stream-time entry of the commit metadata. It is
// written as a position ("~streamtime 0 <ms>") of a topic Kafka cannot have
// ('~' is not allowed in topic names), so that readers that only know
// positions read it as the position of a changelog they do not have and
// ignore it.
const streamTimeEntry = "~streamtime"

// Entries about the committing owner, in the same "<name> <a> <b>" form:
// "~owner 0 <id>", "~lease <interval ms> <commit time ms>", "~released 0 1".
const (
	ownerEntry    = "~owner"
	leaseEntry    = "~lease"
	releasedEntry = "~released"
)

// CommitMetadata is what a task stores beside its committed input offsets.
type CommitMetadata struct {
	// Positions are the changelog positions reached (at-least-once).
	Positions map[state.TopicPartition]int64
	// StreamTime is the task's stream time, or state.UnknownStreamTime.
	StreamTime int64
	// Owner identifies the process run that committed (0: unknown), so
	// that the next owner of the task can tell whether its predecessor may
	// still be writing (see Lease).
	Owner int64
	// CommittedAt is the wall-clock time of the commit (Unix ms, 0:
	// unknown) and Interval the committer's commit interval: an owner that
	// is alive commits again, or finds it was fenced, within about one
	// interval.
	CommittedAt int64
	Interval    time.Duration
	// Released is set by the last commit of an owner that closed the task
	// cleanly: it writes nothing more.
	Released bool
}

// EncodeCommitMetadata writes m as offset commit metadata:
// "eddy/1;<topic> <partition> <offset>;...", sorted, with the stream time as
// the entry "~streamtime 0 <ms>". Nothing to store gives "".
func EncodeCommitMetadata(m CommitMetadata) string {
	parts := make([]string, 0, len(m.Positions)+1)
	for tp, o := range m.Positions {
		parts = append(parts, fmt.Sprintf("%s %d %d", tp.Topic, tp.Partition, o))
	}
	if m.StreamTime >= 0 {
		parts = append(parts, fmt.Sprintf("%s 0 %d", streamTimeEntry, m.StreamTime))
	}
	if m.Owner != 0 {
		parts = append(parts, fmt.Sprintf("%s 0 %d", ownerEntry, m.Owner))
	}
	if m.CommittedAt != 0 {
		parts = append(parts, fmt.Sprintf("%s %d %d", leaseEntry, m.Interval.Milliseconds(), m.CommittedAt))
	}
	if m.Released {
		parts = append(parts, releasedEntry+" 0 1")
	}
	if len(parts) == 0 {
		return ""
	}
	sort.Strings(parts)
	return positionsPrefix + strings.Join(parts, ";")
}

// DecodeCommitMetadata reads what EncodeCommitMetadata wrote (and what
// earlier versions wrote, positions only). Metadata that is not Eddy's gives no positions,
// state.UnknownStreamTime and no error.
func DecodeCommitMetadata(meta string) (CommitMetadata, error) {
	m := CommitMetadata{StreamTime: state.UnknownStreamTime}
	rest, ok := strings.CutPrefix(meta, positionsPrefix)
	if !ok {
		return m, nil
	}
	for _, part := range strings.Split(rest, ";") {
		f := strings.Fields(part)
		if len(f) != 3 {
			return m, fmt.Errorf("commit metadata %q: bad entry %q", meta, part)
		}
		p, err1 := strconv.ParseInt(f[1], 10, 32)
		o, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil {
			return m, fmt.Errorf("commit metadata %q: bad entry %q", meta, part)
		}
		switch f[0] {
		case streamTimeEntry:
			m.StreamTime = o
			continue
		case ownerEntry:
			m.Owner = o
			continue
		case leaseEntry:
			m.Interval, m.CommittedAt = time.Duration(p)*time.Millisecond, o
			continue
		case releasedEntry:
			m.Released = o == 1
			continue
		}
		if m.Positions == nil {
			m.Positions = map[state.TopicPartition]int64{}
		}
		m.Positions[state.TopicPartition{Topic: f[0], Partition: int32(p)}] = o
	}
	return m, nil
}
