package bench

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/eddystreams/eddy/bench/workload"
	"github.com/eddystreams/eddy/cluster"
	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/state"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The per-record hot path, measured on the real task code (package
// partition): queues, stream time, the processor chain, serdes, stores,
// change-logging and the record collector. Kafka is replaced by a producer
// that acknowledges every record at once and a changelog reader with
// nothing to restore, so what is left is Eddy's own work per record.
//
// The streamtest driver is not used here: it copies every record it is fed
// and keeps every output in memory, which would be measured too.
//
// One benchmark op is one input record, so ns/op and allocs/op are per
// record.

// discardProducer acknowledges every record at once, as a broker that
// never fails and never makes anyone wait.
type discardProducer struct{ next int64 }

func (p *discardProducer) Produce(_ context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	r.Offset = p.next
	p.next++
	if promise != nil {
		promise(r, nil)
	}
}

// emptyChangelogs has nothing to restore.
type emptyChangelogs struct{}

func (emptyChangelogs) Restore(_ context.Context, _ state.TopicPartition, from, _ int64, _ func([]*kgo.Record) error) (int64, error) {
	return from, nil
}

const benchBatch = 1024

// benchTask runs one task of topo's first sub-topology on partition 0 of
// "in" and feeds it batches of recs over and over, b.N records in all.
func benchTask(b *testing.B, topo *topology.Topology, engine topology.Engine, recs []*kgo.Record) {
	b.Helper()
	benchTaskWith(b, topo, engine, recs, nil)
}

// benchTaskWith is benchTask with the task's configuration changed by
// configure first.
func benchTaskWith(b *testing.B, topo *topology.Topology, engine topology.Engine, recs []*kgo.Record, configure func(*partition.Config)) {
	b.Helper()
	cfg := partition.Config{
		ApplicationID: "hotpath",
		ID:            topology.TaskID{Subtopology: 0, Partition: 0},
		Subtopology:   topo.Subtopologies[0],
		Inputs:        []state.TopicPartition{{Topic: "in", Partition: 0}},
		Dir:           b.TempDir(),
		DefaultEngine: engine,
		Producer:      &discardProducer{},
		Partitions:    func(string) (int32, error) { return 8, nil },
		Changelogs:    emptyChangelogs{},
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if configure != nil {
		configure(&cfg)
	}
	t, err := partition.NewTask(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer t.Close(false)
	if err := t.Initialize(context.Background(), partition.CommitPoint{}); err != nil {
		b.Fatal(err)
	}
	if err := t.ConfirmOwnership(context.Background(), nil); err != nil { // starts the ownership lease
		b.Fatal(err)
	}
	tp := state.TopicPartition{Topic: "in", Partition: 0}
	// Warm the store and the chain up outside the timer.
	for i := 0; i < 4; i++ {
		feed(b, t, tp, recs)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for done := 0; done < b.N; {
		n := min(len(recs), b.N-done)
		feed(b, t, tp, recs[:n])
		done += n
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/record")
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/record")
}

func feed(b *testing.B, t *partition.Task, tp state.TopicPartition, recs []*kgo.Record) {
	if !t.AddRecords(tp, recs) {
		b.Fatal("task refused records")
	}
	if n, err := t.Process(len(recs)); err != nil || n != len(recs) {
		b.Fatalf("processed %d of %d: %v", n, len(recs), err)
	}
}

// inputRecords makes benchBatch records as the benchmarks' input:
// "k0012345" keys among keys distinct ones and 100-byte values.
func inputRecords(keys int) []*kgo.Record {
	recs := make([]*kgo.Record, benchBatch)
	ts := time.UnixMilli(1_700_000_000_000)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: "in", Partition: 0, Offset: int64(i),
			Key: workload.Key((i * 7919) % keys), Value: workload.Value(ts.UnixMicro(), i, uint64(i)), Timestamp: ts}
	}
	return recs
}

func statelessTopology(b *testing.B, mapper func([]byte) []byte) *topology.Topology {
	bl := topology.NewBuilder()
	kept := topology.Stream(bl, "in", topology.String(), topology.Bytes()).
		Filter(func(_ string, v []byte) bool { return workload.Keep(v) })
	topology.MapValues(kept, func(_ string, v []byte) []byte { return mapper(v) }).To("out")
	topo, err := bl.Build()
	if err != nil {
		b.Fatal(err)
	}
	return topo
}

func countTopology(b *testing.B) *topology.Topology {
	bl := topology.NewBuilder()
	topology.Stream(bl, "in", topology.String(), topology.Bytes()).
		GroupByKey().Count(topology.Named(workload.CountStore)).ToStream().To("out")
	topo, err := bl.Build()
	if err != nil {
		b.Fatal(err)
	}
	return topo
}

// BenchmarkHotPathStateless is the stateless workload's chain: source (string key,
// bytes value) → filter → mapValues(upper-case, a new 100-byte value) →
// sink. The mapping's own allocation is the user's, one per kept record.
func BenchmarkHotPathStateless(b *testing.B) {
	benchTask(b, statelessTopology(b, workload.Upper), topology.EngineMemory, inputRecords(workload.Keys))
}

// BenchmarkHotPathStatelessLeases is BenchmarkHotPathStateless with the
// leases an App's task checks before every record under at-least-once: the
// task's ownership lease and the node's cluster lease (both far from running
// out here, so that only the checks are measured).
func BenchmarkHotPathStatelessLeases(b *testing.B) {
	node := cluster.NewLease(time.Hour)
	node.Renew(time.Now())
	benchTaskWith(b, statelessTopology(b, workload.Upper), topology.EngineMemory, inputRecords(workload.Keys), func(c *partition.Config) {
		c.OwnershipLease = time.Hour
		c.NodeLease = node
	})
}

// BenchmarkHotPathStatelessIdentity is the same chain with a mapping that returns
// its input: what is left is Eddy's own cost per record.
func BenchmarkHotPathStatelessIdentity(b *testing.B) {
	benchTask(b, statelessTopology(b, func(v []byte) []byte { return v }), topology.EngineMemory, inputRecords(workload.Keys))
}

// BenchmarkHotPathCountRocksDB is the count workload: source → count by key in
// RocksDB with its changelog → sink of the new count.
func BenchmarkHotPathCountRocksDB(b *testing.B) {
	benchTask(b, countTopology(b), topology.EngineRocksDB, inputRecords(workload.Keys))
}

// BenchmarkHotPathCountMemory is the count on the in-memory engine, to tell the
// store's share from the rest.
func BenchmarkHotPathCountMemory(b *testing.B) {
	benchTask(b, countTopology(b), topology.EngineMemory, inputRecords(workload.Keys))
}
