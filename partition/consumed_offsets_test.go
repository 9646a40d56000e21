package partition_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/state"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The offsets a commit sends are the next offset after the last record
// processed of each input partition, also when Process alternates between
// partitions and when it stops at a chunk's end in the middle of one.
func TestCommitOffsetsAcrossInterleavedPartitions(t *testing.T) {
	b := topology.NewBuilder()
	left := topology.Stream(b, "left", topology.String(), topology.String())
	right := topology.Stream(b, "right", topology.String(), topology.String())
	left.Merge(right).Foreach(func(string, string) {})
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	task := lcTask(t, topo, newLCBroker(), t.TempDir(), topology.EngineMemory)
	if err := task.Initialize(ctx, partition.CommitPoint{}); err != nil {
		t.Fatal(err)
	}
	defer task.Close(false)
	l := state.TopicPartition{Topic: "left"}
	r := state.TopicPartition{Topic: "right"}
	// By timestamp: L0 R0 L1 R1 L2 | R2 R3.
	task.AddRecords(l, []*kgo.Record{rec("left", 10, 1, "L0", ""), rec("left", 11, 3, "L1", ""), rec("left", 12, 5, "L2", "")})
	task.AddRecords(r, []*kgo.Record{rec("right", 40, 2, "R0", ""), rec("right", 41, 4, "R1", ""), rec("right", 42, 6, "R2", ""), rec("right", 43, 7, "R3", "")})
	oc := &lcCommitter{}
	if n, err := task.Process(5); err != nil || n != 5 {
		t.Fatalf("Process(5) = %d, %v", n, err)
	}
	if err := task.Commit(ctx, oc); err != nil {
		t.Fatal(err)
	}
	if n, err := task.Process(1); err != nil || n != 1 {
		t.Fatalf("Process(1) = %d, %v", n, err)
	}
	if err := task.Commit(ctx, oc); err != nil {
		t.Fatal(err)
	}
	want := []map[state.TopicPartition]int64{{l: 13, r: 42}, {l: 13, r: 43}}
	if !reflect.DeepEqual(oc.commits, want) {
		t.Fatalf("commits %v, want %v", oc.commits, want)
	}
}
