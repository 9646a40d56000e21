package actors

import (
	"context"

	"github.com/eddystreams/eddy/partition"
	"sync/atomic"
	"time"
)

// defaultWallClockTick is how often the node asks tasks to run their due
// wall-clock punctuators when NodeConfig.WallClockTick is not set: Kafka
// Streams checks wall-clock punctuation once per loop of its stream
// thread, whose poll.ms defaults to 100ms.
const defaultWallClockTick = 100 * time.Millisecond

// wallClockTick asks a task actor to run the wall-clock punctuators that
// are due, advance idle stream time, and check a task waiting for an empty
// input again (its max-task-idle deadline). The node keeps at most one tick queued per task: pending is set
// when it sends one and cleared by the actor on receipt, so a busy task is
// not flooded.
type wallClockTick struct{ pending *atomic.Bool }

// wallClockLoop ticks the tasks that want wall-clock ticks
// (partition.Task.WantsWallClockTicks) until ctx is done.
func (n *Node) wallClockLoop(ctx context.Context) {
	every := n.cfg.WallClockTick
	if every <= 0 {
		every = defaultWallClockTick
	}
	t := time.NewTicker(every)
	defer t.Stop()
	pending := map[*runningTask]*atomic.Bool{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			pending = n.tickTasks(pending)
		}
	}
}

// tickTasks sends a tick to every running task that wants ticks and has
// none queued. It returns the pending flags of the
// current tasks (dropping those of tasks that are gone).
func (n *Node) tickTasks(pending map[*runningTask]*atomic.Bool) map[*runningTask]*atomic.Bool {
	n.mu.RLock()
	defer n.mu.RUnlock()
	next := make(map[*runningTask]*atomic.Bool, len(n.tasks))
	for _, rt := range n.tasks {
		if !rt.task.WantsWallClockTicks() {
			continue
		}
		p := pending[rt]
		if p == nil {
			p = new(atomic.Bool)
		}
		next[rt] = p
		if p.CompareAndSwap(false, true) {
			n.system.Root.Send(rt.pid, wallClockTick{pending: p})
		}
	}
	return next
}

// punctuate runs the task's due wall-clock punctuators on its clock, then
// advances its stream time if it has been idle long enough
// (partition.Task.AdvanceIdleStreamTime); an error fails the task.
func (a *taskActor) punctuate(m wallClockTick) {
	m.pending.Store(false)
	if a.dead {
		return
	}
	if !a.n.leaseValid() {
		a.fail(&partition.RecoverableError{Err: ErrNodeLeaseExpired})
		return
	}
	now := time.UnixMilli(a.task.WallClockTime())
	a.owned.wrote() // a punctuator may write
	if err := a.task.PunctuateWallClock(now); err != nil {
		a.fail(err)
		return
	}
	if err := a.task.AdvanceIdleStreamTime(now); err != nil {
		a.fail(err)
	}
}
