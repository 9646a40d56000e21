package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/bench/workload"
	"github.com/eddystreams/eddy/internal/kafkatest"
	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/state"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Stream–stream join throughput: two input topics of 8 partitions, records
// of the benchmarks' shape (keys "k" + 7 digits among sjKeys, 100-byte
// values), 10 records per millisecond of event time on each side, joined
// within ±1 s (inner join, no grace): with 10,000 keys a key comes back
// every second on each side, so a record finds about two partners. The
// time is from Start to WaitIdle (every input record processed, every
// result sent and committed), as for word count; reported as input
// records/s (both sides) and results/s.
//
//	EDDY_KAFKA_BROKERS=127.0.0.1:19892 go test -run - -bench StreamJoinKafka -benchtime 1x ./bench/
//	go test -run - -bench 'HotPathStreamJoin' ./bench/

const (
	sjRecords    = 200_000 // per side
	sjKeys       = 10_000
	sjPartitions = 8
	sjPerMs      = 10
)

func streamJoinTopology(b *testing.B, left, right, out string) *topology.Topology {
	bl := topology.NewBuilder()
	l := topology.Stream(bl, left, topology.String(), topology.Bytes())
	r := topology.Stream(bl, right, topology.String(), topology.Bytes())
	topology.JoinStreams(l, r, workload.JoinValue, topology.JoinWindowsOf(time.Second, 0), topology.Named("sj")).To(out)
	topo, err := bl.Build()
	if err != nil {
		b.Fatal(err)
	}
	return topo
}

// sjRecord is record i of a side: keys cycle through sjKeys in a shuffled
// order, times advance by 1 ms every sjPerMs records.
func sjRecord(topic string, i int, seed uint64) *kgo.Record {
	ts := time.UnixMilli(1_700_000_000_000 + int64(i/sjPerMs))
	return &kgo.Record{Topic: topic, Key: workload.Key((i*7919 + int(seed)) % sjKeys),
		Value: workload.Value(ts.UnixMicro(), i, uint64(i)+seed), Timestamp: ts}
}

func BenchmarkStreamJoinKafka(b *testing.B) {
	brokers := kafkatest.RealBrokers(b)
	for i := 0; i < b.N; i++ {
		suffix := fmt.Sprintf("%d-%d", time.Now().UnixMilli(), i)
		left, right, out := "sj-left-"+suffix, "sj-right-"+suffix, "sj-out-"+suffix
		group := "sj-bench-" + suffix
		app, err := eddy.New(streamJoinTopology(b, left, right, out), eddy.WithBrokers(brokers...),
			eddy.WithApplicationID(group), eddy.WithStateDir(b.TempDir()),
			eddy.WithCommitInterval(time.Second), eddy.WithLogger(quietLogger()))
		if err != nil {
			b.Fatal(err)
		}
		runStreamJoin(b, app, group, left, right, out)
	}
}

func runStreamJoin(b *testing.B, app *eddy.App, group, left, right, out string) {
	b.Helper()
	defer app.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	b.StopTimer()
	cl, err := kgo.NewClient(kgo.SeedBrokers(app.Brokers()...), kgo.ProducerLinger(20*time.Millisecond))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	for _, t := range []string{left, right, out} {
		resp, err := adm.CreateTopic(ctx, sjPartitions, -1, nil, t)
		if err == nil {
			err = resp.Err
		}
		if err != nil {
			b.Fatalf("create %s: %v", t, err)
		}
	}
	errc := make(chan error, 1)
	for i := range sjRecords {
		for side, topic := range []string{left, right} {
			cl.Produce(ctx, sjRecord(topic, i, uint64(side)), func(_ *kgo.Record, err error) {
				if err != nil {
					select {
					case errc <- err:
					default:
					}
				}
			})
		}
	}
	if err := cl.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	select {
	case err := <-errc:
		b.Fatal(err)
	default:
	}
	b.StartTimer()
	t0 := time.Now()
	if err := app.Start(ctx); err != nil {
		b.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 3*time.Minute)
	defer wcancel()
	if err := app.WaitIdle(wctx); err != nil {
		b.Fatalf("%v; %s", err, lagReport(ctx, adm, group, left, right))
	}
	d := time.Since(t0)
	b.StopTimer()
	ends, err := adm.ListEndOffsets(ctx, out)
	if err != nil {
		b.Fatal(err)
	}
	var results int64
	ends.Each(func(o kadm.ListedOffset) { results += o.Offset })
	b.ReportMetric(float64(2*sjRecords)/d.Seconds(), "records/s")
	b.ReportMetric(float64(results)/d.Seconds(), "results/s")
	b.ReportMetric(float64(results)/float64(2*sjRecords), "results/record")
	if err := app.Close(); err != nil {
		b.Fatal(err)
	}
	b.StartTimer()
}

// BenchmarkHotPathStreamJoin* run one task of the join on partition 0 of
// both inputs, records of the two sides alternating, no broker: the
// per-record cost of the join itself (two window stores with changelog
// writes, one range read per record).
func BenchmarkHotPathStreamJoinRocksDB(b *testing.B) {
	benchStreamJoinTask(b, topology.EngineRocksDB)
}

func BenchmarkHotPathStreamJoinMemory(b *testing.B) {
	benchStreamJoinTask(b, topology.EngineMemory)
}

func benchStreamJoinTask(b *testing.B, engine topology.Engine) {
	topo := streamJoinTopology(b, "left", "right", "out")
	inputs := []state.TopicPartition{{Topic: "left", Partition: 0}, {Topic: "right", Partition: 0}}
	t, err := partition.NewTask(partition.Config{
		ApplicationID: "hotpath",
		ID:            topology.TaskID{Subtopology: 0, Partition: 0},
		Subtopology:   topo.Subtopologies[0],
		Inputs:        inputs,
		Dir:           b.TempDir(),
		DefaultEngine: engine,
		Producer:      &discardProducer{},
		Partitions:    func(string) (int32, error) { return 8, nil },
		Changelogs:    emptyChangelogs{},
		Logger:        quietLogger(),
	})
	if err != nil {
		b.Fatal(err)
	}
	defer t.Close(false)
	if err := t.Initialize(context.Background(), partition.CommitPoint{}); err != nil {
		b.Fatal(err)
	}
	next := 0 // record index per side; times keep advancing across batches
	batch := func(n int) {
		recs := [2][]*kgo.Record{}
		for j := range n / 2 {
			for side, tp := range inputs {
				r := sjRecord(tp.Topic, next+j, uint64(side))
				r.Partition, r.Offset = 0, int64(next+j)
				recs[side] = append(recs[side], r)
			}
		}
		next += n / 2
		for side, tp := range inputs {
			if !t.AddRecords(tp, recs[side]) {
				b.Fatal("task refused records")
			}
		}
		if got, err := t.Process(2 * (n / 2)); err != nil || got != 2*(n/2) {
			b.Fatalf("processed %d of %d: %v", got, 2*(n/2), err)
		}
	}
	for range 20 { // fill the buffers: a key comes back every second
		batch(benchBatch)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += benchBatch {
		batch(benchBatch)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/record")
}

// lagReport lists the input partitions whose committed offset is short of
// their end, for a run that did not finish.
func lagReport(ctx context.Context, adm *kadm.Client, group string, topics ...string) string {
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return err.Error()
	}
	committed, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return err.Error()
	}
	var lag []string
	ends.Each(func(e kadm.ListedOffset) {
		c, _ := committed.Lookup(e.Topic, e.Partition)
		if c.At < e.Offset {
			lag = append(lag, fmt.Sprintf("%s-%d committed %d of %d", e.Topic, e.Partition, c.At, e.Offset))
		}
	})
	return fmt.Sprintf("behind: %v", lag)
}
