package partition_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/state"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

// gatedTxn is a transactional id under at-least-once: only offset commits
// go through it. Each CommitOffsetsOnly waits for the test to answer it on
// answers; Close must not come while one is running.
type gatedTxn struct {
	answers chan error
	mu      sync.Mutex
	commits []int64 // the offset of "in"-0 of each commit, once answered
	running bool
	closed  bool
	misuse  error
}

func newGatedTxn() *gatedTxn { return &gatedTxn{answers: make(chan error)} }

func (g *gatedTxn) Produce(_ context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	promise(r, errors.New("at-least-once records do not go through the transactional id"))
}
func (g *gatedTxn) Init(context.Context) error { return nil }
func (g *gatedTxn) First() bool                { return false }
func (g *gatedTxn) Commit(context.Context, map[state.TopicPartition]int64, string) error {
	return errors.New("not exactly-once")
}
func (g *gatedTxn) AbortPendingOffsets(context.Context) error { return nil }
func (g *gatedTxn) Abort(context.Context) error               { return nil }

func (g *gatedTxn) CommitOffsetsOnly(ctx context.Context, offsets map[state.TopicPartition]int64, _ map[state.TopicPartition]string) error {
	g.mu.Lock()
	if g.running || g.closed {
		g.misuse = errors.New("CommitOffsetsOnly while another runs or after Close")
	}
	g.running = true
	g.mu.Unlock()
	var err error
	select {
	case err = <-g.answers:
	case <-ctx.Done():
		err = ctx.Err()
	}
	g.mu.Lock()
	g.running = false
	if err == nil {
		g.commits = append(g.commits, offsets[state.TopicPartition{Topic: "in", Partition: 0}])
	}
	g.mu.Unlock()
	return err
}

func (g *gatedTxn) Close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.running {
		g.misuse = errors.New("Close while an offset commit runs")
	}
	g.closed = true
}

func (g *gatedTxn) state() ([]int64, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]int64(nil), g.commits...), g.misuse
}

type backgroundTask struct {
	task  *partition.Task
	txn   *gatedTxn
	clock *atomic.Int64
	off   int64
}

func newBackgroundTask(t *testing.T) *backgroundTask {
	t.Helper()
	bt := &backgroundTask{txn: newGatedTxn(), clock: &atomic.Int64{}}
	bt.clock.Store(1_700_000_000_000)
	b := newLCBroker()
	topo := countTopology(t)
	task, err := partition.NewTask(partition.Config{
		ApplicationID:  lcApp,
		ID:             topology.TaskID{Subtopology: 0, Partition: 0},
		Subtopology:    topo.Subtopologies[0],
		Inputs:         []state.TopicPartition{{Topic: "in", Partition: 0}},
		Dir:            t.TempDir(),
		DefaultEngine:  topology.EngineMemory,
		Producer:       b,
		Txn:            bt.txn,
		Partitions:     func(string) (int32, error) { return 1, nil },
		Changelogs:     b,
		OwnershipLease: time.Second,
		Clock:          func() time.Time { return time.UnixMilli(bt.clock.Load()) },
	})
	if err != nil {
		t.Fatal(err)
	}
	bt.task = task
	ctx := context.Background()
	if err := task.Fence(ctx); err != nil {
		t.Fatal(err)
	}
	if err := task.Initialize(ctx, partition.CommitPoint{}); err != nil {
		t.Fatal(err)
	}
	return bt
}

// process adds n records and processes them.
func (bt *backgroundTask) process(t *testing.T, n int) error {
	t.Helper()
	for i := 0; i < n; i++ {
		bt.task.AddRecords(state.TopicPartition{Topic: "in", Partition: 0}, []*kgo.Record{rec("in", bt.off, bt.clock.Load(), "k", "v")})
		bt.off++
	}
	got, err := bt.task.Process(100)
	if err == nil && got != n {
		t.Fatalf("processed %d records, want %d", got, n)
	}
	return err
}

// start sends a background commit; the returned channel gets a value when
// its answer is in.
func (bt *backgroundTask) start(t *testing.T) <-chan struct{} {
	t.Helper()
	notified := make(chan struct{}, 1)
	started, err := bt.task.CommitBackground(context.Background(), nil, 10*time.Second, func() { notified <- struct{}{} })
	if err != nil || !started {
		t.Fatalf("CommitBackground = %v, %v; want a commit sent in the background", started, err)
	}
	return notified
}

func wait(t *testing.T, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		t.Fatal("no answer to the background commit")
	}
}

// Under at-least-once the commit of the interval does not hold the task:
// it processes while the broker answers; the offsets committed are those
// of the moment the commit was sent; the ownership lease is renewed only by
// the answer, from when the commit was sent.
func TestBackgroundCommitLetsTheTaskProcess(t *testing.T) {
	bt := newBackgroundTask(t)
	defer bt.task.Close(false)
	if err := bt.process(t, 3); err != nil {
		t.Fatal(err)
	}
	bt.clock.Add(500)
	notified := bt.start(t)
	if bt.task.HasUncommitted() {
		t.Fatal("progress left to commit right after the commit was sent")
	}
	// The commit waits for its answer; the task goes on.
	if err := bt.process(t, 2); err != nil {
		t.Fatalf("processing while the commit is on its way: %v", err)
	}
	if done, err := bt.task.FinishBackground(); done || err != nil {
		t.Fatalf("FinishBackground before the answer = %v, %v; want nothing to take", done, err)
	}
	// The lease still runs from the fence: past it, Process stops.
	bt.clock.Add(600)
	if err := bt.process(t, 1); !errors.Is(err, partition.ErrLeaseExpired) {
		t.Fatalf("Process past the lease with the commit unanswered = %v, want ErrLeaseExpired", err)
	}
	bt.txn.answers <- nil
	wait(t, notified)
	if done, err := bt.task.FinishBackground(); !done || err != nil {
		t.Fatalf("FinishBackground after the answer = %v, %v; want the accepted commit", done, err)
	}
	// Accepted: the lease runs from when the commit was sent, 600 ms
	// ago, so the record held back is processed now.
	if n, err := bt.task.Process(100); n != 1 || err != nil {
		t.Fatalf("Process after the accepted commit = %d, %v; want the record held back", n, err)
	}
	commits, misuse := bt.txn.state()
	if misuse != nil {
		t.Fatal(misuse)
	}
	if len(commits) != 1 || commits[0] != 3 {
		t.Fatalf("offsets committed %v, want [3] (the offset when the commit was sent)", commits)
	}
	if !bt.task.HasUncommitted() {
		t.Fatal("the records processed while the commit was on its way are not left to commit")
	}
}

// A refused background commit leaves the progress to commit again and
// reports the error as Commit would: retried for a commit worth retrying,
// fencing as fencing.
func TestBackgroundCommitRefused(t *testing.T) {
	for _, tc := range []struct {
		name       string
		answer     error
		commitOnly bool
	}{
		{"retriable", &partition.RecoverableError{Err: errors.New("coordinator moved"), CommitOnly: true}, true},
		{"fenced", partition.ErrFenced, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bt := newBackgroundTask(t)
			defer bt.task.Close(false)
			if err := bt.process(t, 3); err != nil {
				t.Fatal(err)
			}
			notified := bt.start(t)
			bt.txn.answers <- tc.answer
			wait(t, notified)
			done, err := bt.task.FinishBackground()
			if !done || !errors.Is(err, tc.answer) {
				t.Fatalf("FinishBackground = %v, %v; want %v", done, err, tc.answer)
			}
			var rec *partition.RecoverableError
			if got := errors.As(err, &rec) && rec.CommitOnly; got != tc.commitOnly {
				t.Fatalf("commit-only recoverable = %v, want %v", got, tc.commitOnly)
			}
			if !bt.task.HasUncommitted() {
				t.Fatal("a refused commit left nothing to commit")
			}
		})
	}
}

// A commit that must wait (Commit, ConfirmOwnership, Release) and Close
// first wait for the background commit on its way: the transactional id
// never has two commits at once, and is not closed under one.
func TestCommitWaitsForTheBackgroundCommit(t *testing.T) {
	bt := newBackgroundTask(t)
	if err := bt.process(t, 3); err != nil {
		t.Fatal(err)
	}
	bt.start(t)
	if err := bt.process(t, 2); err != nil {
		t.Fatal(err)
	}
	committed := make(chan error, 1)
	go func() { committed <- bt.task.Commit(context.Background(), nil) }()
	// The first answer is for the background commit, the second for the
	// one Commit sends after it.
	bt.txn.answers <- nil
	bt.txn.answers <- nil
	if err := <-committed; err != nil {
		t.Fatal(err)
	}
	if err := bt.process(t, 1); err != nil {
		t.Fatal(err)
	}
	bt.start(t)
	closed := make(chan error, 1)
	go func() { closed <- bt.task.Close(false) }()
	bt.txn.answers <- nil
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	commits, misuse := bt.txn.state()
	if misuse != nil {
		t.Fatal(misuse)
	}
	if want := []int64{3, 5, 6}; len(commits) != 3 || commits[0] != want[0] || commits[1] != want[1] || commits[2] != want[2] {
		t.Fatalf("offsets committed %v, want %v", commits, want)
	}
}
