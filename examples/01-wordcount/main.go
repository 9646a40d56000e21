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
	"syscall"

	"github.com/eddystreams/eddy/examples/exampleapp"
	"github.com/eddystreams/eddy/examples/wordcount"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "wordcount:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		partitions = flag.Int("partitions", 4, "partitions of the input and output topics when they are created")
		inputTopic = flag.String("input-topic", "text-lines", "input topic")
		outTopic   = flag.String("output-topic", "word-counts", "output topic")
		inputFile  = flag.String("input", "", "produce each line of this file (- for stdin) to the input topic first")
		printAll   = flag.Bool("print", false, "once all input is processed and committed, print the final counts and exit")
	)
	common := exampleapp.RegisterFlags(flag.CommandLine, "wordcount")
	flag.Parse()
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel()})))

	topo, err := wordcount.Topology(*inputTopic, *outTopic)
	if err != nil {
		return err
	}
	app, cleanup, err := common.NewApp(topo, "wordcount-state-")
	if err != nil {
		return err
	}
	defer cleanup()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cl, err := kgo.NewClient(app.ClientOptions()...)
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := wordcount.EnsureTopics(ctx, kadm.NewClient(cl), int32(*partitions), *inputTopic, *outTopic); err != nil {
		return err
	}
	if err := exampleapp.ReadInput(*inputFile, func(r io.Reader) error { return wordcount.ProduceLines(ctx, cl, *inputTopic, r) }); err != nil {
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
	counts, err := wordcount.ReadCounts(ctx, app.Brokers(), *outTopic, app.ClientOptions()...)
	if err != nil {
		return err
	}
	if err := app.Close(); err != nil {
		return err
	}
	w := bufio.NewWriter(os.Stdout)
	for _, c := range counts {
		fmt.Fprintf(w, "%s %d\n", c.Word, c.Count)
	}
	return w.Flush()
}

func logLevel() slog.Level {
	if os.Getenv("EDDY_DEBUG") != "" {
		return slog.LevelDebug
	}
	// Info: a node says when it joins its cluster and when it starts and
	// stops owning each task.
	return slog.LevelInfo
}
