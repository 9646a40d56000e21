// Command query-node is one node of the query benchmark (bench/cmd/querybench):
// an Eddy App counting input records by key (store "counts") that joins the
// other processes of its application id, and measures interactive queries
// on its stores when told to on standard input:
//
//	get <duration> <keys> <concurrency>
//	    closed-loop Gets of random keys k0000000..k<keys-1> for duration, from
//	    concurrency goroutines; each latency is filed as remote (another
//	    process answered, so the request crossed protoactor remote) or local
//	    (this process owns the key's task). Prints "result {json}" (getResult).
//	settle <nodes> <tasks>
//	    waits until the cluster is at rest: <nodes> members, <tasks> tasks
//	    active, no warm-up, every node active, the same epoch for
//	    5 s. Prints "result {"epoch": n}".
//	scan
//	    AllSeq over the whole store (pages, streamed), then All (the whole
//	    store collected) for comparison, sampling the heap and the resident
//	    set meanwhile. Prints "result {json}" (scanResult).
//
// It prints "ready" once its App started, logs to standard error, and
// closes cleanly on SIGTERM, SIGINT or the end of standard input.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/bench/internal/benchnode"
	"github.com/eddystreams/eddy/topology"
)

// storeName is the store the benchmark queries.
const storeName = "counts"

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "query-node:", err)
		os.Exit(1)
	}
}

// topo counts the input records by their key into the store "counts" and
// sends every count to output: without a record cache, one output record
// per input record, so the output topic's growth is the processed rate.
func topo(input, output string) (*topology.Topology, error) {
	b := topology.NewBuilder()
	topology.Stream(b, input, topology.String(), topology.String()).
		GroupByKey().Count(topology.Named(storeName), topology.WithCaching(false)).ToStream().To(output)
	return b.Build()
}

func run() error {
	var (
		brokers   = flag.String("brokers", "127.0.0.1:19492", "Kafka bootstrap servers, comma-separated")
		appID     = flag.String("app-id", "querybench", "application id")
		stateDir  = flag.String("state-dir", "", "state directory (required)")
		guarantee = flag.String("guarantee", "at_least_once", "processing guarantee: at_least_once or exactly_once")
		input     = flag.String("input-topic", "querybench-in", "input topic (must exist)")
		output    = flag.String("output-topic", "querybench-out", "output topic (must exist)")
		level     = flag.String("log-level", "info", "log level")
		cpuprof   = flag.String("cpuprofile", "", "write a CPU profile of each get command to this file")
	)
	flag.Parse()
	log, g, err := benchnode.Setup(*stateDir, *level, *guarantee)
	if err != nil {
		return err
	}
	t, err := topo(*input, *output)
	if err != nil {
		return err
	}
	app, err := eddy.New(t,
		eddy.WithBrokers(strings.Split(*brokers, ",")...),
		eddy.WithApplicationID(*appID),
		eddy.WithStateDir(*stateDir),
		eddy.WithProcessingGuarantee(g),
		eddy.WithLogger(log))
	if err != nil {
		return err
	}
	ctx, stop, err := benchnode.Start(app)
	if err != nil {
		return err
	}
	defer stop()
	cmds := make(chan string)
	go func() {
		defer close(cmds)
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			cmds <- sc.Text()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return app.Close()
		case line, ok := <-cmds:
			if !ok {
				return app.Close()
			}
			res, err := command(ctx, app, line, *cpuprof)
			if err != nil {
				log.Error("command failed", "command", line, "err", err)
				res = map[string]string{"error": err.Error()}
			}
			b, _ := json.Marshal(res)
			fmt.Printf("result %s\n", b)
		}
	}
}

func command(ctx context.Context, app *eddy.App, line, cpuprof string) (any, error) {
	f := strings.Fields(line)
	if len(f) == 0 {
		return nil, fmt.Errorf("empty command")
	}
	switch f[0] {
	case "get":
		var keys, conc int
		if len(f) != 4 {
			return nil, fmt.Errorf("usage: get <duration> <keys> <concurrency>")
		}
		d, err := time.ParseDuration(f[1])
		if err != nil {
			return nil, err
		}
		if _, err := fmt.Sscan(f[2], &keys); err != nil || keys <= 0 {
			return nil, fmt.Errorf("bad key count %q", f[2])
		}
		if _, err := fmt.Sscan(f[3], &conc); err != nil || conc <= 0 {
			return nil, fmt.Errorf("bad concurrency %q", f[3])
		}
		if cpuprof != "" {
			pf, err := os.Create(cpuprof)
			if err != nil {
				return nil, err
			}
			defer pf.Close()
			if err := pprof.StartCPUProfile(pf); err != nil {
				return nil, err
			}
			defer pprof.StopCPUProfile()
		}
		return gets(ctx, app, d, keys, conc)
	case "scan":
		return scan(ctx, app)
	case "settle":
		var nodes, tasks int
		if len(f) != 3 {
			return nil, fmt.Errorf("usage: settle <nodes> <tasks>")
		}
		if _, err := fmt.Sscan(f[1], &nodes); err != nil || nodes <= 0 {
			return nil, fmt.Errorf("bad node count %q", f[1])
		}
		if _, err := fmt.Sscan(f[2], &tasks); err != nil || tasks <= 0 {
			return nil, fmt.Errorf("bad task count %q", f[2])
		}
		return settleCluster(ctx, app, nodes, tasks)
	}
	return nil, fmt.Errorf("unknown command %q", f[0])
}
