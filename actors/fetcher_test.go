package actors

import (
	"testing"

	"github.com/eddystreams/eddy/state"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestFetchPosLag(t *testing.T) {
	p := &fetchPos{next: -1, end: -1}
	if p.lag() != -1 {
		t.Fatalf("lag %d with nothing known, want -1", p.lag())
	}
	// Records 5..7 with the high watermark at 10: 2 more on the broker.
	p.observe(&kgo.FetchPartition{HighWatermark: 10, LastStableOffset: 8, Records: []*kgo.Record{{Offset: 5}, {Offset: 7}}}, false)
	if p.lag() != 2 {
		t.Fatalf("lag %d, want 2", p.lag())
	}
	// Under read_committed the end is the last stable offset.
	q := &fetchPos{next: -1, end: -1}
	q.observe(&kgo.FetchPartition{HighWatermark: 10, LastStableOffset: 8, Records: []*kgo.Record{{Offset: 7}}}, true)
	if q.lag() != 0 {
		t.Fatalf("read_committed lag %d, want 0 (records past the LSO are not readable)", q.lag())
	}
	// An empty partition in a response moves the end; an error does not.
	p.observe(&kgo.FetchPartition{HighWatermark: 12}, false)
	p.observe(&kgo.FetchPartition{HighWatermark: 99, Err: kgoErr{}}, false)
	if p.lag() != 4 {
		t.Fatalf("lag %d, want 4", p.lag())
	}
	// Ends never go back; a next past the end is lag 0.
	p.observe(&kgo.FetchPartition{HighWatermark: 3, Records: []*kgo.Record{{Offset: 12}}}, false)
	if p.lag() != 0 || p.end != 12 {
		t.Fatalf("lag %d, end %d", p.lag(), p.end)
	}
}

type kgoErr struct{}

func (kgoErr) Error() string { return "fetch failed" }

type fakePauser struct {
	paused, resumed []map[string][]int32
	onPause         func() // runs inside PauseFetchPartitions
}

func (f *fakePauser) PauseFetchPartitions(m map[string][]int32) map[string][]int32 {
	f.paused = append(f.paused, m)
	if f.onPause != nil {
		f.onPause()
	}
	return m
}
func (f *fakePauser) ResumeFetchPartitions(m map[string][]int32) { f.resumed = append(f.resumed, m) }

func TestFlowResumesStarvedPartitions(t *testing.T) {
	p := &fakePauser{}
	f := newFlowControl(10, p, map[string][]int32{"a": {0}, "b": {0}}, newInputBytes(1<<20))
	b := []state.TopicPartition{{Topic: "b"}}
	f.resume(b)
	if len(p.resumed) != 0 {
		t.Fatal("resumed a partition that was not paused")
	}
	f.added(11, 0)
	if len(p.paused) != 1 {
		t.Fatal("not paused above the high mark")
	}
	f.resume(b)
	if len(p.resumed) != 1 || len(p.resumed[0]["b"]) != 1 || p.resumed[0]["a"] != nil {
		t.Fatalf("resumed %v, want b-0 only", p.resumed)
	}
	if !f.paused.Load() {
		t.Fatal("the task's other partitions must stay paused")
	}
}

// The task drains its records while the fetcher is pausing its partitions:
// its taken sees them not paused yet, so the fetcher must resume them
// itself, or they stay paused with nothing buffered and the task stalls.
func TestFlowResumesWhenDrainedDuringPause(t *testing.T) {
	p := &fakePauser{}
	f := newFlowControl(10, p, map[string][]int32{"a": {0}}, newInputBytes(1<<20))
	p.onPause = func() { f.taken(11, 0) }
	f.added(11, 0)
	if len(p.paused) != 1 || len(p.resumed) != 1 || f.paused.Load() {
		t.Fatalf("paused %d times, resumed %d, paused now %v: want the partitions fetched again", len(p.paused), len(p.resumed), f.paused.Load())
	}
}
