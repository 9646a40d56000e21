package actors

import (
	"context"
	"errors"
	"fmt"
	"github.com/eddystreams/eddy/internal/authz"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/topology"
)

// Task actors are children of the node actor, which supervises them with
// taskSupervisor (decision 0020). A task actor that fails closes its task
// dirty and panics with a *taskFailure; protoactor suspends its mailbox and
// hands the failure to the node actor, where the strategy decides:
//
//   - a recoverable error (partition.RecoverableError): restart, after a
//     backoff that doubles from NodeConfig.RestartBackoff up to 10s, while
//     the task is still assigned to the node; else stop;
//   - fencing (partition.ErrFenced): stop, the task is lost;
//   - anything else: stop, and report the error on Node.Errors (the App
//     stops).
//
// A restart keeps the actor's PID and mailbox: protoactor sends Restarting
// to the failed instance, makes a new one with the props' producer and
// sends it Started, where the new incarnation starts from the last commit
// (taskActor.start). Messages queued meanwhile reach the new instance.
// Those that carry records or lags of the old incarnation (recordBatch,
// fetchedLags) and its processMore are tagged with it and dropped; the rest
// are addressed to the task, not to an incarnation, and the new one answers
// them (commitTick, commitRequest, wallClockTick, queryRequest).

// maxRestartBackoff bounds the wait before a restart.
const maxRestartBackoff = 10 * time.Second

// restartBackoff is the wait before the restart that follows the failures-th
// failure in a row: first, doubled for each failure before it, at most
// maxRestartBackoff.
func restartBackoff(first time.Duration, failures int) time.Duration {
	d := first
	for i := 1; i < failures && d < maxRestartBackoff; i++ {
		d *= 2
	}
	return min(d, maxRestartBackoff)
}

// taskChild is one task actor of the node: a PID from the Assign that
// starts the task until the task is revoked, lost or failed for good. Its
// incarnations (one partition.Task each) come and go under supervision.
// Fields but stopped are guarded by Node.mu.
type taskChild struct {
	id  topology.TaskID
	pid *actor.PID
	// prev is the task's previous actor, still stopping when this one was
	// spawned: the first start waits for it, since both use the task's
	// state directory. standby likewise is closed once the task's standby
	// actor on this node stopped (a promotion), nil if there was none.
	prev    *taskChild
	standby <-chan struct{}
	// firstCtx and firstCancel belong to the first start (the Assign's,
	// cancelled by Apply's caller giving up, a Revoke or Close).
	firstCtx    context.Context
	firstCancel context.CancelFunc
	// incarnations counts the starts begun.
	incarnations int
	// cancel ends the start under way; nil when none is.
	cancel context.CancelFunc
	// timer is a restart waiting out its backoff.
	timer *time.Timer
	// ending is set once the actor is to stop (revoked, lost, failed, a
	// cancelled start, the node closing): it is not restarted, and a new
	// Assign of the task spawns a new actor.
	ending bool
	// stopped is closed once the actor has stopped and its task is closed.
	stopped chan struct{}
}

// taskFailure is what a task actor panics with to hand a failure to its
// supervisor.
type taskFailure struct {
	child *taskChild
	err   error
	// running: the incarnation had started; ran is for how long. A long
	// run starts the backoff over.
	running bool
	ran     time.Duration
	// reported: the child's first start failed, and its Assign was told
	// (Node.started); it is not restarted.
	reported bool
	// cancelled: the start was cancelled or the task was taken away.
	cancelled bool
}

func (f *taskFailure) Error() string { return f.err.Error() }
func (f *taskFailure) Unwrap() error { return f.err }

// taskSupervisor is the node actor's supervision strategy for its task
// actors.
type taskSupervisor struct{ n *Node }

var _ actor.SupervisorStrategy = taskSupervisor{}

// HandleFailure runs on the node actor.
func (s taskSupervisor) HandleFailure(_ *actor.ActorSystem, sup actor.Supervisor, child *actor.PID, rs *actor.RestartStatistics, reason, _ any) {
	n := s.n
	f, ok := reason.(*taskFailure)
	if !ok {
		// A panic the task actor did not turn into a failure: a bug of
		// its own, nothing to restart.
		n.reportErr(fmt.Errorf("task actor %s failed: %v", child.Id, reason))
		sup.StopChildren(child)
		return
	}
	if !n.supervise(sup, f, rs) {
		sup.StopChildren(child)
	}
}

// supervise decides what becomes of a failed task actor: it returns true
// when it scheduled a restart, false when the actor is to stop.
func (n *Node) supervise(sup actor.Supervisor, f *taskFailure, rs *actor.RestartStatistics) bool {
	ch, err := f.child, f.err
	var rec *partition.RecoverableError
	switch {
	case f.reported, f.cancelled:
	case authz.Is(err):
		// No ACL for what the task does: no restart gets past it.
		n.log.Error("task failed: not authorized; stopping", "task", ch.id.String(), "error", err)
		n.setState(ch.id, TaskFailed, err)
		n.reportErr(err)
	case errors.Is(err, partition.ErrFenced):
		n.taskLost(ch.id, err)
	case !errors.As(err, &rec):
		n.log.Error("task failed; stopping", "task", ch.id.String(), "error", err)
		n.setState(ch.id, TaskFailed, err)
		n.reportErr(err)
	default:
		n.mu.Lock()
		defer n.mu.Unlock()
		if n.closed || !n.assigned[ch.id] || ch.ending {
			ch.ending = true
			n.forgetLocked(ch.id)
			n.log.Info("task failed and is no longer assigned here; not restarting it", "task", ch.id.String(), "error", err)
			return false
		}
		if f.ran >= maxRestartBackoff {
			rs.Reset() // it ran well for a while: this is a new failure, not the next of a series
		}
		rs.Fail()
		wait := restartBackoff(n.cfg.RestartBackoff, rs.FailureCount())
		n.restarts++
		if e := n.entries[ch.id]; e != nil {
			e.state, e.err = TaskStarting, err
		}
		n.startWG.Add(1) // the restart; Close waits for it
		ch.timer = time.AfterFunc(wait, func() { n.restartChild(sup, ch) })
		n.log.Warn("task failed; restarting it from its last commit", "task", ch.id.String(), "in", wait, "error", err)
		return true
	}
	n.mu.Lock()
	ch.ending = true
	n.mu.Unlock()
	return false
}

// restartChild ends a restart's backoff: the actor restarts if its task is
// still assigned here, else it stops.
func (n *Node) restartChild(sup actor.Supervisor, ch *taskChild) {
	n.mu.Lock()
	ch.timer = nil
	restart := !n.closed && n.assigned[ch.id] && !ch.ending
	if !restart {
		ch.ending = true
		n.forgetLocked(ch.id)
	}
	n.mu.Unlock()
	if restart {
		sup.RestartChildren(ch.pid) // its Started ends the restart (startWG)
		return
	}
	n.log.Info("task no longer assigned here; not restarting it", "task", ch.id.String())
	n.startWG.Done()
	sup.StopChildren(ch.pid)
}

// cancelRestartLocked stops ch's restart if it still waits out its backoff;
// the caller stops the actor when it returns true. n.mu must be held.
func (n *Node) cancelRestartLocked(ch *taskChild) bool {
	if ch.timer == nil || !ch.timer.Stop() {
		return false // none, or its timer fired: restartChild decides
	}
	ch.timer = nil
	ch.ending = true
	n.startWG.Done()
	return true
}

// childStopped is called by a task actor once it has stopped, its task
// closed.
func (n *Node) childStopped(ch *taskChild) {
	n.mu.Lock()
	if n.children[ch.id] == ch {
		delete(n.children, ch.id)
	}
	n.mu.Unlock()
	close(ch.stopped)
	n.childWG.Done()
}

// spawnTaskLocked makes task id's actor, a child of the node actor c, whose
// Started begins the task's first start; the previous actor of the task,
// if one is still stopping, is waited for. n.mu must be held.
func (n *Node) spawnTaskLocked(c actor.Context, id topology.TaskID, ctx context.Context, cancel context.CancelFunc) {
	ch := &taskChild{id: id, prev: n.children[id], firstCtx: ctx, firstCancel: cancel, stopped: make(chan struct{})}
	if sb := n.standbys[id]; sb != nil {
		ch.standby = sb.stopped
	}
	n.children[id] = ch
	n.startWG.Add(1)
	n.childWG.Add(1)
	props := actor.PropsFromProducer(func() actor.Actor {
		return &taskActor{n: n, child: ch, committer: n.cfg.Committer, timeout: n.cfg.CommitTimeout, chunk: 500, log: n.log, dead: true}
	})
	ch.pid = c.SpawnPrefix(props, "task-"+id.String()+"-")
}
