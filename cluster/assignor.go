package cluster

import (
	"math"
	"sort"

	"github.com/eddystreams/eddy/topology"
)

// Compute places tasks on members: it is the assignor, a pure function of
// its arguments (the same arguments give the same Assignment, whatever the
// order of the slices), so that any coordinator, or a test, computes the
// same placement from the same view. It follows Kafka Streams'
// HighAvailabilityTaskAssignor, adapted to a cluster that recomputes
// whenever lags change (see docs/decisions/0021-assignor.md):
//
//  1. Every task gets exactly one active, on an alive member (not a
//     draining one). A task stays on its previous owner when that one is
//     still alive (sticky). A task without one (its owner died, drains, or
//     it is new) goes to a member whose copy is caught up, its previous
//     standby first; else to the member whose copy is least behind; else
//     (no copy anywhere, or a stateless task) to the least loaded member.
//  2. Active tasks are balanced by capacity: each member ends within one
//     task of its capacity-weighted share, for stateful tasks and for all
//     tasks, as far as the next rule allows. A stateful active moves only
//     to a member already caught up on it.
//  3. Where balance wants a stateful task on a member not caught up on it,
//     a warm-up replica goes there instead (at most cfg.MaxWarmups in the
//     cluster); once the caller reports the warm-up's lag under the
//     threshold, the next Compute moves the active (rule 2).
//  4. Every stateful task gets cfg.NumStandbys standbys (or one per other
//     member if there are fewer), never on its active's member, previous
//     standbys kept, new ones on other racks than the task's other copies
//     first, then on members already holding a copy, then on the members
//     with the fewest copies (actives and standbys) for their capacity.
//  5. Stateless tasks get no standbys and no warm-ups; they move freely
//     for balance.
//
// With no alive member nothing is placed. The result has prev's epoch and
// an entry for every alive or draining member; tasks of prev not in tasks,
// and members not in members, are dropped.
func Compute(prev Assignment, members []Member, lags Lags, tasks []topology.TaskID, cfg AssignorConfig) Assignment {
	s := newAssignor(prev, members, lags, tasks, cfg)
	s.placeOrphans()
	s.balance(s.now, s.canMoveNow)
	desired := s.desiredMoves()
	s.placeStandbys()
	s.placeWarmups(desired)
	return s.result(prev.Epoch)
}

// noLag ranks a member without a copy after every member with one.
const noLag = math.MaxInt64

// assignor is one run of Compute. Members and tasks are numbered by their
// sorted order, so that every loop below walks them in a fixed order.
type assignor struct {
	cfg  AssignorConfig
	lags Lags

	members  []Member // alive ones, sorted by ID, capacity at least 1
	draining []NodeID // draining ones, sorted
	tasks    []topology.TaskID
	stateful []bool

	// What prev said, reduced to what is still valid: prevOwner[t] is
	// t's previous active owner if it is alive (-1 if none); prevRole
	// holds the previous standbys and warm-ups on alive members.
	prevOwner []int
	prevRole  map[copyKey]role

	// The placement of actives being built (now), and the share each
	// member should end with, for stateful tasks and for all tasks.
	now                  *placement
	stateShare, allShare []shareRange

	standbys [][]int // per task: members holding a standby
	warmups  [][]int // per task: members holding a warm-up
}

type copyKey struct{ member, task int }

type role int

const (
	roleStandby role = iota + 1
	roleWarmup
)

// placement is where each task's active is, with each member's counts.
type placement struct {
	owner          []int // per task: member, -1 for none
	nAll, nState   []int // per member: actives, stateful actives
	placedThisTime []bool
}

func (p *placement) clone() *placement {
	return &placement{
		owner:          append([]int(nil), p.owner...),
		nAll:           append([]int(nil), p.nAll...),
		nState:         append([]int(nil), p.nState...),
		placedThisTime: append([]bool(nil), p.placedThisTime...),
	}
}

// shareRange is the counts a member may have: floor and ceiling of its
// capacity-weighted share.
type shareRange struct{ lo, hi int }

// off is how far n is outside r.
func (r shareRange) off(n int) int {
	switch {
	case n < r.lo:
		return r.lo - n
	case n > r.hi:
		return n - r.hi
	}
	return 0
}

func newAssignor(prev Assignment, members []Member, lags Lags, tasks []topology.TaskID, cfg AssignorConfig) *assignor {
	s := &assignor{cfg: cfg, lags: lags, prevRole: map[copyKey]role{}}
	s.cfg.NumStandbys = max(s.cfg.NumStandbys, 0)
	s.cfg.MaxWarmups = max(s.cfg.MaxWarmups, 0)
	s.cfg.AcceptableRecoveryLag = max(s.cfg.AcceptableRecoveryLag, 0)

	// Members by ID. A member listed twice (a caller's mistake) counts in
	// its most restrictive state, so the choice does not depend on order.
	ms := append([]Member(nil), members...)
	sort.Slice(ms, func(i, j int) bool {
		if ms[i].ID != ms[j].ID {
			return ms[i].ID < ms[j].ID
		}
		if ms[i].State != ms[j].State {
			return ms[i].State > ms[j].State
		}
		if ms[i].Capacity != ms[j].Capacity {
			return ms[i].Capacity < ms[j].Capacity
		}
		return ms[i].Rack < ms[j].Rack
	})
	index := map[NodeID]int{}
	for i, m := range ms {
		if i > 0 && m.ID == ms[i-1].ID {
			continue
		}
		switch m.State {
		case MemberAlive:
			m.Capacity = max(m.Capacity, 1)
			index[m.ID] = len(s.members)
			s.members = append(s.members, m)
		case MemberDraining:
			s.draining = append(s.draining, m.ID)
		}
	}

	// Tasks in order, once each.
	s.tasks = append([]topology.TaskID(nil), tasks...)
	sort.Slice(s.tasks, func(i, j int) bool { return taskLess(s.tasks[i], s.tasks[j]) })
	s.tasks = compactTasks(s.tasks)
	taskIndex := make(map[topology.TaskID]int, len(s.tasks))
	s.stateful = make([]bool, len(s.tasks))
	for i, id := range s.tasks {
		taskIndex[id] = i
		s.stateful[i] = cfg.Stateful != nil && cfg.Stateful(id)
	}

	// The previous placement, on alive members only. Several members
	// claiming one active (an invalid prev) resolve to the first by ID;
	// a task listed in several roles on one member keeps the strongest.
	s.prevOwner = make([]int, len(s.tasks))
	for i := range s.prevOwner {
		s.prevOwner[i] = -1
	}
	for _, n := range prev.nodeIDs() {
		m, ok := index[n]
		if !ok {
			continue
		}
		na := prev.Nodes[n]
		for _, id := range na.Active {
			if t, ok := taskIndex[id]; ok && s.prevOwner[t] == -1 {
				s.prevOwner[t] = m
			}
		}
		for _, r := range []struct {
			ids  []topology.TaskID
			role role
		}{{na.Standby, roleStandby}, {na.Warmup, roleWarmup}} {
			for _, id := range r.ids {
				if t, ok := taskIndex[id]; ok && s.stateful[t] {
					if old, ok := s.prevRole[copyKey{m, t}]; !ok || r.role < old {
						s.prevRole[copyKey{m, t}] = r.role
					}
				}
			}
		}
	}

	s.now = &placement{
		owner:          append([]int(nil), s.prevOwner...),
		nAll:           make([]int, len(s.members)),
		nState:         make([]int, len(s.members)),
		placedThisTime: make([]bool, len(s.tasks)),
	}
	for t, m := range s.now.owner {
		if m >= 0 {
			s.now.add(t, m, s.stateful[t])
		}
	}

	nState := 0
	for _, st := range s.stateful {
		if st {
			nState++
		}
	}
	s.stateShare = s.shares(nState)
	s.allShare = s.shares(len(s.tasks))
	s.standbys = make([][]int, len(s.tasks))
	s.warmups = make([][]int, len(s.tasks))
	return s
}

func (p *placement) add(t, m int, stateful bool) {
	p.owner[t] = m
	p.nAll[m]++
	if stateful {
		p.nState[m]++
	}
}

func (p *placement) move(t, to int, stateful bool) {
	from := p.owner[t]
	p.nAll[from]--
	if stateful {
		p.nState[from]--
	}
	p.add(t, to, stateful)
	p.placedThisTime[t] = true
}

// shares splits n tasks by capacity: member i's share is n·cᵢ/C, and it
// may hold its floor or its ceiling. Some split of that kind always exists
// (the floors add up to at most n, the ceilings to at least n).
func (s *assignor) shares(n int) []shareRange {
	total := 0
	for _, m := range s.members {
		total += m.Capacity
	}
	r := make([]shareRange, len(s.members))
	for i, m := range s.members {
		q := n * m.Capacity
		r[i] = shareRange{q / total, q / total}
		if q%total != 0 {
			r[i].hi++
		}
	}
	return r
}

// copyLag is member m's lag on task t: 0 for t's previous owner (its copy
// is the one that was being written), noLag for a member without a copy.
func (s *assignor) copyLag(m, t int) int64 {
	if s.prevOwner[t] == m {
		return 0
	}
	if l, ok := s.lags.lag(s.members[m].ID, s.tasks[t]); ok {
		return l
	}
	return noLag
}

// caughtUp says whether m may take t's active now: a stateless task may go
// anywhere; a stateful one only to a member whose copy is within the
// acceptable lag.
func (s *assignor) caughtUp(m, t int) bool {
	return !s.stateful[t] || s.copyLag(m, t) <= s.cfg.AcceptableRecoveryLag
}

// canMoveNow says whether t's active may move to m in this Compute: if m
// is caught up on it, or if t was placed in this Compute (it had no live
// owner) and m's copy is no further behind than its new owner's: such a
// task restores wherever it goes, so balance may choose among equals.
func (s *assignor) canMoveNow(p *placement, m, t int) bool {
	return s.caughtUp(m, t) || (p.placedThisTime[t] && s.copyLag(m, t) <= s.copyLag(p.owner[t], t))
}

// placeOrphans gives an owner to each task without a valid one (rule 1):
// stateful tasks first, as they have fewer good places; each to the best
// member by, in order: caught up (and among those, a previous standby,
// then a previous warm-up); least behind; fewest actives for its capacity
// (stateful actives first for a stateful task); ID.
func (s *assignor) placeOrphans() {
	if len(s.members) == 0 {
		return
	}
	var orphans []int
	for pass := 0; pass < 2; pass++ {
		for t := range s.tasks {
			if s.now.owner[t] == -1 && s.stateful[t] == (pass == 0) {
				orphans = append(orphans, t)
			}
		}
	}
	for _, t := range orphans {
		best := -1
		for m := range s.members {
			if best == -1 || s.betterHome(t, m, best) {
				best = m
			}
		}
		s.now.add(t, best, s.stateful[t])
		s.now.placedThisTime[t] = true
	}
}

// betterHome says whether orphan t is better placed on a than on b.
func (s *assignor) betterHome(t, a, b int) bool {
	if s.stateful[t] {
		ca, cb := s.caughtUp(a, t), s.caughtUp(b, t)
		if ca != cb {
			return ca
		}
		if ca {
			ra, rb := s.prevRole[copyKey{a, t}], s.prevRole[copyKey{b, t}]
			if ra != rb {
				return ra != 0 && (rb == 0 || ra < rb)
			}
		} else if la, lb := s.copyLag(a, t), s.copyLag(b, t); la != lb {
			return la < lb
		}
		if c := s.cmpLoad(s.now.nState, a, b); c != 0 {
			return c < 0
		}
	}
	if c := s.cmpLoad(s.now.nAll, a, b); c != 0 {
		return c < 0
	}
	return a < b
}

// cmpLoad compares counts per capacity of members a and b: n[a]/c[a]
// against n[b]/c[b], without division.
func (s *assignor) cmpLoad(n []int, a, b int) int {
	x, y := n[a]*s.members[b].Capacity, n[b]*s.members[a].Capacity
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// balance moves actives of p until no move allowed by movable brings the
// members closer to their shares (rule 2). Each move must make the
// distance of the stateful counts from their ranges smaller, or keep it and
// make the distance of the total counts smaller, so the loop ends (the
// pair of distances falls in lexicographic order). When everything may
// move it ends with every member within range: a member above its ceiling
// implies one below its ceiling (the ceilings add up to at least the
// tasks), and one below its floor implies one above its floor.
//
// Among the moves, those of tasks already placed or moved in this Compute
// come first, so that a failover rebalances with the failed member's tasks
// and leaves the others where they are. Then the most loaded giver and the
// least loaded taker; then the task the taker is least behind on.
func (s *assignor) balance(p *placement, movable func(p *placement, m, t int) bool) {
	if len(s.members) < 2 {
		return
	}
	for s.step(p, movable, true) || s.step(p, movable, false) {
	}
}

// step makes the first move balance allows, tasks placed in this Compute
// only if onlyPlaced, and says whether it made one.
func (s *assignor) step(p *placement, movable func(p *placement, m, t int) bool, onlyPlaced bool) bool {
	takers := s.byLoad(p)
	givers := s.byLoad(p)
	sort.SliceStable(givers, func(i, j int) bool { return s.cmpLoad(p.nAll, givers[i], givers[j]) > 0 })
	for _, g := range givers {
		for _, r := range takers {
			if g == r {
				continue
			}
			for _, st := range []bool{true, false} {
				if !s.improves(p, g, r, st) {
					continue
				}
				if t := s.pickTask(p, g, r, st, onlyPlaced, movable); t >= 0 {
					p.move(t, r, st)
					return true
				}
			}
		}
	}
	return false
}

// byLoad orders members by actives per capacity, least loaded first.
func (s *assignor) byLoad(p *placement) []int {
	order := make([]int, len(s.members))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(i, j int) bool {
		if c := s.cmpLoad(p.nAll, order[i], order[j]); c != 0 {
			return c < 0
		}
		return order[i] < order[j]
	})
	return order
}

// improves says whether moving one active (stateful or not) from g to r
// brings the counts closer to the shares, stateful counts first.
func (s *assignor) improves(p *placement, g, r int, stateful bool) bool {
	if p.nAll[g] == 0 || (stateful && p.nState[g] == 0) || (!stateful && p.nAll[g] == p.nState[g]) {
		return false
	}
	dist := func(share []shareRange, n []int, dg, dr int) int {
		return share[g].off(n[g]+dg) + share[r].off(n[r]+dr)
	}
	stBefore, allBefore := dist(s.stateShare, p.nState, 0, 0), dist(s.allShare, p.nAll, 0, 0)
	stAfter, allAfter := stBefore, dist(s.allShare, p.nAll, -1, 1)
	if stateful {
		stAfter = dist(s.stateShare, p.nState, -1, 1)
	}
	return stAfter < stBefore || (stAfter == stBefore && allAfter < allBefore)
}

// pickTask chooses which active of g (stateful or not) goes to r: one that
// may move, placed in this Compute first, then the one r is least behind
// on, then the first by ID. -1 if none may move.
func (s *assignor) pickTask(p *placement, g, r int, stateful, onlyPlaced bool, movable func(p *placement, m, t int) bool) int {
	best := -1
	var bestLag int64
	for t, m := range p.owner {
		if m != g || s.stateful[t] != stateful || (onlyPlaced && !p.placedThisTime[t]) || !movable(p, r, t) {
			continue
		}
		l := s.copyLag(r, t)
		if best == -1 || l < bestLag {
			best, bestLag = t, l
		}
	}
	return best
}

// move is a stateful active that balance would move to a member not caught
// up on it.
type move struct{ task, to int }

// desiredMoves balances a copy of the placement as if every member were
// caught up on everything (rule 3) and lists the stateful tasks that would
// end elsewhere: the warm-ups to make. It depends only on the placement and
// the lags, not on prev, so a Compute on its own result wants the same
// moves and keeps its warm-ups.
func (s *assignor) desiredMoves() []move {
	p := s.now.clone()
	for t := range p.placedThisTime {
		p.placedThisTime[t] = false
	}
	s.balance(p, func(*placement, int, int) bool { return true })
	var moves []move
	for t, m := range p.owner {
		if s.stateful[t] && m != s.now.owner[t] {
			moves = append(moves, move{t, m})
		}
	}
	return moves
}

// placeStandbys gives each stateful task its standbys (rule 4).
func (s *assignor) placeStandbys() {
	want := min(s.cfg.NumStandbys, len(s.members)-1)
	if want <= 0 {
		return
	}
	// A member's load is the copies it holds, actives and standbys (each
	// costs restore traffic and disk), as Kafka Streams counts it.
	load := append([]int(nil), s.now.nAll...)
	for t := range s.tasks {
		active := s.now.owner[t]
		if !s.stateful[t] || active < 0 {
			continue
		}
		// Previous standbys stay (sticky: their copies are warm), the
		// least behind first if there are more than wanted now.
		var kept []int
		for m := range s.members {
			if m != active && s.prevRole[copyKey{m, t}] == roleStandby {
				kept = append(kept, m)
			}
		}
		sort.SliceStable(kept, func(i, j int) bool { return s.copyLag(kept[i], t) < s.copyLag(kept[j], t) })
		if len(kept) > want {
			kept = kept[:want]
		}
		for len(kept) < want {
			best := -1
			for m := range s.members {
				if m == active || contains(kept, m) {
					continue
				}
				if best == -1 || s.betterStandby(t, m, best, active, kept, load) {
					best = m
				}
			}
			kept = append(kept, best)
		}
		sort.Ints(kept)
		for _, m := range kept {
			load[m]++
		}
		s.standbys[t] = kept
	}
}

// betterStandby says whether a new standby of t is better on a than on b:
// fewer of t's copies on its rack; then a copy already there, least
// behind; then fewer copies for its capacity; then ID.
func (s *assignor) betterStandby(t, a, b, active int, chosen []int, load []int) bool {
	if ra, rb := s.rackCopies(a, active, chosen), s.rackCopies(b, active, chosen); ra != rb {
		return ra < rb
	}
	if la, lb := s.copyLag(a, t), s.copyLag(b, t); la != lb {
		return la < lb
	}
	if c := s.cmpLoad(load, a, b); c != 0 {
		return c < 0
	}
	return a < b
}

// rackCopies counts the copies (active, chosen standbys) on m's rack; an
// unknown rack shares with no one.
func (s *assignor) rackCopies(m, active int, chosen []int) int {
	rack := s.members[m].Rack
	if rack == "" {
		return 0
	}
	n := 0
	for _, o := range append([]int{active}, chosen...) {
		if s.members[o].Rack == rack {
			n++
		}
	}
	return n
}

// placeWarmups puts a warm-up where balance wants a stateful active but
// its member is not caught up yet (rule 3). Previous
// warm-ups go first (their copies have progressed), then the ones least
// behind.
func (s *assignor) placeWarmups(desired []move) {
	var need []move
	for _, mv := range desired {
		// A move to a member caught up already is held back by
		// another move of the plan (it would not improve balance on
		// its own), and a standby there is warming up anyway: neither
		// needs a warm-up.
		if !s.caughtUp(mv.to, mv.task) && !contains(s.standbys[mv.task], mv.to) {
			need = append(need, mv)
		}
	}
	sort.SliceStable(need, func(i, j int) bool {
		a, b := need[i], need[j]
		wa, wb := s.prevRole[a.key()] == roleWarmup, s.prevRole[b.key()] == roleWarmup
		if wa != wb {
			return wa
		}
		if la, lb := s.copyLag(a.to, a.task), s.copyLag(b.to, b.task); la != lb {
			return la < lb
		}
		return a.task < b.task
	})
	for _, mv := range need[:min(len(need), s.cfg.MaxWarmups)] {
		s.warmups[mv.task] = append(s.warmups[mv.task], mv.to)
	}
}

func (k move) key() copyKey { return copyKey{k.to, k.task} }

// result writes the placement out per node, lists sorted.
func (s *assignor) result(epoch int64) Assignment {
	out := Assignment{Epoch: epoch, Nodes: make(map[NodeID]NodeAssignment, len(s.members)+len(s.draining))}
	per := make([]NodeAssignment, len(s.members))
	for t, id := range s.tasks {
		if m := s.now.owner[t]; m >= 0 {
			per[m].Active = append(per[m].Active, id)
		}
		for _, m := range s.standbys[t] {
			per[m].Standby = append(per[m].Standby, id)
		}
		for _, m := range s.warmups[t] {
			per[m].Warmup = append(per[m].Warmup, id)
		}
	}
	for m, na := range per {
		out.Nodes[s.members[m].ID] = na
	}
	for _, id := range s.draining {
		out.Nodes[id] = NodeAssignment{}
	}
	return out
}

func contains(xs []int, x int) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func taskLess(a, b topology.TaskID) bool {
	if a.Subtopology != b.Subtopology {
		return a.Subtopology < b.Subtopology
	}
	return a.Partition < b.Partition
}

// compactTasks drops repeats from sorted ids.
func compactTasks(ids []topology.TaskID) []topology.TaskID {
	out := ids[:0]
	for i, id := range ids {
		if i == 0 || id != ids[i-1] {
			out = append(out, id)
		}
	}
	return out
}
