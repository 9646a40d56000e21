package eddy

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/eddystreams/eddy/actors"
	"github.com/eddystreams/eddy/examples/wordcount"
	"github.com/eddystreams/eddy/internal/kafkatest"
	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestQueryForATaskWithNoOwner takes tasks away from the node behind the
// cluster's back, so that no node answers for them: queries for their keys
// fail within the query timeout with an error that names the task, and
// scans do not answer partially.
func TestQueryForATaskWithNoOwner(t *testing.T) {
	brokers := kafkatest.Embedded(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := wordcount.EnsureTopics(ctx, kadm.NewClient(cl), 4, "lines", "counts"); err != nil {
		t.Fatal(err)
	}
	if err := wordcount.ProduceLines(ctx, cl, "lines", strings.NewReader("alpha beta gamma delta epsilon zeta eta theta")); err != nil {
		t.Fatal(err)
	}
	topo, err := wordcount.Topology("lines", "counts")
	if err != nil {
		t.Fatal(err)
	}
	app, err := New(topo, WithBrokers(brokers...), WithApplicationID("q"), WithStateDir(t.TempDir()),
		WithQueryTimeout(300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	if err := app.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := app.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	// Keep only the counting task of partition 0.
	keep := topology.TaskID{Subtopology: 1, Partition: 0}
	if err := app.node.Apply(ctx, actors.Assign{Epoch: 2, Active: []topology.TaskID{keep}}); err != nil {
		t.Fatal(err)
	}
	counts, err := Store[string, int64](app, wordcount.StoreName)
	if err != nil {
		t.Fatal(err)
	}
	local, remote := 0, 0
	for _, w := range []string{"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"} {
		kb, _ := topology.String().Serialize("", w)
		n, ok, err := counts.Get(ctx, w)
		if partition.KeyPartition(kb, 4) == keep.Partition {
			local++
			if err != nil || !ok || n != 1 {
				t.Fatalf("local key %q: %d %v %v", w, n, ok, err)
			}
			continue
		}
		remote++
		if !errors.Is(err, ErrQueryUnavailable) || !strings.Contains(err.Error(), "task 1_") || !strings.Contains(err.Error(), "NOT_OWNER") {
			t.Fatalf("key %q of a task no node runs: want ErrQueryUnavailable naming the task, got %v", w, err)
		}
	}
	if local == 0 || remote == 0 {
		t.Fatalf("the words should spread over partitions: %d local, %d remote", local, remote)
	}
	if _, err := counts.All(ctx); !errors.Is(err, ErrQueryUnavailable) {
		t.Fatalf("All with tasks elsewhere must not answer partially: %v", err)
	}
}
