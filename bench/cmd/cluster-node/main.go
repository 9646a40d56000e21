// Command cluster-node is one node of the word count (examples/wordcount) as
// the cluster benchmark (bench/cmd/clusterbench) runs it: an Eddy App that
// joins the other processes of its application id, with its standby
// replicas, guarantee and commit interval given on the command line. It logs
// in slog's text format on standard error, at Debug level by default, since
// the benchmark reads the failure detector's and the restores' lines from
// there; it prints "ready" on standard output once its first tasks run, and
// closes cleanly on SIGTERM or SIGINT.
//
//	cluster-node -brokers 127.0.0.1:19692 -app-id wc -state-dir /tmp/n1 -guarantee exactly_once -standbys 1
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/bench/internal/benchnode"
	"github.com/eddystreams/eddy/examples/wordcount"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "cluster-node:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		brokers   = flag.String("brokers", "127.0.0.1:19092", "Kafka bootstrap servers, comma-separated")
		appID     = flag.String("app-id", "wordcount", "application id")
		stateDir  = flag.String("state-dir", "", "state directory (required: a restarted node keeps its node id and stores there)")
		guarantee = flag.String("guarantee", "exactly_once", "processing guarantee: at_least_once or exactly_once")
		commit    = flag.Duration("commit-interval", 0, "commit interval (0: 100ms under exactly_once, 1s under at_least_once)")
		standbys  = flag.Int("standbys", 1, "standby replicas of each stateful task")
		input     = flag.String("input-topic", "text-lines", "input topic (must exist)")
		output    = flag.String("output-topic", "word-counts", "output topic (must exist)")
		level     = flag.String("log-level", "debug", "log level: debug, info, warn or error")
		appendT   = flag.Bool("append-time", false, "create the internal topics with message.timestamp.type=LogAppendTime (the broker stamps each batch when it writes it: a measure of when the tasks wrote)")
	)
	flag.Parse()
	log, g, err := benchnode.Setup(*stateDir, *level, *guarantee)
	if err != nil {
		return err
	}
	interval := *commit
	if interval == 0 {
		interval = 100 * time.Millisecond
		if g == eddy.AtLeastOnce {
			interval = time.Second
		}
	}
	topo, err := wordcount.Topology(*input, *output)
	if err != nil {
		return err
	}
	opts := []eddy.Option{
		eddy.WithBrokers(strings.Split(*brokers, ",")...),
		eddy.WithApplicationID(*appID),
		eddy.WithStateDir(*stateDir),
		eddy.WithProcessingGuarantee(g),
		eddy.WithCommitInterval(interval),
		eddy.WithStandbyReplicas(*standbys),
		eddy.WithLogger(log),
	}
	if *appendT {
		opts = append(opts, eddy.WithInternalTopicConfig(map[string]string{"message.timestamp.type": "LogAppendTime"}))
	}
	app, err := eddy.New(topo, opts...)
	if err != nil {
		return err
	}
	ctx, stop, err := benchnode.Start(app)
	if err != nil {
		return err
	}
	defer stop()
	select {
	case <-ctx.Done():
	case <-failed(app):
		log.Error("the App stopped", "err", app.Err())
	}
	return app.Close()
}

// failed is closed once the App stopped on an error.
func failed(app *eddy.App) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for range t.C {
			if app.Err() != nil {
				close(done)
				return
			}
		}
	}()
	return done
}
