package actors

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddystreams/eddy/internal/kafkatest"
	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/state"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// memLog is an in-memory Producer and ChangelogReader. Restores can be held
// up (hold) to act as long ones.
type memLog struct {
	mu        sync.Mutex
	logs      map[state.TopicPartition][]*kgo.Record
	hold      chan struct{} // when set, Restore waits for it to close (or ctx)
	restores  atomic.Int64  // Restore calls begun
	failSends atomic.Int64  // this many next sends fail with a retriable error
	gate      chan struct{} // when set, a send waits for it to close
	blocked   atomic.Int64  // sends that waited at a gate
	fatal     error         // when set, sends fail with it
}

// setGate makes the next sends wait for gate to close (nil: no wait).
func (m *memLog) setGate(gate chan struct{}) {
	m.mu.Lock()
	m.gate = gate
	m.mu.Unlock()
}

// setFatal makes sends fail with err, which Kafka would not retry.
func (m *memLog) setFatal(err error) {
	m.mu.Lock()
	m.fatal = err
	m.mu.Unlock()
}

func newMemLog() *memLog { return &memLog{logs: map[state.TopicPartition][]*kgo.Record{}} }

func (m *memLog) Produce(_ context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	m.mu.Lock()
	gate, fatal := m.gate, m.fatal
	m.mu.Unlock()
	if gate != nil {
		m.blocked.Add(1)
		<-gate
	}
	if fatal != nil {
		promise(r, fatal)
		return
	}
	if m.failSends.Add(-1) >= 0 {
		promise(r, kerr.NotLeaderForPartition)
		return
	}
	m.failSends.Store(0)
	m.mu.Lock()
	tp := state.TopicPartition{Topic: r.Topic, Partition: r.Partition}
	r.Offset = int64(len(m.logs[tp]))
	m.logs[tp] = append(m.logs[tp], r)
	m.mu.Unlock()
	promise(r, nil)
}

func (m *memLog) Restore(ctx context.Context, tp state.TopicPartition, from, until int64, apply func([]*kgo.Record) error) (int64, error) {
	m.restores.Add(1)
	m.mu.Lock()
	hold := m.hold
	m.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return from, ctx.Err()
		}
	}
	m.mu.Lock()
	log := append([]*kgo.Record(nil), m.logs[tp]...)
	m.mu.Unlock()
	if until >= 0 && until < int64(len(log)) {
		log = log[:until]
	}
	if from >= int64(len(log)) {
		return from, nil
	}
	return int64(len(log)), apply(log[from:])
}

// committer records commits and fails them with err when set.
type committer struct {
	mu      sync.Mutex
	err     error
	commits int
}

func (c *committer) CommitOffsets(context.Context, map[state.TopicPartition]int64, map[state.TopicPartition]string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.commits++
	return c.err
}

func (c *committer) setErr(err error) {
	c.mu.Lock()
	c.err = err
	c.mu.Unlock()
}

const testInput = "in"

// testNode is a node over an embedded broker whose topic "in" has two
// partitions, running a count of the input per key (RocksDB store) as
// tasks 0_0 and 0_1.
type testNode struct {
	*Node
	log       *memLog
	committer *committer
	cluster   *kfake.Cluster
	dir       string

	// failCommitted makes this many next reads of the committed offsets
	// fail (starts and restarts).
	failCommitted atomic.Int64

	mu     sync.Mutex
	tasks  map[topology.TaskID]*partition.Task // latest incarnation of each
	starts map[topology.TaskID][]time.Time     // when each incarnation was made
}

func newTestNode(t *testing.T, cfg NodeConfig) *testNode {
	t.Helper()
	c := kafkatest.EmbeddedCluster(t, kfake.SeedTopics(2, testInput))
	b := topology.NewBuilder()
	topology.Stream(b, testInput, topology.String(), topology.String()).GroupByKey().Count(topology.Named("counts"))
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	tn := &testNode{log: newMemLog(), committer: &committer{}, cluster: c, dir: t.TempDir(), tasks: map[topology.TaskID]*partition.Task{}, starts: map[topology.TaskID][]time.Time{}}
	cfg.Consumer = cl
	cfg.Committer = tn.committer
	cfg.Committed = func(context.Context, []state.TopicPartition, func(context.Context) error) (map[state.TopicPartition]int64, partition.CommitPoint, error) {
		if tn.failCommitted.Add(-1) >= 0 {
			return nil, partition.CommitPoint{}, errors.New("offsets not available")
		}
		tn.failCommitted.Store(0)
		return map[state.TopicPartition]int64{}, partition.CommitPoint{StreamTime: state.UnknownStreamTime}, nil
	}
	if cfg.CommitInterval == 0 {
		cfg.CommitInterval = 50 * time.Millisecond
	}
	cfg.NewTask = func(id topology.TaskID) (*partition.Task, error) {
		tn.mu.Lock()
		tn.starts[id] = append(tn.starts[id], time.Now())
		tn.mu.Unlock()
		task, err := partition.NewTask(partition.Config{
			ApplicationID: "app",
			ID:            id,
			Subtopology:   topo.Subtopologies[0],
			Inputs:        []state.TopicPartition{{Topic: testInput, Partition: id.Partition}},
			Dir:           filepath.Join(tn.dir, id.String()),
			DefaultEngine: topology.EngineRocksDB,
			Producer:      tn.log,
			Partitions:    func(string) (int32, error) { return 2, nil },
			Changelogs:    tn.log,
		})
		if err == nil {
			tn.mu.Lock()
			tn.tasks[id] = task
			tn.mu.Unlock()
		}
		return task, err
	}
	tn.Node = NewNode(cfg)
	tn.Start()
	t.Cleanup(func() { tn.Close() })
	return tn
}

func (tn *testNode) task(id topology.TaskID) *partition.Task {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	return tn.tasks[id]
}

// startTimes is when each incarnation of task id was made (NewTask).
func (tn *testNode) startTimes(id topology.TaskID) []time.Time {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	return append([]time.Time(nil), tn.starts[id]...)
}

func (tn *testNode) produce(t *testing.T, partition int32, n int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(tn.cluster.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i := 0; i < n; i++ {
		r := &kgo.Record{Topic: testInput, Partition: partition, Key: []byte(fmt.Sprint("k", i%7)), Value: []byte("v")}
		if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

func running(n *Node) map[topology.TaskID]bool {
	m := map[topology.TaskID]bool{}
	for _, id := range n.RunningTasks() {
		m[id] = true
	}
	return m
}

// waitUntil polls cond until it holds or d passes.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling interval of a condition with a deadline
	}
}

var (
	task0 = topology.TaskID{Subtopology: 0, Partition: 0}
	task1 = topology.TaskID{Subtopology: 0, Partition: 1}
)

func TestAssignAndRevoke(t *testing.T) {
	n := newTestNode(t, NodeConfig{})
	ctx := context.Background()
	if err := n.Apply(ctx, Assign{Epoch: 1, Active: []topology.TaskID{task0, task1}}); err != nil {
		t.Fatal(err)
	}
	if r := running(n.Node); !r[task0] || !r[task1] || len(r) != 2 {
		t.Fatalf("running %v after assigning both tasks", r)
	}
	n.produce(t, 0, 20)
	waitUntil(t, 10*time.Second, "task 0_0 to process its input", func() bool { return n.task(task0).Processed() == 20 })
	first := n.task(task0)
	if err := n.Apply(ctx, Assign{Epoch: 2, Active: []topology.TaskID{task1}}); err != nil {
		t.Fatal(err)
	}
	if r := running(n.Node); r[task0] || !r[task1] {
		t.Fatalf("running %v after revoking 0_0", r)
	}
	if first.State() != partition.StateClosed {
		t.Fatalf("revoked task is %s, want closed", first.State())
	}
	if err := n.Apply(ctx, Assign{Epoch: 1, Active: []topology.TaskID{task0}}); err == nil {
		t.Fatal("an assignment older than the applied one must be refused")
	}
	// Assigned again, it starts from its checkpoint (a clean close).
	if err := n.Apply(ctx, Assign{Epoch: 3, Active: []topology.TaskID{task0, task1}}); err != nil {
		t.Fatal(err)
	}
	if second := n.task(task0); second == first || second.State() != partition.StateRunning {
		t.Fatalf("re-assigned task: new incarnation %v, state %s", second != first, second.State())
	}
}

// TestStartHasNoDeadline restores for much longer than the node's commit
// timeout (which used to bound a start): the start waits for it.
func TestStartHasNoDeadline(t *testing.T) {
	n := newTestNode(t, NodeConfig{CommitTimeout: 100 * time.Millisecond})
	n.log.hold = make(chan struct{})
	// begun before the timer starts: the restore ends a second after it at
	// the earliest, a restore of 10 commit timeouts.
	begun := time.Now()
	time.AfterFunc(time.Second, func() { close(n.log.hold) })
	if err := n.Apply(context.Background(), Assign{Epoch: 1, Active: []topology.TaskID{task0}}); err != nil {
		t.Fatalf("a long restore must not fail the start: %v", err)
	}
	if took := time.Since(begun); took < time.Second {
		t.Fatalf("the start returned after %v, before the restore ended", took)
	}
	if !running(n.Node)[task0] {
		t.Fatal("task not running after its long restore")
	}
}

// TestCancelledStartClosesTask cancels a start in the middle of its restore:
// Apply returns, and the task is closed, its RocksDB store released (it can
// be opened again).
func TestCancelledStartClosesTask(t *testing.T) {
	needRocksDB(t)
	n := newTestNode(t, NodeConfig{})
	n.log.hold = make(chan struct{}) // never closed: only the cancel ends it
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Apply(ctx, Assign{Epoch: 1, Active: []topology.TaskID{task0}}) }()
	waitUntil(t, 10*time.Second, "the restore to begin", func() bool { return n.log.restores.Load() > 0 })
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled start returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Apply did not return after its context was cancelled")
	}
	if task := n.task(task0); task.State() != partition.StateClosed {
		t.Fatalf("a task whose start was cancelled is %s, want closed", task.State())
	}
	db, err := state.OpenRocksDB(filepath.Join(n.dir, task0.String(), "rocksdb", "counts"), "counts", state.RocksDBConfig{})
	if err != nil {
		t.Fatalf("the store of a cancelled start is still open: %v", err)
	}
	db.Close()
	if len(n.RunningTasks()) != 0 {
		t.Fatalf("running %v after a cancelled start", n.RunningTasks())
	}
}

// TestCloseCancelsStart closes the node while a task restores: Close
// returns and the task is closed.
func TestCloseCancelsStart(t *testing.T) {
	n := newTestNode(t, NodeConfig{})
	n.log.hold = make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- n.Apply(context.Background(), Assign{Epoch: 1, Active: []topology.TaskID{task0}}) }()
	waitUntil(t, 10*time.Second, "the restore to begin", func() bool { return n.log.restores.Load() > 0 })
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err == nil {
		t.Fatal("a start ended by Close must report it")
	}
	if task := n.task(task0); task.State() != partition.StateClosed {
		t.Fatalf("task is %s after Close, want closed", task.State())
	}
}

// TestFencedTaskIsLost fences one task's commits: the node closes it,
// counts it lost and keeps running the other; the application does not
// stop.
func TestFencedTaskIsLost(t *testing.T) {
	n := newTestNode(t, NodeConfig{})
	if err := n.Apply(context.Background(), Assign{Epoch: 1, Active: []topology.TaskID{task0, task1}}); err != nil {
		t.Fatal(err)
	}
	n.committer.setErr(fmt.Errorf("commit refused: %w", partition.ErrFenced))
	n.produce(t, 0, 5) // only 0_0 has progress to commit
	waitUntil(t, 10*time.Second, "the fenced task to be dropped", func() bool { return n.Lost() == 1 })
	if r := running(n.Node); r[task0] || !r[task1] {
		t.Fatalf("running %v after 0_0 was fenced", r)
	}
	if st := n.task(task0).State(); st != partition.StateClosed {
		t.Fatalf("fenced task is %s, want closed", st)
	}
	select {
	case err := <-n.Errors():
		t.Fatalf("a fenced task must not stop the node: %v", err)
	default:
	}
	n.committer.setErr(nil)
	n.produce(t, 1, 5)
	waitUntil(t, 10*time.Second, "the other task to go on", func() bool { return n.task(task1).Processed() == 5 })
	if n.Restarts() != 0 {
		t.Fatalf("a fenced task must not be restarted (%d restarts)", n.Restarts())
	}
}

// TestRecoverableFailureRestarts fails a task with a recoverable error (a
// send Kafka refuses with a retriable error fails its next commit): the node
// starts a new incarnation from the last commit. A task that fails after it
// was revoked meanwhile is not started again.
func TestRecoverableFailureRestarts(t *testing.T) {
	n := newTestNode(t, NodeConfig{RestartBackoff: 10 * time.Millisecond})
	if err := n.Apply(context.Background(), Assign{Epoch: 1, Active: []topology.TaskID{task0, task1}}); err != nil {
		t.Fatal(err)
	}
	first := n.task(task0)
	n.log.failSends.Store(1)
	n.produce(t, 0, 3)
	waitUntil(t, 10*time.Second, "a new incarnation of 0_0", func() bool {
		// n.tasks is set after the start: then the state can be read.
		return running(n.Node)[task0] && n.task(task0) != first && n.task(task0).State() == partition.StateRunning
	})
	if n.Restarts() != 1 {
		t.Fatalf("%d restarts, want 1", n.Restarts())
	}
	if first.State() != partition.StateClosed {
		t.Fatalf("failed incarnation is %s, want closed", first.State())
	}
	select {
	case err := <-n.Errors():
		t.Fatalf("a recoverable failure must not stop the node: %v", err)
	default:
	}
}

func TestRevokedTaskIsNotRestarted(t *testing.T) {
	n := newTestNode(t, NodeConfig{RestartBackoff: 200 * time.Millisecond})
	if err := n.Apply(context.Background(), Assign{Epoch: 1, Active: []topology.TaskID{task0, task1}}); err != nil {
		t.Fatal(err)
	}
	first := n.task(task0)
	n.log.failSends.Store(1)
	n.produce(t, 0, 3)
	waitUntil(t, 10*time.Second, "0_0 to fail", func() bool { return n.Restarts() == 1 })
	// Revoked while its restart waits out the backoff.
	if err := n.Apply(context.Background(), Assign{Epoch: 2, Active: []topology.TaskID{task1}}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "the restart to give up", func() bool {
		n.Node.mu.RLock()
		defer n.Node.mu.RUnlock()
		return n.children[task0] == nil // its actor stopped
	})
	if n.task(task0) != first || running(n.Node)[task0] {
		t.Fatal("a revoked task was started again")
	}
}

// TestQueryStoreInPages reads a task's store with queries as data: a get,
// and a range served a page at a time, each page resuming from the last.
func TestQueryStoreInPages(t *testing.T) {
	n := newTestNode(t, NodeConfig{})
	ctx := context.Background()
	if err := n.Apply(ctx, Assign{Epoch: 1, Active: []topology.TaskID{task0}}); err != nil {
		t.Fatal(err)
	}
	n.produce(t, 0, 21) // keys k0..k6, 3 records each
	waitUntil(t, 10*time.Second, "the input to be counted", func() bool { return n.task(task0).Processed() == 21 })
	res, err := n.QueryStore(ctx, task0, StoreQuery{Store: "counts", Get: true, Key: []byte("k3")})
	if err != nil || !res.Found || len(res.Value) == 0 {
		t.Fatalf("get k3: %+v, %v", res, err)
	}
	var keys []string
	pages := 0
	q := StoreQuery{Store: "counts", Limit: 3}
	for {
		res, err := n.QueryStore(ctx, task0, q)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(res.Entries) > 3 {
			t.Fatalf("page of %d entries, limit 3", len(res.Entries))
		}
		for _, e := range res.Entries {
			keys = append(keys, string(e.Key))
		}
		if !res.More {
			break
		}
		q.From = res.Next
	}
	want := []string{"k0", "k1", "k2", "k3", "k4", "k5", "k6"}
	if fmt.Sprint(keys) != fmt.Sprint(want) || pages != 3 {
		t.Fatalf("%d pages with keys %v, want 3 pages with %v", pages, keys, want)
	}
	if _, err := n.QueryStore(ctx, task1, StoreQuery{Store: "counts", Get: true, Key: []byte("k3")}); !errors.Is(err, ErrTaskNotHere) {
		t.Fatalf("query of a task not here: %v", err)
	}
	if _, err := n.QueryStore(ctx, task0, StoreQuery{Store: "nope", Get: true, Key: []byte("k3")}); err == nil {
		t.Fatal("query of an unknown store must fail")
	}
}

// TestStatusAndRevoke drives a node with its messages: Assign with a
// standby it does not run yet, Status, and Revoke of one task while the
// other keeps running; an older epoch is refused.
func TestStatusAndRevoke(t *testing.T) {
	n := newTestNode(t, NodeConfig{})
	ctx := context.Background()
	standby := topology.TaskID{Subtopology: 0, Partition: 5}
	if err := n.Apply(ctx, Assign{Epoch: 1, Active: []topology.TaskID{task0, task1}, Standby: []topology.TaskID{standby}}); err != nil {
		t.Fatal(err)
	}
	n.produce(t, 1, 4)
	waitUntil(t, 10*time.Second, "task 0_1 to process", func() bool { return n.task(task1).Processed() == 4 })
	st, err := n.Tell(ctx, &StatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[topology.TaskID]TaskStatus{}
	for _, ts := range st.Tasks {
		byID[ts.ID] = ts
	}
	if st.Epoch != 1 || len(st.Tasks) != 3 {
		t.Fatalf("status %+v", st)
	}
	if s := byID[task1]; s.State != TaskRunning || s.Role != RoleActive || s.Processed != 4 {
		t.Fatalf("task 0_1: %+v", s)
	}
	if s := byID[standby]; s.State != TaskNotRun || s.Role != RoleStandby {
		t.Fatalf("standby: %+v", s)
	}
	if _, err := n.Tell(ctx, &Revoke{Epoch: 2, Tasks: []topology.TaskID{task0}}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "0_0 to be closed", func() bool {
		st, err := n.Tell(ctx, &StatusRequest{})
		if err != nil {
			t.Fatal(err)
		}
		for _, ts := range st.Tasks {
			if ts.ID == task0 {
				return false
			}
		}
		return st.Epoch == 2
	})
	if r := running(n.Node); r[task0] || !r[task1] {
		t.Fatalf("running %v after revoking 0_0", r)
	}
	if _, err := n.Tell(ctx, &Revoke{Epoch: 1, Tasks: []topology.TaskID{task1}}); err == nil {
		t.Fatal("a revoke of an older epoch must be refused")
	}
	if !running(n.Node)[task1] {
		t.Fatal("a refused revoke stopped a task")
	}
}
