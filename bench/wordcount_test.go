package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/examples/wordcount"
	"github.com/eddystreams/eddy/internal/kafkatest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The word-count example (examples/wordcount) end to end: lines of ten
// words from a 10,000-word vocabulary, produced before the app starts; the
// time is from Start to WaitIdle (every line processed, every count sent
// and committed). Reported as lines/s and words/s.
//
//	go test -run - -bench WordCount -benchtime 1x ./bench/
//	EDDY_KAFKA_BROKERS=127.0.0.1:19092 go test -run - -bench WordCountKafka -benchtime 1x ./bench/

const (
	wcLines      = 100_000
	wcWords      = 10
	wcVocabulary = 10_000
	wcPartitions = 8
)

func wcText() []string {
	rng := rand.New(rand.NewPCG(11, 13))
	vocab := make([]string, wcVocabulary)
	for i := range vocab {
		vocab[i] = fmt.Sprintf("w%04d", i)
	}
	lines := make([]string, wcLines)
	var sb strings.Builder
	for i := range lines {
		sb.Reset()
		for w := 0; w < wcWords; w++ {
			if w > 0 {
				sb.WriteByte(' ')
			}
			sb.WriteString(vocab[rng.IntN(len(vocab))])
		}
		lines[i] = sb.String()
	}
	return lines
}

// BenchmarkWordCountEmbedded runs on the embedded broker (kfake, in this
// process), as `eddy dev` and the examples do.
func BenchmarkWordCountEmbedded(b *testing.B) {
	lines := wcText()
	for i := 0; i < b.N; i++ {
		topo, err := wordcount.Topology("text-lines", "word-counts")
		if err != nil {
			b.Fatal(err)
		}
		app, err := eddy.New(topo, eddy.WithEmbeddedBroker(""), eddy.WithApplicationID("wc-bench"),
			eddy.WithStateDir(b.TempDir()), eddy.WithLogger(quietLogger()))
		if err != nil {
			b.Fatal(err)
		}
		runWordCount(b, app, lines, "text-lines", "word-counts")
	}
}

// BenchmarkWordCountKafka runs on the real Kafka broker at
// EDDY_KAFKA_BROKERS (skipped without it), with fresh topics and
// application id per iteration, under each processing guarantee. With
// EDDY_BENCH_BROKER_PID set to the broker's process id (a broker of the
// benchmark's own: scripts/kafka.sh on a port of its own), it also reports
// the broker's CPU time per word (Linux /proc).
func BenchmarkWordCountKafka(b *testing.B) {
	brokers := kafkatest.RealBrokers(b)
	lines := wcText()
	for _, g := range []eddy.Guarantee{eddy.AtLeastOnce, eddy.ExactlyOnce} {
		b.Run("guarantee="+g.String(), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				suffix := fmt.Sprintf("%d-%d", time.Now().UnixMilli(), i)
				in, out := "wc-bench-lines-"+suffix, "wc-bench-counts-"+suffix
				topo, err := wordcount.Topology(in, out)
				if err != nil {
					b.Fatal(err)
				}
				app, err := eddy.New(topo, eddy.WithBrokers(brokers...), eddy.WithApplicationID("wc-bench-"+suffix),
					eddy.WithStateDir(b.TempDir()), eddy.WithLogger(quietLogger()), eddy.WithProcessingGuarantee(g))
				if err != nil {
					b.Fatal(err)
				}
				runWordCount(b, app, lines, in, out)
			}
		})
	}
}

// brokerCPU is the CPU time (user and system) of the process
// EDDY_BENCH_BROKER_PID names, and false without one.
func brokerCPU() (time.Duration, bool) {
	pid := os.Getenv("EDDY_BENCH_BROKER_PID")
	if pid == "" {
		return 0, false
	}
	stat, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, false
	}
	// Fields after the command's closing parenthesis: utime and stime are
	// the 12th and 13th, in clock ticks (100 a second on Linux).
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if len(f) < 13 {
		return 0, false
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(u+s) * 10 * time.Millisecond, true
}

// timeStartToIdle times app from Start to WaitIdle, the benchmark's timer
// running over that span only, and returns the span and, when
// EDDY_BENCH_BROKER_PID names the broker, the broker's CPU time over it.
func timeStartToIdle(ctx context.Context, b *testing.B, app *eddy.App) (d, brokerTime time.Duration, haveBroker bool) {
	b.Helper()
	b.StartTimer()
	cpu0, ok0 := brokerCPU()
	t0 := time.Now()
	if err := app.Start(ctx); err != nil {
		b.Fatal(err)
	}
	if err := app.WaitIdle(ctx); err != nil {
		b.Fatal(err)
	}
	d = time.Since(t0)
	b.StopTimer()
	cpu1, ok1 := brokerCPU()
	return d, cpu1 - cpu0, ok0 && ok1
}

// runWordCount loads lines into in (not timed), then times app from Start
// to WaitIdle, and closes it.
func runWordCount(b *testing.B, app *eddy.App, lines []string, in, out string) {
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
	if err := wordcount.EnsureTopics(ctx, kadm.NewClient(cl), wcPartitions, in, out); err != nil {
		b.Fatal(err)
	}
	if err := wordcount.ProduceLines(ctx, cl, in, strings.NewReader(strings.Join(lines, "\n"))); err != nil {
		b.Fatal(err)
	}
	d, bcpu, haveBroker := timeStartToIdle(ctx, b, app)
	b.ReportMetric(float64(len(lines))/d.Seconds(), "lines/s")
	b.ReportMetric(float64(len(lines)*wcWords)/d.Seconds(), "words/s")
	if haveBroker {
		b.ReportMetric(float64(bcpu.Microseconds())/float64(len(lines)*wcWords), "broker-cpu-us/word")
	}
	if m := app.Metrics(); d > 0 {
		b.ReportMetric(float64(m.Commits)/d.Seconds(), "commits/s")
	}
	if err := app.Close(); err != nil {
		b.Fatal(err)
	}
	b.StartTimer()
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
