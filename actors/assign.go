package actors

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/topology"
)

// Assign tells a node which tasks it runs from epoch Epoch on: Active ones
// process; Standby and Warmup ones are to keep a copy of the tasks' state
// from their changelogs (a standby for failover, a warm-up before an active
// moves here). Tasks the node runs that are not in Active are committed and
// closed. Epochs must not go back: an older one is refused.
//
// Standby and warm-up replicas run as standby tasks (standby.go) when the
// node is configured for them, else the node reports them with state
// TaskNotRun. A task both active and standby is active.
type Assign struct {
	Epoch                   int64
	Active, Standby, Warmup []topology.TaskID
}

// Revoke takes tasks away from a node at epoch Epoch (not older than the
// last Assign): each is committed and closed; the rest keep running.
type Revoke struct {
	Epoch int64
	Tasks []topology.TaskID
}

// StatusRequest asks a node for its NodeStatus.
type StatusRequest struct{}

// Role is what a node does with a task.
type Role int

const (
	RoleActive Role = iota
	RoleStandby
	RoleWarmup
)

func (r Role) String() string {
	return [...]string{"active", "standby", "warmup"}[r]
}

// TaskState is where a task assigned to a node stands.
type TaskState int

const (
	// TaskStarting: fencing, reading commits, or waiting for its previous
	// owner to stop (at-least-once).
	TaskStarting TaskState = iota
	// TaskRestoring: restoring its stores from the changelogs.
	TaskRestoring
	// TaskRunning: processing.
	TaskRunning
	// TaskClosing: committing and closing (revoked).
	TaskClosing
	// TaskLost: another instance fenced it; it is given up.
	TaskLost
	// TaskFailed: its start failed, or it failed with an error that is
	// not recoverable (Err says why). A task that fails recoverably once
	// running is restarted: it is TaskStarting meanwhile, with Err set.
	TaskFailed
	// TaskNotRun: assigned in a role the node does not run (standby,
	// warm-up on a node without NodeConfig.NewStandby).
	TaskNotRun
)

func (s TaskState) String() string {
	return [...]string{"starting", "restoring", "running", "closing", "lost", "failed", "not-run"}[s]
}

// TaskStatus is one task of a node's status. InputLag is the records on
// the broker past those fetched for it (-1: unknown); Buffered the records
// fetched and not processed yet. ChangelogLag is, for a standby or warm-up
// task, the changelog records its stores are behind (under at-least-once,
// behind the last commit's positions, which it never passes), summed over
// its changelogs; -1 when unknown or for an active task.
type TaskStatus struct {
	ID           topology.TaskID
	Role         Role
	State        TaskState
	InputLag     int64
	ChangelogLag int64
	Buffered     int
	Processed    int64
	Err          string
}

// NodeStatus answers Assign, Revoke and StatusRequest: the applied epoch and
// every task the node has been given, by id.
type NodeStatus struct {
	Epoch int64
	Tasks []TaskStatus
	// Err is set when the message was refused (an older epoch).
	Err string
}

// nodeActor takes a node's assignment messages, one at a time, and applies
// each task's change in the background, so that a long restore of one task
// holds up neither the others nor the next message: a task to start gets
// an actor of its own, a child of this one, which starts it (see
// supervision.go).
type nodeActor struct{ n *Node }

func (a *nodeActor) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *Assign:
		c.Respond(a.n.assign(c, m))
	case *Revoke:
		c.Respond(a.n.revoke(c, m))
	case *StatusRequest:
		c.Respond(a.n.Status())
	}
}

// taskEntry is what the node knows of a task it was given.
type taskEntry struct {
	role  Role
	state TaskState
	err   error
	// started is closed when the start begun by the Assign that made this
	// entry ends (running, lost or failed); startErr is its outcome.
	started  chan struct{}
	startErr error
	cancel   context.CancelFunc // ends the start under way
	// closed is closed when a revoked task has been committed and closed.
	closed chan struct{}
}

func (n *Node) assign(c actor.Context, m *Assign) NodeStatus {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		st := n.Status()
		st.Err = "the node is closed"
		return st
	}
	if m.Epoch < n.epoch {
		n.mu.Unlock()
		st := n.Status()
		st.Err = fmt.Sprintf("assignment epoch %d is older than %d", m.Epoch, n.epoch)
		return st
	}
	n.epoch = m.Epoch
	want := map[topology.TaskID]bool{}
	for _, id := range m.Active {
		want[id] = true
	}
	n.assigned = want
	var gone []*runningTask
	for id, rt := range n.tasks {
		if !want[id] {
			gone = append(gone, rt)
			rt.child.ending = true
		}
	}
	for id, e := range n.entries {
		if !want[id] && e.role == RoleActive && e.state != TaskRunning {
			delete(n.entries, id) // not started (failed, lost): forgotten
			if e.started != nil {
				select {
				case <-e.started:
				default:
					close(e.started) // a start taken away is no failure to wait for
				}
			}
		}
	}
	closingStandbys := n.assignStandbysLocked(c, m, want)
	var stop []*actor.PID
	for id, ch := range n.children {
		if want[id] || ch.ending || n.tasks[id] != nil {
			continue
		}
		// A start under way, or a restart waiting out its backoff, of a
		// task taken away.
		if ch.cancel != nil {
			ch.cancel()
		}
		if n.cancelRestartLocked(ch) {
			stop = append(stop, ch.pid)
		}
	}
	ids := append([]topology.TaskID(nil), m.Active...)
	sort.Slice(ids, func(i, j int) bool {
		if ids[i].Subtopology != ids[j].Subtopology {
			return ids[i].Subtopology < ids[j].Subtopology
		}
		return ids[i].Partition < ids[j].Partition
	})
	for _, id := range ids {
		if ch := n.children[id]; ch != nil && !ch.ending {
			continue // running, starting or restarting
		}
		ctx, cancel := context.WithCancel(n.ctx)
		n.entries[id] = &taskEntry{role: RoleActive, state: TaskStarting, started: make(chan struct{}), cancel: cancel}
		n.spawnTaskLocked(c, id, ctx, cancel)
	}
	closing := make([]chan struct{}, len(gone))
	for i, rt := range gone {
		closing[i] = make(chan struct{})
		e := n.entries[rt.id]
		if e == nil {
			e = &taskEntry{role: RoleActive}
			n.entries[rt.id] = e
		}
		e.state, e.closed = TaskClosing, closing[i]
	}
	n.wg.Add(len(gone) + len(closingStandbys))
	n.mu.Unlock()
	for _, pid := range stop {
		c.Stop(pid)
	}
	for _, ch := range closingStandbys {
		go func() {
			defer n.wg.Done()
			n.closeStandby(ch)
		}()
	}
	for i, rt := range gone {
		go func() {
			defer n.wg.Done()
			defer close(closing[i])
			if err := n.stopTask(rt, func() error { return n.closeActor(rt, true) }); err != nil {
				n.log.Warn("closing a revoked task", "task", rt.id.String(), "error", err)
			}
			n.forget(rt.id)
		}()
	}
	return n.Status()
}

func (n *Node) revoke(c actor.Context, m *Revoke) NodeStatus {
	drop := map[topology.TaskID]bool{}
	for _, id := range m.Tasks {
		drop[id] = true
	}
	// The tasks kept are those running, starting or restarting, and the
	// standbys and warm-ups not dropped.
	a := &Assign{Epoch: m.Epoch}
	n.mu.RLock()
	for id, ch := range n.children {
		if !ch.ending && !drop[id] {
			a.Active = append(a.Active, id)
		}
	}
	for id, role := range n.standbyRoles {
		if drop[id] {
			continue
		}
		if role == RoleWarmup {
			a.Warmup = append(a.Warmup, id)
		} else {
			a.Standby = append(a.Standby, id)
		}
	}
	n.mu.RUnlock()
	return n.assign(c, a)
}

// started records the outcome of a start begun by assign.
func (n *Node) started(id topology.TaskID, err error) {
	state := TaskRunning
	switch {
	case errors.Is(err, partition.ErrFenced):
		n.taskLost(id, err)
		state, err = TaskLost, nil
	case errors.Is(err, errNoLongerAssigned):
		state, err = TaskClosing, nil
	case err != nil:
		state = TaskFailed
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	e := n.entries[id]
	if e == nil {
		return
	}
	e.state, e.err = state, err
	if e.started == nil {
		return
	}
	select {
	case <-e.started:
	default:
		e.startErr = err
		close(e.started)
	}
}

// setState moves task id's entry to state.
func (n *Node) setState(id topology.TaskID, s TaskState, err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if e := n.entries[id]; e != nil {
		e.state, e.err = s, err
	}
}

// forget drops a closed task's entry unless it was assigned again.
func (n *Node) forget(id topology.TaskID) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.forgetLocked(id)
}

// forgetLocked is forget for callers holding n.mu.
func (n *Node) forgetLocked(id topology.TaskID) {
	if !n.assigned[id] {
		if e := n.entries[id]; e != nil && e.role == RoleActive {
			delete(n.entries, id)
		}
	}
}

// cancelStarts cancels the starts under way of ids and waits for them to end.
func (n *Node) cancelStarts(ids []topology.TaskID) {
	var waits []chan struct{}
	n.mu.RLock()
	for _, id := range ids {
		if e := n.entries[id]; e != nil && e.cancel != nil && e.started != nil {
			e.cancel()
			waits = append(waits, e.started)
		}
	}
	n.mu.RUnlock()
	for _, w := range waits {
		<-w
	}
}

// Status reports the node's epoch and its tasks.
func (n *Node) Status() NodeStatus {
	n.mu.RLock()
	st := NodeStatus{Epoch: n.epoch}
	type item struct {
		id topology.TaskID
		e  taskEntry
		rt *runningTask
		sb *standbyRun
	}
	items := make([]item, 0, len(n.entries))
	for id, e := range n.entries {
		it := item{id: id, e: *e, rt: n.tasks[id]}
		if ch := n.standbys[id]; ch != nil && e.role != RoleActive {
			it.sb = ch.run
		}
		items = append(items, it)
	}
	n.mu.RUnlock()
	for _, it := range items {
		ts := TaskStatus{ID: it.id, Role: it.e.role, State: it.e.state, InputLag: -1, ChangelogLag: -1}
		if it.sb != nil {
			ts.ChangelogLag = it.sb.sb.Lag()
		}
		if it.e.err != nil {
			ts.Err = it.e.err.Error()
		}
		if it.rt != nil {
			ts.State = TaskRunning
			ts.Processed = it.rt.task.Processed()
			ts.Buffered = int(it.rt.flow.buffered.Load())
			ts.InputLag = n.fetch.inputLag(it.rt.task.Inputs())
		}
		st.Tasks = append(st.Tasks, ts)
	}
	sort.Slice(st.Tasks, func(i, j int) bool {
		a, b := st.Tasks[i].ID, st.Tasks[j].ID
		if a.Subtopology != b.Subtopology {
			return a.Subtopology < b.Subtopology
		}
		return a.Partition < b.Partition
	})
	return st
}

// Tell sends msg (Assign, Revoke, StatusRequest) to the node actor and
// returns its NodeStatus answer.
func (n *Node) Tell(ctx context.Context, msg any) (NodeStatus, error) {
	timeout := n.cfg.CommitTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(dl), time.Millisecond)
	}
	res, err := n.system.Root.RequestFuture(n.pid, msg, timeout).Result()
	switch {
	case errors.Is(err, actor.ErrTimeout):
		return NodeStatus{}, fmt.Errorf("the node did not take %s within %v (busy starting or closing tasks?)", messageName(msg), timeout)
	case errors.Is(err, actor.ErrDeadLetter):
		return NodeStatus{}, fmt.Errorf("the node is closed: %s not taken", messageName(msg))
	case err != nil:
		return NodeStatus{}, fmt.Errorf("the node did not take %s: %w", messageName(msg), err)
	}
	st, ok := res.(NodeStatus)
	if !ok {
		return NodeStatus{}, fmt.Errorf("node answered %T", res)
	}
	if st.Err != "" {
		return st, errors.New(st.Err)
	}
	return st, nil
}

// messageName names a node message for errors.
func messageName(msg any) string {
	switch m := msg.(type) {
	case *Assign:
		return fmt.Sprintf("the assignment of epoch %d", m.Epoch)
	case *Revoke:
		return fmt.Sprintf("the revocation of epoch %d", m.Epoch)
	case *StatusRequest:
		return "the status request"
	}
	return fmt.Sprintf("%T", msg)
}

// Apply sends Assign a to the node and waits until the tasks it takes away
// are closed and each of its active tasks that was not running has started
// (or was lost, or failed to start). It returns the errors of failed starts;
// a start ends early only when ctx is done or the node closes.
func (n *Node) Apply(ctx context.Context, a Assign) error {
	if _, err := n.Tell(ctx, &a); err != nil {
		return err
	}
	return n.Wait(ctx, a)
}

// Closing returns a channel closed once task id, taken away by an Assign or
// Revoke the node applied, is committed and closed; nil when the task is not
// closing (closed already, or never running here).
func (n *Node) Closing(id topology.TaskID) <-chan struct{} {
	n.mu.RLock()
	defer n.mu.RUnlock()
	if e := n.entries[id]; e != nil && e.state == TaskClosing && e.closed != nil {
		return e.closed
	}
	return nil
}

// Wait is Apply for an Assign already told to the node: it waits until the
// tasks a takes away are closed and its active tasks have started (or were
// lost, or failed to start).
func (n *Node) Wait(ctx context.Context, a Assign) error {
	want := map[topology.TaskID]bool{}
	for _, id := range a.Active {
		want[id] = true
	}
	var closing []chan struct{}
	n.mu.RLock()
	for id, e := range n.entries {
		if !want[id] && e.closed != nil {
			closing = append(closing, e.closed)
		}
	}
	n.mu.RUnlock()
	for _, c := range closing {
		select {
		case <-c:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	var errs []error
	for _, id := range a.Active {
		n.mu.RLock()
		e := n.entries[id]
		n.mu.RUnlock()
		if e == nil || e.started == nil {
			continue
		}
		select {
		case <-e.started:
			n.mu.RLock()
			err := e.startErr
			n.mu.RUnlock()
			if err != nil {
				errs = append(errs, err)
			}
		case <-ctx.Done():
			// The caller gives up: its starts are cancelled, and each
			// closes what it opened before Apply returns.
			n.cancelStarts(a.Active)
			return fmt.Errorf("task %s: %w", id, ctx.Err())
		}
	}
	return errors.Join(errs...)
}
