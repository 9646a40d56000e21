// Command windowed-count counts events per key in tumbling windows. The
// topic events (String keys, any non-null value, the record timestamp as
// the event time) is grouped by key and counted in windows of -window
// aligned to the epoch — [start, start+window) with start a multiple of
// the window size — into the topic window-counts: key the event key's bytes
// followed by the window start as 8 bytes big-endian (Kafka Streams'
// TimeWindowedSerializer), value the count as Kafka's 8-byte big-endian
// long. Every update is sent: no suppression, no record cache.
//
//	go run ./examples/04-windowed-count -input examples/04-windowed-count/events.txt -print -window 10s -grace 2s
//
// where events.txt has (examples/04-windowed-count/events.txt is a longer sample) lines "key timestampMillis":
//
//	a 1000
//	b 12500
//	a 3000
//
// prints
//
//	a 0 10000 1
//	b 10000 20000 1
//
// With the default 4 partitions, a and b hash to the same partition: b's
// record moves that partition's stream time to 12500, past the end of a's
// window [0, 10000) plus the 2 s grace, so a's second record is late and
// dropped (see below). With -grace 3s it counts: "a 0 10000 2".
//
// With -input, each line becomes one record with that key and that
// timestamp, produced in file order and partitioned by key with Kafka's
// default partitioner (murmur2 of the key bytes, modulo the partition
// count).
//
// # Late records
//
// Each input partition is processed by its own task, in offset order: file
// order restricted to the keys that hash to that partition. A task's stream
// time is the largest timestamp it has processed, the record at hand
// included. A record is late, and dropped, when its window's end plus
// -grace is at or before that stream time (end + grace <= stream time),
// which is Kafka Streams' rule. So:
//
//   - lateness depends on the other keys of the same partition, not on the
//     record's key alone: with -grace 0 a record is dropped once any record
//     of a later window has been processed on its partition; and it depends
//     on -partitions, which decides which keys share a partition;
//   - records on different partitions never make each other late;
//   - a window that only ever received late records is never sent, and so
//     never printed.
//
// Stream time is committed with the input offsets, so a restart — after a
// crash, or on an empty state directory — drops exactly the records an
// uninterrupted run would have dropped.
//
// Windows live in the store, and in its changelog topic, for the window
// size plus grace after stream time has passed them; the changelog is
// given a day more (Kafka Streams'
// windowstore.changelog.additional.retention.ms). The broker deletes by
// record timestamp, so events older than about a day, by the wall clock,
// do not survive in the changelog, and a restore will not find their
// windows: as in Kafka Streams, use event times close to now.
//
// With -print, once all input is processed and committed, the program
// prints for every window sent the last count sent, as lines
// "key windowStartMillis windowEndMillis count" sorted by key (byte order),
// then window start, and exits.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/eddystreams/eddy/examples/exampleapp"
	"github.com/eddystreams/eddy/examples/windowcount"
	"github.com/eddystreams/eddy/examples/wordcount"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func main() { exampleapp.Main("windowed-count", run) }

// run is the program, with its arguments and output as parameters so that
// tests can run it in-process.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("windowed-count", flag.ContinueOnError)
	var (
		partitions = fs.Int("partitions", 4, "partitions of the input and output topics when they are created")
		inputTopic = fs.String("input-topic", "events", "input topic")
		outTopic   = fs.String("output-topic", "window-counts", "output topic")
		inputFile  = fs.String("input", "", `produce the events of this file (- for stdin) to the input topic first: lines "key timestampMillis"`)
		window     = fs.Duration("window", 10*time.Second, "size of the tumbling windows (whole milliseconds)")
		grace      = fs.Duration("grace", 0, "how long after its end a window still accepts records, in stream time (whole milliseconds)")
		printAll   = fs.Bool("print", false, `once all input is processed and committed, print the last count of every window ("key windowStartMillis windowEndMillis count", sorted) and exit`)
		final      = fs.Bool("final", false, "send each window's count once, when the window closes, instead of every update (windows still open when the input ends are not sent)")
	)
	common := exampleapp.RegisterFlags(fs, "windowed-count")
	if err := exampleapp.Parse(fs, args); err != nil {
		return err
	}
	if *partitions < 1 {
		return fmt.Errorf("-partitions %d: need at least 1", *partitions)
	}
	if *window < time.Millisecond || *window%time.Millisecond != 0 {
		return fmt.Errorf("-window %v: want a whole number of milliseconds, at least 1ms", *window)
	}
	if *grace < 0 || *grace%time.Millisecond != 0 {
		return fmt.Errorf("-grace %v: want a whole number of milliseconds, at least 0", *grace)
	}
	topo, err := windowcount.TopologyFinal(*inputTopic, *outTopic, *window, *grace, *final)
	if err != nil {
		return err
	}
	var events []windowcount.Event
	err = exampleapp.ReadInput(*inputFile, func(r io.Reader) (err error) {
		if events, err = windowcount.ParseEvents(r); err != nil {
			return fmt.Errorf("%s: %w", *inputFile, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	app, cleanup, err := common.NewApp(topo, "windowed-count-state-")
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
	if err := windowcount.ProduceEvents(ctx, cl, *inputTopic, events); err != nil {
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
	counts, err := windowcount.ReadCounts(ctx, app.Brokers(), *outTopic, *window, app.ClientOptions()...)
	if err != nil {
		return err
	}
	if err := app.Close(); err != nil {
		return err
	}
	w := bufio.NewWriter(stdout)
	for _, c := range counts {
		fmt.Fprintf(w, "%s %d %d %d\n", c.Key, c.Window.Start, c.Window.End, c.Count)
	}
	return w.Flush()
}
