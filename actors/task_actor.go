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
)

// taskActor owns one partition.Task. All calls into the task happen on the
// actor's goroutine, one message at a time.
type taskActor struct {
	task      *partition.Task
	flow      *flowControl
	committer partition.OffsetCommitter
	timeout   time.Duration // bounds flushes and commits
	chunk     int           // records processed per processMore
	failed    func(error)   // tells the node the task failed
	log       *slog.Logger
	scheduled bool
	dead      bool
}

func (a *taskActor) Receive(c actor.Context) {
	defer func() {
		if p := recover(); p != nil {
			err := fmt.Errorf("task %s: panic: %v\n%s", a.task.ID(), p, debug.Stack())
			a.fail(err)
			switch m := c.Message().(type) {
			case *initRequest:
				m.done <- err
			case *closeRequest:
				m.done <- err
			case *queryRequest:
				m.done <- queryReply{err: err}
			default:
				if c.Sender() != nil {
					c.Respond(reply{err: fmt.Errorf("task %s failed", a.task.ID())})
				}
			}
		}
	}()
	switch m := c.Message().(type) {
	case *fenceRequest:
		ctx, cancel := context.WithTimeout(context.Background(), a.timeout)
		defer cancel()
		c.Respond(reply{err: a.task.Fence(ctx)})
	case *abortPendingRequest:
		ctx, cancel := context.WithTimeout(context.Background(), a.timeout)
		defer cancel()
		c.Respond(reply{err: a.task.AbortPendingOffsets(ctx)})
	case *initRequest:
		// The node closes the task when this fails; the actor only stops
		// taking records.
		err := a.task.Initialize(m.ctx, m.commit)
		if err != nil {
			a.dead = true
		}
		m.done <- err
	case *recordBatch:
		if a.dead {
			return
		}
		a.task.AddRecords(m.tp, m.recs)
		if m.hasLag {
			a.task.UpdateFetchedLag(m.tp, m.lag)
		}
		a.schedule(c)
	case *fetchedLags:
		if a.dead {
			return
		}
		for tp, lag := range m.lags {
			a.task.UpdateFetchedLag(tp, lag)
		}
		if a.task.Buffered() > 0 {
			a.schedule(c)
		}
	case processMore:
		a.scheduled = false
		if a.dead {
			return
		}
		before := a.task.BufferedBytes()
		n, err := a.task.Process(a.chunk)
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
			m.done <- queryReply{err: fmt.Errorf("task %s is %s: %w", a.task.ID(), a.task.State(), ErrTaskNotHere)}
			return
		}
		res, err := serve(a.task, m.q)
		m.done <- queryReply{res: res, err: err}
	case *commitRequest:
		c.Respond(reply{err: a.commit()})
	case commitTick:
		m.queued.Store(false)
		if err := a.commit(); err != nil && !errors.Is(err, partition.ErrFenced) {
			a.log.Warn("commit failed", "task", a.task.ID().String(), "error", err)
		}
	case *closeRequest:
		var err error
		clean := m.clean && !a.dead && a.task.State() == partition.StateRunning
		if clean {
			err = a.release()
		}
		if cerr := a.task.Close(clean && err == nil); err == nil {
			err = cerr
		}
		a.dead = true
		m.done <- err
	case *actor.Stopped:
		// Stopped without a closeRequest (or before it was reached):
		// the task's stores and clients are released all the same.
		if a.task.State() != partition.StateClosed {
			a.dead = true
			_ = a.task.Close(false)
		}
	}
}

func (a *taskActor) schedule(c actor.Context) {
	if !a.scheduled {
		a.scheduled = true
		c.Send(c.Self(), processMore{})
	}
}

func (a *taskActor) fail(err error) {
	if a.dead {
		return
	}
	a.dead = true
	a.failed(err)
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
	return a.task.ConfirmOwnership(ctx, a.committer)
}

// commit makes the task's progress durable (see partition.Task.Commit).
func (a *taskActor) commit() error {
	if a.dead {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), a.timeout)
	defer cancel()
	err := a.task.Commit(ctx, a.committer)
	var rec *partition.RecoverableError
	if err != nil && !(errors.As(err, &rec) && rec.CommitOnly) {
		// A failed offset commit is retried at the next interval;
		// anything else ends this incarnation of the task.
		a.fail(err)
	}
	return err
}
