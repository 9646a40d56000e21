package actors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/topology"
)

// taskActor is one incarnation of a task actor (see supervision.go): it
// starts a partition.Task when it gets Started and owns it from then on. All
// calls into the task happen on the actor's goroutine, one message at a
// time.
type taskActor struct {
	n         *Node
	child     *taskChild
	rt        *runningTask // this incarnation, once its start made the task
	task      *partition.Task
	flow      *flowControl
	committer partition.OffsetCommitter
	timeout   time.Duration // bounds flushes and commits
	chunk     int           // records processed per processMore
	log       *slog.Logger
	scheduled bool
	// dead: the task is not running (not started yet, failed, closed);
	// the actor takes no more records.
	dead    bool
	running time.Time    // when the start ended
	failure *taskFailure // to escalate once the message is handled
	// owned is this incarnation's ownership of the task, for the log
	// lines that say when a node starts and stops owning it (ownership.go).
	owned ownership
	// bgSent is when the offset commit on its way in the background
	// began.
	bgSent time.Time
}

func (a *taskActor) Receive(c actor.Context) {
	defer a.afterMessage(c)
	switch m := c.Message().(type) {
	case *actor.Started:
		a.start(c)
	case *actor.Restarting:
		// The failed incarnation closed its task when it failed; this
		// is for one that failed in a way it could not handle.
		_ = a.closeDirty()
	case *actor.Stopped:
		// Stopped without a closeRequest (or before it was reached):
		// the task's stores and clients are released all the same.
		defer a.n.childStopped(a.child)
		_ = a.closeDirty()
	case *recordBatch:
		if m.rt != a.rt {
			a.n.staleBatches.Add(1) // fetched for an earlier incarnation
			return
		}
		if a.dead {
			return
		}
		a.task.AddRecords(m.tp, m.recs)
		if m.hasLag {
			a.task.UpdateFetchedLag(m.tp, m.lag)
		}
		a.schedule(c)
	case *fetchedLags:
		if a.dead || m.rt != a.rt {
			return
		}
		for tp, lag := range m.lags {
			a.task.UpdateFetchedLag(tp, lag)
		}
		if a.task.Buffered() > 0 {
			a.schedule(c)
		}
	case processMore:
		if m.rt != a.rt {
			return // sent by an earlier incarnation
		}
		a.scheduled = false
		if a.dead {
			return
		}
		if !a.n.leaseValid() {
			a.fail(&partition.RecoverableError{Err: ErrNodeLeaseExpired})
			return
		}
		before := a.task.BufferedBytes()
		n, err := a.task.Process(a.chunk)
		if n > 0 {
			a.owned.wrote()
		}
		a.flow.taken(n, before-a.task.BufferedBytes())
		if errors.Is(err, partition.ErrLeaseExpired) {
			// Paused past the lease (a stopped process, a long GC, a slow
			// commit): ask the broker whether the task is still ours
			// before writing more.
			if err = a.confirmOwnership(); err != nil {
				a.fail(err)
				return
			}
			a.schedule(c)
			return
		}
		if errors.Is(err, partition.ErrNodeLeaseExpired) {
			err = &partition.RecoverableError{Err: err} // restarts once the lease is back
		}
		if err != nil {
			a.fail(err)
			return
		}
		if a.task.WaitingForInput() {
			// The next lag, batch or tick goes on; meanwhile the
			// partitions waited for must be fetched even if the task's
			// others are paused.
			a.flow.resume(a.task.StarvedInputs())
			return
		}
		if a.task.Buffered() > 0 {
			a.schedule(c)
		}
	case wallClockTick:
		a.punctuate(m)
		if !a.dead && a.task.WaitingForInput() {
			a.schedule(c) // a max-task-idle deadline may have passed
		}
	case *queryRequest:
		if a.dead || a.task.State() != partition.StateRunning {
			m.done <- queryReply{err: fmt.Errorf("task %s is not running: %w", a.child.id, ErrTaskNotHere)}
			return
		}
		res, err := serve(a.task, m.q)
		m.done <- queryReply{res: res, err: err}
	case *commitRequest:
		m.done <- a.commit()
	case commitTick:
		m.queued.Store(false)
		if err := a.commitBackground(c); err != nil && !errors.Is(err, partition.ErrFenced) {
			a.log.Warn("commit failed", "task", a.child.id.String(), "error", err)
		}
	case offsetsCommitted:
		if m.rt != a.rt || a.dead {
			return
		}
		if err := a.finishBackground(); err != nil && !errors.Is(err, partition.ErrFenced) {
			a.log.Warn("commit failed", "task", a.child.id.String(), "error", err)
		}
	case *closeRequest:
		var err error
		clean := m.clean && !a.dead && a.task.State() == partition.StateRunning
		if clean {
			sent := time.Now()
			if err = a.release(); err == nil {
				a.owned.committed(sent)
			}
		}
		if a.task != nil {
			if cerr := a.task.Close(clean && err == nil); err == nil {
				err = cerr
			}
		}
		a.dead = true
		a.owned.end(a, "revoked")
		m.done <- err
	}
}

// afterMessage turns a panic of the task (a processor's, say) into a
// failure, and escalates a failure to the node actor's supervisor: the
// failed incarnation's task is closed dirty first, so that it holds nothing
// while the supervisor decides (a restart may wait for seconds).
func (a *taskActor) afterMessage(c actor.Context) {
	if p := recover(); p != nil {
		var err error
		if pe, ok := p.(*topology.PanicError); ok {
			err = fmt.Errorf("task %s: %w", a.child.id, pe) // names the processor
		} else {
			err = fmt.Errorf("task %s: panic: %v\n%s", a.child.id, p, debug.Stack())
		}
		switch m := c.Message().(type) {
		case *closeRequest:
			m.done <- err
		case *queryRequest:
			m.done <- queryReply{err: err}
		default:
			if c.Sender() != nil {
				c.Respond(reply{err: fmt.Errorf("task %s failed", a.child.id)})
			}
		}
		a.fail(err)
	}
	if f := a.failure; f != nil {
		a.failure = nil
		if f.running {
			// What the task sent before it failed still goes out (at
			// least once). A fenced owner sends nothing new, but what it
			// sent within its lease (while its background offset commit
			// was on its way, decision 0040) is let through too: closing
			// cancels the sends still buffered, and the shared producer
			// then fails the other tasks' records in the same batches.
			ctx, cancel := context.WithTimeout(context.Background(), min(a.timeout, 5*time.Second))
			a.task.FlushSent(ctx)
			cancel()
			_ = a.n.stopTask(a.rt, a.closeDirty)
		}
		panic(f) // protoactor suspends the mailbox and tells the node actor
	}
}

// closeDirty closes the task without commit, if it is open, and gives its
// buffered bytes back to the node.
func (a *taskActor) closeDirty() error {
	a.dead = true
	a.owned.end(a, "stopped")
	var err error
	if a.task != nil && a.task.State() != partition.StateClosed {
		err = a.task.Close(false)
	}
	if a.flow != nil {
		a.flow.release()
	}
	return err
}

func (a *taskActor) schedule(c actor.Context) {
	if !a.scheduled {
		a.scheduled = true
		c.Send(c.Self(), processMore{rt: a.rt})
	}
}

// fail ends the running incarnation: afterMessage escalates err to the
// supervisor.
func (a *taskActor) fail(err error) {
	if a.dead {
		return
	}
	a.dead = true
	a.owned.end(a, endReason(err))
	a.failure = &taskFailure{child: a.child, err: err, running: true, ran: time.Since(a.running)}
}

// release makes the last commit before a clean close
// (partition.Task.Release).
func (a *taskActor) release() error {
	ctx, cancel := context.WithTimeout(context.Background(), a.timeout)
	defer cancel()
	return a.task.Release(ctx, a.committer)
}

// confirmOwnership commits to renew the task's ownership lease
// (partition.Task.ConfirmOwnership); fencing comes back as ErrFenced.
func (a *taskActor) confirmOwnership() error {
	ctx, cancel := context.WithTimeout(context.Background(), a.timeout)
	defer cancel()
	sent := time.Now()
	err := a.task.ConfirmOwnership(ctx, a.committer)
	if err == nil {
		a.owned.committed(sent)
	}
	return err
}

// commit makes the task's progress durable (see partition.Task.Commit).
func (a *taskActor) commit() error {
	if a.dead {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), a.timeout)
	defer cancel()
	pending, sent := a.task.HasUncommitted(), time.Now()
	err := a.task.Commit(ctx, a.committer)
	if err == nil && pending {
		a.owned.committed(sent) // a commit with nothing in it proves nothing
	}
	a.commitFailed(err)
	return err
}

// commitFailed ends this incarnation of the task on a failed commit, unless
// only the offset commit failed: that one is retried at the next interval.
func (a *taskActor) commitFailed(err error) {
	var rec *partition.RecoverableError
	if err != nil && !(errors.As(err, &rec) && rec.CommitOnly) {
		a.fail(err)
	}
}

// commitBackground is the commit of the commit interval: under
// at-least-once the task goes on processing while the broker takes the
// offset commit (partition.Task.CommitBackground); the answer comes back as
// offsetsCommitted.
func (a *taskActor) commitBackground(c actor.Context) error {
	if a.dead {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), a.timeout)
	defer cancel()
	pending, sent := a.task.HasUncommitted(), time.Now()
	root, self, rt := c.ActorSystem().Root, c.Self(), a.rt
	started, err := a.task.CommitBackground(ctx, a.committer, a.timeout, func() {
		root.Send(self, offsetsCommitted{rt: rt})
	})
	switch {
	case err != nil:
	case started:
		a.bgSent = sent
	case pending:
		a.owned.committed(sent)
	}
	a.commitFailed(err)
	return err
}

// finishBackground takes the answer to a background offset commit.
func (a *taskActor) finishBackground() error {
	done, err := a.task.FinishBackground()
	if done && err == nil {
		a.owned.committed(a.bgSent)
	}
	a.commitFailed(err)
	return err
}
