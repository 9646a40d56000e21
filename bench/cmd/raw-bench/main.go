// Command raw-bench is "the raw pipe" of the benchmarks: franz-go consuming
// the input as a consumer group and producing every record unchanged to the
// output, committing (after a producer flush) every commit interval — an
// at-least-once pipe with no processing, the ceiling for a stateless job on
// the same broker. It speaks the line protocol of workload.Reporter.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/eddystreams/eddy/bench/workload"
	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	if err := run(); err != nil {
		fmt.Printf("error %s\n", strings.ReplaceAll(err.Error(), "\n", " "))
		fmt.Fprintln(os.Stderr, "raw-bench:", err)
		os.Exit(1)
	}
}

// rawSkip is why the pipe runs no other workload.
const rawSkip = "raw-pipe-is-only-a-stateless-ceiling"

func run() error {
	var (
		list    = flag.Bool("list", false, "print the workloads the raw pipe runs, then exit")
		wl      = flag.String("workload", "", "workload (stateless or latency: both are the same pipe)")
		brokers = flag.String("brokers", "127.0.0.1:9092", "Kafka bootstrap servers, comma-separated")
		group   = flag.String("app-id", "", "consumer group (fresh per run)")
		input   = flag.String("input", "", "input topic")
		output  = flag.String("output", "", "output topic")
		commit  = flag.Duration("commit-interval", time.Second, "commit interval")
		_       = flag.String("state-dir", "", "unused (the pipe has no state)")
	)
	flag.Parse()
	if *list {
		fmt.Printf("%s ok\n%s ok\n", workload.Stateless, workload.Latency)
		for _, w := range []string{workload.WordCount, workload.WordCountEOS} {
			fmt.Printf("%s skipped %s\n", w, rawSkip)
		}
		return nil
	}
	rep := workload.NewReporter(os.Stdout)
	if *wl != workload.Stateless && *wl != workload.Latency {
		rep.Line("skipped %s", rawSkip)
		return nil
	}
	var readyOnce sync.Once
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(strings.Split(*brokers, ",")...),
		kgo.ConsumerGroup(*group),
		kgo.ConsumeTopics(*input),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.ProducerLinger(5*time.Millisecond), // as Eddy's producer
		kgo.MaxBufferedRecords(100000),         // as Eddy's producer
		kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) {
			readyOnce.Do(func() { rep.Line("ready") })
		}),
	)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep.Start()
	defer rep.Close()
	var (
		mu      sync.Mutex
		sendErr error
	)
	promise := func(_ *kgo.Record, err error) {
		if err != nil {
			mu.Lock()
			if sendErr == nil {
				sendErr = err
			}
			mu.Unlock()
		}
	}
	ctr := rep.Counter()
	last := time.Now()
	commitNow := func() error {
		if err := cl.Flush(context.Background()); err != nil {
			return err
		}
		mu.Lock()
		err := sendErr
		mu.Unlock()
		if err != nil {
			return err
		}
		return cl.CommitUncommittedOffsets(context.Background())
	}
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) { ferr = errors.Join(ferr, fmt.Errorf("fetch %s-%d: %w", t, p, err)) })
		if ferr != nil {
			return ferr
		}
		fs.EachRecord(func(r *kgo.Record) {
			// Not ctx: records in flight at SIGTERM must still be sent.
			cl.Produce(context.Background(), &kgo.Record{Topic: *output, Key: r.Key, Value: r.Value, Timestamp: r.Timestamp}, promise)
			ctr.Add(1)
		})
		if time.Since(last) >= *commit {
			if err := commitNow(); err != nil {
				return err
			}
			last = time.Now()
		}
	}
	return commitNow()
}
