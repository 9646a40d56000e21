package actors

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/state"
)

// start begins a new incarnation of the task, on the actor (its Started,
// first from the Assign that spawned it, then after each restart). It has no
// deadline: a restore takes as long as it takes. Its context ends it: the
// first start's is cancelled by Apply's caller giving up, a Revoke or Close;
// a restart's by a Revoke or Close. A start that fails closes what it opened
// before anything learns of the failure, then the failure goes to the
// supervisor.
func (a *taskActor) start(c actor.Context) {
	n, ch := a.n, a.child
	n.mu.Lock()
	ch.incarnations++
	first := ch.incarnations == 1
	ctx, cancel := ch.firstCtx, ch.firstCancel
	if !first {
		ctx, cancel = context.WithCancel(n.ctx)
	}
	ch.cancel = cancel
	n.mu.Unlock()

	err := a.startIncarnation(ctx, c.Self(), first)
	cancelled := err != nil && (ctx.Err() != nil || errors.Is(err, errNoLongerAssigned))
	cancel()
	if err != nil {
		_ = a.closeDirty()
	}
	n.mu.Lock()
	ch.cancel = nil
	if err != nil && (first || cancelled) {
		ch.ending = true // not restarted: a new Assign spawns a new actor
	}
	n.mu.Unlock()
	if first || err == nil {
		n.started(ch.id, err)
	}
	n.startWG.Done()
	if err != nil {
		a.failure = &taskFailure{child: ch, err: err, reported: first, cancelled: cancelled}
		return
	}
	a.dead, a.running = false, time.Now()
	a.owned.begin(a, a.running)
}

// startIncarnation creates, fences, restores and registers the task. It holds
// one of the node's start slots while it works, not while it waits for a
// predecessor. What it opened is in a.task and a.flow.
func (a *taskActor) startIncarnation(ctx context.Context, self *actor.PID, first bool) (err error) {
	n, id := a.n, a.child.id
	ph := startPhases{began: time.Now()}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("start task %s: panic: %v\n%s", id, p, debug.Stack())
		}
	}()
	if prev := a.child.prev; prev != nil && first {
		// The task's previous actor still closes, and its stores with
		// it; they must be released before this one opens them.
		select {
		case <-prev.stopped:
		case <-ctx.Done():
			return fmt.Errorf("start task %s: %w", id, ctx.Err())
		}
	}
	if sb := a.child.standby; sb != nil && first {
		// Promoted from standby: its stores close with a checkpoint, from
		// which this start restores only the tail.
		select {
		case <-sb:
		case <-ctx.Done():
			return fmt.Errorf("start task %s: %w", id, ctx.Err())
		}
	}
	ph.mark(&ph.predecessor)
	if err := n.waitLease(ctx); err != nil {
		return fmt.Errorf("start task %s: %w", id, err)
	}
	if n.cfg.BeforeStart != nil {
		if err := n.cfg.BeforeStart(ctx, id); err != nil {
			return fmt.Errorf("start task %s: %w", id, err)
		}
	}
	ph.mark(&ph.handover)
	if err := n.acquireSlot(ctx); err != nil {
		return fmt.Errorf("start task %s: %w", id, err)
	}
	ph.mark(&ph.slot)
	held := true
	defer func() {
		if held {
			<-n.slots
		}
	}()
	task, err := n.cfg.NewTask(id)
	if err != nil {
		return fmt.Errorf("create task %s: %w", id, err)
	}
	tps := map[string][]int32{}
	for _, tp := range task.Inputs() {
		tps[tp.Topic] = append(tps[tp.Topic], tp.Partition)
	}
	a.task = task
	a.flow = newFlowControl(int64(n.cfg.MaxBuffered), n.cfg.Consumer, tps, n.input)
	a.rt = &runningTask{id: id, pid: self, task: task, flow: a.flow, child: a.child}
	// Fence first: the committed offsets and changelogs read next must not
	// change under a predecessor's transaction.
	if err := a.withTimeout(ctx, task.Fence); err != nil {
		if errors.Is(err, partition.ErrFenced) || ctx.Err() != nil {
			return err
		}
		return &partition.RecoverableError{Err: err}
	}
	fencedAt := time.Now()
	ph.mark(&ph.fence)
	abortPending := func(ctx context.Context) error { return a.withTimeout(ctx, task.AbortPendingOffsets) }
	starts, cp, err := n.cfg.Committed(ctx, task.Inputs(), abortPending)
	if err != nil {
		return &partition.RecoverableError{Err: fmt.Errorf("task %s: committed offsets: %w", id, err)}
	}
	ph.mark(&ph.offsets)
	if n.cfg.WaitForPredecessors {
		g := cp.PredecessorGrace(n.cfg.Owner, task.FirstOwner(), n.cfg.CommitInterval, n.cfg.PredecessorMargin)
		if c := n.cfg.MaxPredecessorWait; c > 0 && g > c {
			g = c
		}
		if g > 0 {
			if wait := time.Until(fencedAt.Add(g)); wait > 0 {
				n.log.Info("waiting for the task's previous owner to find it was fenced", "task", id.String(), "for", wait.Round(time.Millisecond))
				<-n.slots
				held = false
				t := time.NewTimer(wait)
				select {
				case <-ctx.Done():
					t.Stop()
					return fmt.Errorf("start task %s: %w", id, ctx.Err())
				case <-t.C:
				}
				if err := n.acquireSlot(ctx); err != nil {
					return fmt.Errorf("start task %s: %w", id, err)
				}
				held = true
			}
		}
	}
	ph.mark(&ph.grace)
	if err := task.Initialize(ctx, cp); err != nil {
		return fmt.Errorf("start task %s: %w", id, err)
	}
	ph.mark(&ph.restore)
	var ends map[state.TopicPartition]InputOffsets
	report := task.NeedsFetchedLags()
	if report {
		if n.cfg.InputOffsets == nil {
			return fmt.Errorf("task %s waits for empty inputs, but the node cannot list input offsets", id)
		}
		if ends, err = n.cfg.InputOffsets(ctx, task.Inputs()); err != nil {
			return &partition.RecoverableError{Err: fmt.Errorf("task %s: input offsets: %w", id, err)}
		}
	} else if n.cfg.InputOffsets != nil {
		// For the lags the node reports (InputLags, Status): without the
		// offsets, a partition nothing is fetched from (an empty one)
		// would have none. Best effort: the lags stay unknown until the
		// first fetch without them.
		if ends, err = n.cfg.InputOffsets(ctx, task.Inputs()); err != nil {
			n.log.Debug("input offsets not listed; lags unknown until fetched", "task", id.String(), "error", err)
			ends, err = nil, nil
		}
	}
	n.mu.Lock()
	if n.closed || !n.assigned[id] || a.child.ending {
		n.mu.Unlock()
		return fmt.Errorf("start task %s: %w", id, errNoLongerAssigned)
	}
	n.tasks[id] = a.rt
	n.mu.Unlock()
	// From the last commit: the records fetched for an earlier incarnation
	// and still queued are dropped (recordBatch.rt).
	n.fetch.add(a.rt, starts, ends, report)
	ph.mark(&ph.register)
	n.log.Debug("task start phases", "task", id.String(), "predecessor", ph.predecessor, "handover", ph.handover,
		"slot", ph.slot, "fence", ph.fence, "offsets", ph.offsets, "grace", ph.grace, "restore", ph.restore,
		"register", ph.register, "total", time.Since(ph.began))
	return nil
}

// startPhases is how long each step of a task's start took, logged at Debug
// (msg="task start phases"): waiting for the task's previous actor or
// standby to close (predecessor), for the node's lease and the previous
// owner's release (handover), for a start slot, fencing, reading the
// committed offsets, the at-least-once grace for a fenced owner, opening
// and restoring the stores (restore), and handing the task to the fetcher
// (register).
type startPhases struct {
	began, last                                                           time.Time
	predecessor, handover, slot, fence, offsets, grace, restore, register time.Duration
}

// mark sets *d to the time since the previous mark.
func (p *startPhases) mark(d *time.Duration) {
	if p.last.IsZero() {
		p.last = p.began
	}
	now := time.Now()
	*d, p.last = now.Sub(p.last), now
}

// withTimeout runs f with ctx bounded by the node's commit timeout.
func (a *taskActor) withTimeout(ctx context.Context, f func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	return f(ctx)
}

// errNoLongerAssigned ends a start whose task an assignment took away (or
// the node closed) meanwhile.
var errNoLongerAssigned = errors.New("no longer assigned to this node")

// ErrNoLongerAssigned, returned by NodeConfig.BeforeStart, ends a start
// quietly: the task was taken away meanwhile.
var ErrNoLongerAssigned = errNoLongerAssigned

// ErrNodeLeaseExpired stops a task whose node could not confirm in time
// that it still follows the cluster's decisions (NodeConfig.Lease): another
// node may own the task by now.
var ErrNodeLeaseExpired = partition.ErrNodeLeaseExpired

// leaseValid says whether the node may run tasks now.
func (n *Node) leaseValid() bool {
	return n.cfg.Lease == nil || n.cfg.Lease.Valid(time.Now())
}

// waitLease returns once the node's lease is valid, or with ctx's error.
func (n *Node) waitLease(ctx context.Context) error {
	if n.leaseValid() {
		return nil
	}
	n.log.Info("waiting for the node's cluster lease before starting a task")
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for !n.leaseValid() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}
