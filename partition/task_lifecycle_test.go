package partition_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/state"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

// lcBroker is a Producer and ChangelogReader over in-memory partitions,
// acknowledging sends at once.
type lcBroker struct {
	logs     map[state.TopicPartition][]*kgo.Record
	restores []string // "<topic>-<partition> from <offset>", per Restore call
	fail     error    // when set, every send fails with it
}

func newLCBroker() *lcBroker { return &lcBroker{logs: map[state.TopicPartition][]*kgo.Record{}} }

func (b *lcBroker) Produce(_ context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	if b.fail != nil {
		promise(r, b.fail)
		return
	}
	tp := state.TopicPartition{Topic: r.Topic, Partition: r.Partition}
	r.Offset = int64(len(b.logs[tp]))
	b.logs[tp] = append(b.logs[tp], r)
	promise(r, nil)
}

func (b *lcBroker) Restore(_ context.Context, tp state.TopicPartition, from, until int64, apply func([]*kgo.Record) error) (int64, error) {
	b.restores = append(b.restores, tp.String()+" from "+strconv.FormatInt(from, 10))
	log := b.logs[tp]
	if from > int64(len(log)) { // as KafkaChangelogReader does
		return from, &partition.ChangelogBehindError{TP: tp, From: from, End: int64(len(log))}
	}
	if until >= 0 && until < int64(len(log)) {
		log = log[:until]
	}
	if from >= int64(len(log)) {
		return from, nil
	}
	if err := apply(log[from:]); err != nil {
		return from, err
	}
	return int64(len(log)), nil
}

// lcCommitter records committed offsets.
type lcCommitter struct {
	commits []map[state.TopicPartition]int64
}

func (c *lcCommitter) CommitOffsets(_ context.Context, offs map[state.TopicPartition]int64, _ map[state.TopicPartition]string) error {
	c.commits = append(c.commits, offs)
	return nil
}

const lcApp = "app"

// lcTask makes a task of sub-topology 0 of topo on partition 0, reading
// partition 0 of each of its sources.
func lcTask(t *testing.T, topo *topology.Topology, b *lcBroker, dir string, engine topology.Engine) *partition.Task {
	t.Helper()
	st := topo.Subtopologies[0]
	var inputs []state.TopicPartition
	for _, s := range st.Sources {
		inputs = append(inputs, state.TopicPartition{Topic: s.FullName(lcApp), Partition: 0})
	}
	task, err := partition.NewTask(partition.Config{
		ApplicationID: lcApp,
		ID:            topology.TaskID{Subtopology: 0, Partition: 0},
		Subtopology:   st,
		Inputs:        inputs,
		Dir:           dir,
		DefaultEngine: engine,
		Producer:      b,
		Partitions:    func(string) (int32, error) { return 1, nil },
		Changelogs:    b,
	})
	if err != nil {
		t.Fatal(err)
	}
	return task
}

func rec(topic string, off int64, ts int64, key, value string) *kgo.Record {
	return &kgo.Record{Topic: topic, Offset: off, Timestamp: time.UnixMilli(ts), Key: []byte(key), Value: []byte(value)}
}

func countTopology(t *testing.T) *topology.Topology {
	t.Helper()
	b := topology.NewBuilder()
	topology.Stream(b, "in", topology.String(), topology.String()).GroupByKey().Count(topology.Named("counts"))
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

func TestTaskLifecycle(t *testing.T) {
	ctx := context.Background()
	task := lcTask(t, countTopology(t), newLCBroker(), t.TempDir(), topology.EngineMemory)
	if task.State() != partition.StateCreated {
		t.Fatalf("new task in state %s", task.State())
	}
	if _, err := task.Process(10); err == nil || !strings.Contains(err.Error(), "process in state created") {
		t.Fatalf("Process before Initialize: %v", err)
	}
	if err := task.Initialize(ctx, partition.CommitPoint{}); err != nil {
		t.Fatal(err)
	}
	if task.State() != partition.StateRunning {
		t.Fatalf("after Initialize: %s, want running", task.State())
	}
	if err := task.Initialize(ctx, partition.CommitPoint{}); err == nil || !strings.Contains(err.Error(), "invalid transition running -> restoring") {
		t.Fatalf("second Initialize: %v", err)
	}
	if task.State() != partition.StateRunning {
		t.Fatalf("a refused transition changed the state to %s", task.State())
	}
	if err := task.Close(true); err != nil {
		t.Fatal(err)
	}
	if task.State() != partition.StateClosed {
		t.Fatalf("after Close: %s", task.State())
	}
	if err := task.Close(true); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := task.Process(10); err == nil || !strings.Contains(err.Error(), "process in state closed") {
		t.Fatalf("Process after Close: %v", err)
	}
	if err := task.Initialize(ctx, partition.CommitPoint{}); err == nil || !strings.Contains(err.Error(), "invalid transition closed -> restoring") {
		t.Fatalf("Initialize after Close: %v", err)
	}
}

func TestTaskClosedBeforeInitialize(t *testing.T) {
	task := lcTask(t, countTopology(t), newLCBroker(), t.TempDir(), topology.EngineMemory)
	if err := task.Close(false); err != nil {
		t.Fatal(err)
	}
	if task.State() != partition.StateClosed {
		t.Fatalf("state %s", task.State())
	}
	if err := task.Initialize(context.Background(), partition.CommitPoint{}); err == nil {
		t.Fatal("Initialize of a closed task succeeded")
	}
}

func TestTaskStateNames(t *testing.T) {
	got := []string{partition.StateCreated.String(), partition.StateRestoring.String(), partition.StateRunning.String(), partition.StateClosed.String()}
	if want := []string{"created", "restoring", "running", "closed"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("names %v", got)
	}
}

func TestNewTaskRejectsBadHandler(t *testing.T) {
	_, err := partition.NewTask(partition.Config{OnDeserializationError: partition.ErrorHandler{Action: partition.ActionDeadLetter}})
	if err == nil {
		t.Fatal("dead-letter handler without a topic accepted")
	}
}

func TestTaskProcessesLowestTimestampFirst(t *testing.T) {
	b := topology.NewBuilder()
	var order []string
	left := topology.Stream(b, "left", topology.String(), topology.String())
	right := topology.Stream(b, "right", topology.String(), topology.String())
	left.Merge(right).Foreach(func(k, _ string) { order = append(order, k) })
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	task := lcTask(t, topo, newLCBroker(), t.TempDir(), topology.EngineMemory)
	if err := task.Initialize(context.Background(), partition.CommitPoint{}); err != nil {
		t.Fatal(err)
	}
	defer task.Close(false)
	l := state.TopicPartition{Topic: "left"}
	r := state.TopicPartition{Topic: "right"}
	if !task.AddRecords(l, []*kgo.Record{rec("left", 0, 5, "L1", ""), rec("left", 1, 20, "L2", ""), rec("left", 2, 30, "L3", "")}) {
		t.Fatal("left refused")
	}
	// R2 is late (ts 5) but comes after R1 in its partition; R3 ties L3.
	task.AddRecords(r, []*kgo.Record{rec("right", 0, 10, "R1", ""), rec("right", 1, 5, "R2", ""), rec("right", 2, 30, "R3", "")})
	if task.AddRecords(state.TopicPartition{Topic: "other"}, []*kgo.Record{rec("other", 0, 0, "", "")}) {
		t.Fatal("records of a partition the task does not read were accepted")
	}
	if task.Buffered() != 6 {
		t.Fatalf("buffered %d, want 6", task.Buffered())
	}
	n, err := task.Process(2)
	if err != nil || n != 2 {
		t.Fatalf("Process(2) = %d, %v", n, err)
	}
	if n, err := task.Process(100); err != nil || n != 4 {
		t.Fatalf("Process(100) = %d, %v", n, err)
	}
	if want := []string{"L1", "R1", "R2", "L2", "L3", "R3"}; !reflect.DeepEqual(order, want) {
		t.Fatalf("order %v, want %v", order, want)
	}
	if task.StreamTime() != 30 {
		t.Fatalf("stream time %d, want 30", task.StreamTime())
	}
}

func TestTaskCommitOffsetsAndCheckpoint(t *testing.T) {
	needRocksDB(t)
	ctx := context.Background()
	dir := t.TempDir()
	br := newLCBroker()
	task := lcTask(t, countTopology(t), br, dir, topology.EngineRocksDB)
	if err := task.Initialize(ctx, partition.CommitPoint{}); err != nil {
		t.Fatal(err)
	}
	in := state.TopicPartition{Topic: "in"}
	task.AddRecords(in, []*kgo.Record{rec("in", 0, 1, "a", ""), rec("in", 1, 2, "b", ""), rec("in", 2, 3, "a", "")})
	if _, err := task.Process(100); err != nil {
		t.Fatal(err)
	}
	var oc lcCommitter
	if err := task.Commit(ctx, &oc); err != nil {
		t.Fatal(err)
	}
	if want := []map[state.TopicPartition]int64{{in: 3}}; !reflect.DeepEqual(oc.commits, want) {
		t.Fatalf("commits %v, want %v", oc.commits, want)
	}
	// Nothing new: no offsets to commit.
	if err := task.Commit(ctx, &oc); err != nil {
		t.Fatal(err)
	}
	if len(oc.commits) != 1 {
		t.Fatalf("committed again without progress: %v", oc.commits)
	}
	changelog := state.TopicPartition{Topic: "app-counts-changelog"}
	if n := len(br.logs[changelog]); n != 3 {
		t.Fatalf("%d changelog records, want 3", n)
	}
	if _, err := os.Stat(filepath.Join(dir, ".checkpoint")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("checkpoint written while running (the store is ahead of the commit): %v", err)
	}
	if err := task.Close(true); err != nil {
		t.Fatal(err)
	}
	ckp, err := state.ReadCheckpointFile(filepath.Join(dir, ".checkpoint"))
	if err != nil {
		t.Fatal(err)
	}
	if ckp.Offsets[changelog] != 3 || ckp.StreamTime != 3 {
		t.Fatalf("checkpoint %+v, want offset 3 and stream time 3", ckp)
	}

	// A new task on the same directory restores from the checkpoint only.
	again := lcTask(t, countTopology(t), br, dir, topology.EngineRocksDB)
	if err := again.Initialize(ctx, partition.CommitPoint{}); err != nil {
		t.Fatal(err)
	}
	defer again.Close(false)
	// The first start (nothing committed) restored up to offset 0 and
	// scanned the changelog from 0 for writes to roll back; the second
	// starts at the checkpoint, and (nothing committed, at-least-once)
	// scans what follows it for uncommitted writes to roll back.
	if want := []string{"app-counts-changelog-0 from 0", "app-counts-changelog-0 from 0", "app-counts-changelog-0 from 3", "app-counts-changelog-0 from 3"}; !reflect.DeepEqual(br.restores, want) {
		t.Fatalf("restores %v, want %v", br.restores, want)
	}
	if again.StreamTime() != 3 {
		t.Fatalf("stream time %d after restart, want 3 from the checkpoint", again.StreamTime())
	}
	counts := topology.NewTypedKeyValueStore(again.Store("counts").(topology.KeyValueStore), "", topology.String(), topology.Int64())
	if n, ok, err := counts.Get("a"); err != nil || !ok || n != 2 {
		t.Fatalf("count of a = %d, %v, %v; want 2", n, ok, err)
	}
}

func TestTaskRestoresMemoryStoreFromStart(t *testing.T) {
	ctx := context.Background()
	br := newLCBroker()
	changelog := state.TopicPartition{Topic: "app-counts-changelog"}
	one := []byte{0, 0, 0, 0, 0, 0, 0, 1}
	five := []byte{0, 0, 0, 0, 0, 0, 0, 5}
	br.logs[changelog] = []*kgo.Record{
		{Key: []byte("a"), Value: one},
		{Key: []byte("b"), Value: one},
		{Key: []byte("a"), Value: five},
		{Key: []byte("b"), Value: nil}, // tombstone
	}
	dir := t.TempDir()
	// A checkpoint does not help a memory store: it starts empty.
	if err := state.WriteCheckpoint(filepath.Join(dir, ".checkpoint"), map[state.TopicPartition]int64{changelog: 4}); err != nil {
		t.Fatal(err)
	}
	task := lcTask(t, countTopology(t), br, dir, topology.EngineMemory)
	if err := task.Initialize(ctx, partition.CommitPoint{}); err != nil {
		t.Fatal(err)
	}
	defer task.Close(false)
	// From 0 up to the checkpoint, then (nothing committed, at-least-once)
	// the scan of what follows it for uncommitted writes to roll back.
	if want := []string{"app-counts-changelog-0 from 0", "app-counts-changelog-0 from 4"}; !reflect.DeepEqual(br.restores, want) {
		t.Fatalf("restores %v, want %v", br.restores, want)
	}
	counts := topology.NewTypedKeyValueStore(task.Store("counts").(topology.KeyValueStore), "", topology.String(), topology.Int64())
	if n, ok, _ := counts.Get("a"); !ok || n != 5 {
		t.Fatalf("a = %d, %v; want 5", n, ok)
	}
	if _, ok, _ := counts.Get("b"); ok {
		t.Fatal("b survived its tombstone")
	}
	// Restored records are not logged again.
	if n := len(br.logs[changelog]); n != 4 {
		t.Fatalf("changelog grew to %d records during restore", n)
	}
}

func TestTaskSendFailureFailsCommit(t *testing.T) {
	ctx := context.Background()
	br := newLCBroker()
	task := lcTask(t, countTopology(t), br, t.TempDir(), topology.EngineMemory)
	if err := task.Initialize(ctx, partition.CommitPoint{}); err != nil {
		t.Fatal(err)
	}
	defer task.Close(false)
	boom := errors.New("broker on fire")
	br.fail = boom
	task.AddRecords(state.TopicPartition{Topic: "in"}, []*kgo.Record{rec("in", 0, 1, "a", "")})
	if _, err := task.Process(10); err != nil {
		t.Fatal(err) // the send fails asynchronously
	}
	var oc lcCommitter
	err := task.Commit(ctx, &oc)
	if !errors.Is(err, boom) {
		t.Fatalf("commit after a failed send: %v", err)
	}
	if len(oc.commits) != 0 {
		t.Fatalf("offsets committed after a failed send: %v", oc.commits)
	}
}
