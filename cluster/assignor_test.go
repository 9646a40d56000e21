package cluster

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"testing"

	"github.com/eddystreams/eddy/topology"
)

// The properties below run Compute on seeded random inputs: 1–7 members
// with capacities, racks and states; tasks over several sub-topologies, some
// stateful; random previous assignments (invalid ones too: tasks on dead or
// unknown members, two actives, copies on the active's member); random
// lags. A failure names its seed; rerun one with -run 'TestX/seed=N'.

const seeds = 600

// input is one call of Compute.
type input struct {
	prev    Assignment
	members []Member
	lags    Lags
	tasks   []topology.TaskID
	cfg     AssignorConfig
	// statefulSubs is what cfg.Stateful says, by sub-topology.
	statefulSubs map[int]bool
}

func (in input) compute() Assignment {
	return Compute(in.prev, in.members, in.lags, in.tasks, in.cfg)
}

func (in input) stateful(id topology.TaskID) bool { return in.statefulSubs[id.Subtopology] }

// alive lists the members that may hold tasks.
func (in input) alive() []Member {
	var ms []Member
	for _, m := range in.members {
		if m.State == MemberAlive {
			ms = append(ms, m)
		}
	}
	return ms
}

func (in input) member(id NodeID) (Member, bool) {
	for _, m := range in.members {
		if m.ID == id {
			return m, true
		}
	}
	return Member{}, false
}

// caughtUp is the assignor's rule, restated: the previous owner, or a copy
// within the acceptable lag.
func (in input) caughtUp(n NodeID, id topology.TaskID, prevOwner NodeID) bool {
	if !in.stateful(id) || n == prevOwner {
		return true
	}
	l, ok := in.lags[n][id]
	return ok && max(l, 0) <= in.cfg.AcceptableRecoveryLag
}

// validPrevOwner is the previous owner Compute keeps: the first alive member
// by ID listing the task as active.
func (in input) validPrevOwner(id topology.TaskID) (NodeID, bool) {
	var ids []NodeID
	for n := range in.prev.Nodes {
		ids = append(ids, n)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, n := range ids {
		if m, ok := in.member(n); !ok || m.State != MemberAlive {
			continue
		}
		for _, t := range in.prev.Nodes[n].Active {
			if t == id {
				return n, true
			}
		}
	}
	return "", false
}

func randomTasks(rng *rand.Rand) ([]topology.TaskID, map[int]bool) {
	var tasks []topology.TaskID
	stateful := map[int]bool{}
	subs := 1 + rng.IntN(4)
	for st := 0; st < subs; st++ {
		stateful[st] = rng.IntN(3) > 0
		for p := 0; p < 1+rng.IntN(8); p++ {
			tasks = append(tasks, topology.TaskID{Subtopology: st, Partition: int32(p)})
		}
	}
	return tasks, stateful
}

func randomMembers(rng *rand.Rand, allAlive bool) []Member {
	racks := []string{"", "r1", "r2", "r3"}
	n := 1 + rng.IntN(7)
	var ms []Member
	for i := 0; i < n; i++ {
		m := Member{ID: NodeID(fmt.Sprintf("n%d", i+1)), Rack: racks[rng.IntN(len(racks))]}
		if rng.IntN(3) == 0 {
			m.Capacity = rng.IntN(4) // 0 counts as 1
		}
		if !allAlive {
			switch rng.IntN(8) {
			case 0:
				m.State = MemberDraining
			case 1:
				m.State = MemberDead
			}
		}
		ms = append(ms, m)
	}
	return ms
}

// randomPrev spreads the tasks over the members and some unknown node,
// with mistakes: missing actives, two actives, copies on the active.
// Roles in a random previous assignment.
type Role int

const (
	roleActiveT Role = iota
	roleStandbyT
	roleWarmupT
)

func randomPrev(rng *rand.Rand, members []Member, tasks []topology.TaskID) Assignment {
	nodes := []NodeID{"gone"}
	for _, m := range members {
		nodes = append(nodes, m.ID)
	}
	per := map[NodeID]*NodeAssignment{}
	at := func(n NodeID) *NodeAssignment {
		if per[n] == nil {
			per[n] = &NodeAssignment{}
		}
		return per[n]
	}
	put := func(id topology.TaskID, r Role) {
		na := at(nodes[rng.IntN(len(nodes))])
		switch r {
		case roleActiveT:
			na.Active = append(na.Active, id)
		case roleStandbyT:
			na.Standby = append(na.Standby, id)
		default:
			na.Warmup = append(na.Warmup, id)
		}
	}
	for _, id := range tasks {
		if rng.IntN(8) > 0 {
			put(id, roleActiveT)
		}
		if rng.IntN(10) == 0 {
			put(id, roleActiveT) // a second active
		}
		for k := rng.IntN(3); k > 0; k-- {
			put(id, roleStandbyT)
		}
		if rng.IntN(4) == 0 {
			put(id, roleWarmupT)
		}
	}
	out := Assignment{Epoch: rng.Int64N(100), Nodes: map[NodeID]NodeAssignment{}}
	for n, na := range per {
		out.Nodes[n] = *na
	}
	return out
}

func randomLags(rng *rand.Rand, members []Member, tasks []topology.TaskID, stateful map[int]bool, thr int64) Lags {
	lags := Lags{}
	for _, m := range members {
		for _, id := range tasks {
			if !stateful[id.Subtopology] && rng.IntN(4) > 0 {
				continue
			}
			var l int64
			switch rng.IntN(5) {
			case 0:
				continue
			case 1:
				l = 0
			case 2:
				l = rng.Int64N(thr + 1)
			case 3:
				l = thr + 1 + rng.Int64N(1000)
			case 4:
				l = -1 // reported as "current"
			}
			if lags[m.ID] == nil {
				lags[m.ID] = map[topology.TaskID]int64{}
			}
			lags[m.ID][id] = l
		}
	}
	return lags
}

func randomConfig(rng *rand.Rand, stateful map[int]bool) AssignorConfig {
	return AssignorConfig{
		NumStandbys:           rng.IntN(3),
		Stateful:              func(id topology.TaskID) bool { return stateful[id.Subtopology] },
		AcceptableRecoveryLag: []int64{0, 100, 10000}[rng.IntN(3)],
		MaxWarmups:            rng.IntN(4),
	}
}

func randomInput(seed uint64) input {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	tasks, stateful := randomTasks(rng)
	members := randomMembers(rng, false)
	cfg := randomConfig(rng, stateful)
	return input{
		prev:         randomPrev(rng, members, tasks),
		members:      members,
		lags:         randomLags(rng, members, tasks, stateful, cfg.AcceptableRecoveryLag),
		tasks:        tasks,
		cfg:          cfg,
		statefulSubs: stateful,
	}
}

// forSeeds runs f on many seeded inputs, each as a subtest named by seed.
func forSeeds(t *testing.T, f func(t *testing.T, seed uint64)) {
	for seed := uint64(0); seed < seeds; seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { f(t, seed) })
	}
}

// checkValid asserts what every assignment must satisfy.
func checkValid(t *testing.T, in input, out Assignment) {
	t.Helper()
	alive := in.alive()
	known := map[topology.TaskID]bool{}
	for _, id := range in.tasks {
		known[id] = true
	}
	if out.Epoch != in.prev.Epoch {
		t.Errorf("epoch %d, want prev's %d", out.Epoch, in.prev.Epoch)
	}
	actives := map[topology.TaskID][]NodeID{}
	standbys := map[topology.TaskID]int{}
	warmups := 0
	type copyAt struct {
		id topology.TaskID
		n  NodeID
	}
	copies := map[copyAt]string{}
	for n, na := range out.Nodes {
		m, ok := in.member(n)
		if !ok || m.State == MemberDead {
			t.Errorf("node %s is not a live member", n)
			continue
		}
		if m.State == MemberDraining && (len(na.Active)+len(na.Standby)+len(na.Warmup)) > 0 {
			t.Errorf("draining %s holds %+v", n, na)
		}
		for _, l := range []struct {
			role string
			ids  []topology.TaskID
		}{{"active", na.Active}, {"standby", na.Standby}, {"warmup", na.Warmup}} {
			if !sort.SliceIsSorted(l.ids, func(i, j int) bool { return taskLess(l.ids[i], l.ids[j]) }) {
				t.Errorf("%s %s list not sorted: %v", n, l.role, l.ids)
			}
			for _, id := range l.ids {
				if !known[id] {
					t.Errorf("%s holds unknown task %s", n, id)
				}
				if was, ok := copies[copyAt{id, n}]; ok {
					t.Errorf("%s holds task %s twice (%s, %s)", n, id, was, l.role)
				}
				copies[copyAt{id, n}] = l.role
				if l.role != "active" && !in.stateful(id) {
					t.Errorf("stateless task %s has a %s on %s", id, l.role, n)
				}
			}
		}
		for _, id := range na.Active {
			actives[id] = append(actives[id], n)
		}
		for _, id := range na.Standby {
			standbys[id]++
		}
		warmups += len(na.Warmup)
	}
	for _, m := range in.members {
		if _, ok := out.Nodes[m.ID]; (m.State != MemberDead) != ok {
			t.Errorf("member %s (%s) listed: %v", m.ID, m.State, ok)
		}
	}
	wantStandbys := 0
	if len(alive) > 0 {
		wantStandbys = min(in.cfg.NumStandbys, len(alive)-1)
	}
	for _, id := range in.tasks {
		want := 1
		if len(alive) == 0 {
			want = 0
		}
		if len(actives[id]) != want {
			t.Errorf("task %s has actives %v, want %d", id, actives[id], want)
		}
		if in.stateful(id) && standbys[id] != wantStandbys {
			t.Errorf("task %s has %d standbys, want %d", id, standbys[id], wantStandbys)
		}
	}
	if warmups > in.cfg.MaxWarmups {
		t.Errorf("%d warm-ups, at most %d allowed", warmups, in.cfg.MaxWarmups)
	}
}

// shareOK says whether n tasks of total on a member of capacity c out of
// capacity sum C is within one task of its share: floor or ceiling of n·c/C.
func shareOK(n, total, c, sum int) bool {
	q := total * c
	return n >= q/sum && n <= (q+sum-1)/sum
}

// checkBalanced asserts every alive member is within one task of its
// capacity-weighted share, for stateful actives and for all actives.
func checkBalanced(t *testing.T, in input, out Assignment) {
	t.Helper()
	alive := in.alive()
	sum, nState := 0, 0
	for _, m := range alive {
		sum += max(m.Capacity, 1)
	}
	for _, id := range in.tasks {
		if in.stateful(id) {
			nState++
		}
	}
	for _, m := range alive {
		all, st := 0, 0
		for _, id := range out.Nodes[m.ID].Active {
			all++
			if in.stateful(id) {
				st++
			}
		}
		c := max(m.Capacity, 1)
		if !shareOK(all, len(in.tasks), c, sum) || !shareOK(st, nState, c, sum) {
			t.Errorf("%s (capacity %d) has %d actives (%d stateful) of %d (%d) on capacity %d", m.ID, c, all, st, len(in.tasks), nState, sum)
		}
	}
}

func owners(a Assignment) map[topology.TaskID]NodeID {
	o := map[topology.TaskID]NodeID{}
	for n, na := range a.Nodes {
		for _, id := range na.Active {
			o[id] = n
		}
	}
	return o
}

func TestComputeValid(t *testing.T) {
	forSeeds(t, func(t *testing.T, seed uint64) {
		in := randomInput(seed)
		checkValid(t, in, in.compute())
	})
}

// An active leaves a live previous owner only for a member caught up on it;
// a task without a live owner goes to a caught-up member if there is one,
// else to one with the least lag if any has a copy.
func TestComputeMovesOnlyToCaughtUp(t *testing.T) {
	forSeeds(t, func(t *testing.T, seed uint64) {
		in := randomInput(seed)
		out := owners(in.compute())
		for _, id := range in.tasks {
			n, ok := out[id]
			if !ok || !in.stateful(id) {
				continue
			}
			prev, had := in.validPrevOwner(id)
			if had {
				if n != prev && !in.caughtUp(n, id, prev) {
					t.Errorf("task %s moved from %s to %s, which is not caught up (lag %v)", id, prev, n, in.lags[n][id])
				}
				continue
			}
			anyCaughtUp, minLag := false, int64(-1)
			for _, m := range in.alive() {
				if in.caughtUp(m.ID, id, "") {
					anyCaughtUp = true
				}
				if l, ok := in.lags[m.ID][id]; ok && (minLag < 0 || max(l, 0) < minLag) {
					minLag = max(l, 0)
				}
			}
			switch {
			case anyCaughtUp:
				if !in.caughtUp(n, id, "") {
					t.Errorf("orphan %s went to %s, not caught up, though a member is", id, n)
				}
			case minLag >= 0:
				if l, ok := in.lags[n][id]; !ok || max(l, 0) != minLag {
					t.Errorf("orphan %s went to %s (lag %v, has copy %v), least lag is %d", id, n, l, ok, minLag)
				}
			}
		}
	})
}

func TestComputeDeterministic(t *testing.T) {
	forSeeds(t, func(t *testing.T, seed uint64) {
		in := randomInput(seed)
		a, b := in.compute(), in.compute()
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("two runs differ:\n%v\n%v", a, b)
		}
		rng := rand.New(rand.NewPCG(seed, 1))
		sh := in
		sh.members = append([]Member(nil), in.members...)
		rng.Shuffle(len(sh.members), func(i, j int) { sh.members[i], sh.members[j] = sh.members[j], sh.members[i] })
		sh.tasks = append([]topology.TaskID(nil), in.tasks...)
		rng.Shuffle(len(sh.tasks), func(i, j int) { sh.tasks[i], sh.tasks[j] = sh.tasks[j], sh.tasks[i] })
		sh.prev = Assignment{Epoch: in.prev.Epoch, Nodes: map[NodeID]NodeAssignment{}}
		shuffled := func(ids []topology.TaskID) []topology.TaskID {
			ids = append([]topology.TaskID(nil), ids...)
			rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
			return ids
		}
		for n, na := range in.prev.Nodes {
			sh.prev.Nodes[n] = NodeAssignment{Active: shuffled(na.Active), Standby: shuffled(na.Standby), Warmup: shuffled(na.Warmup)}
		}
		if c := sh.compute(); !reflect.DeepEqual(a, c) {
			t.Fatalf("shuffled inputs give another assignment:\n%v\n%v", a, c)
		}
	})
}

// Compute on its own result, nothing else changed, changes nothing: the
// coordinator may recompute at any time without moving anything.
func TestComputeSticky(t *testing.T) {
	forSeeds(t, func(t *testing.T, seed uint64) {
		in := randomInput(seed)
		out := in.compute()
		again := in
		again.prev = out
		if out2 := again.compute(); !reflect.DeepEqual(out, out2) {
			t.Fatalf("recomputing changed the assignment:\n%v\n%v", out, out2)
		}
	})
}

// allCaughtUp reports every alive member with lag 0 on every task.
func allCaughtUp(members []Member, tasks []topology.TaskID) Lags {
	lags := Lags{}
	for _, m := range members {
		lags[m.ID] = map[topology.TaskID]int64{}
		for _, id := range tasks {
			lags[m.ID][id] = 0
		}
	}
	return lags
}

func TestComputeBalancedWhenCaughtUp(t *testing.T) {
	forSeeds(t, func(t *testing.T, seed uint64) {
		in := randomInput(seed)
		in.lags = allCaughtUp(in.members, in.tasks)
		out := in.compute()
		checkValid(t, in, out)
		checkBalanced(t, in, out)
		for n, na := range out.Nodes {
			if len(na.Warmup) > 0 {
				t.Errorf("%s got warm-ups %v though everyone is caught up", n, na.Warmup)
			}
		}
	})
}

// converge recomputes from in until the assignment stops changing, feeding
// back lag 0 for every standby and warm-up (their copies catch up), and
// checks each step. It returns the final input and assignment.
func converge(t *testing.T, in input, out Assignment) (input, Assignment) {
	t.Helper()
	for i := 0; i < 4*len(in.tasks)+10; i++ {
		for n, na := range out.Nodes {
			for _, id := range append(append([]topology.TaskID(nil), na.Standby...), na.Warmup...) {
				if in.lags[n] == nil {
					in.lags[n] = map[topology.TaskID]int64{}
				}
				in.lags[n][id] = 0
			}
		}
		in.prev = out
		next := in.compute()
		checkValid(t, in, next)
		was := owners(out)
		for id, n := range owners(next) {
			if in.stateful(id) && was[id] != n && !in.caughtUp(n, id, was[id]) {
				t.Fatalf("step %d: %s moved %s -> %s before it was caught up", i, id, was[id], n)
			}
		}
		if reflect.DeepEqual(next, out) {
			return in, out
		}
		out = next
	}
	t.Fatalf("no fixed point after %d steps", 4*len(in.tasks)+10)
	return in, out
}

// stableInput is a random input with every member alive, run to its fixed
// point with lags for the copies Compute placed: a cluster at rest.
func stableInput(t *testing.T, seed uint64) (input, Assignment) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 0xc1))
	tasks, stateful := randomTasks(rng)
	members := randomMembers(rng, true)
	cfg := randomConfig(rng, stateful)
	cfg.MaxWarmups = 1 + rng.IntN(3)
	in := input{members: members, lags: Lags{}, tasks: tasks, cfg: cfg, statefulSubs: stateful}
	return converge(t, in, in.compute())
}

// A new member gets no stateful active until it is caught up: first only
// warm-ups (and any standbys that were missing); fed back as caught up, the
// warm-ups turn into actives, Compute after Compute, until the cluster is
// balanced with no warm-ups left.
func TestComputeJoinWarmsUpFirst(t *testing.T) {
	forSeeds(t, func(t *testing.T, seed uint64) {
		in, out := stableInput(t, seed)
		checkBalanced(t, in, out)
		joiner := Member{ID: "new", Capacity: 1 + int(seed%3), Rack: "r1"}
		in.members = append(in.members, joiner)
		in.prev = out
		joined := in.compute()
		checkValid(t, in, joined)
		for _, id := range joined.Nodes["new"].Active {
			if in.stateful(id) {
				t.Errorf("stateful %s moved to the new member before it caught up", id)
			}
		}
		was := owners(out)
		for id, n := range owners(joined) {
			if in.stateful(id) && was[id] != n && !in.caughtUp(n, id, was[id]) {
				t.Errorf("stateful %s moved %s -> %s, not caught up, on a join", id, was[id], n)
			}
		}
		in, final := converge(t, in, joined)
		checkBalanced(t, in, final)
		for n, na := range final.Nodes {
			if len(na.Warmup) > 0 {
				t.Errorf("%s still has warm-ups %v at rest", n, na.Warmup)
			}
		}
	})
}

// A member's death moves exactly its actives, when every member is caught
// up on every task and the members have equal capacities; and each of its
// tasks goes to a caught-up member when only standbys are caught up.
//
// With unequal capacities the shares themselves shift when a member dies
// (one of capacity 3 in 7 members may hold 0 or 1 of 3 tasks; in 6 it must
// hold exactly 1), so balance may have to move a survivor's task even when
// the dead member held none; the test checks those moves stay few.
func TestComputeDeathMovesOnlyItsActives(t *testing.T) {
	forSeeds(t, func(t *testing.T, seed uint64) {
		in, out := stableInput(t, seed)
		if len(in.members) < 2 {
			return
		}
		equal := seed%2 == 0
		if equal {
			for i := range in.members {
				in.members[i].Capacity = 0
			}
			in, out = converge(t, in, in.compute())
		}
		standbyLags := in.lags
		in.lags = allCaughtUp(in.members, in.tasks)
		in, out = converge(t, in, out)
		dead := in.members[int(seed)%len(in.members)].ID
		for i := range in.members {
			if in.members[i].ID == dead {
				in.members[i].State = MemberDead
			}
		}
		in.prev = out
		after := in.compute()
		checkValid(t, in, after)
		checkBalanced(t, in, after)
		was := owners(out)
		survivorsMoved := 0
		for id, n := range owners(after) {
			switch {
			case was[id] == dead && n == dead:
				t.Errorf("task %s stayed on dead %s", id, dead)
			case was[id] != dead && n != was[id]:
				survivorsMoved++
				if equal {
					t.Errorf("task %s moved from %s to %s when %s died", id, was[id], n, dead)
				}
			}
		}
		if survivorsMoved > len(in.members)-1 {
			t.Errorf("%d tasks of survivors moved when %s died", survivorsMoved, dead)
		}

		// Only the standbys' copies caught up: each of the dead member's
		// stateful tasks goes to a member with a caught-up copy, if any.
		in.lags = standbyLags
		after = in.compute()
		checkValid(t, in, after)
		for id, n := range owners(after) {
			if was[id] != dead || !in.stateful(id) {
				continue
			}
			for _, m := range in.alive() {
				if in.caughtUp(m.ID, id, dead) && !in.caughtUp(n, id, dead) {
					t.Errorf("task %s of dead %s went to %s, not caught up, though %s is", id, dead, n, m.ID)
					break
				}
			}
		}
	})
}

// Standbys placed from scratch on members of equal capacity, without racks
// or lags, are spread evenly: each member's copies (actives and standbys)
// are within one of an even share of all copies. (With unequal capacities
// no such bound holds: a big member holds many actives and may not hold
// their standbys.)
func TestComputeStandbysSpread(t *testing.T) {
	forSeeds(t, func(t *testing.T, seed uint64) {
		rng := rand.New(rand.NewPCG(seed, 0x5b))
		tasks, stateful := randomTasks(rng)
		members := randomMembers(rng, true)
		for i := range members {
			members[i].Rack, members[i].Capacity = "", 1
		}
		cfg := randomConfig(rng, stateful)
		cfg.NumStandbys = 1 + rng.IntN(2)
		in := input{members: members, tasks: tasks, cfg: cfg, statefulSubs: stateful}
		out := in.compute()
		checkValid(t, in, out)
		total, sum := 0, 0
		counts := map[NodeID]int{}
		for n, na := range out.Nodes {
			counts[n] = len(na.Active) + len(na.Standby)
			total += counts[n]
		}
		for _, m := range members {
			sum += max(m.Capacity, 1)
		}
		for _, m := range members {
			q := total * max(m.Capacity, 1)
			lo, hi := q/sum-1, (q+sum-1)/sum+1
			if c := counts[m.ID]; c < lo || c > hi {
				t.Errorf("%s (capacity %d) has %d copies of %d, want %d..%d: %v", m.ID, m.Capacity, c, total, lo, hi, out.Nodes)
			}
		}
	})
}

// New standbys go to other racks than the active's, and than each other's,
// while a member on such a rack is free.
func TestComputeStandbysPreferOtherRacks(t *testing.T) {
	forSeeds(t, func(t *testing.T, seed uint64) {
		rng := rand.New(rand.NewPCG(seed, 0x4a))
		tasks, stateful := randomTasks(rng)
		members := randomMembers(rng, true)
		cfg := randomConfig(rng, stateful)
		in := input{members: members, tasks: tasks, cfg: cfg, statefulSubs: stateful}
		out := in.compute()
		checkValid(t, in, out)
		racks := map[string]int{}
		for _, m := range members {
			if m.Rack != "" {
				racks[m.Rack]++
			}
		}
		rackOf := func(n NodeID) string { m, _ := in.member(n); return m.Rack }
		for _, id := range tasks {
			if !in.stateful(id) {
				continue
			}
			var copies []NodeID
			owner, _ := out.Owner(id)
			copies = append(copies, owner)
			for n, na := range out.Nodes {
				for _, s := range na.Standby {
					if s == id {
						copies = append(copies, n)
					}
				}
			}
			// Racks holding copies: as many distinct ones as the racks
			// and the copies on racks allow.
			seen := map[string]bool{}
			onRack := 0
			for _, n := range copies {
				if r := rackOf(n); r != "" {
					seen[r] = true
					onRack++
				}
			}
			// A copy on an unknown rack may have been chosen over a
			// known one (unknown shares with no one), so only copies
			// on known racks count.
			if want := min(onRack, len(racks)); len(seen) < want {
				t.Errorf("task %s: copies on %v span racks %v, want %d racks", id, copies, seen, want)
			}
		}
	})
}
