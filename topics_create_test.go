package eddy_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/examples/wordcount"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestCreateTopicsOnEmbeddedBroker runs a word count without creating a
// topic by hand: WithCreateTopics makes the input and output topics at
// Start. The embedded broker serves until Close, also after a failed
// Start, and not after.
func TestCreateTopicsOnEmbeddedBroker(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	topo, err := wordcount.Topology("lines", "counts")
	if err != nil {
		t.Fatal(err)
	}
	app, err := eddy.New(topo, eddy.WithEmbeddedBroker(""), eddy.WithApplicationID("create-topics"), eddy.WithStateDir(t.TempDir()),
		eddy.WithStandalone(), eddy.WithCreateTopics(3, "lines"), eddy.WithCreateTopics(2, "counts"))
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	if err := app.Start(ctx); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(app.Brokers()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	td, err := kadm.NewClient(cl).ListTopics(ctx, "lines", "counts")
	if err != nil || len(td["lines"].Partitions) != 3 || len(td["counts"].Partitions) != 2 {
		t.Fatalf("created topics: %v %v", err, td)
	}
	const text = "to be or not to be\nthat is the question\n"
	if err := wordcount.ProduceLines(ctx, cl, "lines", strings.NewReader(text)); err != nil {
		t.Fatal(err)
	}
	if err := app.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	counts, err := wordcount.ReadCounts(ctx, app.Brokers(), "counts")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{}
	for _, w := range wordcount.Words(text) {
		want[w]++
	}
	got := map[string]int64{}
	for _, c := range counts {
		got[c.Word] = c.Count
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("counts %v, want %v", got, want)
	}
	brokers := app.Brokers()
	if err := app.Close(); err != nil {
		t.Fatal(err)
	}
	if up(brokers) {
		t.Fatal("the embedded broker still answers after Close")
	}

	// A Start that fails (an input topic missing) leaves the broker up
	// for the program to fix things, until Close.
	app2, err := eddy.New(topo, eddy.WithEmbeddedBroker(""), eddy.WithApplicationID("create-topics-2"), eddy.WithStateDir(t.TempDir()), eddy.WithStandalone())
	if err != nil {
		t.Fatal(err)
	}
	defer app2.Close()
	if err := app2.Start(ctx); err == nil {
		t.Fatal("Start without its input topic succeeded")
	}
	if !up(app2.Brokers()) {
		t.Fatal("the embedded broker stopped with a failed Start")
	}
	if err := app2.Close(); err != nil {
		t.Fatal(err)
	}
	if up(app2.Brokers()) {
		t.Fatal("the embedded broker still answers after Close")
	}
}

// up tells whether a broker at brokers answers a metadata request within
// two seconds.
func up(brokers []string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return false
	}
	defer cl.Close()
	return cl.Ping(ctx) == nil
}
