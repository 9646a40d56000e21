// Command clusterbench measures Eddy's cluster on a real Kafka broker of its
// own (scripts/kafka.sh on -port): how long the tasks of a node killed with
// SIGKILL take to run again on the others (failover), and what a third node
// joining a two-node cluster costs the tasks (join). The application is the
// word count (examples/wordcount: 8 input partitions, 16 tasks), run as
// separate processes (bench/cmd/cluster-node) under a steady input load.
//
// Failover, per configuration (exactly-once with 1 standby and with none,
// at-least-once with 1 standby): 3 nodes; -kills times, one node that owns
// active tasks is killed, the benchmark waits until every task it owned is
// owned again by another node (from the nodes' "owning task" log lines) and
// until their records flow again, then restarts the node on its state
// directory and waits until the cluster is at rest before the next kill.
//
// Join: 2 nodes with counting state, then a third starts on an empty state
// directory: tasks moved, the longest pause of a task that did not move, and
// the restore a moved counting task did while paused against a full one.
//
// Standard output has one line per measured configuration; progress goes to
// standard error, each node's log to .cache/clusterbench/logs, and with
// -results a Markdown report.
//
//	go run ./bench/cmd/clusterbench -quick
//	go run ./bench/cmd/clusterbench -results docs/benchmarks/cluster-results.md
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/eddystreams/eddy/bench/internal/benchkafka"
)

type config struct {
	root, work, logs, nodeBin string
	port                      int
	kills                     int
	guarantee                 string
	standbys                  int
	quick                     bool
	join                      bool
	rate                      int // input lines per second
	vocab                     int // distinct words
	preload                   int // lines written before the nodes start
	joinBaseline              time.Duration
	failoverTimeout           time.Duration
	settleTimeout             time.Duration
	results                   string
}

var began = time.Now()

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "clusterbench: %6.1fs "+format+"\n", append([]any{time.Since(began).Seconds()}, args...)...)
}

func main() {
	var c config
	flag.IntVar(&c.port, "port", 19692, "port of the benchmark's own Kafka broker (the controller takes the next one; the tests' own brokers use 19592, 19602 and 19792)")
	flag.IntVar(&c.kills, "kills", 0, "kills per failover configuration (default 20, quick 3)")
	flag.StringVar(&c.guarantee, "guarantee", "", "run only the configurations under this guarantee (exactly_once or at_least_once); default all")
	flag.IntVar(&c.standbys, "standbys", -1, "run only the configurations with this many standby replicas; default all")
	flag.BoolVar(&c.quick, "quick", false, "fewer kills and a smaller preload (under 3 minutes)")
	flag.BoolVar(&c.join, "join", true, "measure a third node joining")
	flag.IntVar(&c.rate, "rate", 500, "input lines per second (8 words each)")
	flag.IntVar(&c.vocab, "vocab", 200_000, "distinct words")
	flag.IntVar(&c.preload, "preload", 0, "input lines written before the nodes start (default 100000, quick 10000)")
	flag.StringVar(&c.results, "results", "", "write a Markdown report here")
	flag.Parse()
	if c.kills == 0 {
		c.kills = 20
		if c.quick {
			c.kills = 3
		}
	}
	if c.preload == 0 {
		c.preload = 100_000
		if c.quick {
			c.preload = 10_000
		}
	}
	c.joinBaseline = 10 * time.Second
	if c.quick {
		c.joinBaseline = 3 * time.Second
	}
	c.failoverTimeout = time.Minute
	c.settleTimeout = 3 * time.Minute
	wd, err := os.Getwd()
	if err != nil {
		fatal(err)
	}
	c.root = benchkafka.FindRoot(wd)
	cache := filepath.Join(c.root, ".cache", "clusterbench")
	c.work, c.logs = filepath.Join(cache, "state"), filepath.Join(cache, "logs")
	c.nodeBin = filepath.Join(cache, "bin", "cluster-node")
	if err := run(&c); err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	logf("error: %v", err)
	os.Exit(1)
}

// configuration is one failover measurement.
type configuration struct {
	guarantee string
	standbys  int
}

func (f configuration) name() string {
	g := "eos"
	if f.guarantee == "at_least_once" {
		g = "alos"
	}
	return fmt.Sprintf("%s-sb%d", g, f.standbys)
}

var configurations = []configuration{{"exactly_once", 1}, {"exactly_once", 0}, {"at_least_once", 1}}

func run(c *config) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var confs []configuration
	for _, f := range configurations {
		if (c.guarantee == "" || c.guarantee == f.guarantee) && (c.standbys < 0 || c.standbys == f.standbys) {
			confs = append(confs, f)
		}
	}
	if len(confs) == 0 {
		if c.guarantee != "" && c.guarantee != "exactly_once" && c.guarantee != "at_least_once" {
			return fmt.Errorf("-guarantee %q: want exactly_once or at_least_once", c.guarantee)
		}
		g := c.guarantee
		if g == "" {
			g = "exactly_once"
		}
		confs = []configuration{{g, c.standbys}}
	}
	for _, d := range []string{c.work, c.logs} {
		if err := os.RemoveAll(d); err != nil {
			return err
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	logf("building cluster-node")
	build := exec.Command("go", "build", "-o", c.nodeBin, "./bench/cmd/cluster-node")
	build.Dir, build.Stdout, build.Stderr = c.root, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build cluster-node: %w", err)
	}
	b := &broker{&benchkafka.Broker{Root: c.root, Port: c.port}}
	if err := b.Start(); err != nil {
		return err
	}
	defer b.Stop()
	rep := &report{c: c, start: time.Now(), loadStart: loadAvg()}
	for _, f := range confs {
		s := newScenario(c, b, f.name(), f.guarantee, f.standbys)
		res := failoverRun{conf: f, scenario: s}
		err := s.setup(ctx, 3)
		if err == nil {
			res.kills, err = s.failovers(ctx, c.kills)
		}
		res.finish(s, err)
		s.teardown()
		rep.failovers = append(rep.failovers, res)
		res.print()
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	if c.join {
		f := confs[0]
		s := newScenario(c, b, "join-"+f.name(), f.guarantee, f.standbys)
		jr := joinRun{conf: f, scenario: s}
		err := s.setup(ctx, 2)
		if err == nil {
			jr.res, err = s.join(ctx, c.joinBaseline)
		}
		jr.finish(s, err)
		s.teardown()
		rep.join = &jr
		jr.print()
	}
	rep.loadEnd = loadAvg()
	rep.end = time.Now()
	logf("done in %s", rep.end.Sub(rep.start).Round(time.Second))
	if c.results != "" {
		if err := rep.writeMarkdown(c.results); err != nil {
			return err
		}
		logf("wrote %s", c.results)
	}
	if rep.failed() {
		return errors.New("some measurements failed; see the report")
	}
	return nil
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil || len(b) < 14 {
		return "?"
	}
	f := string(b)
	for i, n := 0, 0; i < len(f); i++ {
		if f[i] == ' ' {
			n++
			if n == 3 {
				return f[:i]
			}
		}
	}
	return f
}
