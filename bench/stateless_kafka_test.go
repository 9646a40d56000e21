package bench

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/bench/workload"
	"github.com/eddystreams/eddy/internal/kafkatest"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The stateless workload on a real Kafka broker, Eddy and the raw franz-go
// pipe side by side in one process, so that the CPU time of each (this
// process's user and system time over the timed part, from getrusage) is
// measured the same way. Records are loaded before the timer starts; Eddy
// is timed from Start to WaitIdle (every record processed, sent and
// committed), the raw pipe from its first poll to its last record
// acknowledged and its offsets committed.
//
//	EDDY_KAFKA_BROKERS=127.0.0.1:19092 go test -run - -bench StatelessKafka -benchtime 1x ./bench/
//
// The raw pipe forwards every record unchanged; Eddy filters one in ten and
// upper-cases the rest (a new 100-byte value each), as the benchmark suite's
// raw-bench and eddy-bench do.

const slRecords = 400_000

// loadStateless creates in and out (8 partitions) and fills in with
// slRecords workload records.
func loadStateless(b *testing.B, brokers []string, in, out string) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ProducerLinger(20*time.Millisecond), kgo.DefaultProduceTopic(in))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	for _, t := range []string{in, out} {
		if _, err := adm.CreateTopic(ctx, workload.Partitions, 1, nil, t); err != nil {
			b.Fatal(err)
		}
	}
	ts := time.Now()
	var failed atomic.Value
	for i := 0; i < slRecords; i++ {
		r := &kgo.Record{Key: workload.Key(i % workload.Keys), Value: workload.Value(ts.UnixMicro(), i, uint64(i)), Timestamp: ts}
		cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
			if err != nil {
				failed.Store(err)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
}

// profileTimed starts a CPU profile of the timed part alone when
// EDDY_BENCH_CPUPROFILE names a file (the suffix is added to its name);
// the returned function stops it.
func profileTimed(b *testing.B, suffix string) func() {
	name := os.Getenv("EDDY_BENCH_CPUPROFILE")
	if name == "" {
		return func() {}
	}
	f, err := os.Create(name + "." + suffix)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}

// firstRecord notes the time and the process's CPU time when the first
// record is taken into processing, so that a run can also be measured from
// there to its end (as the benchmark suite measures, from its first
// progress report): without the start-up (topic checks, group join).
type firstRecord struct {
	once sync.Once
	at   time.Time
	cpu  time.Duration
}

func (f *firstRecord) seen() { f.once.Do(func() { f.at, f.cpu = time.Now(), cpuTime() }) }

// report gives the rate and CPU per record from the first record to now.
func (f *firstRecord) report(b *testing.B) {
	if f.at.IsZero() {
		b.Fatal("no record processed")
	}
	d, cpu := time.Since(f.at), cpuTime()-f.cpu
	b.ReportMetric(float64(slRecords)/d.Seconds(), "steady-records/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/slRecords, "steady-cpu-ns/record")
}

func reportCPU(b *testing.B, d, cpu time.Duration) {
	b.ReportMetric(float64(slRecords)/d.Seconds(), "records/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/slRecords, "cpu-ns/record")
}

// BenchmarkStatelessKafka runs the stateless workload under Eddy (at-least-once,
// the suite's 1 s commit interval) and the raw pipe on the same records.
func BenchmarkStatelessKafka(b *testing.B) {
	brokers := kafkatest.RealBrokers(b)
	b.Run("system=eddy", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			suffix := fmt.Sprintf("%d-%d", time.Now().UnixNano(), i)
			in, out := "sl-bench-in-"+suffix, "sl-bench-out-"+suffix
			b.StopTimer()
			loadStateless(b, brokers, in, out)
			bl := topology.NewBuilder()
			var first firstRecord
			kept := topology.Stream(bl, in, topology.String(), topology.Bytes()).
				Peek(func(string, []byte) { first.seen() }).
				Filter(func(_ string, v []byte) bool { return workload.Keep(v) })
			topology.MapValues(kept, func(_ string, v []byte) []byte { return workload.Upper(v) }).To(out)
			topo, err := bl.Build()
			if err != nil {
				b.Fatal(err)
			}
			app, err := eddy.New(topo, eddy.WithBrokers(brokers...), eddy.WithApplicationID("sl-bench-"+suffix),
				eddy.WithStateDir(b.TempDir()), eddy.WithLogger(quietLogger()), eddy.WithCommitInterval(time.Second))
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			b.StartTimer()
			stop := profileTimed(b, fmt.Sprintf("eddy%d", i))
			cpu0, t0 := cpuTime(), time.Now()
			if err := app.Start(ctx); err != nil {
				b.Fatal(err)
			}
			if err := app.WaitIdle(ctx); err != nil {
				b.Fatal(err)
			}
			d, cpu := time.Since(t0), cpuTime()-cpu0
			stop()
			b.StopTimer()
			reportCPU(b, d, cpu)
			first.report(b)
			if err := app.Close(); err != nil {
				b.Fatal(err)
			}
			cancel()
			b.StartTimer()
		}
	})
	b.Run("system=raw", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			suffix := fmt.Sprintf("%d-%d", time.Now().UnixNano(), i)
			in, out := "sl-bench-in-"+suffix, "sl-bench-out-"+suffix
			b.StopTimer()
			loadStateless(b, brokers, in, out)
			b.StartTimer()
			stop := profileTimed(b, fmt.Sprintf("raw%d", i))
			cpu0, t0 := cpuTime(), time.Now()
			var first firstRecord
			rawPipe(b, brokers, "sl-raw-"+suffix, in, out, &first)
			d, cpu := time.Since(t0), cpuTime()-cpu0
			stop()
			b.StopTimer()
			reportCPU(b, d, cpu)
			first.report(b)
			b.StartTimer()
		}
	})
}

// rawPipe is bench/cmd/raw-bench's loop, stopping after slRecords records.
func rawPipe(b *testing.B, brokers []string, group, in, out string, first *firstRecord) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumerGroup(group), kgo.ConsumeTopics(in),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(),
		kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedRecords(100000))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var failed atomic.Value
	promise := func(_ *kgo.Record, err error) {
		if err != nil {
			failed.Store(err)
		}
	}
	commit := func() {
		if err := cl.Flush(ctx); err != nil {
			b.Fatal(err)
		}
		if err, _ := failed.Load().(error); err != nil {
			b.Fatal(err)
		}
		if err := cl.CommitUncommittedOffsets(ctx); err != nil {
			b.Fatal(err)
		}
	}
	n, last := 0, time.Now()
	for n < slRecords {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			b.Fatal(err)
		}
		fs.EachError(func(t string, p int32, err error) { b.Fatalf("fetch %s-%d: %v", t, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			first.seen()
			cl.Produce(context.Background(), &kgo.Record{Topic: out, Key: r.Key, Value: r.Value, Timestamp: r.Timestamp}, promise)
			n++
		})
		if time.Since(last) >= time.Second {
			commit()
			last = time.Now()
		}
	}
	commit()
}
