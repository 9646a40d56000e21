package partition_test

import (
	"context"
	"errors"
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

// etTask makes a running task of sub-topology 0 of topo on partition 0,
// with cfg's event-time fields.
func etTask(t *testing.T, topo *topology.Topology, b *lcBroker, adjust func(*partition.Config)) *partition.Task {
	t.Helper()
	st := topo.Subtopologies[0]
	var inputs []state.TopicPartition
	for _, s := range st.Sources {
		inputs = append(inputs, state.TopicPartition{Topic: s.FullName(lcApp), Partition: 0})
	}
	cfg := partition.Config{
		ApplicationID: lcApp,
		ID:            topology.TaskID{Subtopology: 0, Partition: 0},
		Subtopology:   st,
		Inputs:        inputs,
		Dir:           t.TempDir(),
		DefaultEngine: topology.EngineMemory,
		Producer:      b,
		Partitions:    func(string) (int32, error) { return 1, nil },
		Changelogs:    b,
	}
	if adjust != nil {
		adjust(&cfg)
	}
	task, err := partition.NewTask(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Initialize(context.Background(), partition.CommitPoint{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { task.Close(false) })
	return task
}

// timeInValue reads the event time from the value, a decimal number.
func timeInValue(r *topology.RawRecord, _ int64) (int64, error) {
	return strconv.ParseInt(string(r.Value), 10, 64)
}

// seenMeta is a processor that records the metadata of each record.
type seenMeta struct {
	ctx  topology.ProcessorContext[string, string]
	seen *[]topology.RecordMeta
}

func (p *seenMeta) Init(ctx topology.ProcessorContext[string, string]) error { p.ctx = ctx; return nil }
func (p *seenMeta) Process(r topology.Record[string, string]) error {
	m, _ := p.ctx.RecordMetadata()
	*p.seen = append(*p.seen, m)
	return nil
}
func (p *seenMeta) Close() error { return nil }

func TestTaskUsesExtractedTimestamps(t *testing.T) {
	var seen []topology.RecordMeta
	b := topology.NewBuilder()
	s := topology.Stream(b, "in", topology.String(), topology.String(), topology.WithTimestampExtractor(timeInValue))
	topology.Process(s, func() topology.Processor[string, string, string, string] { return &seenMeta{seen: &seen} })
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	br := newLCBroker()
	task := etTask(t, topo, br, func(c *partition.Config) {
		c.OnDeserializationError = partition.ErrorHandler{Action: partition.ActionDeadLetter, DeadLetterTopic: "dlq"}
	})
	in := state.TopicPartition{Topic: "in"}
	// Kafka's timestamps are 1..4; the values hold the event times.
	task.AddRecords(in, []*kgo.Record{rec("in", 0, 1, "a", "500"), rec("in", 1, 2, "b", "-3"), rec("in", 2, 3, "c", "x"), rec("in", 3, 4, "d", "400")})
	if n, err := task.Process(100); err != nil || n != 4 {
		t.Fatalf("Process = %d, %v", n, err)
	}
	if len(seen) != 2 || seen[0].Timestamp != 500 || seen[1].Timestamp != 400 {
		t.Fatalf("processed %+v; want offsets 0 and 3 stamped 500 and 400", seen)
	}
	if task.StreamTime() != 500 {
		t.Fatalf("stream time %d, want 500 (the largest extracted)", task.StreamTime())
	}
	m := task.Metrics()
	if m.Processed != 2 || m.Skipped != 2 {
		t.Fatalf("metrics %+v: want 2 processed, 2 skipped", m)
	}
	dlq := br.logs[state.TopicPartition{Topic: "dlq"}]
	if len(dlq) != 2 {
		t.Fatalf("%d dead letters, want 2", len(dlq))
	}
	h := map[string]string{}
	for _, x := range dlq[0].Headers {
		h[x.Key] = string(x.Value)
	}
	if string(dlq[0].Value) != "-3" || h[partition.HeaderOffset] != "1" || !strings.Contains(h[partition.HeaderError], topology.ErrInvalidTimestamp.Error()) {
		t.Fatalf("dead letter %q with headers %v", dlq[0].Value, h)
	}
	// Both offsets count as consumed.
	var oc lcCommitter
	if err := task.Commit(context.Background(), &oc); err != nil {
		t.Fatal(err)
	}
	if got := oc.commits[0][in]; got != 4 {
		t.Fatalf("committed offset %d, want 4", got)
	}
}

func TestTaskInvalidTimestampFailsByDefault(t *testing.T) {
	b := topology.NewBuilder()
	topology.Stream(b, "in", topology.String(), topology.String(), topology.WithTimestampExtractor(timeInValue)).Foreach(func(string, string) {})
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	task := etTask(t, topo, newLCBroker(), nil)
	task.AddRecords(state.TopicPartition{Topic: "in"}, []*kgo.Record{rec("in", 0, 1, "a", "-1")})
	_, err = task.Process(10)
	if !errors.Is(err, topology.ErrInvalidTimestamp) || !strings.Contains(err.Error(), "in-0@0") {
		t.Fatalf("want the task to fail on the negative timestamp, naming the record; got %v", err)
	}
}

func TestTaskRecordDropped(t *testing.T) {
	var task *partition.Task
	b := topology.NewBuilder()
	topology.Stream(b, "in", topology.String(), topology.String()).Foreach(func(k, _ string) {
		if k == "late" {
			task.RecordDropped(topology.DropLate)
		}
	})
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	var got []partition.DroppedRecord
	task = etTask(t, topo, newLCBroker(), func(c *partition.Config) {
		c.OnDroppedRecord = func(d partition.DroppedRecord) { got = append(got, d) }
	})
	r := rec("in", 7, 42, "late", "v")
	r.Headers = []kgo.RecordHeader{{Key: "h", Value: []byte("x")}}
	task.AddRecords(state.TopicPartition{Topic: "in"}, []*kgo.Record{rec("in", 6, 41, "ok", "v"), r})
	if _, err := task.Process(10); err != nil {
		t.Fatal(err)
	}
	want := []partition.DroppedRecord{{
		Task: topology.TaskID{}, Reason: "late", Topic: "in", Partition: 0, Offset: 7, Timestamp: 42,
		Key: []byte("late"), Value: []byte("v"), Headers: []topology.Header{{Key: "h", Value: []byte("x")}},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("handler got %+v, want %+v", got, want)
	}
	if m := task.Metrics(); m.Dropped["late"] != 1 || m.Processed != 2 {
		t.Fatalf("metrics %+v", m)
	}
}

// fakeClock is a wall clock moved by hand.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time          { return c.now }
func (c *fakeClock) Advance(d time.Duration) { c.now = c.now.Add(d) }
func mergeTopology(t *testing.T, order *[]string) *topology.Topology {
	t.Helper()
	b := topology.NewBuilder()
	left := topology.Stream(b, "left", topology.String(), topology.String())
	right := topology.Stream(b, "right", topology.String(), topology.String())
	left.Merge(right).Foreach(func(k, _ string) { *order = append(*order, k) })
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

func TestTaskWaitsForEmptyInputWithData(t *testing.T) {
	var order []string
	clock := &fakeClock{now: time.UnixMilli(1_000_000)}
	task := etTask(t, mergeTopology(t, &order), newLCBroker(), func(c *partition.Config) {
		c.WaitForInputs, c.MaxTaskIdle, c.Clock = true, 0, clock.Now
	})
	l, r := state.TopicPartition{Topic: "left"}, state.TopicPartition{Topic: "right"}
	if !task.NeedsFetchedLags() {
		t.Fatal("a two-input task with idling on does not ask for lags")
	}
	task.AddRecords(l, []*kgo.Record{rec("left", 0, 20, "L20", ""), rec("left", 1, 40, "L40", "")})
	task.UpdateFetchedLag(l, 0)
	// right's lag is unknown: wait for the fetcher.
	if n, err := task.Process(10); err != nil || n != 0 || !task.WaitingForInput() {
		t.Fatalf("Process = %d, %v, waiting %v; want nothing processed while right's lag is unknown", n, err, task.WaitingForInput())
	}
	if got := task.StarvedInputs(); !reflect.DeepEqual(got, []state.TopicPartition{r}) {
		t.Fatalf("starved %v", got)
	}
	if !task.WantsWallClockTicks() {
		t.Fatal("a waiting task wants no ticks")
	}
	// Data on the broker for right: still wait.
	task.UpdateFetchedLag(r, 2)
	if n, _ := task.Process(10); n != 0 {
		t.Fatalf("processed %d while right has data on the broker", n)
	}
	// Two of them arrive, one more is on the broker: strict timestamp order
	// across both inputs, then a wait for the third.
	task.AddRecords(r, []*kgo.Record{rec("right", 0, 10, "R10", ""), rec("right", 1, 30, "R30", "")})
	task.UpdateFetchedLag(r, 1)
	if n, err := task.Process(10); err != nil || n != 3 || !task.WaitingForInput() {
		t.Fatalf("Process = %d, %v, waiting %v; want 3, then a wait for right", n, err, task.WaitingForInput())
	}
	// The fetcher finds right caught up: with max idle 0, L40 goes at once.
	task.UpdateFetchedLag(r, 0)
	if n, _ := task.Process(10); n != 1 || task.WaitingForInput() {
		t.Fatalf("Process = %d, waiting %v", n, task.WaitingForInput())
	}
	if want := []string{"R10", "L20", "R30", "L40"}; !reflect.DeepEqual(order, want) {
		t.Fatalf("order %v, want %v", order, want)
	}
}

func TestTaskMaxTaskIdle(t *testing.T) {
	var order []string
	clock := &fakeClock{now: time.UnixMilli(1_000_000)}
	task := etTask(t, mergeTopology(t, &order), newLCBroker(), func(c *partition.Config) {
		c.WaitForInputs, c.MaxTaskIdle, c.Clock = true, 200*time.Millisecond, clock.Now
	})
	l, r := state.TopicPartition{Topic: "left"}, state.TopicPartition{Topic: "right"}
	task.UpdateFetchedLag(l, 0)
	task.UpdateFetchedLag(r, 0)
	task.AddRecords(l, []*kgo.Record{rec("left", 0, 20, "L20", "")})
	if n, _ := task.Process(10); n != 0 {
		t.Fatalf("processed %d at once; want a wait of 200ms for right", n)
	}
	clock.Advance(199 * time.Millisecond)
	if n, _ := task.Process(10); n != 0 {
		t.Fatalf("processed %d after 199ms", n)
	}
	clock.Advance(time.Millisecond)
	if n, _ := task.Process(10); n != 1 {
		t.Fatalf("processed %d after 200ms, want 1", n)
	}
}

func TestTaskNeverWaitsWithoutIdling(t *testing.T) {
	var order []string
	task := etTask(t, mergeTopology(t, &order), newLCBroker(), nil)
	if task.NeedsFetchedLags() {
		t.Fatal("lags asked for with idling off")
	}
	task.AddRecords(state.TopicPartition{Topic: "left"}, []*kgo.Record{rec("left", 0, 20, "L20", "")})
	if n, _ := task.Process(10); n != 1 || task.WaitingForInput() {
		t.Fatalf("processed %d; want 1 at once", n)
	}
}

// streamTicker forwards nothing; it notes the stream times at which its
// stream-time punctuator fired.
type streamTicker struct {
	fired *[]int64
}

func (p *streamTicker) Init(ctx topology.ProcessorContext[string, string]) error {
	_, err := ctx.Schedule(time.Second, topology.StreamTime, func(ts int64) error {
		*p.fired = append(*p.fired, ts)
		return nil
	})
	return err
}
func (p *streamTicker) Process(topology.Record[string, string]) error { return nil }
func (p *streamTicker) Close() error                                  { return nil }

func TestTaskIdleStreamTimeAdvance(t *testing.T) {
	var fired []int64
	b := topology.NewBuilder()
	topology.Process(topology.Stream(b, "in", topology.String(), topology.String()),
		func() topology.Processor[string, string, string, string] { return &streamTicker{fired: &fired} })
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{now: time.UnixMilli(1_000_000)}
	task := etTask(t, topo, newLCBroker(), func(c *partition.Config) {
		c.IdleStreamTimeAdvance, c.Clock = 5*time.Second, clock.Now
	})
	if !task.WantsWallClockTicks() {
		t.Fatal("idle advance on, but no ticks wanted")
	}
	// No record yet: stream time unknown, nothing moves.
	clock.Advance(time.Minute)
	if err := task.AdvanceIdleStreamTime(clock.now); err != nil || task.StreamTime() != -1 {
		t.Fatalf("stream time %d, %v before any record", task.StreamTime(), err)
	}
	task.AddRecords(state.TopicPartition{Topic: "in"}, []*kgo.Record{rec("in", 0, 10_000, "k", "")})
	if _, err := task.Process(10); err != nil {
		t.Fatal(err)
	}
	if want := []int64{10_000}; !reflect.DeepEqual(fired, want) {
		t.Fatalf("fired at %v, want %v", fired, want)
	}
	clock.Advance(4999 * time.Millisecond)
	if err := task.AdvanceIdleStreamTime(clock.now); err != nil || task.StreamTime() != 10_000 {
		t.Fatalf("stream time %d, %v after 4.999s idle; want it unmoved", task.StreamTime(), err)
	}
	clock.Advance(time.Millisecond)
	if err := task.AdvanceIdleStreamTime(clock.now); err != nil || task.StreamTime() != 15_000 {
		t.Fatalf("stream time %d, %v after 5s idle; want 15000", task.StreamTime(), err)
	}
	clock.Advance(2 * time.Second)
	if err := task.AdvanceIdleStreamTime(clock.now); err != nil || task.StreamTime() != 17_000 {
		t.Fatalf("stream time %d, %v after 7s idle; want 17000", task.StreamTime(), err)
	}
	if want := []int64{10_000, 15_000, 17_000}; !reflect.DeepEqual(fired, want) {
		t.Fatalf("fired at %v, want %v", fired, want)
	}
	// A record older than stream time does not move it back, and restarts
	// the idle count from its processing.
	task.AddRecords(state.TopicPartition{Topic: "in"}, []*kgo.Record{rec("in", 1, 12_000, "k", "")})
	if _, err := task.Process(10); err != nil {
		t.Fatal(err)
	}
	clock.Advance(4 * time.Second)
	if err := task.AdvanceIdleStreamTime(clock.now); err != nil || task.StreamTime() != 17_000 {
		t.Fatalf("stream time %d, %v", task.StreamTime(), err)
	}
	clock.Advance(2 * time.Second)
	if err := task.AdvanceIdleStreamTime(clock.now); err != nil || task.StreamTime() != 23_000 {
		t.Fatalf("stream time %d, %v after 6s idle; want 17000+6000", task.StreamTime(), err)
	}
}

func TestTaskStreamTimeFromCommitPoint(t *testing.T) {
	ctx := context.Background()
	br := newLCBroker()
	task := lcTask(t, countTopology(t), br, t.TempDir(), topology.EngineMemory)
	if err := task.Initialize(ctx, partition.CommitPoint{}); err != nil {
		t.Fatal(err)
	}
	in := state.TopicPartition{Topic: "in"}
	task.AddRecords(in, []*kgo.Record{rec("in", 0, 77, "a", "")})
	if _, err := task.Process(10); err != nil {
		t.Fatal(err)
	}
	var meta string
	oc := committerFunc(func(_ map[state.TopicPartition]int64, m map[state.TopicPartition]string) { meta = m[in] })
	if err := task.Commit(ctx, oc); err != nil {
		t.Fatal(err)
	}
	task.Close(false) // a crash: no checkpoint
	md, err := partition.DecodeCommitMetadata(meta)
	if err != nil || md.StreamTime != 77 || md.StorePositions[0] != 1 {
		t.Fatalf("metadata %q decodes to %+v, %v", meta, md, err)
	}
	cp, err := partition.NewCommitPoint(map[state.TopicPartition]partition.CommittedOffset{in: {Offset: 1, Metadata: meta}})
	if err != nil {
		t.Fatal(err)
	}
	again := lcTask(t, countTopology(t), br, t.TempDir(), topology.EngineMemory)
	if err := again.Initialize(ctx, cp); err != nil {
		t.Fatal(err)
	}
	defer again.Close(false)
	if again.StreamTime() != 77 {
		t.Fatalf("stream time %d after an unclean restart, want 77 from the commit", again.StreamTime())
	}
}

type committerFunc func(map[state.TopicPartition]int64, map[state.TopicPartition]string)

func (f committerFunc) CommitOffsets(_ context.Context, o map[state.TopicPartition]int64, m map[state.TopicPartition]string) error {
	f(o, m)
	return nil
}

func TestCommitMetadataFormat(t *testing.T) {
	pos := map[state.TopicPartition]int64{{Topic: "app-s-changelog", Partition: 3}: 9}
	meta := partition.EncodeCommitMetadata(partition.CommitMetadata{Positions: pos, StreamTime: 1234})
	if meta != "eddy/1;app-s-changelog 3 9;~streamtime 0 1234" {
		t.Fatalf("metadata %q", meta)
	}
	// Metadata written before stream time was stored reads as unknown.
	old, err := partition.DecodeCommitMetadata("eddy/1;app-s-changelog 3 9")
	if err != nil || old.StreamTime != state.UnknownStreamTime || !reflect.DeepEqual(old.Positions, pos) {
		t.Fatalf("old metadata: %+v, %v", old, err)
	}
	if m := partition.EncodeCommitMetadata(partition.CommitMetadata{StreamTime: state.UnknownStreamTime}); m != "" {
		t.Fatalf("nothing to store gives %q", m)
	}
	only, err := partition.DecodeCommitMetadata(partition.EncodeCommitMetadata(partition.CommitMetadata{StreamTime: 5}))
	if err != nil || only.StreamTime != 5 || only.Positions != nil {
		t.Fatalf("stream time only: %+v, %v", only, err)
	}
	if other, err := partition.DecodeCommitMetadata("someone else's"); err != nil || other.StreamTime != -1 {
		t.Fatalf("foreign metadata: %+v, %v", other, err)
	}
}
