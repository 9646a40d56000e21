package actors

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/topology"
)

// ErrTaskNotHere means the task does not run on this node (now).
var ErrTaskNotHere = errors.New("task does not run on this node")

// queryRequest runs a read on a task actor, between two records, so that
// it sees a consistent state while the task keeps processing.
type queryRequest struct {
	fn func(*partition.Task) (any, error)
}

// queryReply is the answer to a queryRequest.
type queryReply struct {
	v   any
	err error
}

// Query runs fn on the actor of task id, between two records, and returns
// its result. It fails with ErrTaskNotHere when the task does not run on
// this node, and when the task is not running (restoring, closed).
func (n *Node) Query(ctx context.Context, id topology.TaskID, fn func(*partition.Task) (any, error)) (any, error) {
	n.mu.RLock()
	rt, ok := n.tasks[id]
	n.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("task %s: %w", id, ErrTaskNotHere)
	}
	timeout := n.cfg.CommitTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(dl), time.Millisecond)
	}
	res, err := n.system.Root.RequestFuture(rt.pid, &queryRequest{fn: fn}, timeout).Result()
	if err != nil {
		return nil, fmt.Errorf("task %s: query: %w", id, err)
	}
	r, ok := res.(queryReply)
	if !ok {
		return nil, fmt.Errorf("task %s: query: %w", id, ErrTaskNotHere)
	}
	return r.v, r.err
}

// RunningTasks lists the tasks running on this node.
func (n *Node) RunningTasks() []topology.TaskID {
	n.mu.RLock()
	defer n.mu.RUnlock()
	ids := make([]topology.TaskID, 0, len(n.tasks))
	for id := range n.tasks {
		ids = append(ids, id)
	}
	return ids
}
