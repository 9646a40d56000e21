package actors

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/state"
	"github.com/eddystreams/eddy/topology"
)

// Standby and warm-up tasks (Assign.Standby, Assign.Warmup) run as standby
// actors, children of the node actor like task actors: each owns a
// partition.StandbyTask, which keeps the task's stores in the task's state
// directory up to date from the changelogs the node's changelogFetcher
// hands it. Both roles run the same way; the role only tells the cluster
// why the copy is there.
//
// A standby that fails (its restore, a store write) is closed and reported
// TaskFailed; the next Assign that names it starts it again. It never
// stops the node: it processes nothing and writes nowhere but its stores.
//
// Promotion: when an Assign makes a task active that runs here as a
// standby, the standby is closed (with a checkpoint) and the active start
// waits for it before it opens the same directory, so it restores only
// what follows the standby's checkpoint. The other way round, a standby
// waits for the task's active actor to close.

// standbyChild is one standby actor of the node; fields but stopped are
// guarded by Node.mu.
type standbyChild struct {
	id   topology.TaskID
	role Role
	pid  *actor.PID
	// after are closed once the task's actors that used its state
	// directory before this one have stopped.
	after  []<-chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
	// ending is set once the standby is to close (unassigned, promoted,
	// the node closing).
	ending bool
	// run is set while the standby runs.
	run *standbyRun
	// stopped is closed once the actor stopped and its stores are closed.
	stopped    chan struct{}
	tickQueued atomic.Bool
}

// standbyRun is a started standby: its task and its flow control (records
// handed to it and not applied yet count against the node's bounds).
type standbyRun struct {
	id   topology.TaskID
	pid  *actor.PID
	sb   *partition.StandbyTask
	flow *flowControl
}

// standbyTick asks a standby to learn the last commit (at-least-once) and
// to checkpoint; the node sends it every commit interval.
type standbyTick struct{ queued *atomic.Bool }

// standbyActor runs one standby task; all calls into the task happen on the
// actor's goroutine.
type standbyActor struct {
	n    *Node
	ch   *standbyChild
	run  *standbyRun
	sb   *partition.StandbyTask
	dead bool
}

func (a *standbyActor) Receive(c actor.Context) {
	defer func() {
		if p := recover(); p != nil {
			a.fail(fmt.Errorf("standby task %s: panic: %v\n%s", a.ch.id, p, debug.Stack()))
		}
	}()
	switch m := c.Message().(type) {
	case *actor.Started:
		if err := a.start(c.Self()); err != nil {
			if a.ch.ctx.Err() != nil || errors.Is(err, errNoLongerAssigned) {
				a.close()
				return
			}
			a.fail(err)
		}
	case *actor.Stopped:
		a.close()
		a.n.standbyStopped(a.ch)
	case *changelogBatch:
		if a.dead || m.run != a.run {
			return
		}
		err := a.sb.Apply(m.tp, m.recs)
		a.run.flow.taken(len(m.recs), partition.RecordsBytes(m.recs))
		if m.end >= 0 {
			a.sb.UpdateEnd(m.tp, m.end)
		}
		if err != nil {
			a.fail(err)
		}
	case standbyTick:
		m.queued.Store(false)
		if a.dead {
			return
		}
		if err := a.refresh(); err != nil {
			a.n.log.Warn("standby: reading the last commit failed; trying again at the next interval", "task", a.ch.id.String(), "error", err)
		}
		if err := a.sb.Checkpoint(); err != nil {
			a.fail(err)
		}
	case *queryRequest:
		if a.dead || a.sb == nil {
			m.done <- queryReply{err: fmt.Errorf("standby of task %s is not running: %w", a.ch.id, ErrTaskNotHere)}
			return
		}
		res, err := serve(a.sb, m.q)
		m.done <- queryReply{res: res, err: err}
	case *closeRequest:
		m.done <- a.close()
	}
}

// start waits for the task's earlier actors to stop, opens and restores
// the standby task, and has the changelog fetcher feed it.
func (a *standbyActor) start(self *actor.PID) error {
	n, ch := a.n, a.ch
	for _, w := range ch.after {
		select {
		case <-w:
		case <-ch.ctx.Done():
			return ch.ctx.Err()
		}
	}
	if err := n.acquireSlot(ch.ctx); err != nil {
		return err
	}
	defer func() { <-n.slots }()
	sb, err := n.cfg.NewStandby(ch.id)
	if err != nil {
		return fmt.Errorf("create standby task %s: %w", ch.id, err)
	}
	a.sb = sb
	cp := partition.CommitPoint{StreamTime: state.UnknownStreamTime}
	if !sb.ExactlyOnce() {
		if _, cp, err = n.cfg.Committed(ch.ctx, sb.Inputs(), nil); err != nil {
			return fmt.Errorf("standby task %s: committed offsets: %w", ch.id, err)
		}
	}
	if err := sb.Initialize(ch.ctx, cp); err != nil {
		return err
	}
	from := sb.Changelogs()
	if n.cfg.InputOffsets != nil && len(from) > 0 {
		// The ends, so that a standby that is caught up reports lag 0
		// before anything new is written.
		tps := make([]state.TopicPartition, 0, len(from))
		for tp := range from {
			tps = append(tps, tp)
		}
		if ends, err := n.cfg.InputOffsets(ch.ctx, tps); err == nil {
			for tp := range from {
				if o, ok := ends[tp]; ok {
					sb.UpdateEnd(tp, o.End)
				}
			}
		}
	}
	tps := map[string][]int32{}
	for tp := range from {
		tps[tp.Topic] = append(tps[tp.Topic], tp.Partition)
	}
	a.run = &standbyRun{id: ch.id, pid: self, sb: sb, flow: newFlowControl(int64(n.cfg.MaxBuffered), n.cfg.ChangelogConsumer, tps, n.input)}
	n.mu.Lock()
	if n.closed || ch.ending {
		n.mu.Unlock()
		return errNoLongerAssigned
	}
	ch.run = a.run
	if e := n.entries[ch.id]; e != nil && e.role != RoleActive {
		e.state, e.err = TaskRunning, nil
	}
	n.mu.Unlock()
	a.dead = false
	n.clFetch.add(a.run, from)
	return nil
}

// refresh reads the task's last commit, under at-least-once the bound of
// what the standby may apply.
func (a *standbyActor) refresh() error {
	if a.sb.ExactlyOnce() {
		return nil
	}
	ctx, cancel := context.WithTimeout(a.ch.ctx, a.n.cfg.CommitTimeout)
	defer cancel()
	_, cp, err := a.n.cfg.Committed(ctx, a.sb.Inputs(), nil)
	if err != nil {
		return err
	}
	return a.sb.UpdateCommitted(cp)
}

// close stops the fetching for the standby and closes its task with a
// checkpoint; it may be called more than once.
func (a *standbyActor) close() error {
	a.dead = true
	if a.run != nil {
		a.n.clFetch.remove(a.run)
		a.run.flow.release()
		a.n.mu.Lock()
		if a.ch.run == a.run {
			a.ch.run = nil
		}
		a.n.mu.Unlock()
	}
	if a.sb == nil {
		return nil
	}
	return a.sb.Close()
}

// fail closes the standby and reports it failed.
func (a *standbyActor) fail(err error) {
	if cerr := a.close(); cerr != nil {
		err = errors.Join(err, cerr)
	}
	a.n.log.Warn("standby task failed; closed until assigned again", "task", a.ch.id.String(), "error", err)
	a.n.mu.Lock()
	defer a.n.mu.Unlock()
	if e := a.n.entries[a.ch.id]; e != nil && e.role != RoleActive {
		e.state, e.err = TaskFailed, err
	}
}

// runsStandbys says whether the node can run standby tasks.
func (n *Node) runsStandbys() bool {
	return n.cfg.NewStandby != nil && n.cfg.ChangelogConsumer != nil
}

// assignStandbysLocked applies an Assign's standby and warm-up roles (those
// of tasks not active here): standbys no longer wanted, or promoted, are
// marked ending and returned, for the caller to close once it unlocked;
// wanted ones without an actor get one. n.mu must be held.
func (n *Node) assignStandbysLocked(c actor.Context, m *Assign, active map[topology.TaskID]bool) []*standbyChild {
	want := map[topology.TaskID]Role{}
	for _, r := range []struct {
		role Role
		ids  []topology.TaskID
	}{{RoleStandby, m.Standby}, {RoleWarmup, m.Warmup}} {
		for _, id := range r.ids {
			if !active[id] {
				want[id] = r.role
			}
		}
	}
	n.standbyRoles = want
	// Entries of standbys no longer wanted that have no actor (failed, or
	// never run) go.
	for id, e := range n.entries {
		if _, ok := want[id]; !ok && e.role != RoleActive && n.standbys[id] == nil {
			delete(n.entries, id)
		}
	}
	if !n.runsStandbys() {
		for id, role := range want {
			n.entries[id] = &taskEntry{role: role, state: TaskNotRun}
		}
		return nil
	}
	var closing []*standbyChild
	for id, ch := range n.standbys {
		if ch.ending {
			continue
		}
		role, ok := want[id]
		if ok {
			ch.role = role
			if e := n.entries[id]; e != nil {
				e.role = role
			}
			continue
		}
		ch.ending = true
		ch.cancel()
		closing = append(closing, ch)
		if !active[id] {
			e := n.entries[id]
			if e == nil {
				e = &taskEntry{role: ch.role}
				n.entries[id] = e
			}
			e.state, e.closed = TaskClosing, ch.stopped
		}
	}
	for id, role := range want {
		if ch := n.standbys[id]; ch != nil && !ch.ending {
			if e := n.entries[id]; e != nil && e.state == TaskFailed {
				// Failed: closed, but its actor is still there. Assigned
				// again, it gets a new one.
				ch.ending = true
				ch.cancel()
				closing = append(closing, ch)
			} else {
				continue
			}
		}
		n.spawnStandbyLocked(c, id, role)
	}
	return closing
}

// spawnStandbyLocked makes task id's standby actor, after the task's
// previous actors (active or standby) stop. n.mu must be held.
func (n *Node) spawnStandbyLocked(c actor.Context, id topology.TaskID, role Role) {
	ctx, cancel := context.WithCancel(n.ctx)
	ch := &standbyChild{id: id, role: role, ctx: ctx, cancel: cancel, stopped: make(chan struct{})}
	if prev := n.children[id]; prev != nil {
		ch.after = append(ch.after, prev.stopped)
	}
	if prev := n.standbys[id]; prev != nil {
		ch.after = append(ch.after, prev.stopped)
	}
	n.standbys[id] = ch
	n.entries[id] = &taskEntry{role: role, state: TaskStarting}
	n.childWG.Add(1)
	props := actor.PropsFromProducer(func() actor.Actor { return &standbyActor{n: n, ch: ch, dead: true} })
	ch.pid = c.SpawnPrefix(props, "standby-"+id.String()+"-")
}

// closeStandby has a standby actor close its task (with a checkpoint) and
// stops it; its entry goes unless the task was assigned here again.
func (n *Node) closeStandby(ch *standbyChild) {
	done := make(chan error, 1)
	n.system.Root.Send(ch.pid, &closeRequest{clean: true, done: done})
	select {
	case err := <-done:
		if err != nil {
			n.log.Warn("closing a standby task", "task", ch.id.String(), "error", err)
		}
	case <-ch.stopped:
	}
	_ = n.system.Root.StopFuture(ch.pid).Wait()
}

// standbyStopped is called by a standby actor once it stopped.
func (n *Node) standbyStopped(ch *standbyChild) {
	n.mu.Lock()
	if n.standbys[ch.id] == ch {
		delete(n.standbys, ch.id)
		if _, ok := n.standbyRoles[ch.id]; !ok {
			if e := n.entries[ch.id]; e != nil && e.role != RoleActive {
				delete(n.entries, ch.id)
			}
		}
	}
	n.mu.Unlock()
	close(ch.stopped)
	n.childWG.Done()
}

// standbyTick asks every running standby that has no tick queued to learn
// the last commit and checkpoint.
func (n *Node) standbyTickLocked() {
	for _, ch := range n.standbys {
		if ch.run != nil && ch.tickQueued.CompareAndSwap(false, true) {
			n.system.Root.Send(ch.pid, standbyTick{queued: &ch.tickQueued})
		}
	}
}

// StandbyTask returns the standby task of id running on this node, or nil.
// Its Lag, Lags and Applied are safe to call; its stores may be read.
func (n *Node) StandbyTask(id topology.TaskID) *partition.StandbyTask {
	n.mu.RLock()
	defer n.mu.RUnlock()
	if ch := n.standbys[id]; ch != nil && ch.run != nil {
		return ch.run.sb
	}
	return nil
}
