package actors

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddystreams/eddy/internal/kafkatest"
	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/state"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// These tests run two nodes in one process on one embedded broker: the
// active of a task on one, its standby on the other, with the changelogs
// and inputs in the broker and the committed offsets (with their commit
// metadata) in memory, shared by both nodes as the group would be.

var sbChangelog = topology.ChangelogTopicName("app", "counts")

// memOffsets is the application's committed offsets and their metadata.
type memOffsets struct {
	mu   sync.Mutex
	offs map[state.TopicPartition]partition.CommittedOffset
}

func (m *memOffsets) CommitOffsets(_ context.Context, offs map[state.TopicPartition]int64, meta map[state.TopicPartition]string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for tp, o := range offs {
		m.offs[tp] = partition.CommittedOffset{Offset: o, Metadata: meta[tp]}
	}
	return nil
}

func (m *memOffsets) committed(_ context.Context, tps []state.TopicPartition, _ func(context.Context) error) (map[state.TopicPartition]int64, partition.CommitPoint, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	starts := map[state.TopicPartition]int64{}
	sel := map[state.TopicPartition]partition.CommittedOffset{}
	for _, tp := range tps {
		if o, ok := m.offs[tp]; ok {
			sel[tp] = o
			if o.Offset >= 0 {
				starts[tp] = o.Offset
			}
		}
	}
	cp, err := partition.NewCommitPoint(sel)
	return starts, cp, err
}

// setPosition commits the changelog position pos for the task of input
// partition tp, as an active's commit would (at-least-once).
func (m *memOffsets) setPosition(tp state.TopicPartition, pos int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o := m.offs[tp]
	md := partition.CommitMetadata{StorePositions: map[int]int64{0: pos}, StreamTime: state.UnknownStreamTime,
		Fingerprint: partition.ChangelogFingerprint(map[int]string{0: sbChangelog + "-" + fmt.Sprint(tp.Partition)})}
	o.Metadata = partition.EncodeCommitMetadata(md)
	m.offs[tp] = o
}

// countingChangelogs counts the records restores hand to stores.
type countingChangelogs struct {
	partition.ChangelogReader
	restored atomic.Int64
}

func (c *countingChangelogs) Restore(ctx context.Context, tp state.TopicPartition, from, until int64, apply func([]*kgo.Record) error) (int64, error) {
	return c.ChangelogReader.Restore(ctx, tp, from, until, func(recs []*kgo.Record) error {
		c.restored.Add(int64(len(recs)))
		return apply(recs)
	})
}

// sbCluster is an embedded broker with the input and the changelog of the
// count topology, and what its nodes share.
type sbCluster struct {
	t       *testing.T
	cluster *kfake.Cluster
	topo    *topology.Topology
	offsets *memOffsets
	admin   *kadm.Client
}

func newSBCluster(t *testing.T) *sbCluster {
	c := kafkatest.EmbeddedCluster(t, kfake.SeedTopics(2, testInput, sbChangelog))
	b := topology.NewBuilder()
	topology.Stream(b, testInput, topology.String(), topology.String()).GroupByKey().Count(topology.Named("counts"))
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return &sbCluster{t: t, cluster: c, topo: topo, offsets: &memOffsets{offs: map[state.TopicPartition]partition.CommittedOffset{}}, admin: kadm.NewClient(sbClient(t, c))}
}

func sbClient(t *testing.T, c *kfake.Cluster, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// sbNode is a node of an sbCluster with its own state directory.
type sbNode struct {
	*Node
	dir string
	// restored counts the changelog records restores handed to the
	// stores of active tasks, and standbyRestored those of standbys.
	restored, standbyRestored *countingChangelogs
}

func (c *sbCluster) node(dir string) *sbNode { return c.nodeWith(dir, false) }

// nodeWith makes a node, under exactly-once when eos is set: tasks write
// through transactional producers, and inputs and changelogs are read
// read_committed.
func (c *sbCluster) nodeWith(dir string, eos bool) *sbNode {
	t := c.t
	prod := sbClient(t, c.cluster, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	reader := &partition.KafkaChangelogReader{Opts: []kgo.Opt{kgo.SeedBrokers(c.cluster.ListenAddrs()...)}, Admin: c.admin}
	sn := &sbNode{dir: dir, restored: &countingChangelogs{ChangelogReader: reader}, standbyRestored: &countingChangelogs{ChangelogReader: reader}}
	inputs := func(id topology.TaskID) []state.TopicPartition {
		return []state.TopicPartition{{Topic: testInput, Partition: id.Partition}}
	}
	isolation := kgo.ReadUncommitted()
	if eos {
		isolation = kgo.ReadCommitted()
	}
	cfg := NodeConfig{
		ReadCommitted:     eos,
		Consumer:          sbClient(t, c.cluster, kgo.FetchIsolationLevel(isolation)),
		ChangelogConsumer: sbClient(t, c.cluster, kgo.KeepControlRecords(), kgo.FetchIsolationLevel(isolation)),
		Committer:         c.offsets,
		Committed:         c.offsets.committed,
		CommitInterval:    50 * time.Millisecond,
		InputOffsets: func(ctx context.Context, tps []state.TopicPartition) (map[state.TopicPartition]InputOffsets, error) {
			topics := map[string]bool{}
			for _, tp := range tps {
				topics[tp.Topic] = true
			}
			out := map[state.TopicPartition]InputOffsets{}
			for topic := range topics {
				ends, err := c.admin.ListEndOffsets(ctx, topic)
				if err != nil {
					return nil, err
				}
				ends.Each(func(o kadm.ListedOffset) {
					out[state.TopicPartition{Topic: o.Topic, Partition: o.Partition}] = InputOffsets{End: o.Offset}
				})
			}
			return out, nil
		},
		NewTask: func(id topology.TaskID) (*partition.Task, error) {
			var txn *partition.TxnProducer
			var producer partition.Producer = prod
			if eos {
				var err error
				txn, err = partition.NewTxnProducer([]kgo.Opt{kgo.SeedBrokers(c.cluster.ListenAddrs()...)}, "app", "app-"+id.String(), 10*time.Second)
				if err != nil {
					return nil, err
				}
				producer = txn
			}
			cfg := partition.Config{
				ExactlyOnce:   eos,
				ApplicationID: "app",
				ID:            id,
				Subtopology:   c.topo.Subtopologies[0],
				Inputs:        inputs(id),
				Dir:           filepath.Join(dir, id.String()),
				DefaultEngine: topology.EngineRocksDB,
				Producer:      producer,
				Partitions:    func(string) (int32, error) { return 2, nil },
				Changelogs:    sn.restored,
			}
			if txn != nil {
				cfg.Txn = txn
			}
			return partition.NewTask(cfg)
		},
		NewStandby: func(id topology.TaskID) (*partition.StandbyTask, error) {
			return partition.NewStandbyTask(partition.StandbyConfig{
				ApplicationID: "app",
				ID:            id,
				Subtopology:   c.topo.Subtopologies[0],
				Inputs:        inputs(id),
				Dir:           filepath.Join(dir, id.String()),
				DefaultEngine: topology.EngineRocksDB,
				Changelogs:    sn.standbyRestored,
				ExactlyOnce:   eos,
			}), nil
		},
	}
	sn.Node = NewNode(cfg)
	sn.Start()
	t.Cleanup(func() { sn.Close() })
	return sn
}

func (c *sbCluster) produce(p int32, n int) {
	c.t.Helper()
	cl := sbClient(c.t, c.cluster, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for i := 0; i < n; i++ {
		r := &kgo.Record{Topic: testInput, Partition: p, Key: []byte(fmt.Sprint("k", i%7)), Value: []byte("v")}
		if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			c.t.Fatal(err)
		}
	}
}

// changelogEnd is the end offset of the changelog partition p.
func (c *sbCluster) changelogEnd(p int32) int64 {
	c.t.Helper()
	ends, err := c.admin.ListEndOffsets(context.Background(), sbChangelog)
	if err != nil {
		c.t.Fatal(err)
	}
	o, _ := ends.Lookup(sbChangelog, p)
	return o.Offset
}

func statusOf(t *testing.T, n *Node, id topology.TaskID) (TaskStatus, bool) {
	t.Helper()
	for _, ts := range n.Status().Tasks {
		if ts.ID == id {
			return ts, true
		}
	}
	return TaskStatus{}, false
}

// count reads key's count in a store.
func count(t *testing.T, s topology.StateStore, key string) int64 {
	t.Helper()
	kv := topology.NewTypedKeyValueStore(s.(topology.KeyValueStore), "", topology.String(), topology.Int64())
	n, _, err := kv.Get(key)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A standby on another node follows the active: it reports role standby,
// state running and its changelog lag, which goes to 0 once the active
// committed, with the same counts as the active's.
func TestStandbyFollowsActiveOnAnotherNode(t *testing.T) {
	c := newSBCluster(t)
	a, b := c.node(t.TempDir()), c.node(t.TempDir())
	ctx := context.Background()
	if err := a.Apply(ctx, Assign{Epoch: 1, Active: []topology.TaskID{task0}}); err != nil {
		t.Fatal(err)
	}
	if err := b.Apply(ctx, Assign{Epoch: 1, Standby: []topology.TaskID{task0}}); err != nil {
		t.Fatal(err)
	}
	c.produce(0, 70)
	waitUntil(t, 10*time.Second, "the active to process its input", func() bool { return a.Metrics().Processed == 70 })
	if err := a.CommitAll(ctx); err != nil {
		t.Fatal(err)
	}
	end := c.changelogEnd(0)
	waitUntil(t, 10*time.Second, "the standby to catch up", func() bool {
		ts, ok := statusOf(t, b.Node, task0)
		sb := b.StandbyTask(task0)
		return ok && ts.ChangelogLag == 0 && sb != nil && sb.Positions()[state.TopicPartition{Topic: sbChangelog, Partition: 0}] == end
	})
	ts, _ := statusOf(t, b.Node, task0)
	if ts.Role != RoleStandby || ts.State != TaskRunning || ts.InputLag != -1 {
		t.Fatalf("standby status %+v, want role standby, state running, no input lag", ts)
	}
	if end < 7 {
		t.Fatalf("changelog end %d: the active logged nothing?", end)
	}
	sb := b.StandbyTask(task0)
	for i := range 7 {
		k := fmt.Sprint("k", i)
		if got := count(t, sb.Store("counts"), k); got != 10 {
			t.Fatalf("standby's count of %s = %d, want 10", k, got)
		}
	}
	if st, ok := statusOf(t, a.Node, task0); !ok || st.ChangelogLag != -1 || st.Role != RoleActive {
		t.Fatalf("active's status %+v: an active has no changelog lag", st)
	}
	// A warm-up runs the same way, reported as such.
	if err := b.Apply(ctx, Assign{Epoch: 2, Warmup: []topology.TaskID{task0}}); err != nil {
		t.Fatal(err)
	}
	if ts, _ := statusOf(t, b.Node, task0); ts.Role != RoleWarmup || ts.State != TaskRunning {
		t.Fatalf("warm-up status %+v", ts)
	}
}

// Under at-least-once a standby never applies changelog records past the
// positions of the active's last commit (they may be rolled back, decision
// 0002): it holds them until a commit covers them.
func TestStandbyStopsAtTheLastCommit(t *testing.T) {
	c := newSBCluster(t)
	a, b := c.node(t.TempDir()), c.node(t.TempDir())
	ctx := context.Background()
	if err := a.Apply(ctx, Assign{Epoch: 1, Active: []topology.TaskID{task0}}); err != nil {
		t.Fatal(err)
	}
	c.produce(0, 14)
	waitUntil(t, 10*time.Second, "the active to process its input", func() bool { return a.Metrics().Processed == 14 })
	// The active goes away cleanly: its last commit covers all it wrote.
	if err := a.Apply(ctx, Assign{Epoch: 2}); err != nil {
		t.Fatal(err)
	}
	if err := b.Apply(ctx, Assign{Epoch: 2, Standby: []topology.TaskID{task0}}); err != nil {
		t.Fatal(err)
	}
	committed := c.changelogEnd(0)
	tp := state.TopicPartition{Topic: sbChangelog, Partition: 0}
	waitUntil(t, 10*time.Second, "the standby to reach the commit", func() bool {
		sb := b.StandbyTask(task0)
		return sb != nil && sb.Positions()[tp] == committed
	})
	// A crashed owner's writes past the commit.
	w := sbClient(t, c.cluster, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for i := range 3 {
		r := &kgo.Record{Topic: sbChangelog, Partition: 0, Key: []byte("k0"), Value: []byte{0, 0, 0, 0, 0, 0, 0, byte(50 + i)}}
		if err := w.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	sb := b.StandbyTask(task0)
	waitUntil(t, 10*time.Second, "the standby to fetch the uncommitted writes", func() bool { return sb.Held() == 3 })
	// Held: handed to the standby, which applies what it is handed at
	// once up to the commit's position.
	if got := count(t, sb.Store("counts"), "k0"); got != 2 {
		t.Fatalf("k0 = %d on the standby, want 2: records past the commit were applied", got)
	}
	if pos := sb.Positions()[tp]; pos != committed {
		t.Fatalf("standby at %d, past the commit position %d", pos, committed)
	}
	if ts, _ := statusOf(t, b.Node, task0); ts.ChangelogLag != 0 {
		t.Fatalf("lag %d at the commit position, want 0 (under at-least-once the lag is behind the commit)", ts.ChangelogLag)
	}
	// A commit that covers them lets them in.
	c.offsets.setPosition(state.TopicPartition{Topic: testInput, Partition: 0}, committed+2)
	waitUntil(t, 10*time.Second, "the standby to apply what the commit covers", func() bool { return sb.Positions()[tp] == committed+2 })
	if got := count(t, sb.Store("counts"), "k0"); got != 51 {
		t.Fatalf("k0 = %d, want 51 (the second write, the last the commit covers)", got)
	}
	if sb.Held() != 1 {
		t.Fatalf("held %d, want 1", sb.Held())
	}
}

// A standby's checkpoint survives its node's restart: the standby started
// again restores only what was written since, and an active promoted from
// a standby on the same node restores only the tail (here nothing).
func TestStandbyCheckpointAndPromotion(t *testing.T) {
	needRocksDB(t)
	c, a, b, bDir, tp, first := followedActive(t)
	ctx := context.Background()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(bDir, task0.String(), ".checkpoint")); err != nil {
		t.Fatalf("no checkpoint after the standby's node closed: %v", err)
	}
	// More input while the standby's node is down.
	c.produce(0, 7)
	waitUntil(t, 10*time.Second, "the active to process more", func() bool { return a.Metrics().Processed == 77 })
	if err := a.CommitAll(ctx); err != nil {
		t.Fatal(err)
	}
	second := c.changelogEnd(0)
	b = c.node(bDir)
	if err := b.Apply(ctx, Assign{Epoch: 2, Standby: []topology.TaskID{task0}}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "the restarted standby to catch up", func() bool {
		sb := b.StandbyTask(task0)
		return sb != nil && sb.Positions()[tp] == second
	})
	if n := b.standbyRestored.restored.Load(); n != second-first {
		t.Fatalf("the restarted standby restored %d records, want %d: only those since its checkpoint", n, second-first)
	}

	// Promotion: the active moves to b cleanly (a releases it), and b's
	// standby of it becomes the active.
	if err := a.Apply(ctx, Assign{Epoch: 3}); err != nil {
		t.Fatal(err)
	}
	released := c.changelogEnd(0)
	waitUntil(t, 10*time.Second, "the standby to reach the release", func() bool {
		ts, _ := statusOf(t, b.Node, task0)
		return ts.ChangelogLag == 0 && b.StandbyTask(task0).Positions()[tp] == released
	})
	sb := b.StandbyTask(task0)
	if err := b.Apply(ctx, Assign{Epoch: 3, Active: []topology.TaskID{task0}}); err != nil {
		t.Fatal(err)
	}
	if sb.State() != partition.StateClosed {
		t.Fatalf("the standby is %s after its promotion, want closed", sb.State())
	}
	if n := b.restored.restored.Load(); n != 0 {
		t.Fatalf("the promoted active restored %d records, want 0: the standby had them all (a cold start restores %d)", n, released)
	}
	if ts, _ := statusOf(t, b.Node, task0); ts.Role != RoleActive || ts.State != TaskRunning {
		t.Fatalf("promoted status %+v", ts)
	}
	if b.StandbyTask(task0) != nil {
		t.Fatal("a standby still runs beside the active")
	}
	// The counts went on from the standby's: 77/7 + 1 each.
	countsGoOn(t, c, b, "the promoted active")
}

// Revoking a standby closes it with a checkpoint, and the node forgets it.
func TestRevokeStandbyClosesIt(t *testing.T) {
	c := newSBCluster(t)
	dir := t.TempDir()
	b := c.node(dir)
	ctx := context.Background()
	if err := b.Apply(ctx, Assign{Epoch: 1, Standby: []topology.TaskID{task0, task1}}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "the standbys to run", func() bool {
		return b.StandbyTask(task0) != nil && b.StandbyTask(task1) != nil
	})
	sb := b.StandbyTask(task0)
	if err := os.Remove(filepath.Join(dir, task0.String(), ".checkpoint")); err != nil {
		t.Fatal(err) // the start wrote one; the close must write it again
	}
	if _, err := b.Tell(ctx, &Revoke{Epoch: 2, Tasks: []topology.TaskID{task0}}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "the revoked standby to go", func() bool {
		_, ok := statusOf(t, b.Node, task0)
		return !ok
	})
	if sb.State() != partition.StateClosed {
		t.Fatalf("revoked standby is %s, want closed", sb.State())
	}
	if _, err := os.Stat(filepath.Join(dir, task0.String(), ".checkpoint")); err != nil {
		t.Fatalf("no checkpoint after the standby closed: %v", err)
	}
	if ts, ok := statusOf(t, b.Node, task1); !ok || ts.Role != RoleStandby || ts.State != TaskRunning {
		t.Fatalf("the other standby: %+v, %v; want it kept running", ts, ok)
	}
}

// An active started where a standby ran before restores from the standby's
// checkpoint: only the records written since (a cold start would restore
// them all).
func TestActiveAfterStandbyRestoresOnlyTheTail(t *testing.T) {
	needRocksDB(t)
	c, a, b, bDir, _, first := followedActive(t)
	ctx := context.Background()
	if err := b.Close(); err != nil { // the standby's node stops
		t.Fatal(err)
	}
	c.produce(0, 7)
	waitUntil(t, 10*time.Second, "the active to process more", func() bool { return a.Metrics().Processed == 77 })
	if err := a.Apply(ctx, Assign{Epoch: 2}); err != nil { // and releases the task
		t.Fatal(err)
	}
	released := c.changelogEnd(0)
	b = c.node(bDir)
	begun := time.Now()
	if err := b.Apply(ctx, Assign{Epoch: 2, Active: []topology.TaskID{task0}}); err != nil {
		t.Fatal(err)
	}
	took := time.Since(begun)
	if n := b.restored.restored.Load(); n != released-first {
		t.Fatalf("the active restored %d records, want %d: those after the standby's checkpoint at %d (the changelog ends at %d)", n, released-first, first, released)
	}
	t.Logf("active start after a standby: restored %d of %d changelog records in %v", released-first, released, took)
	countsGoOn(t, c, b, "the active")
}

// Under exactly-once a standby reads the changelog read_committed to its
// end: transaction markers move its position on, so its lag goes to 0.
func TestStandbyExactlyOnce(t *testing.T) {
	c := newSBCluster(t)
	a, b := c.nodeWith(t.TempDir(), true), c.nodeWith(t.TempDir(), true)
	ctx := context.Background()
	if err := a.Apply(ctx, Assign{Epoch: 1, Active: []topology.TaskID{task0}}); err != nil {
		t.Fatal(err)
	}
	if err := b.Apply(ctx, Assign{Epoch: 1, Standby: []topology.TaskID{task0}}); err != nil {
		t.Fatal(err)
	}
	// Started (it starts in the background) before anything is written:
	// all it gets, it applies rather than restores.
	waitUntil(t, 10*time.Second, "the standby to start", func() bool { return b.StandbyTask(task0) != nil })
	c.produce(0, 70)
	waitUntil(t, 10*time.Second, "the active to process its input", func() bool { return a.Metrics().Processed == 70 })
	if err := a.CommitAll(ctx); err != nil {
		t.Fatal(err)
	}
	end := c.changelogEnd(0) // past the last commit marker
	tp := state.TopicPartition{Topic: sbChangelog, Partition: 0}
	waitUntil(t, 10*time.Second, "the standby to reach the changelog's end", func() bool {
		ts, _ := statusOf(t, b.Node, task0)
		sb := b.StandbyTask(task0)
		return sb != nil && sb.Positions()[tp] == end && ts.ChangelogLag == 0
	})
	sb := b.StandbyTask(task0)
	if end <= 70 {
		t.Fatalf("changelog end %d: no transaction markers?", end)
	}
	if sb.Applied() != 70 {
		t.Fatalf("applied %d records, want the 70 changelog records (markers are none)", sb.Applied())
	}
	for i := range 7 {
		if got := count(t, sb.Store("counts"), fmt.Sprint("k", i)); got != 10 {
			t.Fatalf("k%d = %d on the standby, want 10", i, got)
		}
	}
}

// followedActive runs task 0_0 active on node a and standby on node b (its
// state dir bDir), processes 70 records, commits, and waits until the
// standby has caught up with the changelog (tp, at offset first).
func followedActive(t *testing.T) (c *sbCluster, a, b *sbNode, bDir string, tp state.TopicPartition, first int64) {
	t.Helper()
	c = newSBCluster(t)
	a = c.node(t.TempDir())
	bDir = t.TempDir()
	b = c.node(bDir)
	ctx := context.Background()
	if err := a.Apply(ctx, Assign{Epoch: 1, Active: []topology.TaskID{task0}}); err != nil {
		t.Fatal(err)
	}
	if err := b.Apply(ctx, Assign{Epoch: 1, Standby: []topology.TaskID{task0}}); err != nil {
		t.Fatal(err)
	}
	c.produce(0, 70)
	waitUntil(t, 10*time.Second, "the active to process its input", func() bool { return a.Metrics().Processed == 70 })
	if err := a.CommitAll(ctx); err != nil {
		t.Fatal(err)
	}
	tp = state.TopicPartition{Topic: sbChangelog, Partition: 0}
	first = c.changelogEnd(0)
	waitUntil(t, 10*time.Second, "the standby to catch up", func() bool {
		sb := b.StandbyTask(task0)
		return sb != nil && sb.Positions()[tp] == first
	})
	return c, a, b, bDir, tp, first
}

// countsGoOn has task 0_0 of node b, which took over 77 records (11 per key
// k0..k6), process 7 more and commit: each key must then count 12.
func countsGoOn(t *testing.T, c *sbCluster, b *sbNode, who string) {
	t.Helper()
	c.produce(0, 7)
	waitUntil(t, 10*time.Second, who+" to process", func() bool { return b.Metrics().Processed == 7 })
	if err := b.CommitAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	b.mu.RLock()
	task := b.tasks[task0].task
	b.mu.RUnlock()
	for i := range 7 {
		if got := count(t, task.Store("counts"), fmt.Sprint("k", i)); got != 12 {
			t.Fatalf("k%d = %d after %s took over, want 12", i, got, who)
		}
	}
}
