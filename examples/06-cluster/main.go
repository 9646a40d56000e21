// Command cluster shows the word count of examples/01-wordcount running as a
// cluster of processes on one machine, through a node's death and a new
// node's arrival, and checks that the counts come out exact.
//
//	go run ./examples/06-cluster                      # starts a Kafka broker of its own
//	go run ./examples/06-cluster -brokers 127.0.0.1:19092 -guarantee at_least_once
//
// It builds the wordcount program, and without -brokers starts a real Kafka
// broker with scripts/kafka.sh on 127.0.0.1:19892 (controller 19893), wiped
// first and stopped at the end. Then, under a new application id:
//
//  1. produces a batch of generated text to the input topic;
//  2. starts three wordcount processes (node-1..3), each on a state directory
//     of its own, with the same brokers and application id: they find each
//     other through Kafka and share the tasks;
//  3. waits until the cluster has placed every task with all three holding
//     some, produces a second batch, and kills node-2 (SIGKILL; -kill picks
//     another);
//  4. waits until the other two run every task, starts node-4 and waits until
//     it has active tasks;
//  5. produces a third batch, waits until every record is processed and
//     committed, prints the final counts and compares them with its own count
//     of the words it produced.
//
// After each step it prints where the tasks run, from the cluster's decision
// log: a line per node with its label, node id (kept in
// <state-dir>/<app-id>/node-id) and its active, standby and warm-up tasks.
// Tasks are named <sub-topology>_<partition>: 0_n splits lines into words
// (stateless), 1_n counts them (state in RocksDB, with standbys).
//
// Each wait is on a condition with a deadline (-step-timeout). The nodes' logs
// go to files in the work directory it prints (kept with -keep or on
// failure), or to standard error with -v.
//
// Under exactly_once (the default) the final counts must equal the count of
// the words produced, or the program exits with status 1. Under at_least_once
// the kill may make a node's unfinished work be done twice, and so count some
// words more than once: then only a count lower than produced is a failure,
// and counts above it are reported as duplicates.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/eddystreams/eddy/examples/exampleapp"
	"github.com/eddystreams/eddy/internal/kafkaflags"
)

func main() {
	var c config
	var brokers string
	flag.StringVar(&brokers, "brokers", "", "Kafka bootstrap servers, comma-separated (empty: start a broker with scripts/kafka.sh)")
	flag.IntVar(&c.kafkaPort, "kafka-port", 19892, "port of the broker started when -brokers is empty")
	flag.IntVar(&c.kafkaControllerPort, "kafka-controller-port", 19893, "controller port of the broker started when -brokers is empty")
	flag.StringVar(&c.appID, "app-id", "", "application id, new to the brokers (empty: cluster-demo-<random>); topics are <app-id>-lines and <app-id>-counts")
	flag.StringVar(&c.guarantee, "guarantee", "exactly_once", "processing guarantee of the nodes: exactly_once or at_least_once")
	flag.IntVar(&c.partitions, "partitions", 6, "partitions of the input and output topics")
	flag.IntVar(&c.lines, "lines", 3000, "lines of text in each of the three batches")
	flag.IntVar(&c.kill, "kill", 2, "which of the first three nodes to kill (1, 2 or 3)")
	flag.DurationVar(&c.stepTimeout, "step-timeout", defaultStepTimeout, "deadline of each wait")
	flag.BoolVar(&c.verbose, "v", false, "nodes log to standard error instead of files")
	flag.BoolVar(&c.keep, "keep", false, "keep the work directory (node logs and state) after a successful run")
	c.kafka = kafkaflags.Register(flag.CommandLine)
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "cluster: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	c.brokers = exampleapp.SplitList(brokers)
	c.out = os.Stdout

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c); err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		stop()
		os.Exit(1)
	}
}
