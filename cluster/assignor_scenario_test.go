package cluster

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/eddystreams/eddy/topology"
)

// Scenarios with expected placements worked out by hand from the rules in
// Compute's doc comment (the reasoning is in each comment), not taken from
// the code's output.

// tids parses "0_1 1_0" into task ids.
func tids(s string) []topology.TaskID {
	var ids []topology.TaskID
	for _, f := range strings.Fields(s) {
		var id topology.TaskID
		if _, err := fmt.Sscanf(f, "%d_%d", &id.Subtopology, &id.Partition); err != nil {
			panic(err)
		}
		ids = append(ids, id)
	}
	return ids
}

// node builds a NodeAssignment from three lists of ids.
func node(active, standby, warmup string) NodeAssignment {
	return NodeAssignment{Active: tids(active), Standby: tids(standby), Warmup: tids(warmup)}
}

func statefulSubs(subs ...int) func(topology.TaskID) bool {
	return func(id topology.TaskID) bool {
		for _, s := range subs {
			if id.Subtopology == s {
				return true
			}
		}
		return false
	}
}

func alive(ids ...NodeID) []Member {
	var ms []Member
	for _, id := range ids {
		ms = append(ms, Member{ID: id})
	}
	return ms
}

func expect(t *testing.T, got Assignment, want map[NodeID]NodeAssignment) {
	t.Helper()
	if !reflect.DeepEqual(got.Nodes, want) {
		t.Fatalf("got  %v\nwant %v", got.Nodes, want)
	}
}

// Stateless tasks on an empty cluster go round the members in ID order:
// each to the least loaded, ties to the first.
func TestScenarioRoundRobin(t *testing.T) {
	got := Compute(Assignment{}, alive("a", "b", "c"), nil, tids("0_0 0_1 0_2 0_3 0_4 0_5"), DefaultAssignorConfig())
	expect(t, got, map[NodeID]NodeAssignment{
		"a": node("0_0 0_3", "", ""),
		"b": node("0_1 0_4", "", ""),
		"c": node("0_2 0_5", "", ""),
	})
}

// Capacity 2 against 1: shares of 6 tasks are 4 and 2. Loads per capacity
// as tasks come: 0_0 tie → a; 0_1 b (0 < ½); 0_2 a (½ < 1); 0_3 tie at 1
// → a; 0_4 b (1 < 3/2); 0_5 a (3/2 < 2).
func TestScenarioCapacity(t *testing.T) {
	members := []Member{{ID: "a", Capacity: 2}, {ID: "b", Capacity: 1}}
	got := Compute(Assignment{}, members, nil, tids("0_0 0_1 0_2 0_3 0_4 0_5"), DefaultAssignorConfig())
	expect(t, got, map[NodeID]NodeAssignment{
		"a": node("0_0 0_2 0_3 0_5", "", ""),
		"b": node("0_1 0_4", "", ""),
	})
}

// c dies. Its task 0_2 has caught-up copies on a (lag 0, an old copy) and
// on b (lag 7, its standby): the standby wins although a, equally loaded,
// comes first by ID. Shares of 3 tasks on 2 members are 1..2: no move.
// Standbys: 0_0 keeps b's; 0_1's was on c, so a (the only other member);
// 0_2's standby b now runs it, so a.
func TestScenarioFailoverToStandby(t *testing.T) {
	cfg := DefaultAssignorConfig()
	cfg.NumStandbys, cfg.AcceptableRecoveryLag, cfg.Stateful = 1, 100, statefulSubs(0)
	prev := Assignment{Epoch: 7, Nodes: map[NodeID]NodeAssignment{
		"a": node("0_0", "", ""),
		"b": node("0_1", "0_0 0_2", ""),
		"c": node("0_2", "0_1", ""),
	}}
	members := []Member{{ID: "a"}, {ID: "b"}, {ID: "c", State: MemberDead}}
	lags := Lags{"a": {tids("0_2")[0]: 0}, "b": {tids("0_0")[0]: 3, tids("0_2")[0]: 7}}
	got := Compute(prev, members, lags, tids("0_0 0_1 0_2"), cfg)
	if got.Epoch != 7 {
		t.Errorf("epoch %d, want prev's 7", got.Epoch)
	}
	expect(t, got, map[NodeID]NodeAssignment{
		"a": node("0_0", "0_1 0_2", ""),
		"b": node("0_1 0_2", "0_0", ""),
	})
}

// No copy of 0_0 is caught up (threshold 100): it goes to the least
// behind, c (200) rather than b (500).
func TestScenarioLeastLag(t *testing.T) {
	cfg := DefaultAssignorConfig()
	cfg.AcceptableRecoveryLag, cfg.Stateful = 100, statefulSubs(0)
	prev := Assignment{Nodes: map[NodeID]NodeAssignment{"a": node("0_0", "", "")}}
	lags := Lags{"b": {tids("0_0")[0]: 500}, "c": {tids("0_0")[0]: 200}}
	got := Compute(prev, alive("b", "c"), lags, tids("0_0"), cfg)
	expect(t, got, map[NodeID]NodeAssignment{
		"b": node("", "", ""),
		"c": node("0_0", "", ""),
	})
}

// c joins a and b, which hold 2 stateful tasks each; shares of 4 on 3
// members are 1..2, so c should get one. It has no copy: nothing moves;
// a warm-up goes to c (one allowed) for the first task of the most loaded
// member, a (ties by ID). At lag 150 it is not caught up (threshold 100):
// nothing changes. At lag 40 it is: 0_0 moves to c, the warm-up ends.
func TestScenarioJoinWarmsUpThenMoves(t *testing.T) {
	cfg := AssignorConfig{AcceptableRecoveryLag: 100, MaxWarmups: 1, Stateful: statefulSubs(0)}
	tasks := tids("0_0 0_1 0_2 0_3")
	prev := Assignment{Nodes: map[NodeID]NodeAssignment{
		"a": node("0_0 0_1", "", ""),
		"b": node("0_2 0_3", "", ""),
	}}
	members := alive("a", "b", "c")
	warm := Compute(prev, members, nil, tasks, cfg)
	expect(t, warm, map[NodeID]NodeAssignment{
		"a": node("0_0 0_1", "", ""),
		"b": node("0_2 0_3", "", ""),
		"c": node("", "", "0_0"),
	})
	still := Compute(warm, members, Lags{"c": {tids("0_0")[0]: 150}}, tasks, cfg)
	expect(t, still, warm.Nodes)
	moved := Compute(still, members, Lags{"c": {tids("0_0")[0]: 40}}, tasks, cfg)
	expect(t, moved, map[NodeID]NodeAssignment{
		"a": node("0_1", "", ""),
		"b": node("0_2 0_3", "", ""),
		"c": node("0_0", "", ""),
	})
}

// Balance wants two of a's four tasks on c (0_0 and 0_1, first by ID, as c
// has no copies), but one warm-up is allowed: c's previous warm-up, 0_1,
// keeps it rather than 0_0 starting over.
func TestScenarioWarmupKept(t *testing.T) {
	cfg := AssignorConfig{AcceptableRecoveryLag: 100, MaxWarmups: 1, Stateful: statefulSubs(0)}
	prev := Assignment{Nodes: map[NodeID]NodeAssignment{
		"a": node("0_0 0_1 0_2 0_3", "", ""),
		"c": node("", "", "0_1"),
	}}
	got := Compute(prev, alive("a", "c"), nil, tids("0_0 0_1 0_2 0_3"), cfg)
	expect(t, got, map[NodeID]NodeAssignment{
		"a": node("0_0 0_1 0_2 0_3", "", ""),
		"c": node("", "", "0_1"),
	})
}

// a and b share rack x, c is on y. 0_0 runs on a: its one standby goes to
// c (another rack) although b comes first by ID; a second one to b.
func TestScenarioRacks(t *testing.T) {
	members := []Member{{ID: "a", Rack: "x"}, {ID: "b", Rack: "x"}, {ID: "c", Rack: "y"}}
	prev := Assignment{Nodes: map[NodeID]NodeAssignment{"a": node("0_0", "", "")}}
	cfg := DefaultAssignorConfig()
	cfg.NumStandbys, cfg.Stateful = 1, statefulSubs(0)
	expect(t, Compute(prev, members, nil, tids("0_0"), cfg), map[NodeID]NodeAssignment{
		"a": node("0_0", "", ""),
		"b": node("", "", ""),
		"c": node("", "0_0", ""),
	})
	cfg.NumStandbys = 2
	expect(t, Compute(prev, members, nil, tids("0_0"), cfg), map[NodeID]NodeAssignment{
		"a": node("0_0", "", ""),
		"b": node("", "0_0", ""),
		"c": node("", "0_0", ""),
	})
}

// New standbys go to the member with the fewest copies, actives counted:
// 0_0's to c (1 active) rather than b (2 actives); then 0_1's to a (1
// copy) rather than c (now 2).
func TestScenarioStandbyLoad(t *testing.T) {
	cfg := DefaultAssignorConfig()
	cfg.NumStandbys, cfg.Stateful = 1, statefulSubs(0)
	prev := Assignment{Nodes: map[NodeID]NodeAssignment{
		"a": node("0_0", "", ""),
		"b": node("0_1 1_0", "", ""),
		"c": node("1_1", "", ""),
	}}
	got := Compute(prev, alive("a", "b", "c"), nil, tids("0_0 0_1 1_0 1_1"), cfg)
	expect(t, got, map[NodeID]NodeAssignment{
		"a": node("0_0", "0_1", ""),
		"b": node("0_1 1_0", "", ""),
		"c": node("1_1", "0_0", ""),
	})
}

// a drains: its stateful 0_0 goes to b (caught-up standby), its stateless
// 1_0 to the least loaded, c; 0_0's standby, now active on b, is replaced
// on c, the only other member. a gets an empty entry: it lets go of all.
func TestScenarioDraining(t *testing.T) {
	cfg := DefaultAssignorConfig()
	cfg.NumStandbys, cfg.AcceptableRecoveryLag, cfg.Stateful = 1, 100, statefulSubs(0)
	prev := Assignment{Nodes: map[NodeID]NodeAssignment{
		"a": node("0_0 1_0", "", ""),
		"b": node("", "0_0", ""),
	}}
	members := []Member{{ID: "a", State: MemberDraining}, {ID: "b"}, {ID: "c"}}
	got := Compute(prev, members, Lags{"b": {tids("0_0")[0]: 10}}, tids("0_0 1_0"), cfg)
	expect(t, got, map[NodeID]NodeAssignment{
		"a": {},
		"b": node("0_0", "", ""),
		"c": node("1_0", "0_0", ""),
	})
}
