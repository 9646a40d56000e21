package main

import (
	"context"
	"testing"
	"time"

	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/state"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The Eddy side of the restore workload must find commit metadata that puts
// the whole changelog before its last commit, or it rolls the changelog back
// instead of restoring it.
func TestCommitChangelogPositions(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "in", "app-counts-changelog"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	want := map[int32]int64{0: 5, 1: 0, 2: 2}
	for p, n := range want {
		for i := int64(0); i < n; i++ {
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "app-counts-changelog", Partition: p, Key: []byte("k")}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := commitChangelogPositions(ctx, cl, "app", "in", "app-counts-changelog"); err != nil {
		t.Fatal(err)
	}
	offs, err := kadm.NewClient(cl).FetchOffsets(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	for p, end := range want {
		o, ok := offs.Lookup("in", p)
		if !ok || o.Err != nil || o.At != 0 {
			t.Fatalf("in-%d: committed %+v, want offset 0", p, o)
		}
		md, err := partition.DecodeCommitMetadata(o.Metadata)
		if err != nil {
			t.Fatal(err)
		}
		tp := state.TopicPartition{Topic: "app-counts-changelog", Partition: p}
		if got, ok := md.Positions[tp]; !ok || got != end || len(md.Positions) != 1 {
			t.Errorf("in-%d: positions %v, want %s at %d only", p, md.Positions, tp, end)
		}
	}
}
