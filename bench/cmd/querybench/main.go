// Command querybench measures Eddy's interactive queries on a real Kafka
// broker of its own (scripts/kafka.sh on -port): three query-node processes
// (bench/cmd/query-node) of one application id count input records by key
// while a producer feeds them at -rate records per second; meanwhile each
// node runs closed-loop Gets for -duration, and reports the latency of
// those answered by another process (across protoactor remote) and of those
// it answered itself. Then the store is filled to -scan-keys distinct keys
// and one node reads it all with AllSeq (streamed pages) and with All (the
// whole store collected), sampling its heap and resident set.
//
// Standard output has the figures; progress goes to standard error, each
// node's log to .cache/querybench/logs, and with -results a Markdown report.
// Everything the benchmark started (broker, nodes) is stopped on every way
// out.
//
//	go run ./bench/cmd/querybench -quick
//	go run ./bench/cmd/querybench -results docs/benchmarks/queries-results.md
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/eddystreams/eddy/bench/internal/benchkafka"
)

type config struct {
	port        int
	nodes       int
	rate        int
	keys        int
	duration    time.Duration
	idle        time.Duration
	warmup      time.Duration
	concurrency int
	queryNodes  int
	scanKeys    int
	guarantee   string
	cpuprofile  bool
	quick       bool
	results     string
	root        string
}

var began = time.Now()

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "querybench: %6.1fs "+format+"\n", append([]any{time.Since(began).Seconds()}, args...)...)
}

// parseFlags reads the command line into a config; quick shrinks the sizes
// left at their defaults.
func parseFlags(args []string, errOut io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("querybench", flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.IntVar(&c.port, "port", 19492, "port of the benchmark's own Kafka broker (the controller takes the next one)")
	fs.IntVar(&c.nodes, "nodes", 3, "node processes")
	fs.IntVar(&c.rate, "rate", 50_000, "input records per second while the Gets run")
	fs.IntVar(&c.keys, "keys", 100_000, "distinct keys of the input and of the Gets")
	fs.DurationVar(&c.duration, "duration", 0, "how long each node runs Gets (default 20s, quick 5s)")
	fs.DurationVar(&c.idle, "idle", 0, "how long each node runs Gets first without input, as a baseline (default 10s, quick 3s; negative: none)")
	fs.DurationVar(&c.warmup, "warmup", 0, "input at -rate before the Gets start (default 10s, quick 3s)")
	fs.IntVar(&c.concurrency, "concurrency", 1, "goroutines running Gets on each querying node (closed loop each)")
	fs.IntVar(&c.queryNodes, "query-nodes", 0, "how many nodes run Gets at once (default all)")
	fs.IntVar(&c.scanKeys, "scan-keys", 0, "distinct keys in the store for the scan (default 1000000, quick 100000)")
	noScan := fs.Bool("no-scan", false, "skip the all-keys scan")
	fs.StringVar(&c.guarantee, "guarantee", "at_least_once", "processing guarantee of the nodes")
	fs.BoolVar(&c.cpuprofile, "cpuprofile", false, "write each node's CPU profile of the Gets to .cache/querybench/logs/<node>.cpu.prof")
	fs.BoolVar(&c.quick, "quick", false, "short runs and a smaller store (about 2 minutes)")
	fs.StringVar(&c.results, "results", "", "write a Markdown report here")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	pick := func(d *time.Duration, full, quick time.Duration) {
		if *d == 0 {
			*d = full
			if c.quick {
				*d = quick
			}
		}
	}
	pick(&c.duration, 20*time.Second, 5*time.Second)
	pick(&c.idle, 10*time.Second, 3*time.Second)
	pick(&c.warmup, 10*time.Second, 3*time.Second)
	if c.scanKeys == 0 {
		c.scanKeys = 1_000_000
		if c.quick {
			c.scanKeys = 100_000
		}
	}
	if *noScan {
		c.scanKeys = 0
	}
	if c.queryNodes == 0 || c.queryNodes > c.nodes {
		c.queryNodes = c.nodes
	}
	switch {
	case c.nodes < 2:
		return nil, fmt.Errorf("-nodes %d: remote queries need at least 2", c.nodes)
	case c.rate < 0 || c.keys <= 0 || c.concurrency <= 0:
		return nil, errors.New("-rate, -keys and -concurrency must be positive")
	case c.scanKeys > 0 && c.scanKeys < c.keys:
		return nil, fmt.Errorf("-scan-keys %d is below -keys %d: the scan would not see the store it counts", c.scanKeys, c.keys)
	}
	return c, nil
}

func main() {
	c, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		os.Exit(2)
	}
	wd, err := os.Getwd()
	if err != nil {
		fatal(err)
	}
	c.root = benchkafka.FindRoot(wd)
	rep, err := run(c)
	if rep != nil {
		rep.print(os.Stdout)
		if c.results != "" {
			if werr := rep.writeMarkdown(c.results); werr != nil {
				logf("write %s: %v", c.results, werr)
			} else {
				logf("wrote %s", c.results)
			}
		}
	}
	if err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	logf("error: %v", err)
	os.Exit(1)
}

const (
	appID  = "querybench"
	input  = "querybench-in"
	output = "querybench-out"
	// partitions of the topics, so tasks of the App
	partitions = 8
)

// run measures; the report holds what was measured even when a later step
// failed. Every process it started is stopped before it returns.
func run(c *config) (*report, error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cache := filepath.Join(c.root, ".cache", "querybench")
	work, logs, bin := filepath.Join(cache, "state"), filepath.Join(cache, "logs"), filepath.Join(cache, "bin", "query-node")
	for _, d := range []string{work, logs} {
		if err := os.RemoveAll(d); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	logf("building query-node")
	build := exec.Command("go", "build", "-o", bin, "./bench/cmd/query-node")
	build.Dir, build.Stdout, build.Stderr = c.root, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return nil, fmt.Errorf("build query-node: %w", err)
	}
	rep := &report{c: c, start: time.Now(), loadStart: loadAvg()}
	defer func() { rep.end, rep.loadEnd = time.Now(), loadAvg() }()

	b := &benchkafka.Broker{Root: c.root, Port: c.port}
	defer b.Stop()
	if err := b.Start(); err != nil {
		return rep, err
	}
	if err := b.CreateTopics(ctx, partitions, nil, input, output); err != nil {
		return rep, err
	}
	var nodes []*node
	defer func() {
		for _, n := range nodes {
			n.stop(20 * time.Second)
		}
	}()
	for i := 1; i <= c.nodes; i++ {
		name := "n" + strconv.Itoa(i)
		args := []string{"-brokers", b.Addr, "-app-id", appID, "-state-dir", filepath.Join(work, name),
			"-input-topic", input, "-output-topic", output, "-guarantee", c.guarantee}
		if c.cpuprofile {
			args = append(args, "-cpuprofile", filepath.Join(logs, name+".cpu.prof"))
		}
		n, err := startNode(name, bin, filepath.Join(logs, name+".log"), args...)
		if err != nil {
			return rep, err
		}
		nodes = append(nodes, n)
	}
	for _, n := range nodes {
		if err := n.waitReady(ctx, 3*time.Minute); err != nil {
			return rep, err
		}
	}
	logf("%d nodes ready; waiting until the cluster is at rest", len(nodes))
	for _, n := range nodes {
		var st struct{ Epoch int64 }
		if err := n.call(ctx, 6*time.Minute, fmt.Sprintf("settle %d %d", c.nodes, partitions), &st); err != nil {
			return rep, err
		}
		rep.epoch = st.Epoch
	}
	logf("cluster at rest at epoch %d", rep.epoch)

	p, err := newProducer(b.Addr, input)
	if err != nil {
		return rep, err
	}
	defer p.close()
	if err := gets(ctx, c, b, p, nodes, rep); err != nil {
		return rep, err
	}
	if c.scanKeys > 0 {
		if err := scanAll(ctx, c, b, p, nodes[0], rep); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// getRound has the querying nodes run Gets for d at once.
func getRound(ctx context.Context, c *config, nodes []*node, d time.Duration) ([]getRun, error) {
	type answer struct {
		i   int
		err error
	}
	runs := make([]getRun, c.queryNodes)
	answers := make(chan answer, c.queryNodes)
	for i := 0; i < c.queryNodes; i++ {
		go func(i int) {
			err := nodes[i].call(ctx, d+5*time.Minute, fmt.Sprintf("get %s %d %d", d, c.keys, c.concurrency), &runs[i].res)
			answers <- answer{i, err}
		}(i)
	}
	var first error
	for range c.queryNodes {
		a := <-answers
		runs[a.i].name = nodes[a.i].name
		if a.err != nil {
			runs[a.i].err = a.err.Error()
			first = cmp(first, a.err)
		}
	}
	return runs, first
}

// gets has the querying nodes run Gets on the idle cluster (no input),
// then feeds input at c.rate and has them run Gets meanwhile.
func gets(ctx context.Context, c *config, b *benchkafka.Broker, p *producer, nodes []*node, rep *report) error {
	if c.idle > 0 {
		logf("writing keys 0..%d so that Gets find them", c.keys-1)
		if err := p.fill(ctx, c.keys); err != nil {
			return fmt.Errorf("fill: %w", err)
		}
		if err := benchkafka.WaitFor(ctx, 5*time.Minute, "the input is processed", func() (bool, error) {
			out, _, err := b.Progress(ctx, appID, output)
			return err == nil && out >= int64(c.keys), nil
		}); err != nil {
			return err
		}
		logf("Gets for %s from %d node(s), concurrency %d, without input", c.idle, c.queryNodes, c.concurrency)
		var err error
		if rep.idle, err = getRound(ctx, c, nodes, c.idle); err != nil {
			return err
		}
	}
	logf("input at %d records/s over %d keys; warm-up %s", c.rate, c.keys, c.warmup)
	p.steady(c.rate, c.keys)
	select {
	case <-time.After(c.warmup):
	case <-ctx.Done():
		return ctx.Err()
	}
	end0, committed0, err := b.Progress(ctx, appID, input)
	if err != nil {
		return err
	}
	out0, _, err := b.Progress(ctx, appID, output)
	if err != nil {
		return err
	}
	acked0, t0 := p.acked.Load(), time.Now()
	logf("Gets for %s from %d node(s), concurrency %d, under input", c.duration, c.queryNodes, c.concurrency)
	var first error
	rep.gets, first = getRound(ctx, c, nodes, c.duration)
	elapsed := time.Since(t0)
	acked1 := p.acked.Load()
	end1, committed1, err := b.Progress(ctx, appID, input)
	p.stopSteady()
	if err != nil {
		return err
	}
	rep.lag = end1 - committed1
	out1, _, err := b.Progress(ctx, appID, output)
	if err != nil {
		return err
	}
	rep.processed = float64(out1-out0) / elapsed.Seconds()
	logf("input end %d -> %d, committed %d -> %d; output end %d -> %d", end0, end1, committed0, committed1, out0, out1)
	rep.window = elapsed
	rep.produced = float64(acked1-acked0) / elapsed.Seconds()
	rep.committed = float64(committed1-committed0) / elapsed.Seconds()
	if err := p.failed(); err != nil {
		return fmt.Errorf("producer: %w", err)
	}
	return first
}

func cmp(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// scanAll fills the store to c.scanKeys keys, waits until the nodes
// committed all the input, and has n scan it.
func scanAll(ctx context.Context, c *config, b *benchkafka.Broker, p *producer, n *node, rep *report) error {
	logf("writing keys 0..%d", c.scanKeys-1)
	if err := p.fill(ctx, c.scanKeys); err != nil {
		return fmt.Errorf("fill: %w", err)
	}
	logf("waiting until the nodes committed all the input")
	if err := benchkafka.WaitFor(ctx, 15*time.Minute, "the input is committed", func() (bool, error) {
		end, committed, err := b.Progress(ctx, appID, input)
		return err == nil && committed >= end, nil
	}); err != nil {
		return err
	}
	logf("scan on %s", n.name)
	rep.scanNode = n.name
	rep.scan = new(scanRun)
	if err := n.call(ctx, 15*time.Minute, "scan", &rep.scan.res); err != nil {
		rep.scan.err = err.Error()
		return err
	}
	for _, x := range rep.scan.res.Passes {
		if x.Keys != c.scanKeys || !x.Ordered {
			rep.scan.err = fmt.Sprintf("%s: want %d keys in order, got %d (ordered %v)", x.Read, c.scanKeys, x.Keys, x.Ordered)
			return errors.New(rep.scan.err)
		}
	}
	return nil
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := string(b)
	for i, n := 0, 0; i < len(f); i++ {
		if f[i] == ' ' {
			if n++; n == 3 {
				return f[:i]
			}
		}
	}
	return f
}
