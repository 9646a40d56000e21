package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"syscall"
	"testing"
	"time"

	"github.com/eddystreams/eddy/examples/wordcount"
	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/state"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The word count's two tasks on the real task code, Kafka replaced as in
// hotpath_test.go: task 0 of sub-topology 0 splits lines into words and
// sends them to the repartition topic; the records it sent to partition 0
// of that topic are fed to task 0 of sub-topology 1, which counts them in
// RocksDB with its changelog and sends every count. One op is one line (ten
// words, of which about an eighth reach the counting task: the others go
// to the other seven partitions, as on a node running one of eight).
//
// cpu-ns/line is the process's CPU time (user and system, all threads,
// RocksDB's too) per line: on a shared machine it varies less than the
// wall clock.
//
//	go test -run - -bench HotPathWordCount -benchtime 20000x ./bench/

// captureProducer acknowledges at once and keeps the records sent to one
// topic.
type captureProducer struct {
	next  int64
	topic string
	kept  []*kgo.Record
}

func (p *captureProducer) Produce(_ context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	r.Offset = p.next
	p.next++
	if r.Topic == p.topic && r.Partition == 0 {
		p.kept = append(p.kept, r)
	}
	if promise != nil {
		promise(r, nil)
	}
}

func newHotTask(b *testing.B, st *topology.Subtopology, input string, prod partition.Producer) *partition.Task {
	b.Helper()
	t, err := partition.NewTask(partition.Config{
		ApplicationID: "hotwc",
		ID:            topology.TaskID{Subtopology: st.ID, Partition: 0},
		Subtopology:   st,
		Inputs:        []state.TopicPartition{{Topic: input, Partition: 0}},
		Dir:           b.TempDir(),
		DefaultEngine: topology.EngineRocksDB,
		Producer:      prod,
		Partitions:    func(string) (int32, error) { return wcPartitions, nil },
		Changelogs:    emptyChangelogs{},
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { t.Close(false) })
	if err := t.Initialize(context.Background(), partition.CommitPoint{}); err != nil {
		b.Fatal(err)
	}
	return t
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// taskChunk is the task actor's chunk: records per Process call.
const taskChunk = 500

func BenchmarkHotPathWordCount(b *testing.B) {
	topo, err := wordcount.Topology("lines", "counts")
	if err != nil {
		b.Fatal(err)
	}
	if len(topo.Subtopologies) != 2 {
		b.Fatalf("word count has %d sub-topologies, want 2", len(topo.Subtopologies))
	}
	repart := topo.Subtopologies[1].Sources[0].FullName("hotwc")
	split := &captureProducer{topic: repart}
	splitter := newHotTask(b, topo.Subtopologies[0], "lines", split)
	counter := newHotTask(b, topo.Subtopologies[1], repart, &discardProducer{})
	lines := wcText()
	recs := make([]*kgo.Record, len(lines))
	ts := time.UnixMilli(1_700_000_000_000)
	for i, l := range lines {
		recs[i] = &kgo.Record{Topic: "lines", Offset: int64(i), Value: []byte(l), Timestamp: ts}
	}
	in := state.TopicPartition{Topic: "lines"}
	mid := state.TopicPartition{Topic: repart}
	var next int64
	run := func(n int) {
		for done := 0; done < n; {
			c := min(taskChunk, n-done)
			batch := make([]*kgo.Record, c)
			for j := range batch {
				r := *recs[(done+j)%len(recs)]
				r.Offset = next
				next++
				batch[j] = &r
			}
			feedChunks(b, splitter, in, batch)
			feedChunks(b, counter, mid, split.kept)
			split.kept = split.kept[:0]
			done += c
		}
	}
	run(20_000) // warm up: every word in the store
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	run(b.N)
	b.StopTimer()
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/line")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/line")
}

// feedChunks adds recs to t and processes them taskChunk at a time, as the
// task actor does.
func feedChunks(b *testing.B, t *partition.Task, tp state.TopicPartition, recs []*kgo.Record) {
	if len(recs) == 0 {
		return
	}
	if !t.AddRecords(tp, recs) {
		b.Fatal("task refused records")
	}
	for t.Buffered() > 0 {
		if _, err := t.Process(taskChunk); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHotPathCountRocksDBSpread is BenchmarkHotPathCountRocksDB with
// the keys of one task of eight in the count workload (12,500 of its
// 100,000), fed 500 records per Process call as the task actor does: more
// keys than a store buffers (rocksdb_chunk.go), so its buffer is applied
// to RocksDB every few chunks and most reads go to RocksDB.
func BenchmarkHotPathCountRocksDBSpread(b *testing.B) {
	const keys = 12_500
	recs := make([]*kgo.Record, 8*keys)
	ts := time.UnixMilli(1_700_000_000_000)
	for i := range recs {
		k := (i * 7919) % keys
		recs[i] = &kgo.Record{Topic: "in", Offset: int64(i), Key: []byte(fmt.Sprintf("k%07d", k)), Value: make([]byte, 100), Timestamp: ts}
	}
	t := newHotTask(b, countTopology(b).Subtopologies[0], "in", &discardProducer{})
	tp := state.TopicPartition{Topic: "in"}
	var next int64
	run := func(n int) {
		for done := 0; done < n; {
			c := min(len(recs), n-done)
			batch := make([]*kgo.Record, c)
			for j := range batch {
				r := *recs[j]
				r.Offset = next
				next++
				batch[j] = &r
			}
			feedChunks(b, t, tp, batch)
			done += c
		}
	}
	run(len(recs))
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	run(b.N)
	b.StopTimer()
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/record")
}
