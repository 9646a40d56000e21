package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/examples/wordcount"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// demoText is the built-in input of "eddy demo".
const demoText = `Eddy is stateful stream processing for Apache Kafka, written in Go.
A stream is an endless flow of records; a table is the latest value of each key.
Every word of this text becomes a record, every record updates a count,
and every count is kept in a local store and in a changelog topic in Kafka.
When a node stops, another node rebuilds the store by replaying the changelog.
Records are processed one at a time, in timestamp order, by task actors.
Each task owns one partition of the input and the state for that partition.
Count the words, send every update, and read the final counts back.
`

const demoUsage = `usage: eddy demo [flags]

Counts the words of a built-in text with an App on an embedded broker and
prints the topology and the counts.

flags:
`

func demo(args []string) error {
	fs := newFlags("demo")
	top := fs.Int("top", 0, "show only the N most frequent words (0: all)")
	if err := parseFlags(fs, demoUsage, args, os.Stdout); err != nil {
		return err
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	stateDir, err := os.MkdirTemp("", "eddy-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stateDir)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	start := time.Now()
	topo, err := wordcount.Topology("text-lines", "word-counts")
	if err != nil {
		return err
	}
	fmt.Println(topo.Describe())
	app, err := eddy.New(topo, eddy.WithEmbeddedBroker(""), eddy.WithApplicationID("wordcount-demo"), eddy.WithStateDir(stateDir))
	if err != nil {
		return err
	}
	defer app.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(app.Brokers()...))
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := wordcount.EnsureTopics(ctx, kadm.NewClient(cl), 4, "text-lines", "word-counts"); err != nil {
		return err
	}
	if err := wordcount.ProduceLines(ctx, cl, "text-lines", strings.NewReader(demoText)); err != nil {
		return err
	}
	if err := app.Start(ctx); err != nil {
		return err
	}
	if err := app.WaitIdle(ctx); err != nil {
		return err
	}
	counts, err := wordcount.ReadCounts(ctx, app.Brokers(), "word-counts")
	if err != nil {
		return err
	}
	if err := app.Close(); err != nil {
		return err
	}
	printCounts(os.Stdout, counts, *top)
	fmt.Printf("\n%d distinct words counted in %v on an embedded broker (4 partitions, 8 tasks)\n",
		len(counts), time.Since(start).Round(time.Millisecond))
	return nil
}

func printCounts(w io.Writer, counts []wordcount.Count, top int) {
	sort.SliceStable(counts, func(i, j int) bool { return counts[i].Count > counts[j].Count })
	if top > 0 && top < len(counts) {
		counts = counts[:top]
	}
	fmt.Fprintln(w, "word counts (most frequent first):")
	for _, c := range counts {
		fmt.Fprintf(w, "  %-12s %d\n", c.Word, c.Count)
	}
}
