package cluster

import (
	"sort"

	"github.com/eddystreams/eddy/topology"
)

// NodeID names a member of the cluster: the stable node id a node keeps in
// its state directory, so that a node restarted on the same directory is the
// same member (and gets its own tasks back).
type NodeID string

// MemberState is what the assignor may give a member.
type MemberState int

const (
	// MemberAlive: a running member; it may hold any task in any role.
	MemberAlive MemberState = iota
	// MemberDraining: a member on its way out; it is given nothing, so its
	// actives move and its standbys are placed elsewhere.
	MemberDraining
	// MemberDead: a member the failure detector gave up on; as if absent.
	MemberDead
)

func (s MemberState) String() string {
	switch s {
	case MemberAlive:
		return "alive"
	case MemberDraining:
		return "draining"
	case MemberDead:
		return "dead"
	}
	return "unknown"
}

// Member is one node as the assignor sees it.
type Member struct {
	ID NodeID
	// Capacity is the member's weight when active tasks are shared out: a
	// member of capacity 2 gets twice the share of one of capacity 1.
	// Zero or less counts as 1.
	Capacity int
	// Rack is where the member runs (a rack, a zone); standbys prefer
	// other racks than the active's. Empty means unknown: no preference.
	Rack  string
	State MemberState
}

// NodeAssignment is what one node runs: Active tasks process; Standby and
// Warmup ones keep a copy of the task's state from its changelogs (a standby
// for failover, a warm-up so that the active can move here once the copy is
// caught up). Each list is sorted and holds a task at most once; a task is in
// at most one of the three lists.
type NodeAssignment struct {
	Active, Standby, Warmup []topology.TaskID
}

// Assignment is the placement of every task on the cluster's nodes. Epoch
// numbers it in the decision log; the assignor does not choose it (Compute
// carries the previous one over and the coordinator numbers what it
// publishes).
type Assignment struct {
	Epoch int64
	// Nodes has an entry for every live or draining member (a draining
	// one's is empty, which tells it to let everything go).
	Nodes map[NodeID]NodeAssignment
}

// Owner is the node running task id as active.
func (a Assignment) Owner(id topology.TaskID) (NodeID, bool) {
	for _, n := range a.nodeIDs() {
		for _, t := range a.Nodes[n].Active {
			if t == id {
				return n, true
			}
		}
	}
	return "", false
}

// nodeIDs lists a's nodes in order, so that walking them leaks no map order.
func (a Assignment) nodeIDs() []NodeID {
	ids := make([]NodeID, 0, len(a.Nodes))
	for id := range a.Nodes {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// Lags says, per node and task, how many records that node's copy of the
// task's state is behind the ends of the task's changelogs. A missing entry
// means the node has no copy. The active owner of a task needs no entry: its
// copy is the one being written. A negative lag counts as 0.
type Lags map[NodeID]map[topology.TaskID]int64

// lag is n's lag on id, and whether n has a copy at all.
func (l Lags) lag(n NodeID, id topology.TaskID) (int64, bool) {
	v, ok := l[n][id]
	return max(v, 0), ok
}

// AssignorConfig tunes Compute. The zero value asks for no standbys, counts
// only copies with no lag as caught up and places no warm-ups (so a stateful
// active never moves for balance); DefaultAssignorConfig has Kafka Streams'
// defaults.
type AssignorConfig struct {
	// NumStandbys is the number of standby replicas of each stateful task
	// (Kafka Streams' num.standby.replicas), on as many other members as
	// there are, up to this.
	NumStandbys int
	// Stateful tells which tasks have state (stores with changelogs):
	// only those get standbys and warm-ups, and only those are held back
	// by lags. Nil means none. It must be a pure function of the task.
	Stateful func(topology.TaskID) bool
	// AcceptableRecoveryLag is the lag (records) up to which a copy counts
	// as caught up: an active moves only to a node whose copy is caught up
	// (Kafka Streams' acceptable.recovery.lag, 10000 by default).
	AcceptableRecoveryLag int64
	// MaxWarmups is how many warm-up replicas the whole cluster may have at
	// once (Kafka Streams' max.warmup.replicas, 2 by default): it bounds the
	// restore traffic that balancing causes, and so how fast a new member
	// gets its share of stateful tasks.
	MaxWarmups int
}

// DefaultAssignorConfig is Kafka Streams' defaults: no standbys, caught up
// within 10000 records, 2 warm-ups at a time.
func DefaultAssignorConfig() AssignorConfig {
	return AssignorConfig{AcceptableRecoveryLag: 10000, MaxWarmups: 2}
}
