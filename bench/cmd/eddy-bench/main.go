// Command eddy-bench is the Eddy side of the benchmarks: one workload of
// package bench/workload on a real Kafka broker, speaking the line protocol of
// workload.Reporter on standard output. The driver (bench/cmd/bench) starts it
// once per measurement with a fresh application id and state directory.
//
//	eddy-bench -list
//	eddy-bench -workload count -brokers 127.0.0.1:19292 -app-id a1 -input in -output out
//
// A workload whose Eddy feature does not exist yet is registered with the
// reason instead of a topology: the program then prints "skipped <reason>"
// and exits, and the driver reports it without a number.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"runtime/trace"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/bench/workload"
	"github.com/eddystreams/eddy/examples/wordcount"
	"github.com/eddystreams/eddy/topology"
)

type params struct {
	input, output, table string
	counter              *atomic.Int64
}

// side is one workload as Eddy runs it: a topology, or why there is none.
type side struct {
	build func(p params) (*topology.Topology, error)
	// skip says which Eddy feature is missing; set instead of build.
	skip string
	// eos runs the topology under exactly-once, with Eddy's default commit
	// interval for it (100 ms, as Kafka Streams).
	eos bool
}

var sides = map[string]side{
	workload.Stateless:    {build: stateless},
	workload.Count:        {build: count},
	workload.Restore:      {build: count},
	workload.Latency:      {build: stateless},
	workload.Windowed:     {build: windowed},
	workload.Join:         {build: join},
	workload.StatelessEOS: {build: stateless, eos: true},
	workload.CountEOS:     {build: count, eos: true},
	workload.WordCount:    {build: wordCount},
	workload.WordCountEOS: {build: wordCount, eos: true},
}

// source reads the input with the serdes every system uses (string keys,
// byte values) and counts records taken into processing.
func source(b *topology.Builder, p params) *topology.KStream[string, []byte] {
	c := p.counter
	return topology.Stream(b, p.input, topology.String(), topology.Bytes()).
		Peek(func(string, []byte) { c.Add(1) })
}

func stateless(p params) (*topology.Topology, error) {
	b := topology.NewBuilder()
	kept := source(b, p).Filter(func(_ string, v []byte) bool { return workload.Keep(v) })
	topology.MapValues(kept, func(_ string, v []byte) []byte { return workload.Upper(v) }).To(p.output)
	return b.Build()
}

func count(p params) (*topology.Topology, error) {
	b := topology.NewBuilder()
	source(b, p).GroupByKey().Count(topology.Named(workload.CountStore)).ToStream().To(p.output)
	return b.Build()
}

// join looks every input record up in the table topic (a source table in
// the store "table", as Kafka Streams' side materializes it).
func join(p params) (*topology.Topology, error) {
	b := topology.NewBuilder()
	t := topology.Table(b, p.table, topology.String(), topology.Bytes(), topology.Named("table"))
	topology.JoinTable(source(b, p), t, workload.JoinValue).To(p.output)
	return b.Build()
}

// windowed counts by key in tumbling windows without grace, every update
// sent (Eddy has no record cache for window stores; Kafka Streams runs with
// its default 10 MiB cache).
func windowed(p params) (*topology.Topology, error) {
	b := topology.NewBuilder()
	w := source(b, p).GroupByKey().WindowedBy(topology.TumblingWindows(workload.WindowSize, 0))
	topology.WindowedCount(w, topology.Named(workload.CountStore)).ToStream().To(p.output)
	return b.Build()
}

// wordCount is the word count of examples/01-wordcount (the same topology,
// with the counting peek after the source): lines split into words,
// repartitioned by word, counted in RocksDB with the record cache off, every
// update sent.
func wordCount(p params) (*topology.Topology, error) {
	b := topology.NewBuilder()
	c := p.counter
	lines := topology.Stream(b, p.input, topology.String(), topology.String()).
		Peek(func(string, string) { c.Add(1) })
	words := topology.FlatMapValues(lines, func(_ string, line string) []string { return wordcount.Words(line) })
	counts := topology.GroupBy(words, func(_ string, w string) string { return w }).
		Count(topology.Named(wordcount.StoreName), topology.WithCaching(false))
	counts.ToStream().To(p.output)
	return b.Build()
}

func main() {
	if err := run(); err != nil {
		fmt.Printf("error %s\n", strings.ReplaceAll(err.Error(), "\n", " "))
		fmt.Fprintln(os.Stderr, "eddy-bench:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		list       = flag.Bool("list", false, "print the workloads and whether Eddy can run them, then exit")
		wl         = flag.String("workload", "", "workload to run")
		brokers    = flag.String("brokers", "127.0.0.1:9092", "Kafka bootstrap servers, comma-separated")
		appID      = flag.String("app-id", "", "application id (fresh per run)")
		stateDir   = flag.String("state-dir", "", "state directory (fresh per run)")
		input      = flag.String("input", "", "input topic")
		output     = flag.String("output", "", "output topic")
		table      = flag.String("table", "", "table topic (join)")
		commit     = flag.Duration("commit-interval", time.Second, "commit interval under at-least-once (exactly-once keeps Eddy's default, 100 ms)")
		cpuprofile = flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
		traceOut   = flag.String("trace", "", "write a runtime execution trace of the whole run to this file (go tool trace)")
		logLevel   = flag.String("log-level", "warn", "level of the log written to standard error: debug, info, warn or error")
	)
	flag.Parse()
	if *list {
		names := make([]string, 0, len(sides))
		for n := range sides {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			if s := sides[n]; s.build != nil {
				fmt.Printf("%s ok\n", n)
			} else {
				fmt.Printf("%s skipped %s\n", n, s.skip)
			}
		}
		return nil
	}
	s, ok := sides[*wl]
	if !ok {
		return fmt.Errorf("unknown workload %q", *wl)
	}
	rep := workload.NewReporter(os.Stdout)
	if s.build == nil {
		rep.Line("skipped %s", s.skip)
		return nil
	}
	if *appID == "" || *stateDir == "" || *input == "" {
		return fmt.Errorf("-app-id, -state-dir and -input are required")
	}
	for _, r := range []struct {
		path  string
		start func(io.Writer) error
		stop  func()
	}{{*cpuprofile, pprof.StartCPUProfile, pprof.StopCPUProfile}, {*traceOut, trace.Start, trace.Stop}} {
		if r.path == "" {
			continue
		}
		f, err := os.Create(r.path)
		if err != nil {
			return err
		}
		if err := r.start(f); err != nil {
			f.Close()
			return err
		}
		defer func() { r.stop(); f.Close() }()
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
	topo, err := s.build(params{input: *input, output: *output, table: *table, counter: rep.Counter()})
	if err != nil {
		return err
	}
	opts := []eddy.Option{
		eddy.WithBrokers(strings.Split(*brokers, ",")...),
		eddy.WithApplicationID(*appID),
		eddy.WithStateDir(*stateDir),
	}
	if s.eos {
		opts = append(opts, eddy.WithProcessingGuarantee(eddy.ExactlyOnce))
	} else {
		opts = append(opts, eddy.WithCommitInterval(*commit))
	}
	app, err := eddy.New(topo, opts...)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Progress is reported from the start: with many partitions, tasks
	// start a few at a time and the first ones process while Start waits
	// for the others (the driver's span begins at the first record taken
	// in, whenever that is).
	rep.Start()
	t0 := time.Now()
	if err := app.Start(ctx); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	rep.Line("restore_ms %d", time.Since(t0).Milliseconds())
	rep.Line("ready")
	t1, m1 := time.Now(), app.Metrics()
	commitsDone := reportCommits(rep, app)
	var runErr error
	select {
	case <-ctx.Done():
	case <-waitErr(app):
		runErr = app.Err()
	}
	commitsDone()
	rep.Close()
	logCommits(time.Since(t1), m1, app.Metrics())
	return joinErr(runErr, app.Close())
}

// logCommits says, on standard error (the driver's log of the run), how
// much of the run the tasks spent committing: a task processes nothing while
// it commits, so this is the time commits take from processing.
func logCommits(wall time.Duration, before, after eddy.Metrics) {
	n := after.Commits - before.Commits
	if n == 0 || wall <= 0 {
		return
	}
	spent := after.CommitTime - before.CommitTime
	fmt.Fprintf(os.Stderr, "commits %d in %.1fs: %.1f ms each on average, longest %.1f ms; %.1f task-seconds committing\n",
		n, wall.Seconds(), float64(spent.Microseconds())/1000/float64(n),
		float64(after.CommitTimeMax.Microseconds())/1000, spent.Seconds())
}

// reportCommits prints "commits <n>" (App.Metrics().Commits: task commits
// that made progress durable; under exactly-once each is one transaction,
// ended by one EndTxn request) every 100 ms when it changed, for the
// driver's transactions-per-second figure. The returned function stops it.
func reportCommits(rep *workload.Reporter, app *eddy.App) func() {
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		last := int64(-1)
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if n := app.Metrics().Commits; n != last {
					last = n
					rep.Line("commits %d", n)
				}
			}
		}
	}()
	return func() { close(stop); <-done }
}

// waitErr is closed when the app stops processing on its own (a failure).
func waitErr(app *eddy.App) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		for app.Err() == nil {
			time.Sleep(100 * time.Millisecond)
		}
		close(ch)
	}()
	return ch
}

func joinErr(a, b error) error {
	if a == nil {
		return b
	}
	if b == nil {
		return a
	}
	return fmt.Errorf("%w; close: %v", a, b)
}
