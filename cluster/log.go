package cluster

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/eddystreams/eddy/internal/kretry"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// The decision log is the one order of the cluster's decisions (DESIGN.md,
// Cluster, safety rule 1): a compacted topic of one partition that only the
// coordinator writes, in transactions under one transactional id, so that
// the broker's producer fencing makes Kafka the coordinator's lock, and that
// every node reads read_committed. It holds two kinds of record:
//
//   - key "assignment": the full Assignment at an epoch, with who wrote it
//     (Decision). Compaction keeps the newest, which is all a starting node
//     needs.
//   - key "released/<task>": Released, a task's old owner's word that it
//     committed and closed the task given away at an epoch. Nodes report
//     releases to the coordinator, which writes them (decision 0024), so
//     that the log keeps one writer and one order.

// LogTopic is the decision log's topic for application app.
func LogTopic(app string) string { return app + "-eddy-cluster" }

// CoordinatorTxnID is the transactional id the coordinator writes the
// decision log as: one for the whole application, so that a new
// coordinator's InitProducerID fences every earlier one.
func CoordinatorTxnID(app string) string { return app + "-eddy-coordinator" }

const (
	assignmentKey  = "assignment"
	releasedPrefix = "released/"
	// logVersion is the encoding of the records written now. A reader
	// refuses a newer one: it cannot know what it would miss.
	logVersion = 1
)

// Decision is one assignment as the coordinator published it.
type Decision struct {
	Assignment
	// Coordinator wrote it; CoordinatorAddr is its gossip address, which
	// a node that does not see it as a member names in its error (a
	// second cluster with the same application id).
	Coordinator     NodeID
	CoordinatorAddr string
}

// Released says that Node, the owner of Task before epoch Epoch took it
// away, committed and closed it: the new owner may start it without
// waiting out the old owner's lease.
type Released struct {
	Task  topology.TaskID
	Epoch int64
	Node  NodeID
}

// EnsureLogTopic creates app's decision log topic if it is missing: one
// partition, compacted, with the broker's replication factor unless
// replication is positive. One created meanwhile by another node is fine;
// an existing one with another partition count is an error, since a second
// partition would split the one order of decisions.
func EnsureLogTopic(ctx context.Context, adm *kadm.Client, app string, replication int16) error {
	topic := LogTopic(app)
	if replication <= 0 {
		replication = -1
	}
	cleanup := "compact"
	resp, err := adm.CreateTopic(ctx, 1, replication, map[string]*string{"cleanup.policy": &cleanup}, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("create decision log topic %s (1 partition, compacted): %w", topic, err)
	}
	if err == nil {
		return nil
	}
	// Created by another node a moment ago: the broker we ask may not
	// know it yet.
	var d kadm.TopicDetail
	err = kretry.Do(ctx, func() error {
		details, err := adm.ListTopics(ctx, topic)
		if err != nil {
			return err
		}
		var ok bool
		if d, ok = details[topic]; !ok {
			return kerr.UnknownTopicOrPartition
		}
		return d.Err
	}, kerr.UnknownTopicOrPartition)
	if err != nil {
		return fmt.Errorf("describe decision log topic %s: %w", topic, err)
	}
	if n := len(d.Partitions); n != 1 {
		return fmt.Errorf("decision log topic %s has %d partitions; it must have exactly 1 (delete it, or use another application id)", topic, n)
	}
	return nil
}

// encodeDecision is version, epoch, coordinator, its address, then per node
// (sorted by id) the node id and its active, standby and warm-up lists.
func encodeDecision(d Decision) []byte {
	b := []byte{logVersion}
	b = binary.AppendVarint(b, d.Epoch)
	b = appendString(b, string(d.Coordinator))
	b = appendString(b, d.CoordinatorAddr)
	ids := d.nodeIDs()
	b = binary.AppendUvarint(b, uint64(len(ids)))
	for _, id := range ids {
		na := d.Nodes[id]
		b = appendString(b, string(id))
		for _, l := range [][]topology.TaskID{na.Active, na.Standby, na.Warmup} {
			b = binary.AppendUvarint(b, uint64(len(l)))
			for _, t := range l {
				b = appendTask(b, t)
			}
		}
	}
	return b
}

func decodeDecision(v []byte) (Decision, error) {
	r := decoder{b: v}
	if err := r.version(); err != nil {
		return Decision{}, err
	}
	d := Decision{}
	d.Epoch = r.varint()
	d.Coordinator = NodeID(r.string())
	d.CoordinatorAddr = r.string()
	n := r.count()
	d.Nodes = make(map[NodeID]NodeAssignment, n)
	for range n {
		id := NodeID(r.string())
		var lists [3][]topology.TaskID
		for i := range lists {
			m := r.count()
			for range m {
				lists[i] = append(lists[i], r.task())
			}
		}
		if _, dup := d.Nodes[id]; dup && r.err == nil {
			r.err = fmt.Errorf("node %q listed twice", id)
		}
		d.Nodes[id] = NodeAssignment{Active: lists[0], Standby: lists[1], Warmup: lists[2]}
	}
	r.end()
	if r.err != nil {
		return Decision{}, fmt.Errorf("decode assignment record: %w", r.err)
	}
	return d, nil
}

func releasedKey(t topology.TaskID) string { return releasedPrefix + t.String() }

func encodeReleased(rel Released) []byte {
	b := []byte{logVersion}
	b = binary.AppendVarint(b, rel.Epoch)
	b = appendString(b, string(rel.Node))
	return appendTask(b, rel.Task)
}

func decodeReleased(v []byte) (Released, error) {
	r := decoder{b: v}
	if err := r.version(); err != nil {
		return Released{}, err
	}
	rel := Released{Epoch: r.varint(), Node: NodeID(r.string())}
	rel.Task = r.task()
	r.end()
	if r.err != nil {
		return Released{}, fmt.Errorf("decode released record: %w", r.err)
	}
	return rel, nil
}

// logRecord is one decoded record of the log: exactly one of its fields
// is set; neither for a key this version does not know (skipped, so that
// a later version may add kinds of records older nodes can ignore).
type logRecord struct {
	decision *Decision
	released *Released
}

func decodeRecord(key, value []byte) (logRecord, error) {
	k := string(key)
	switch {
	case k == assignmentKey:
		d, err := decodeDecision(value)
		if err != nil {
			return logRecord{}, err
		}
		return logRecord{decision: &d}, nil
	case strings.HasPrefix(k, releasedPrefix):
		rel, err := decodeReleased(value)
		if err != nil {
			return logRecord{}, err
		}
		return logRecord{released: &rel}, nil
	}
	return logRecord{}, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendTask(b []byte, t topology.TaskID) []byte {
	b = binary.AppendUvarint(b, uint64(t.Subtopology))
	return binary.AppendVarint(b, int64(t.Partition))
}

// decoder reads what the append functions wrote; the first error sticks
// and later reads return zero values.
type decoder struct {
	b   []byte
	err error
}

func (r *decoder) version() error {
	if len(r.b) == 0 {
		return errors.New("empty decision log record")
	}
	if v := r.b[0]; v != logVersion {
		return fmt.Errorf("decision log record version %d; this node reads version %d only (upgrade it to the version of the coordinator)", v, logVersion)
	}
	r.b = r.b[1:]
	return nil
}

func (r *decoder) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("truncated or corrupt %s", what)
	}
}

func (r *decoder) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("integer")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("integer")
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a list length, refusing one longer than the bytes left could
// hold, so that a corrupt record cannot make us allocate without bound.
func (r *decoder) count() int {
	v := r.uvarint()
	if v > uint64(len(r.b)) {
		r.fail("list length")
		return 0
	}
	return int(v)
}

func (r *decoder) string() string {
	n := r.count()
	if r.err != nil {
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// task reads a task id, refusing a sub-topology or partition number out of
// the range appendTask writes (an int32 partition, a sub-topology that
// fits an int32 too), rather than wrapping it to another task.
func (r *decoder) task() topology.TaskID {
	sub, p := r.uvarint(), r.varint()
	if sub > math.MaxInt32 || p < math.MinInt32 || p > math.MaxInt32 {
		r.fail("task id")
		return topology.TaskID{}
	}
	return topology.TaskID{Subtopology: int(sub), Partition: int32(p)}
}

// end fails when bytes are left after the last field: a record of this
// version has nothing after it, so they can only be corruption.
func (r *decoder) end() {
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%d bytes after the last field", len(r.b))
	}
}

// sameNodes says whether a and b place every task alike, whatever their
// epochs: the coordinator publishes a new epoch only for a change.
func sameNodes(a, b Assignment) bool {
	if len(a.Nodes) != len(b.Nodes) {
		return false
	}
	for id, na := range a.Nodes {
		nb, ok := b.Nodes[id]
		if !ok || !sameTasks(na.Active, nb.Active) || !sameTasks(na.Standby, nb.Standby) || !sameTasks(na.Warmup, nb.Warmup) {
			return false
		}
	}
	return true
}

func sameTasks(a, b []topology.TaskID) bool {
	if len(a) != len(b) {
		return false
	}
	x := append([]topology.TaskID(nil), a...)
	y := append([]topology.TaskID(nil), b...)
	less := func(l []topology.TaskID) func(i, j int) bool {
		return func(i, j int) bool {
			if l[i].Subtopology != l[j].Subtopology {
				return l[i].Subtopology < l[j].Subtopology
			}
			return l[i].Partition < l[j].Partition
		}
	}
	sort.Slice(x, less(x))
	sort.Slice(y, less(y))
	for i := range x {
		if x[i] != y[i] {
			return false
		}
	}
	return true
}
