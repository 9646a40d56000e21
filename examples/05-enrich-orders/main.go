// Command enrich-orders joins a stream of orders with a table of customers:
// the topic customers is a table (key the customer id, value the name), the
// topic orders a stream (key the customer id, value "orderId amount"), and
// each order becomes "orderId name amount" in the topic enriched-orders
// (key the customer id), with the customer's name as it is when the order
// is processed. An inner join drops orders of unknown customers; with
// -left they come out with the name "null".
//
//	go run ./examples/05-enrich-orders -input examples/05-enrich-orders/shop.txt -print [-left]
//
// where shop.txt (a sample beside this file) has lines "C customerId name" (the customer's name, set
// or changed) and "O customerId orderId amount" (an order):
//
//	C c1 Ann
//	O c1 o1 12.50
//	C c1 Anna
//	O c1 o2 3
//	O c2 o3 7
//
// With -input, C lines go to customers and O lines to orders, keyed by
// customer id; line n (counted from 1, blank lines included) gets the
// record timestamp 1700000000000+n. A customer's names and orders share a
// partition number (both topics have -partitions partitions and Kafka's
// default partitioner), so one task sees both, and it processes them in
// timestamp order: all input is in Kafka before the application starts,
// and a task waits for a partition that has records on the broker not yet
// fetched (eddy.WithMaxTaskIdle's default, Kafka Streams'
// max.task.idle.ms). So each order meets the name of the latest C line
// above it in the file — o2 above is "o2 Anna 3" — and the result does not
// depend on how fetches arrive, nor on crashes and restarts.
//
// With -print, once all input is processed and committed, the program
// prints the output values, one per order id (an order processed twice
// after an at-least-once restart counts once), sorted by order id (byte
// order), and exits:
//
//	o1 Ann 12.50
//	o2 Anna 3
//
// (and "o3 null 7" with -left).
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/eddystreams/eddy/examples/enrich"
	"github.com/eddystreams/eddy/examples/exampleapp"
	"github.com/eddystreams/eddy/examples/wordcount"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func main() { exampleapp.Main("enrich-orders", run) }

// run is the program, with its arguments and output as parameters so that
// tests can run it in-process.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("enrich-orders", flag.ContinueOnError)
	var (
		partitions     = fs.Int("partitions", 4, "partitions of the input and output topics when they are created")
		customersTopic = fs.String("customers-topic", "customers", "customers topic (a table: key customer id, value name)")
		ordersTopic    = fs.String("orders-topic", "orders", `orders topic (a stream: key customer id, value "orderId amount")`)
		outTopic       = fs.String("output-topic", "enriched-orders", `output topic (key customer id, value "orderId name amount")`)
		inputFile      = fs.String("input", "", `produce the lines of this file (- for stdin) to the input topics first: "C customerId name" or "O customerId orderId amount"`)
		left           = fs.Bool("left", false, `left join: an order of an unknown customer comes out with the name "null" (default: it is dropped)`)
		printAll       = fs.Bool("print", false, "once all input is processed and committed, print the output values, one per order id, sorted by order id, and exit")
	)
	common := exampleapp.RegisterFlags(fs, "enrich-orders")
	if err := exampleapp.Parse(fs, args); err != nil {
		return err
	}
	if *partitions < 1 {
		return fmt.Errorf("-partitions %d: need at least 1", *partitions)
	}
	topo, err := enrich.Topology(*customersTopic, *ordersTopic, *outTopic, *left)
	if err != nil {
		return err
	}
	var lines []enrich.Line
	err = exampleapp.ReadInput(*inputFile, func(r io.Reader) (err error) {
		if lines, err = enrich.ParseLines(r); err != nil {
			return fmt.Errorf("%s: %w", *inputFile, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	app, cleanup, err := common.NewApp(topo, "enrich-orders-state-")
	if err != nil {
		return err
	}
	defer cleanup()

	cl, err := kgo.NewClient(app.ClientOptions()...)
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := wordcount.EnsureTopics(ctx, kadm.NewClient(cl), int32(*partitions), *customersTopic, *ordersTopic, *outTopic); err != nil {
		return err
	}
	if err := enrich.Produce(ctx, cl, *customersTopic, *ordersTopic, lines); err != nil {
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
	values, err := enrich.ReadOutput(ctx, app.Brokers(), *outTopic, app.ClientOptions()...)
	if err != nil {
		return err
	}
	if err := app.Close(); err != nil {
		return err
	}
	w := bufio.NewWriter(stdout)
	for _, v := range values {
		fmt.Fprintln(w, v)
	}
	return w.Flush()
}
