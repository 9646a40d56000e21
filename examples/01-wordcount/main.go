// Command wordcount counts words from a topic of text lines into a topic of
// counts: key the word, value its count as Kafka's 8-byte big-endian long.
// Every update is sent.
//
//	go run ./examples/01-wordcount -input README.md -print
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
	"unicode"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "wordcount:", err)
		os.Exit(1)
	}
}

// Words splits a line into its words: maximal runs of letters or digits,
// lower-cased.
func Words(line string) []string {
	ws := strings.FieldsFunc(line, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	for i, w := range ws {
		ws[i] = strings.ToLower(w)
	}
	return ws
}

// Topology is the word count: lines -> words -> group by word -> count.
func Topology(input, output string) (*topology.Topology, error) {
	b := topology.NewBuilder()
	lines := topology.Stream(b, input, topology.String(), topology.String())
	words := topology.FlatMapValues(lines, func(_ string, line string) []string { return Words(line) })
	counts := topology.GroupBy(words, func(_ string, w string) string { return w }).Count(topology.Named("counts"))
	counts.ToStream().To(output)
	return b.Build()
}

func run() error {
	var (
		brokers    = flag.String("brokers", "", "Kafka bootstrap servers, comma-separated (empty: start an embedded broker in-process)")
		brokerData = flag.String("broker-data", "", "embedded broker's persistent log directory (empty: memory only)")
		stateDir   = flag.String("state-dir", "", "state directory (default: a temporary directory)")
		appID      = flag.String("app-id", "wordcount", "application id")
		partitions = flag.Int("partitions", 4, "partitions of the input and output topics when they are created")
		inputTopic = flag.String("input-topic", "text-lines", "input topic")
		outTopic   = flag.String("output-topic", "word-counts", "output topic")
		inputFile  = flag.String("input", "", "produce each line of this file (- for stdin) to the input topic first")
		print      = flag.Bool("print", false, "once all input is processed and committed, print the final counts and exit")
	)
	flag.Parse()
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel()})))

	topo, err := Topology(*inputTopic, *outTopic)
	if err != nil {
		return err
	}
	if *stateDir == "" {
		d, err := os.MkdirTemp("", "wordcount-state-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		*stateDir = d
	}
	opts := []eddy.Option{eddy.WithApplicationID(*appID), eddy.WithStateDir(*stateDir), eddy.WithCommitInterval(time.Second)}
	if *brokers == "" {
		opts = append(opts, eddy.WithEmbeddedBroker(*brokerData))
	} else {
		opts = append(opts, eddy.WithBrokers(strings.Split(*brokers, ",")...))
	}
	app, err := eddy.New(topo, opts...)
	if err != nil {
		return err
	}
	defer app.Close()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cl, err := kgo.NewClient(kgo.SeedBrokers(app.Brokers()...))
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := ensureTopics(ctx, kadm.NewClient(cl), int32(*partitions), *inputTopic, *outTopic); err != nil {
		return err
	}
	if *inputFile != "" {
		if err := produceLines(ctx, cl, *inputTopic, *inputFile); err != nil {
			return err
		}
	}
	if !*print {
		return app.Run(ctx)
	}
	if err := app.Start(ctx); err != nil {
		return err
	}
	if err := app.WaitIdle(ctx); err != nil {
		return err
	}
	counts, err := readCounts(ctx, app.Brokers(), *outTopic)
	if err != nil {
		return err
	}
	if err := app.Close(); err != nil {
		return err
	}
	w := bufio.NewWriter(os.Stdout)
	for _, c := range counts {
		fmt.Fprintf(w, "%s %d\n", c.word, c.count)
	}
	return w.Flush()
}

func ensureTopics(ctx context.Context, adm *kadm.Client, partitions int32, topics ...string) error {
	existing, err := adm.ListTopics(ctx, topics...)
	if err != nil {
		return err
	}
	for _, t := range topics {
		if d, ok := existing[t]; ok && d.Err == nil {
			continue
		}
		resp, err := adm.CreateTopic(ctx, partitions, -1, nil, t)
		if err == nil {
			err = resp.Err
		}
		if err != nil {
			return fmt.Errorf("create topic %s: %w", t, err)
		}
	}
	return nil
}

func produceLines(ctx context.Context, cl *kgo.Client, topic, file string) error {
	var r io.Reader = os.Stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	var firstErr error
	for sc.Scan() {
		cl.Produce(ctx, &kgo.Record{Topic: topic, Value: []byte(sc.Text())}, func(_ *kgo.Record, err error) {
			if err != nil && firstErr == nil {
				firstErr = err
			}
		})
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if err := cl.Flush(ctx); err != nil {
		return err
	}
	return firstErr
}

func logLevel() slog.Level {
	if os.Getenv("EDDY_DEBUG") != "" {
		return slog.LevelDebug
	}
	return slog.LevelWarn
}
