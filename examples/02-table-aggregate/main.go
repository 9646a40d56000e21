// Command table-aggregate counts users per region: the topic user-regions is
// a table (key the user, value the region; a null value removes the user),
// grouped by region and counted into the topic region-counts (key the
// region, value the count as Kafka's 8-byte big-endian long). A user who
// moves leaves their old region's count; a region whose last user leaves
// gets 0.
//
// With -input, each line of the file is produced to user-regions first:
// "user region" sets the user's region, "user" alone removes the user; line
// i (from 0) gets timestamp 1700000000000+i.
//
//	go run ./examples/02-table-aggregate -input examples/02-table-aggregate/users.txt -print
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/eddystreams/eddy/examples/exampleapp"
	"github.com/eddystreams/eddy/examples/regioncount"
	"github.com/eddystreams/eddy/examples/wordcount"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func main() { exampleapp.Main("table-aggregate", run) }

// run is the whole program, given its arguments and where -print writes.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("table-aggregate", flag.ContinueOnError)
	var (
		partitions = fs.Int("partitions", 4, "partitions of the input and output topics when they are created")
		inputTopic = fs.String("input-topic", "user-regions", "input topic (a table: key user, value region)")
		outTopic   = fs.String("output-topic", "region-counts", "output topic (key region, value the user count)")
		inputFile  = fs.String("input", "", `produce each line of this file (- for stdin) to the input topic first: "user region", or "user" to remove`)
		printAll   = fs.Bool("print", false, `once all input is processed and committed, print "region count" for every region, sorted, and exit`)
	)
	common := exampleapp.RegisterFlags(fs, "table-aggregate")
	if err := exampleapp.Parse(fs, args); err != nil {
		return err
	}
	if *partitions < 1 {
		return fmt.Errorf("-partitions %d: need at least 1", *partitions)
	}
	topo, err := regioncount.Topology(*inputTopic, *outTopic)
	if err != nil {
		return err
	}
	app, cleanup, err := common.NewApp(topo, "table-aggregate-state-")
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
	if err := exampleapp.ReadInput(*inputFile, func(r io.Reader) error { return regioncount.ProduceLines(ctx, cl, *inputTopic, r) }); err != nil {
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
	counts, err := regioncount.ReadCounts(ctx, app.Brokers(), *outTopic, app.ClientOptions()...)
	if err != nil {
		return err
	}
	if err := app.Close(); err != nil {
		return err
	}
	w := bufio.NewWriter(stdout)
	for _, c := range counts {
		fmt.Fprintf(w, "%s %d\n", c.Region, c.Users)
	}
	return w.Flush()
}
