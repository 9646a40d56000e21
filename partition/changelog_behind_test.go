package partition_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/state"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A checkpoint past the changelog's end means the changelog was deleted and
// made again (or truncated): the local store matches a changelog that is
// gone. The task wipes it and restores what the changelog holds now, and
// says so.
func TestCheckpointBeyondChangelogEndWipesAndRestores(t *testing.T) {
	needRocksDB(t)
	ctx := context.Background()
	dir := t.TempDir()
	br := newLCBroker()
	topo := countTopology(t)
	in := state.TopicPartition{Topic: "in"}
	changelog := state.TopicPartition{Topic: topology.ChangelogTopicName(lcApp, "counts")}

	first := lcTask(t, topo, br, dir, topology.EngineRocksDB)
	if err := first.Initialize(ctx, partition.CommitPoint{}); err != nil {
		t.Fatal(err)
	}
	first.AddRecords(in, []*kgo.Record{rec("in", 0, 1, "a", ""), rec("in", 1, 2, "a", ""), rec("in", 2, 3, "b", "")})
	if _, err := first.Process(10); err != nil {
		t.Fatal(err)
	}
	if err := first.Commit(ctx, &lcCommitter{}); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(true); err != nil { // checkpoint at changelog offset 3
		t.Fatal(err)
	}

	// The changelog is made again, and holds one record, for c.
	old := br.logs[changelog]
	br.logs[changelog] = []*kgo.Record{{Topic: changelog.Topic, Key: []byte("c"), Value: old[0].Value}}

	var logs bytes.Buffer
	second, err := partition.NewTask(partition.Config{
		ApplicationID: lcApp, Subtopology: topo.Subtopologies[0], Inputs: []state.TopicPartition{in},
		Dir: dir, DefaultEngine: topology.EngineRocksDB, Producer: br, Changelogs: br,
		Partitions: func(string) (int32, error) { return 1, nil },
		Logger:     slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close(false)
	if err := second.Initialize(ctx, partition.CommitPoint{Committed: true, Offsets: map[state.TopicPartition]int64{in: 3}}); err != nil {
		t.Fatal(err)
	}
	kv := second.Store("counts").(topology.KeyValueStore)
	for key, want := range map[string]bool{"a": false, "b": false, "c": true} {
		v, err := kv.Get([]byte(key))
		if err != nil {
			t.Fatal(err)
		}
		if (v != nil) != want {
			t.Errorf("key %s in the store: %v, want %v (the changelog holds only c)", key, v != nil, want)
		}
	}
	for _, want := range []string{"level=WARN", "checkpoint beyond the changelog's end", "task=0_0", "store=counts", "checkpoint=3", "changelog_end=1"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}
