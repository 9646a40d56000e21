package partition_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/state"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

// switchLease is a node lease a test turns off.
type switchLease struct{ off atomic.Bool }

func (l *switchLease) Valid(time.Time) bool { return !l.off.Load() }

// Process checks the ownership lease, then the node's lease, before every
// record: it stops at the first record past either, and goes on once the
// lease is confirmed again.
func TestProcessStopsWhenALeaseRunsOut(t *testing.T) {
	var clock atomic.Int64
	clock.Store(1_700_000_000_000)
	node := &switchLease{}
	b := newLCBroker()
	topo := countTopology(t)
	tp := state.TopicPartition{Topic: "in", Partition: 0}
	task, err := partition.NewTask(partition.Config{
		ApplicationID:  lcApp,
		ID:             topology.TaskID{Subtopology: 0, Partition: 0},
		Subtopology:    topo.Subtopologies[0],
		Inputs:         []state.TopicPartition{tp},
		Dir:            t.TempDir(),
		DefaultEngine:  topology.EngineMemory,
		Producer:       b,
		Partitions:     func(string) (int32, error) { return 1, nil },
		Changelogs:     b,
		OwnershipLease: time.Second,
		NodeLease:      node,
		Clock:          func() time.Time { return time.UnixMilli(clock.Load()) },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer task.Close(false)
	ctx := context.Background()
	if err := task.Initialize(ctx, partition.CommitPoint{}); err != nil {
		t.Fatal(err)
	}
	if err := task.ConfirmOwnership(ctx, nil); err != nil {
		t.Fatal(err)
	}
	off := int64(0)
	add := func(n int) {
		for i := 0; i < n; i++ {
			task.AddRecords(tp, []*kgo.Record{rec("in", off, clock.Load(), "k", "v")})
			off++
		}
	}
	process := func(wantN int, wantErr error) {
		t.Helper()
		n, err := task.Process(100)
		if n != wantN || !errors.Is(err, wantErr) || (wantErr == nil && err != nil) {
			t.Fatalf("Process = %d, %v; want %d, %v", n, err, wantN, wantErr)
		}
	}

	add(3)
	process(3, nil)

	// One millisecond past the ownership lease: nothing more is processed.
	clock.Add(1001)
	add(2)
	process(0, partition.ErrLeaseExpired)
	if err := task.ConfirmOwnership(ctx, nil); err != nil {
		t.Fatal(err)
	}
	process(2, nil)

	// The node's lease ran out.
	node.off.Store(true)
	add(1)
	process(0, partition.ErrNodeLeaseExpired)
	// Both ran out: the ownership lease is named first.
	clock.Add(1001)
	process(0, partition.ErrLeaseExpired)
	node.off.Store(false)
	if err := task.ConfirmOwnership(ctx, nil); err != nil {
		t.Fatal(err)
	}
	process(1, nil)
	if got := task.Processed(); got != 6 {
		t.Fatalf("processed %d records, want 6", got)
	}
}
