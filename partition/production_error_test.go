package partition_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/state"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// refusingBroker is an lcBroker that refuses for good every record sent to
// one topic, as Kafka does a record too large for it.
type refusingBroker struct {
	*lcBroker
	refuse  string
	refused int
}

func (b *refusingBroker) Produce(ctx context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	if r.Topic == b.refuse {
		b.refused++
		promise(r, kerr.MessageTooLarge)
		return
	}
	b.lcBroker.Produce(ctx, r, promise)
}

// countToOut counts records per key into the logged store "counts" and
// writes each count to "out".
func countToOut(t *testing.T) *topology.Topology {
	t.Helper()
	b := topology.NewBuilder()
	topology.Stream(b, "in", topology.String(), topology.String()).GroupByKey().
		Count(topology.Named("counts")).ToStream().To("out")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// runRefusing processes two records with the given production error handler
// while the broker refuses every record of topic refuse, then commits, and
// returns the commit's error.
func runRefusing(t *testing.T, h partition.ErrorHandler, refuse string) (*refusingBroker, *partition.Task, error) {
	t.Helper()
	b := &refusingBroker{lcBroker: newLCBroker(), refuse: refuse}
	task, err := partition.NewTask(partition.Config{
		ApplicationID:     lcApp,
		ID:                topology.TaskID{},
		Subtopology:       countToOut(t).Subtopologies[0],
		Inputs:            []state.TopicPartition{{Topic: "in"}},
		Dir:               t.TempDir(),
		DefaultEngine:     topology.EngineMemory,
		Producer:          b,
		Partitions:        func(string) (int32, error) { return 1, nil },
		Changelogs:        b,
		OnProductionError: h,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { task.Close(false) })
	ctx := context.Background()
	if err := task.Initialize(ctx, partition.CommitPoint{}); err != nil {
		t.Fatal(err)
	}
	task.AddRecords(state.TopicPartition{Topic: "in"}, []*kgo.Record{rec("in", 0, 1, "a", "x"), rec("in", 1, 2, "a", "y")})
	var perr error
	if _, err := task.Process(10); err != nil {
		perr = err
	}
	cerr := task.Commit(ctx, &lcCommitter{})
	return b, task, errors.Join(perr, cerr)
}

// Output records Kafka refuses may be skipped when the user chose so.
func TestRefusedOutputRecordIsSkippedWithContinue(t *testing.T) {
	b, _, err := runRefusing(t, partition.ErrorHandler{Action: partition.ActionContinue}, "out")
	if err != nil {
		t.Fatalf("commit after skipped output records: %v", err)
	}
	if b.refused != 2 {
		t.Fatalf("%d output records refused, want 2", b.refused)
	}
	if n := len(b.logs[state.TopicPartition{Topic: topology.ChangelogTopicName(lcApp, "counts")}]); n != 2 {
		t.Fatalf("changelog has %d records, want 2", n)
	}
}

// A changelog record is never skipped: the store holds the write, and a
// changelog without it would restore another store. Whatever the production
// error handler, the task fails and says why.
func TestRefusedChangelogRecordFailsTheTask(t *testing.T) {
	changelog := topology.ChangelogTopicName(lcApp, "counts")
	for _, h := range []partition.ErrorHandler{
		{Action: partition.ActionContinue},
		{Action: partition.ActionDeadLetter, DeadLetterTopic: "dlq"},
		{Action: partition.ActionFail},
	} {
		t.Run(h.Action.String(), func(t *testing.T) {
			b, _, err := runRefusing(t, h, changelog)
			if err == nil {
				t.Fatal("commit succeeded although the changelog lacks the store's writes")
			}
			var perr *partition.ProductionError
			if !errors.As(err, &perr) {
				t.Fatalf("error is not a ProductionError: %v", err)
			}
			for _, want := range []string{"changelog write refused", changelog + "-0", "never skipped", "MESSAGE_TOO_LARGE"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
			if n := len(b.logs[state.TopicPartition{Topic: "dlq"}]); n != 0 {
				t.Fatalf("%d changelog records dead-lettered", n)
			}
		})
	}
}

// A production handler function (Kafka Streams' ProductionExceptionHandler)
// sees the refused output record and decides per record; here it skips one
// and dead-letters the other.
func TestRefusedOutputRecordHandlerFunc(t *testing.T) {
	var seen []topology.ErrorContext
	h := partition.ErrorHandler{DeadLetterTopic: "dlq", Func: func(ec topology.ErrorContext) topology.ErrorAction {
		seen = append(seen, ec)
		if len(seen) == 1 {
			return topology.ActionContinue
		}
		return topology.ActionDeadLetter
	}}
	b, _, err := runRefusing(t, h, "out")
	if err != nil {
		t.Fatalf("commit after handled output records: %v", err)
	}
	if len(seen) != 2 {
		t.Fatalf("handler called %d times, want 2", len(seen))
	}
	ec := seen[0]
	if ec.Kind != topology.ProductionError || ec.Topic != "out" || ec.Partition != 0 || ec.Offset != -1 ||
		string(ec.Key) != "a" || ec.Value == nil || !errors.Is(ec.Err, kerr.MessageTooLarge) || ec.TaskID != "0_0" {
		t.Fatalf("context %+v", ec)
	}
	if n := len(b.logs[state.TopicPartition{Topic: "dlq"}]); n != 1 {
		t.Fatalf("%d records dead-lettered, want 1", n)
	}

	// A function that chooses fail fails the task.
	_, _, err = runRefusing(t, partition.ErrorHandler{Func: func(topology.ErrorContext) topology.ErrorAction { return topology.ActionFail }}, "out")
	var perr *partition.ProductionError
	if !errors.As(err, &perr) {
		t.Fatalf("handler chose fail: %v", err)
	}
}
