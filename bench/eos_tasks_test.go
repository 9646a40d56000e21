package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/examples/wordcount"
	"github.com/eddystreams/eddy/internal/kafkatest"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// What a commit costs as the number of tasks on one node grows: a
// pass-through topology (source → sink, bytes) over 8 and 64 input
// partitions, so one App runs 8 or 64 tasks, each with its own
// transactional producer under exactly-once. 200,000 records of 100 bytes
// are produced before the App starts; the time is from Start to WaitIdle.
// Reports records/s, commits/s (under exactly-once one commit is one
// transaction) and, with EDDY_BENCH_BROKER_PID, the broker's CPU time per
// record (see BenchmarkWordCountKafka).
//
//	EDDY_KAFKA_BROKERS=127.0.0.1:19092 go test -run - -bench ExactlyOnceTasks -benchtime 1x ./bench/
func BenchmarkExactlyOnceTasks(b *testing.B) {
	brokers := kafkatest.RealBrokers(b)
	const records = 200_000
	for _, tasks := range []int32{8, 64} {
		for _, g := range []eddy.Guarantee{eddy.AtLeastOnce, eddy.ExactlyOnce} {
			b.Run(fmt.Sprintf("tasks=%d/guarantee=%s", tasks, g), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					runPassThrough(b, brokers, tasks, g, records)
				}
			})
		}
	}
}

func runPassThrough(b *testing.B, brokers []string, partitions int32, g eddy.Guarantee, records int) {
	b.Helper()
	b.StopTimer()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	suffix := fmt.Sprintf("%d-%d", time.Now().UnixNano(), partitions)
	in, out := "eos-tasks-in-"+suffix, "eos-tasks-out-"+suffix
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ProducerLinger(20*time.Millisecond),
		kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	if err := wordcount.EnsureTopics(ctx, kadm.NewClient(cl), partitions, in, out); err != nil {
		b.Fatal(err)
	}
	value := make([]byte, 100)
	for i := 0; i < records; i++ {
		cl.Produce(ctx, &kgo.Record{Topic: in, Value: value}, nil)
	}
	if err := cl.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	bl := topology.NewBuilder()
	topology.Stream(bl, in, topology.Bytes(), topology.Bytes()).To(out)
	topo, err := bl.Build()
	if err != nil {
		b.Fatal(err)
	}
	app, err := eddy.New(topo, eddy.WithBrokers(brokers...), eddy.WithApplicationID("eos-tasks-"+suffix),
		eddy.WithStateDir(b.TempDir()), eddy.WithLogger(quietLogger()), eddy.WithProcessingGuarantee(g))
	if err != nil {
		b.Fatal(err)
	}
	defer app.Close()
	d, bcpu, haveBroker := timeStartToIdle(ctx, b, app)
	b.ReportMetric(float64(records)/d.Seconds(), "records/s")
	b.ReportMetric(float64(app.Metrics().Commits)/d.Seconds(), "commits/s")
	if haveBroker {
		b.ReportMetric(float64(bcpu.Microseconds())/float64(records), "broker-cpu-us/record")
	}
	if err := app.Close(); err != nil {
		b.Fatal(err)
	}
	b.StartTimer()
}
