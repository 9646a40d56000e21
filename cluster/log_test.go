package cluster

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddystreams/eddy/internal/kafkatest"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// testLog is an embedded broker with app's decision log created.
func testLog(t *testing.T) (*kfake.Cluster, []kgo.Opt, string) {
	t.Helper()
	c := kafkatest.EmbeddedCluster(t)
	opts := []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}
	app := kafkatest.UniqueName(t, "app")
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	adm := kadm.NewClient(cl)
	if err := EnsureLogTopic(ctx, adm, app, 1); err != nil {
		t.Fatal(err)
	}
	if err := EnsureLogTopic(ctx, adm, app, 1); err != nil {
		t.Fatalf("a second EnsureLogTopic must accept the existing topic: %v", err)
	}
	return c, opts, app
}

func decision(epoch int64, coord NodeID, nodes map[NodeID][]int32) *Decision {
	d := &Decision{Assignment: Assignment{Epoch: epoch, Nodes: map[NodeID]NodeAssignment{}}, Coordinator: coord, CoordinatorAddr: string(coord) + ":7946"}
	for n, ps := range nodes {
		var na NodeAssignment
		for _, p := range ps {
			na.Active = append(na.Active, topology.TaskID{Partition: p})
		}
		d.Nodes[n] = na
	}
	return d
}

// decisionRecorder collects what a reader delivers.
type decisionRecorder struct {
	mu        sync.Mutex
	epochs    []int64
	decisions []Decision
	released  []Released
}

func (r *decisionRecorder) onDecision(d Decision, _ bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.epochs = append(r.epochs, d.Epoch)
	r.decisions = append(r.decisions, d)
}

func (r *decisionRecorder) onReleased(rel Released) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.released = append(r.released, rel)
}

func newReader(t *testing.T, opts []kgo.Opt, app string, rec *decisionRecorder, lease *Lease) *LogReader {
	t.Helper()
	cfg := LogReaderConfig{App: app, Client: opts, Lease: lease, CheckInterval: 50 * time.Millisecond}
	if rec != nil {
		cfg.OnDecision, cfg.OnReleased = rec.onDecision, rec.onReleased
	}
	r, err := NewLogReader(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestLogDecisionsReadInOrderByEveryReader(t *testing.T) {
	_, opts, app := testLog(t)
	ctx := ctxFor(t, 20*time.Second)
	w := NewLogWriter(app, opts)
	defer w.Release()
	if err := w.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	var recs [3]decisionRecorder
	// One reader starts before the writes, the others after some.
	early := newReader(t, opts, app, &recs[0], nil)
	for e := int64(1); e <= 5; e++ {
		d := decision(e, "a", map[NodeID][]int32{"a": {int32(e)}, "b": {0}})
		var rels []Released
		if e == 3 {
			rels = []Released{{Task: topology.TaskID{Partition: 1}, Epoch: 3, Node: "b"}}
		}
		if err := w.Write(ctx, d, rels); err != nil {
			t.Fatal(err)
		}
	}
	late := []*LogReader{newReader(t, opts, app, &recs[1], nil), newReader(t, opts, app, &recs[2], nil)}
	for i, r := range append([]*LogReader{early}, late...) {
		d, err := r.WaitEpoch(ctx, 5)
		if err != nil {
			t.Fatalf("reader %d: %v", i, err)
		}
		if d.Coordinator != "a" || d.CoordinatorAddr != "a:7946" || !sameTasks(d.Nodes["a"].Active, []topology.TaskID{{Partition: 5}}) {
			t.Fatalf("reader %d: latest decision %+v", i, d)
		}
	}
	for i := range recs {
		recs[i].mu.Lock()
		got, rel := recs[i].epochs, recs[i].released
		recs[i].mu.Unlock()
		if len(got) != 5 {
			t.Fatalf("reader %d read epochs %v, want 1..5", i, got)
		}
		for j, e := range got {
			if e != int64(j+1) {
				t.Fatalf("reader %d read epochs %v, want 1..5 in order", i, got)
			}
		}
		if len(rel) != 1 || rel[0] != (Released{Task: topology.TaskID{Partition: 1}, Epoch: 3, Node: "b"}) {
			t.Fatalf("reader %d read releases %v", i, rel)
		}
	}
	// A reader confirms it reached the end although the log ends with a
	// transaction marker it does not deliver.
	if err := early.WaitFresh(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
}

func TestLogSecondCoordinatorFencesTheFirst(t *testing.T) {
	_, opts, app := testLog(t)
	ctx := ctxFor(t, 20*time.Second)
	first, second := NewLogWriter(app, opts), NewLogWriter(app, opts)
	defer first.Release()
	defer second.Release()
	if err := first.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	if err := first.Write(ctx, decision(1, "a", map[NodeID][]int32{"a": {0}}), nil); err != nil {
		t.Fatal(err)
	}
	if err := second.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	err := first.Write(ctx, decision(2, "a", map[NodeID][]int32{"a": {0, 1}}), nil)
	if !errors.Is(err, ErrFenced) {
		t.Fatalf("the first coordinator's write after the second took the log: %v, want ErrFenced", err)
	}
	if err := second.Write(ctx, decision(2, "b", map[NodeID][]int32{"b": {0}}), nil); err != nil {
		t.Fatal(err)
	}
	r := newReader(t, opts, app, nil, nil)
	if err := r.WaitFresh(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	if d, _ := r.Latest(); d.Epoch != 2 || d.Coordinator != "b" {
		t.Fatalf("latest decision %+v, want the second coordinator's epoch 2 (the fenced write must not be seen)", d)
	}
}

func TestLogReaderNeverGoesBack(t *testing.T) {
	_, opts, app := testLog(t)
	ctx := ctxFor(t, 20*time.Second)
	w := NewLogWriter(app, opts)
	defer w.Release()
	if err := w.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	var rec decisionRecorder
	r := newReader(t, opts, app, &rec, nil)
	// Epoch 4 then a stray older 2 and a repeated 4 (a coordinator that
	// did not read the log before writing): readers must skip both.
	for _, e := range []int64{1, 4, 2, 4, 6} {
		if err := w.Write(ctx, decision(e, "a", map[NodeID][]int32{"a": {int32(e)}}), nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.WaitEpoch(ctx, 6); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	want := []int64{1, 4, 6}
	if len(rec.epochs) != len(want) {
		t.Fatalf("delivered epochs %v, want %v", rec.epochs, want)
	}
	for i := range want {
		if rec.epochs[i] != want[i] {
			t.Fatalf("delivered epochs %v, want %v", rec.epochs, want)
		}
	}
}

func TestLeaseFollowsTheReader(t *testing.T) {
	c, opts, app := testLog(t)
	ctx := ctxFor(t, 30*time.Second)
	lease := NewLease(300 * time.Millisecond)
	if lease.Valid(time.Now()) {
		t.Fatal("a new lease must be expired")
	}
	r := newReader(t, opts, app, nil, lease)
	if err := r.WaitFresh(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	if !lease.Valid(time.Now()) {
		t.Fatalf("lease invalid after the reader confirmed the end (deadline %v)", lease.Deadline())
	}
	// Cut the reader off: every ListOffsets for the log fails.
	h := c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.ListOffsets}, Topic: LogTopic(app), Err: kerr.UnknownServerError, Count: -1})
	cut := time.Now()
	waitUntilCtx(t, ctx, "the lease to expire while the log is unreachable", func() bool { return !lease.Valid(time.Now()) })
	if d := lease.Deadline(); d.After(cut.Add(lease.Length() + 100*time.Millisecond)) {
		t.Fatalf("lease deadline %v is more than L after the cut at %v", d, cut)
	}
	h.Remove()
	back := time.Now()
	if err := r.WaitFresh(ctx, back); err != nil {
		t.Fatal(err)
	}
	if !lease.Valid(time.Now()) || lease.Deadline().Before(back) {
		t.Fatalf("lease not renewed once the log is reachable again (deadline %v)", lease.Deadline())
	}
}

// waitFor polls cond until it holds or ctx ends.
func waitUntilCtx(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	tk := time.NewTicker(5 * time.Millisecond)
	defer tk.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-tk.C:
		}
	}
}

// TestCoordinatorFencedOnTheRealLogStops runs a coordinator on the embedded
// broker's decision log; another writer taking the log makes the
// coordinator's next write fail, and it stops and says so.
func TestCoordinatorFencedOnTheRealLogStops(t *testing.T) {
	_, opts, app := testLog(t)
	ctx := ctxFor(t, 30*time.Second)
	view := newView(member("a", 1))
	var coord atomic.Pointer[Coordinator]
	r, err := NewLogReader(LogReaderConfig{App: app, Client: opts, CheckInterval: 20 * time.Millisecond, Log: quiet(),
		OnDecision: func(d Decision, live bool) {
			if c := coord.Load(); c != nil {
				c.Observe(d, live)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	w := NewLogWriter(app, opts)
	c, err := NewCoordinator(CoordinatorConfig{App: app, Self: "a", MembershipView: view.sub(), Log: w, View: r,
		Tasks: tasks(4), Debounce: 10 * time.Millisecond, JoinSettle: 20 * time.Millisecond, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	coord.Store(c)
	if d, err := r.WaitEpoch(ctx, 1); err != nil || d.Coordinator != "a" || len(d.Nodes["a"].Active) != 4 {
		t.Fatalf("first decision %+v, %v", d, err)
	}
	other := NewLogWriter(app, opts)
	defer other.Release()
	if err := other.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	view.set(member("b", 2)) // calls for a decision, whose write must fail
	waitUntilCtx(t, ctx, "the coordinator to find itself fenced", func() bool {
		return errors.Is(c.Status().Fenced, ErrFenced)
	})
	if st := c.Status(); st.Leading || st.Decisions != 1 {
		t.Fatalf("status %+v; want it stopped after its one decision", st)
	}
	if err := r.WaitFresh(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	if d, _ := r.Latest(); d.Epoch != 1 {
		t.Fatalf("latest epoch %d; the fenced coordinator's write must not be committed", d.Epoch)
	}
}
