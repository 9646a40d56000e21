package actors

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddystreams/eddy/topology"
)

// switchLease is a lease a test turns on and off.
type switchLease struct{ ok atomic.Bool }

func (l *switchLease) Valid(time.Time) bool { return l.ok.Load() }

// TestLeaseStopsTasks: a task processes only while the node's lease is
// valid. Once it runs out, the next records stop the task (closed, no more
// records processed, its ownership ended with reason lease); when the
// lease is valid again the task restarts from its last commit and
// processes what came meanwhile. A start waits for a valid lease.
func TestLeaseStopsTasks(t *testing.T) {
	lease := &switchLease{}
	n := newTestNode(t, NodeConfig{Lease: lease, RestartBackoff: 10 * time.Millisecond})
	started := make(chan error, 1)
	go func() { started <- n.Apply(context.Background(), Assign{Epoch: 1, Active: []topology.TaskID{task0}}) }()
	// No lease yet: the start waits, having made no task.
	waitUntil(t, 5*time.Second, "the start to wait for the lease", func() bool {
		st := n.Status()
		return len(st.Tasks) == 1 && st.Tasks[0].State == TaskStarting
	})
	if n.task(task0) != nil {
		t.Fatal("a task was made before the lease was valid")
	}
	lease.ok.Store(true)
	if err := <-started; err != nil {
		t.Fatal(err)
	}
	first := n.task(task0)
	n.produce(t, 0, 5)
	waitUntil(t, 10*time.Second, "5 records processed", func() bool { return first.Processed() == 5 })

	lease.ok.Store(false)
	n.produce(t, 0, 5)
	waitUntil(t, 10*time.Second, "the task to stop for its lease", func() bool {
		st := n.Status()
		return !running(n.Node)[task0] && len(st.Tasks) == 1 && strings.Contains(st.Tasks[0].Err, "lease")
	})
	if got := first.Processed(); got != 5 {
		t.Fatalf("processed %d records with the lease run out, want 5", got)
	}
	if n.task(task0) != first || running(n.Node)[task0] {
		t.Fatal("the task restarted while the lease was invalid")
	}

	lease.ok.Store(true)
	waitUntil(t, 10*time.Second, "the task to restart and process what came meanwhile", func() bool {
		next := n.task(task0)
		return next != first && running(n.Node)[task0] && next.Processed() >= 5
	})
	select {
	case err := <-n.Errors():
		t.Fatalf("a lease running out must not stop the node: %v", err)
	default:
	}
}
