package actors

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/topology"
)

func TestRestartBackoffDoublesToTenSeconds(t *testing.T) {
	for _, c := range []struct {
		first    time.Duration
		failures int
		want     time.Duration
	}{
		{100 * time.Millisecond, 1, 100 * time.Millisecond},
		{100 * time.Millisecond, 2, 200 * time.Millisecond},
		{100 * time.Millisecond, 4, 800 * time.Millisecond},
		{100 * time.Millisecond, 8, 10 * time.Second},
		{100 * time.Millisecond, 1000, 10 * time.Second},
		{3 * time.Second, 3, 10 * time.Second},
		{20 * time.Second, 1, 10 * time.Second},
	} {
		if got := restartBackoff(c.first, c.failures); got != c.want {
			t.Errorf("backoff after %d failures from %v: %v, want %v", c.failures, c.first, got, c.want)
		}
	}
}

// TestRestartBackoffGrows fails a running task recoverably, then fails its
// next three restarts (the committed offsets cannot be read): each restart
// comes at least twice as long after the one before as that one after its
// predecessor, from RestartBackoff on. The times are those at which the node
// made each incarnation (NewTask).
func TestRestartBackoffGrows(t *testing.T) {
	const first = 40 * time.Millisecond
	n := newTestNode(t, NodeConfig{RestartBackoff: first})
	if err := n.Apply(context.Background(), Assign{Epoch: 1, Active: []topology.TaskID{task0}}); err != nil {
		t.Fatal(err)
	}
	n.failCommitted.Store(3)
	n.log.failSends.Store(1)
	n.produce(t, 0, 3)
	waitUntil(t, 30*time.Second, "0_0 running after four restarts", func() bool {
		return n.Restarts() == 4 && running(n.Node)[task0] && n.task(task0).State() == partition.StateRunning
	})
	times := n.startTimes(task0)
	if len(times) != 5 {
		t.Fatalf("%d incarnations made, want 5 (the first and four restarts)", len(times))
	}
	t.Logf("incarnations made at gaps of %v", gaps(times))
	// Restarts 2, 3 and 4 follow a restart that failed at once (reading
	// the committed offsets), so the gap before each is its backoff plus
	// a few milliseconds: 2, 4 and 8 times the first.
	for i := 2; i < 5; i++ {
		gap, want := times[i].Sub(times[i-1]), first<<(i-1)
		if gap < want {
			t.Errorf("restart %d came %v after the one before, want at least %v (gaps %v)", i, gap, want, gaps(times))
		}
	}
	select {
	case err := <-n.Errors():
		t.Fatalf("recoverable failures must not stop the node: %v", err)
	default:
	}
}

func gaps(ts []time.Time) []time.Duration {
	var d []time.Duration
	for i := 1; i < len(ts); i++ {
		d = append(d, ts[i].Sub(ts[i-1]).Round(time.Millisecond))
	}
	return d
}

// TestFatalFailureStopsNode fails a task with an error Kafka would not
// retry: the node reports it on Errors (the App stops on it), closes the
// task and does not start it again.
func TestFatalFailureStopsNode(t *testing.T) {
	n := newTestNode(t, NodeConfig{RestartBackoff: 10 * time.Millisecond})
	if err := n.Apply(context.Background(), Assign{Epoch: 1, Active: []topology.TaskID{task0, task1}}); err != nil {
		t.Fatal(err)
	}
	first := n.task(task0)
	n.log.setFatal(errors.New("record rejected for good"))
	n.produce(t, 0, 3)
	select {
	case err := <-n.Errors():
		if !strings.Contains(err.Error(), "record rejected for good") {
			t.Fatalf("node reported %v, want the task's error", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a fatal task error was not reported")
	}
	waitUntil(t, 10*time.Second, "the failed task's actor to stop", func() bool {
		n.Node.mu.RLock()
		defer n.Node.mu.RUnlock()
		return n.children[task0] == nil
	})
	if first.State() != partition.StateClosed || running(n.Node)[task0] {
		t.Fatalf("failed task is %s, running %v; want closed, not running", first.State(), running(n.Node)[task0])
	}
	if n.Restarts() != 0 || len(n.startTimes(task0)) != 1 {
		t.Fatalf("a fatal failure was restarted (%d restarts, %d incarnations)", n.Restarts(), len(n.startTimes(task0)))
	}
	st, err := n.Tell(context.Background(), &StatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ts := range st.Tasks {
		if ts.ID == task0 && (ts.State != TaskFailed || !strings.Contains(ts.Err, "record rejected")) {
			t.Fatalf("status of the failed task: %+v", ts)
		}
	}
}

// TestRestartDropsOldIncarnationRecords fails a task while record batches
// fetched for it wait in its actor's mailbox. The restarted actor keeps the
// mailbox, and reads the partition again from the last commit (here: from
// the start, nothing is committed): it must process each record of the
// partition once, none of the old batches.
func TestRestartDropsOldIncarnationRecords(t *testing.T) {
	n := newTestNode(t, NodeConfig{RestartBackoff: 10 * time.Millisecond})
	if err := n.Apply(context.Background(), Assign{Epoch: 1, Active: []topology.TaskID{task0}}); err != nil {
		t.Fatal(err)
	}
	n.produce(t, 0, 10)
	waitUntil(t, 10*time.Second, "the first records to be processed", func() bool { return n.task(task0).Processed() == 10 })
	first := n.task(task0)
	n.Node.mu.RLock()
	old := n.Node.tasks[task0]
	n.Node.mu.RUnlock()

	// The next record's changelog send waits at the gate, holding the
	// actor, and then fails. A failed send fails the next commit: a
	// commit tick already queued, or the commit asked for now, ahead of
	// the records written next, which are fetched for the blocked
	// incarnation and queued in its mailbox.
	gate := make(chan struct{})
	var release sync.Once
	open := func() { release.Do(func() { n.log.setGate(nil); close(gate) }) }
	t.Cleanup(open)
	n.log.setGate(gate)
	n.log.failSends.Store(1)
	n.produce(t, 0, 1)
	waitUntil(t, 10*time.Second, "the task to block in a send", func() bool { return n.log.blocked.Load() > 0 })
	commitDone := make(chan error, 1)
	n.Node.system.Root.Send(old.pid, &commitRequest{done: commitDone})
	n.produce(t, 0, 30)
	waitUntil(t, 10*time.Second, "the records to reach the blocked actor", func() bool { return old.flow.buffered.Load() == 31 })
	open()
	// Answered by the failed incarnation, or by the next one when a
	// commit tick queued before it failed first.
	select {
	case <-commitDone: // its error is the failure, or nil from the next incarnation
	case <-time.After(time.Minute):
		t.Fatal("the commit asked for was never answered")
	}

	waitUntil(t, 10*time.Second, "a new incarnation of 0_0", func() bool {
		return running(n.Node)[task0] && n.task(task0) != first && n.task(task0).State() == partition.StateRunning
	})
	const total = 10 + 1 + 30
	var processed int64
	var buffered int
	waitUntil(t, 10*time.Second, "the new incarnation to process all it fetched", func() bool {
		st, err := n.Tell(context.Background(), &StatusRequest{})
		if err != nil {
			t.Fatal(err)
		}
		for _, ts := range st.Tasks {
			// Buffered goes below 0 when the task takes records
			// that were not counted as fetched for it.
			if ts.ID == task0 && ts.State == TaskRunning && ts.InputLag == 0 && ts.Buffered <= 0 && ts.Processed >= total {
				processed, buffered = ts.Processed, ts.Buffered
				return true
			}
		}
		return false
	})
	if processed != total || buffered != 0 {
		t.Fatalf("the restarted task processed %d records (buffered %d); the partition holds %d", processed, buffered, total)
	}
	if n.staleBatches.Load() == 0 {
		t.Fatal("no batch of the failed incarnation was left in the mailbox: the test did not test the restart's drop")
	}
	if n.Restarts() != 1 {
		t.Fatalf("%d restarts, want 1", n.Restarts())
	}
}

// TestReassignWhileClosing assigns a task again right after revoking it,
// before its actor has closed it: the new actor starts the task only once
// the old one is closed (both use the task's state directory).
func TestReassignWhileClosing(t *testing.T) {
	n := newTestNode(t, NodeConfig{})
	ctx := context.Background()
	if err := n.Apply(ctx, Assign{Epoch: 1, Active: []topology.TaskID{task0}}); err != nil {
		t.Fatal(err)
	}
	first := n.task(task0)
	var openAtStart []bool
	newTask := n.Node.cfg.NewTask
	n.Node.cfg.NewTask = func(id topology.TaskID) (*partition.Task, error) {
		// Runs after the old actor stopped if the start waits for it
		// (a channel close orders the read); the race detector flags
		// it otherwise.
		openAtStart = append(openAtStart, first.State() != partition.StateClosed)
		return newTask(id)
	}
	// The revoke's clean close commits; a slow commit keeps the actor
	// closing while the task is assigned again.
	n.log.setGate(make(chan struct{}))
	n.produce(t, 0, 1)
	waitUntil(t, 10*time.Second, "the task to block in a send", func() bool { return n.log.blocked.Load() > 0 })
	if _, err := n.Tell(ctx, &Revoke{Epoch: 2, Tasks: []topology.TaskID{task0}}); err != nil {
		t.Fatal(err)
	}
	// Applied (a new actor spawned) while the old one is still blocked.
	if _, err := n.Tell(ctx, &Assign{Epoch: 3, Active: []topology.TaskID{task0}}); err != nil {
		t.Fatal(err)
	}
	n.log.mu.Lock()
	gate := n.log.gate
	n.log.gate = nil
	n.log.mu.Unlock()
	close(gate)
	// The same assignment again: waits for the start under way.
	if err := n.Apply(ctx, Assign{Epoch: 3, Active: []topology.TaskID{task0}}); err != nil {
		t.Fatal(err)
	}
	if second := n.task(task0); second == first || second.State() != partition.StateRunning || !running(n.Node)[task0] {
		t.Fatal("the task assigned again is not running a new incarnation")
	}
	if len(openAtStart) != 1 || openAtStart[0] {
		t.Fatalf("the new incarnation was made while the revoked one was open (%v)", openAtStart)
	}
}
