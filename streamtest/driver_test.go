package streamtest_test

import (
	"errors"
	"github.com/eddystreams/eddy"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/streamtest"
	"github.com/eddystreams/eddy/topology"
)

func passThrough(b *topology.Builder) {
	topology.Stream(b, "in", topology.String(), topology.String()).To("out")
}

func wordCount(b *topology.Builder) {
	lines := topology.Stream(b, "lines", topology.String(), topology.String())
	words := topology.FlatMapValues(lines, func(_ string, l string) []string { return strings.Fields(l) })
	topology.GroupBy(words, func(_ string, w string) string { return w }).Count(topology.Named("counts")).ToStream().To("counts-out")
}

func TestRecordsAreProcessedInWriteOrderAcrossPartitions(t *testing.T) {
	// "a" and "b" hash to different partitions of the repartition topic;
	// the words are counted in the order they were written all the same.
	d := newDriver(t, build(t, wordCount), streamtest.WithPartitions(3))
	if partition.KeyPartition([]byte("a"), 3) == partition.KeyPartition([]byte("b"), 3) {
		t.Fatal("a and b share a partition: pick other words")
	}
	in := streamtest.CreateInputTopic(d, "lines", topology.String(), topology.String())
	out := streamtest.CreateOutputTopic(d, "counts-out", topology.String(), topology.Int64())
	must(t, in.Pipe("", "a b a"))
	expectPairs(t, out, kv("a", int64(1)), kv("b", int64(1)), kv("a", int64(2)))
}

func TestNewRejectsBadOptions(t *testing.T) {
	topo := build(t, passThrough)
	for name, opt := range map[string]streamtest.Option{
		"empty app id":    eddy.WithApplicationID(""),
		"zero partitions": streamtest.WithPartitions(0),
		"topic partition": streamtest.WithTopicPartitions("in", -1),
		"engine":          eddy.WithDefaultStoreEngine(topology.Engine(42)),
		"handler":         eddy.WithDeserializationErrorHandler(partition.ErrorHandler{Action: 9}),
		"logger":          eddy.WithLogger(nil),
	} {
		if d, err := streamtest.New(topo, opt); err == nil {
			d.Close()
			t.Errorf("%s: New accepted it", name)
		}
	}
	if _, err := streamtest.New(nil); err == nil {
		t.Error("New(nil) accepted")
	}
	// The application id names topics and the state directory.
	for id, want := range map[string]string{
		"a/b": `application id "a/b" has '/'`,
		"..":  `application id ".." is not allowed`,
	} {
		d, err := streamtest.New(topo, eddy.WithApplicationID(id))
		if err == nil {
			d.Close()
			t.Errorf("New accepted application id %q", id)
		} else if !strings.Contains(err.Error(), want) {
			t.Errorf("application id %q: %v, want %q in it", id, err, want)
		}
	}
}

func TestPipeToUnknownTopic(t *testing.T) {
	d := newDriver(t, build(t, passThrough))
	err := d.PipeInput("nope", []byte("k"), []byte("v"), 0)
	if err == nil || !strings.Contains(err.Error(), `"nope" is not an input`) || !strings.Contains(err.Error(), "inputs: in") {
		t.Fatalf("PipeInput to an unknown topic: %v", err)
	}
	// Output topics are not inputs either.
	if err := d.PipeInput("out", nil, nil, 0); err == nil {
		t.Fatal("PipeInput to an output topic accepted")
	}
}

func TestWallClockStampsPipedRecords(t *testing.T) {
	start := time.UnixMilli(1_700_000_000_000)
	d := newDriver(t, build(t, passThrough), streamtest.WithStartTime(start))
	if got := d.WallClock(); !got.Equal(start) {
		t.Fatalf("wall clock %v, want %v", got, start)
	}
	in := streamtest.CreateInputTopic(d, "in", topology.String(), topology.String())
	must(t, in.Pipe("a", "1"))
	must(t, d.AdvanceWallClock(1500*time.Millisecond))
	must(t, in.Pipe("b", "2"))
	must(t, in.PipeAt("c", "3", 7))
	if err := d.AdvanceWallClock(-time.Second); err == nil {
		t.Fatal("the wall clock went back")
	}
	if got, want := d.WallClock(), start.Add(1500*time.Millisecond); !got.Equal(want) {
		t.Fatalf("wall clock %v, want %v", got, want)
	}
	rs, err := streamtest.CreateOutputTopic(d, "out", topology.String(), topology.String()).ReadAll()
	must(t, err)
	var ts []int64
	for _, r := range rs {
		ts = append(ts, r.Timestamp)
	}
	if want := []int64{1_700_000_000_000, 1_700_000_001_500, 7}; !reflect.DeepEqual(ts, want) {
		t.Fatalf("timestamps %v, want %v", ts, want)
	}
}

func TestInputIsPartitionedByKey(t *testing.T) {
	const parts = 4
	d := newDriver(t, build(t, passThrough), streamtest.WithPartitions(parts))
	in := streamtest.CreateInputTopic(d, "in", topology.String(), topology.String())
	keys := []string{"a", "b", "c", "hello", "kafka", "eddy", "word", "the"}
	for _, k := range keys {
		must(t, in.Pipe(k, k))
	}
	// A pass-through task writes to the output partition of the same key,
	// so the output shows where each input went.
	out := streamtest.CreateOutputTopic(d, "out", topology.String(), topology.String())
	used := map[int32]bool{}
	for _, k := range keys {
		r, err := out.ReadRawRecord()
		must(t, err)
		if string(r.Key) != k {
			t.Fatalf("read key %q, want %q", r.Key, k)
		}
		if want := partition.KeyPartition([]byte(k), parts); r.Partition != want {
			t.Errorf("key %q in partition %d, want %d", k, r.Partition, want)
		}
		used[r.Partition] = true
	}
	if len(used) < 2 {
		t.Fatalf("all keys in partitions %v", used)
	}
	// Known values of Kafka's default partitioner over 4 partitions.
	for k, want := range map[string]int32{"a": 0, "hello": 1, "kafka": 0, "word": 3} {
		if got := partition.KeyPartition([]byte(k), parts); got != want {
			t.Errorf("partition of %q = %d, want %d", k, got, want)
		}
	}
}

func TestNullKeysGoRoundRobin(t *testing.T) {
	d := newDriver(t, build(t, func(b *topology.Builder) {
		topology.Stream(b, "in", topology.Bytes(), topology.String()).To("out")
	}), streamtest.WithPartitions(3))
	for range 4 {
		must(t, d.PipeInput("in", nil, []byte("v"), 0))
	}
	must(t, d.Commit())
	for p, want := range map[int32]int64{0: 2, 1: 1, 2: 1} {
		if o, _ := d.Committed("in", p); o != want {
			t.Errorf("partition %d: committed %d, want %d records", p, o, want)
		}
	}
}

func TestCommitTracksOffsets(t *testing.T) {
	d := newDriver(t, build(t, wordCount), streamtest.WithPartitions(2))
	if _, ok := d.Committed("lines", 0); ok {
		t.Fatal("committed before any commit")
	}
	lines := streamtest.CreateInputTopic(d, "lines", topology.String(), topology.String())
	must(t, lines.Pipe("k", "x y z"))
	must(t, d.Commit())
	p := partition.KeyPartition([]byte("k"), 2)
	if o, ok := d.Committed("lines", p); !ok || o != 1 {
		t.Fatalf("lines-%d committed %d, %v; want 1", p, o, ok)
	}
	// The repartition topic's offsets are committed too: three words.
	var sum int64
	for q := int32(0); q < 2; q++ {
		o, _ := d.Committed("streamtest-counts-repartition", q)
		sum += o
	}
	if sum != 3 {
		t.Fatalf("repartition offsets sum to %d, want 3", sum)
	}
}

func TestTopicPartitionsAndLayout(t *testing.T) {
	// The repartition topic (and so the counting tasks) take the count of
	// the widest input of the sub-topology writing it.
	d := newDriver(t, build(t, func(b *topology.Builder) {
		a := topology.Stream(b, "a", topology.String(), topology.String())
		c := topology.Stream(b, "c", topology.String(), topology.String())
		topology.GroupBy(a.Merge(c), func(_, v string) string { return v }).Count(topology.Named("n"))
	}), streamtest.WithTopicPartitions("a", 2), streamtest.WithTopicPartitions("c", 5))
	if got := d.Partitions("streamtest-n-repartition"); got != 5 {
		t.Fatalf("repartition partitions %d, want 5", got)
	}
	if got := d.Partitions("streamtest-n-changelog"); got != 5 {
		t.Fatalf("changelog partitions %d, want 5", got)
	}
	if got := len(d.TaskIDs()); got != 10 {
		t.Fatalf("%d tasks, want 5 + 5", got)
	}
	if got := d.Partitions("anything-else"); got != 1 {
		t.Fatalf("other topics have %d partitions, want the default 1", got)
	}
	in := streamtest.CreateInputTopic(d, "c", topology.String(), topology.String())
	must(t, in.PipeKeyValues(kv("1", "x"), kv("2", "x"), kv("3", "y")))
	m, err := streamtest.StoreToMap(streamtest.ReadStore(d, "n", topology.String(), topology.Int64()))
	must(t, err)
	if want := map[string]int64{"x": 2, "y": 1}; !reflect.DeepEqual(m, want) {
		t.Fatalf("counts %v, want %v", m, want)
	}
}

func TestApplicationIDNamesInternalTopics(t *testing.T) {
	d := newDriver(t, build(t, wordCount), eddy.WithApplicationID("wc"))
	must(t, streamtest.CreateInputTopic(d, "lines", topology.String(), topology.String()).Pipe("", "hi"))
	want := []string{"counts-out", "wc-counts-changelog", "wc-counts-repartition"}
	if got := d.ProducedTopics(); !reflect.DeepEqual(got, want) {
		t.Fatalf("produced %v, want %v", got, want)
	}
	if _, err := os.Stat(filepath.Join(d.StateDir(), "wc", "1_0")); err != nil {
		t.Fatalf("task state dir: %v", err)
	}
}

func TestOutputTopicReading(t *testing.T) {
	d := newDriver(t, build(t, func(b *topology.Builder) {
		topology.Stream(b, "in", topology.String(), topology.Bytes()).To("out")
	}))
	out := streamtest.CreateOutputTopic(d, "out", topology.String(), topology.String())
	expectEmpty(t, out)
	if _, _, err := out.ReadKeyValue(); !errors.Is(err, streamtest.ErrNoRecord) {
		t.Fatalf("ReadKeyValue on empty: %v", err)
	}
	must(t, d.PipeInput("in", []byte("a"), []byte("1"), 0))
	must(t, d.PipeInput("in", []byte("b"), []byte("2"), 0))
	must(t, d.PipeInput("in", []byte("a"), nil, 0)) // tombstone
	must(t, d.PipeInput("in", []byte("c"), []byte("3"), 0))
	if got := out.QueueSize(); got != 4 {
		t.Fatalf("queue size %d, want 4", got)
	}
	v, err := out.ReadValue()
	must(t, err)
	if v != "1" {
		t.Fatalf("first value %q", v)
	}
	m, err := streamtest.ReadToMap(out)
	must(t, err)
	if want := map[string]string{"b": "2", "c": "3"}; !reflect.DeepEqual(m, want) {
		t.Fatalf("map %v, want %v (the tombstone removes a)", m, want)
	}
	expectEmpty(t, out)

	// Every reader has its own position.
	other := streamtest.CreateOutputTopic(d, "out", topology.String(), topology.String())
	vs, err := other.ReadValues()
	must(t, err)
	if want := []string{"1", "2", "", "3"}; !reflect.DeepEqual(vs, want) {
		t.Fatalf("values %q, want %q", vs, want)
	}
}

func TestOutputDecodeError(t *testing.T) {
	d := newDriver(t, build(t, passThrough))
	must(t, d.PipeInput("in", []byte("k"), []byte("not8"), 0))
	out := streamtest.CreateOutputTopic(d, "out", topology.String(), topology.Int64())
	_, err := out.ReadRecord()
	if err == nil || !strings.Contains(err.Error(), "out-0@0: value") {
		t.Fatalf("decode error %v", err)
	}
	// The bad record is passed over.
	expectEmpty(t, out)
}

func TestReadStoreErrors(t *testing.T) {
	d := newDriver(t, build(t, counter))
	if _, _, err := streamtest.ReadStore(d, "nope", topology.String(), topology.Int64()).Get("a"); err == nil || !strings.Contains(err.Error(), `no store "nope"`) {
		t.Fatalf("Get of an unknown store: %v", err)
	}
	if _, err := streamtest.ReadStore(d, "nope", topology.String(), topology.Int64()).All(); err == nil {
		t.Fatal("All of an unknown store: no error")
	}
	pipeKeys(t, d, "a")
	// Reading with a wrong value serde fails with the store's name.
	if _, _, err := streamtest.ReadStore(d, "counts", topology.String(), topology.Int32()).Get("a"); err == nil || !strings.Contains(err.Error(), "store counts") {
		t.Fatalf("Get with a wrong serde: %v", err)
	}
}

func TestInputSerializeError(t *testing.T) {
	d := newDriver(t, build(t, func(b *topology.Builder) {
		topology.Stream(b, "in", topology.String(), topology.JSON[func()]()).To("out")
	}))
	err := streamtest.CreateInputTopic(d, "in", topology.String(), topology.JSON[func()]()).Pipe("k", func() {})
	if err == nil || !strings.Contains(err.Error(), "serialize value for in") {
		t.Fatalf("pipe of an unencodable value: %v", err)
	}
}

func TestPipeRecordsStopsAtFirstError(t *testing.T) {
	d := newDriver(t, build(t, longs))
	in := streamtest.CreateInputTopic(d, "in", topology.String(), topology.Bytes())
	err := in.PipeRecords(
		topology.Record[string, []byte]{Key: "a", Value: one},
		topology.Record[string, []byte]{Key: "b", Value: short},
		topology.Record[string, []byte]{Key: "c", Value: two},
	)
	if err == nil || !strings.HasPrefix(err.Error(), "record 1: ") {
		t.Fatalf("PipeRecords: %v", err)
	}
	expectPairs(t, streamtest.CreateOutputTopic(d, "out", topology.String(), topology.Int64()), kv("a", int64(1)))
}

func TestClosedDriver(t *testing.T) {
	d, err := streamtest.New(build(t, counter))
	must(t, err)
	dir := d.StateDir()
	pipeKeys(t, d, "a")
	must(t, d.Close())
	must(t, d.Close())
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the driver's own state dir survived Close: %v", err)
	}
	for name, err := range map[string]error{
		"PipeInput":        d.PipeInput("in", nil, nil, 0),
		"Commit":           d.Commit(),
		"Restart":          d.Restart(),
		"AdvanceWallClock": d.AdvanceWallClock(time.Second),
	} {
		if !errors.Is(err, streamtest.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
	if _, _, err := streamtest.ReadStore(d, "counts", topology.String(), topology.Int64()).Get("a"); !errors.Is(err, streamtest.ErrClosed) {
		t.Errorf("store Get after Close: %v", err)
	}
	// Output topics stay readable.
	if got := streamtest.CreateOutputTopic(d, "out", topology.String(), topology.Int64()).QueueSize(); got != 1 {
		t.Errorf("output after Close: %d records, want 1", got)
	}
}

func TestGivenStateDirIsKept(t *testing.T) {
	dir := t.TempDir()
	d, err := streamtest.New(build(t, counter), eddy.WithStateDir(dir), eddy.WithDefaultStoreEngine(topology.EngineRocksDB))
	must(t, err)
	pipeKeys(t, d, "a")
	must(t, d.Close())
	if _, err := os.Stat(filepath.Join(dir, "streamtest", "0_0", ".checkpoint")); err != nil {
		t.Fatalf("checkpoint of a clean close: %v", err)
	}
}
