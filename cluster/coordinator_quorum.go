package cluster

import (
	"context"
	"fmt"
	"time"
)

// When the coordinator may act: the quorum of the previous decision's
// members it sees, reaches and knows alive (decision 0026).

// quorumRetry is how often a coordinator without a quorum looks again.
const quorumRetry = 2 * time.Second

// checkQuorum is quorum, saying why it waits in the status and the log.
func (c *Coordinator) checkQuorum(prev Decision, live map[NodeID]ViewMember) bool {
	ok, n, seen := c.quorum(prev, live)
	if ok {
		return true
	}
	why := fmt.Sprintf("sees %d of the %d members of epoch %d that are alive; a decision needs a majority of them", seen, n, prev.Epoch)
	if seen == 0 && prev.CoordinatorAddr != "" {
		why += fmt.Sprintf(". This node reaches none of them by gossip although they are alive: if it is to be one cluster with them, let it reach their gossip (their coordinator %s was at %s; give it as a cluster seed); else give this application its own application id",
			prev.Coordinator, prev.CoordinatorAddr)
	}
	if why != c.waitingLogged {
		c.cfg.Logger.Warn("holding back the next assignment", "why", why)
		c.waitingLogged = why
	}
	c.setStatus(func(s *CoordinatorStatus) { s.Waiting = why })
	return false
}

// quorum says whether this node may decide after prev, seeing the members
// live. It must see a majority of prev's members, or one of them when prev
// had at most two (a two-node cluster survives the death of either; in a
// split of two both halves decide, and the second to write wins, see
// checkForeign). Members it does not see count only while they are alive
// elsewhere, by their heartbeats in Kafka (AliveElsewhere): a node cut off
// from the others' gossip but not from Kafka must not take their tasks,
// while a member that really died must not block the rest forever (the
// only node of a cluster restarted with a new id, or two dead of three).
// It returns the members counted and how many of them it sees.
func (c *Coordinator) quorum(prev Decision, live map[NodeID]ViewMember) (bool, int, int) {
	n := len(prev.Nodes)
	if n == 0 {
		return true, 0, 0
	}
	seen := 0
	var unseen, others []NodeID
	for id := range prev.Nodes {
		if _, ok := live[id]; !ok {
			unseen = append(unseen, id)
		} else if id == c.cfg.Self {
			seen++
		} else {
			others = append(others, id)
		}
	}
	if c.cfg.Reachable != nil && len(others) > 0 {
		ctx, cancel := context.WithTimeout(c.ctx, 2*time.Second)
		ok := c.cfg.Reachable(ctx, others)
		cancel()
		for _, id := range others {
			if ok[id] {
				seen++
			} else {
				unseen = append(unseen, id)
			}
		}
	} else {
		seen += len(others)
	}
	enough := func(n, seen int) bool { return n == 0 || 2*seen > n || n <= 2 && seen >= 1 }
	if enough(n, seen) || c.cfg.AliveElsewhere == nil {
		return enough(n, seen), n, seen
	}
	ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
	defer cancel()
	alive, err := c.cfg.AliveElsewhere(ctx, unseen)
	if err != nil {
		c.cfg.Logger.Warn("cannot tell whether the members this node does not see are alive", "err", err)
		return false, n, seen
	}
	n = seen + len(alive)
	return enough(n, seen), n, seen
}

// liveOf indexes the members of view that are not dead.
func liveOf(view []ViewMember) map[NodeID]ViewMember {
	live := map[NodeID]ViewMember{}
	for _, m := range view {
		if m.State != MemberDead {
			live[m.ID] = m
		}
	}
	return live
}
