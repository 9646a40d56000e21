package actors

import (
	"context"
	"errors"
	"fmt"
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
	scheduled bool
	dead      bool
}

func (a *taskActor) Receive(c actor.Context) {
	defer func() {
		if p := recover(); p != nil {
			a.fail(fmt.Errorf("task %s: panic: %v\n%s", a.task.ID(), p, debug.Stack()))
			if c.Sender() != nil {
				c.Respond(reply{err: fmt.Errorf("task %s failed", a.task.ID())})
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
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		err := a.task.Initialize(ctx, m.commit)
		if err != nil {
			a.fail(err)
		}
		c.Respond(reply{err: err})
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
			c.Respond(queryReply{err: fmt.Errorf("task %s is %s: %w", a.task.ID(), a.task.State(), ErrTaskNotHere)})
			return
		}
		v, err := m.fn(a.task)
		c.Respond(queryReply{v: v, err: err})
	case *commitRequest:
		c.Respond(reply{err: a.commit()})
	case *closeRequest:
		var err error
		if m.clean && !a.dead {
			err = a.commit()
		}
		if cerr := a.task.Close(m.clean && err == nil && !a.dead); err == nil {
			err = cerr
		}
		a.dead = true
		c.Respond(reply{err: err})
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
