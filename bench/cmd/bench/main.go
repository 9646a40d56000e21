// Command bench runs Eddy's benchmarks side by side with Kafka Streams 4.4.0,
// goka v1.1.14 and a raw franz-go pipe: it starts a real Kafka broker with
// scripts/kafka.sh, creates the topics (8 partitions), loads each workload's
// input once, and runs every system on it in turn, alternating the order,
// -reps times, one process at a time, reporting medians.
//
// Standard output carries exactly three kinds of lines (docs/benchmarks/README.md):
//
//	bench <workload> <system> records_per_s=<n> p99_ms=<x> rss_mb=<y> [startup_s=.. steady_records_per_s=.. whole_records_per_s=..] broker_cpu_s_per_m=<c>
//	bench <workload> <system> skipped reason=<why>
//	ratio <workload> eddy/<system>=<r>
//	ratio <whole|steady|startup|broker-cpu> <workload> eddy/<system>=<r>
//	scale <count|count-eos> eddy tasks=<n> records_per_s=<n> cpu_s_per_m=<c> rss_mb=<y> commits_per_s=<t>
//
// Everything else (progress, details, targets) goes to standard error, and,
// with -results, into a Markdown report and a PNG chart of the ratios.
//
//	go run ./bench/cmd/bench -quick
//	go run ./bench/cmd/bench -results docs/benchmarks/RESULTS.md -chart docs/benchmarks/ratios.png
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/eddystreams/eddy/bench/internal/benchkafka"
	"github.com/eddystreams/eddy/bench/workload"
)

type config struct {
	root, cache  string
	port         int
	quick        bool
	reps         int
	n            int            // input records of the throughput workloads
	nByInput     map[string]int // input records of some input topics, instead of n (when -n is not given)
	wordN        int            // input lines of the word count workloads
	scalingN     int            // input records of each scaling run
	scalingP     []int          // input partitions (tasks) of the scaling runs
	restoreN     int            // changelog records of the restore workload
	latencyRate  int            // records/s of the latency workload
	latencyDur   time.Duration  // load time of the latency workload
	latencyWarm  time.Duration  // first part of it not measured
	timeout      time.Duration  // per measurement
	workloads    []string
	systems      []string
	results      string
	chart        string
	eddyProfile  string
	eddyTrace    string
	eddyLogLevel string
	commit       time.Duration
	eddyRev      string
}

var began = time.Now()

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: %5.1fs "+format+"\n", append([]any{time.Since(began).Seconds()}, args...)...)
}

func main() {
	var c config
	var wls, syss string
	flag.BoolVar(&c.quick, "quick", false, "small sizes and one repetition (finishes in under 3 minutes)")
	flag.IntVar(&c.port, "port", 19392, "port of the benchmark's own Kafka broker (the controller takes the next one)")
	flag.IntVar(&c.reps, "reps", 0, "repetitions per system (default 3, quick 1)")
	flag.IntVar(&c.n, "n", 0, "input records per throughput workload (default 1000000, 4000000 for the stateless ones; quick 300000, 1000000 for the stateless ones, 500000 for join)")
	flag.IntVar(&c.restoreN, "restore-n", 0, "changelog records of the restore workload (default 1000000, quick too)")
	flag.IntVar(&c.wordN, "word-lines", 0, "input lines of the word count workloads (default 250000, quick 25000)")
	flag.IntVar(&c.scalingN, "scaling-n", 0, "input records of each scaling run (default 1000000, quick 200000)")
	scalingP := flag.String("scaling-partitions", "8,64,256", "input partitions (tasks of the one node) of the scaling runs, comma-separated")
	flag.IntVar(&c.latencyRate, "latency-rate", 20000, "records/s of the latency workload")
	flag.DurationVar(&c.latencyDur, "latency-duration", 0, "load time of the latency workload (default 45s, quick 5s; the first third is warm-up)")
	flag.StringVar(&wls, "workloads", strings.Join(workload.All, ","), "workloads to run, comma-separated")
	flag.StringVar(&syss, "systems", "eddy,kafka-streams,goka,raw", "systems to run, comma-separated")
	flag.StringVar(&c.results, "results", "", "write a Markdown report here")
	flag.StringVar(&c.chart, "chart", "", "write a PNG chart of the ratios here")
	flag.StringVar(&c.eddyProfile, "eddy-cpuprofile", "", "directory for CPU profiles of eddy-bench (one per workload and repetition)")
	flag.StringVar(&c.eddyTrace, "eddy-trace", "", "directory for runtime execution traces of eddy-bench (one per workload and repetition; go tool trace)")
	flag.StringVar(&c.eddyLogLevel, "eddy-log-level", "", "log level of eddy-bench (debug, info, warn, error; default warn), in the run's log files")
	flag.StringVar(&c.eddyRev, "eddy-rev", "", "build eddy-bench from this git revision instead of the work tree")
	flag.DurationVar(&c.commit, "commit-interval", time.Second, "commit interval of every system under at-least-once")
	flag.Parse()
	c.workloads = strings.Split(wls, ",")
	c.systems = strings.Split(syss, ",")
	defaults := func(v *int, full, quick int) {
		if *v == 0 {
			*v = full
			if c.quick {
				*v = quick
			}
		}
	}
	nSet := false
	flag.Visit(func(f *flag.Flag) { nSet = nSet || f.Name == "n" })
	defaults(&c.reps, 3, 1)
	defaults(&c.n, 1_000_000, 300_000)
	defaults(&c.restoreN, 1_000_000, 1_000_000)
	defaults(&c.wordN, workload.WordLines, 25_000)
	switch {
	case c.quick && !nSet:
		// Quick inputs are sized so that Eddy, the fastest, is measured for
		// about a second or more on an idle machine (its figures in
		// RESULTS.md): the stateless pipelines and the join run through
		// 300,000 records in well under a second.
		c.nByInput = map[string]int{
			workloads[workload.Stateless].input: 1_000_000,
			workloads[workload.Join].input:      500_000,
		}
	case !nSet:
		// The stateless pipelines of Eddy and the raw pipe run through a
		// million records in about a second: four million measure each
		// for seconds, where start-up and the machine's noise weigh less.
		c.nByInput = map[string]int{workloads[workload.Stateless].input: 4_000_000}
	}
	defaults(&c.scalingN, 1_000_000, 200_000)
	for _, f := range strings.Split(*scalingP, ",") {
		var p int
		if _, err := fmt.Sscanf(f, "%d", &p); err != nil || p <= 0 {
			fatal(fmt.Errorf("bad -scaling-partitions %q", *scalingP))
		}
		c.scalingP = append(c.scalingP, p)
	}
	if c.latencyDur == 0 {
		c.latencyDur = 45 * time.Second
		if c.quick {
			c.latencyDur = 5 * time.Second
		}
	}
	// Kafka Streams needs seconds to warm its JIT up and catch up with the
	// rate; the first part of the load is not measured.
	c.latencyWarm = c.latencyDur / 3
	c.timeout = 10 * time.Minute
	if c.quick {
		c.timeout = 3 * time.Minute
	}
	wd, err := os.Getwd()
	if err != nil {
		fatal(err)
	}
	c.root = benchkafka.FindRoot(wd)
	c.cache = filepath.Join(c.root, ".cache", "bench")
	if err := run(&c); err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	logf("error: %v", err)
	os.Exit(1)
}

func run(c *config) error {
	start := time.Now()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := os.MkdirAll(filepath.Join(c.cache, "logs"), 0o755); err != nil {
		return err
	}
	systems, err := buildSystems(c.root, filepath.Join(c.cache, "bin"), c.eddyRev)
	if err != nil {
		return err
	}
	b := &broker{Broker: &benchkafka.Broker{Root: c.root, Port: c.port}}
	if err := b.Start(); err != nil {
		return err
	}
	defer b.Stop()
	if err := b.findPID(); err != nil {
		return err
	}
	r := &runner{c: c, b: b, systems: systems, ctx: ctx, loaded: map[string]bool{}, words: map[string]int64{}}
	rep := &report{start: start, startLoad: loadAvg(), c: c}
	for _, name := range c.workloads {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		wl, ok := workloads[name]
		if !ok {
			return fmt.Errorf("unknown workload %q", name)
		}
		logf("workload %s", name)
		if wl.kind == scalingKind {
			pts, err := r.scaling()
			if err != nil {
				return fmt.Errorf("scaling: %w", err)
			}
			rep.scaling = pts
			rep.printScaling()
			continue
		}
		res, err := r.workload(wl)
		if err != nil {
			return fmt.Errorf("workload %s: %w", name, err)
		}
		rep.add(name, res)
		rep.printWorkload(name)
	}
	rep.printTargets()
	logf("done in %s", time.Since(start).Round(time.Second))
	if c.results != "" {
		if err := rep.writeMarkdown(c.results); err != nil {
			return err
		}
		logf("wrote %s", c.results)
	}
	if c.chart != "" {
		if err := rep.writeChart(c.chart); err != nil {
			return err
		}
		logf("wrote %s", c.chart)
	}
	return nil
}

// kind is how a workload is measured.
type kind int

const (
	throughput  kind = iota // records/s over a preloaded input
	restoreKind             // time to rebuild the count store from its changelog
	latencyKind             // p50/p99 at a fixed rate
	scalingKind             // Eddy alone on more and more partitions
)

// workloadDef is one pluggable workload: its systems, its input and how it
// is measured.
type workloadDef struct {
	name       string
	prog       string // the programs' workload, if not name (scaling runs)
	kind       kind
	input      string // input topic, loaded once (shared by the EOS variants)
	table      string // table topic (join)
	partitions int32  // of the input and output topics; 0: workload.Partitions
	systems    []string
	// endToEnd: the main records/s is the steady figure (first to last
	// output), not the source's intake. For a topology behind a
	// repartition topic, the source can run well ahead of the rest, so its
	// intake says little about the pipeline.
	endToEnd bool
}

// program is the workload the benchmark programs run.
func (wl workloadDef) program() string {
	if wl.prog != "" {
		return wl.prog
	}
	return wl.name
}

// eos says whether the workload runs under exactly-once.
func (wl workloadDef) eos() bool { return strings.HasSuffix(wl.program(), "-eos") }

// parts is the partition count of the workload's topics.
func (wl workloadDef) parts() int32 {
	if wl.partitions > 0 {
		return wl.partitions
	}
	return workload.Partitions
}

var workloads = map[string]workloadDef{
	workload.Stateless:    {name: workload.Stateless, kind: throughput, input: "bench-stateless-in", systems: []string{sysEddy, sysKStream, sysGoka, sysRaw}},
	workload.Count:        {name: workload.Count, kind: throughput, input: "bench-count-in", systems: []string{sysEddy, sysKStream, sysGoka}},
	workload.Windowed:     {name: workload.Windowed, kind: throughput, input: "bench-windowed-in", systems: []string{sysEddy, sysKStream, sysGoka}},
	workload.Join:         {name: workload.Join, kind: throughput, input: "bench-join-in", table: "bench-join-table", systems: []string{sysEddy, sysKStream, sysGoka}},
	workload.StatelessEOS: {name: workload.StatelessEOS, kind: throughput, input: "bench-stateless-in", systems: []string{sysEddy, sysKStream, sysGoka}},
	workload.CountEOS:     {name: workload.CountEOS, kind: throughput, input: "bench-count-in", systems: []string{sysEddy, sysKStream, sysGoka}},
	workload.WordCount:    {name: workload.WordCount, kind: throughput, input: "bench-wordcount-in", partitions: workload.WordPartitions, systems: []string{sysEddy, sysKStream, sysGoka, sysRaw}, endToEnd: true},
	workload.WordCountEOS: {name: workload.WordCountEOS, kind: throughput, input: "bench-wordcount-in", partitions: workload.WordPartitions, systems: []string{sysEddy, sysKStream, sysGoka, sysRaw}, endToEnd: true},
	workload.Scaling:      {name: workload.Scaling, kind: scalingKind, systems: []string{sysEddy}},
	workload.Restore:      {name: workload.Restore, kind: restoreKind, input: "bench-restore-in", systems: []string{sysEddy, sysKStream, sysGoka}},
	workload.Latency:      {name: workload.Latency, kind: latencyKind, systems: []string{sysEddy, sysKStream, sysGoka, sysRaw}},
}

// order is the order of the systems in repetition rep: forward, then
// reversed, alternating, so no system always runs first on a cold broker.
func order(systems []string, rep int) []string {
	out := slices.Clone(systems)
	if rep%2 == 1 {
		slices.Reverse(out)
	}
	return out
}
