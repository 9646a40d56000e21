// Command punctuate is a Processor API program with a punctuator. It reads
// events (key: a string; value: an int64 as Kafka's 8-byte big-endian long)
// from a topic, keeps each key's running sum in a store, and every
// -interval of event time (stream time: the largest event timestamp seen by
// a task) writes the current sum of every key that changed since the last
// time to the output topic.
//
//	go run ./examples/03-punctuate -input examples/03-punctuate/events.txt -print
//
// where events.txt (a sample beside this file) has lines "key timestampMillis value":
//
//	a 1000 5
//	b 1500 2
//	a 12000 -1
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/eddystreams/eddy/examples/exampleapp"
	"github.com/eddystreams/eddy/examples/punctuate"
	"github.com/eddystreams/eddy/examples/wordcount"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func main() { exampleapp.Main("punctuate", run) }

// run is the program, with its arguments and output as parameters so that
// tests can run it in-process.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("punctuate", flag.ContinueOnError)
	var (
		partitions = fs.Int("partitions", 4, "partitions of the input and output topics when they are created")
		inputTopic = fs.String("input-topic", "events", "input topic")
		outTopic   = fs.String("output-topic", "sums", "output topic")
		inputFile  = fs.String("input", "", `produce the events of this file (- for stdin) to the input topic first: lines "key timestampMillis value"`)
		interval   = fs.Duration("interval", 10*time.Second, "emit the changed sums every interval of event time")
		printAll   = fs.Bool("print", false, `once all input is processed and committed, print the last sum emitted per key ("key sum", sorted by key) and exit`)
	)
	common := exampleapp.RegisterFlags(fs, "punctuate")
	if err := exampleapp.Parse(fs, args); err != nil {
		return err
	}
	topo, err := punctuate.Topology(*inputTopic, *outTopic, *interval)
	if err != nil {
		return err
	}
	var events []punctuate.Event
	err = exampleapp.ReadInput(*inputFile, func(r io.Reader) (err error) {
		if events, err = punctuate.ParseEvents(r); err != nil {
			return fmt.Errorf("%s: %w", *inputFile, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	app, cleanup, err := common.NewApp(topo, "punctuate-state-")
	if err != nil {
		return err
	}
	defer cleanup()

	cl, err := kgo.NewClient(app.ClientOptions()...)
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := wordcount.EnsureTopics(ctx, kadm.NewClient(cl), int32(*partitions), *inputTopic, *outTopic); err != nil {
		return err
	}
	if err := punctuate.ProduceEvents(ctx, cl, *inputTopic, events); err != nil {
		return err
	}
	if !*printAll {
		return app.Run(ctx)
	}
	if err := app.Start(ctx); err != nil {
		return err
	}
	if err := app.WaitIdle(ctx); err != nil {
		return err
	}
	sums, err := punctuate.ReadSums(ctx, app.Brokers(), *outTopic, app.ClientOptions()...)
	if err != nil {
		return err
	}
	if err := app.Close(); err != nil {
		return err
	}
	w := bufio.NewWriter(stdout)
	for _, s := range sums {
		fmt.Fprintf(w, "%s %d\n", s.Key, s.Sum)
	}
	return w.Flush()
}
