package partition

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/eddystreams/eddy/state"
	"github.com/twmb/franz-go/pkg/kgo"
)

// queued makes records of tp with the given timestamps, offsets from first.
func queued(tp state.TopicPartition, first int64, ts ...int64) []*kgo.Record {
	rs := make([]*kgo.Record, len(ts))
	for i, t := range ts {
		rs[i] = &kgo.Record{Topic: tp.Topic, Partition: tp.Partition, Offset: first + int64(i), Timestamp: time.UnixMilli(t)}
	}
	return rs
}

// drain pops every record and names each "<topic>@<offset>".
func drain(g *partitionGroup) []string {
	var out []string
	for {
		q, r, _, _ := g.next()
		if r == nil {
			return out
		}
		if q.tp.Topic != r.Topic || q.tp.Partition != r.Partition {
			panic("record popped from the wrong queue")
		}
		out = append(out, fmt.Sprintf("%s@%d", r.Topic, r.Offset))
	}
}

var (
	tpA = state.TopicPartition{Topic: "a", Partition: 0}
	tpB = state.TopicPartition{Topic: "b", Partition: 0}
	tpC = state.TopicPartition{Topic: "c", Partition: 0}
)

func TestPartitionGroupLowestTimestampFirst(t *testing.T) {
	g := newPartitionGroup([]state.TopicPartition{tpA, tpB, tpC}, nil)
	g.add(tpA, queued(tpA, 0, 5, 20, 30))
	g.add(tpB, queued(tpB, 0, 10, 25))
	g.add(tpC, queued(tpC, 0, 1))
	if g.buffered != 6 {
		t.Fatalf("buffered %d, want 6", g.buffered)
	}
	// The head with the lowest timestamp goes first, across partitions.
	want := []string{"c@0", "a@0", "b@0", "a@1", "b@1", "a@2"}
	if got := drain(g); !reflect.DeepEqual(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
	if g.buffered != 0 {
		t.Fatalf("buffered %d after draining", g.buffered)
	}
}

func TestPartitionGroupKeepsOffsetOrderWithinPartition(t *testing.T) {
	// Only heads compete: a late record (ts 2) behind a later one (ts 50)
	// waits for it, whatever the other partition holds.
	g := newPartitionGroup([]state.TopicPartition{tpA, tpB}, nil)
	g.add(tpA, queued(tpA, 0, 50, 2))
	g.add(tpB, queued(tpB, 0, 10, 60))
	want := []string{"b@0", "a@0", "a@1", "b@1"}
	if got := drain(g); !reflect.DeepEqual(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
}

func TestPartitionGroupTiesGoByQueueOrder(t *testing.T) {
	g := newPartitionGroup([]state.TopicPartition{tpA, tpB}, nil)
	g.add(tpB, queued(tpB, 0, 7, 7))
	g.add(tpA, queued(tpA, 0, 7, 7))
	// Equal timestamps: the queue listed first wins, each time.
	want := []string{"a@0", "a@1", "b@0", "b@1"}
	if got := drain(g); !reflect.DeepEqual(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}

	g = newPartitionGroup([]state.TopicPartition{tpB, tpA}, nil)
	g.add(tpA, queued(tpA, 0, 7))
	g.add(tpB, queued(tpB, 0, 7))
	if got, want := drain(g), []string{"b@0", "a@0"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
}

func TestPartitionGroupRefusesOtherPartitions(t *testing.T) {
	g := newPartitionGroup([]state.TopicPartition{tpA}, nil)
	other := state.TopicPartition{Topic: "a", Partition: 1}
	if g.add(other, queued(other, 0, 1)) {
		t.Fatal("added records of a partition that is not an input")
	}
	if g.buffered != 0 {
		t.Fatalf("buffered %d", g.buffered)
	}
	if q, r, _, _ := g.next(); q != nil || r != nil {
		t.Fatal("next of an empty group returned a record")
	}
}

func TestRecordQueueReusesDrainedBuffer(t *testing.T) {
	g := newPartitionGroup([]state.TopicPartition{tpA}, nil)
	g.add(tpA, queued(tpA, 0, 1, 2))
	drain(g)
	g.add(tpA, queued(tpA, 2, 3))
	q := g.byTP[tpA]
	if q.head != 0 || len(q.recs) != 1 {
		t.Fatalf("drained queue not reset: head %d, %d records", q.head, len(q.recs))
	}
	// Adding to a half-read queue keeps the unread records in order.
	g.add(tpA, queued(tpA, 3, 4, 5))
	g.next()
	g.add(tpA, queued(tpA, 5, 6))
	if got, want := drain(g), []string{"a@3", "a@4", "a@5"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
}
