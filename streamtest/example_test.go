package streamtest_test

import (
	"fmt"
	"strings"

	"github.com/eddystreams/eddy/streamtest"
	"github.com/eddystreams/eddy/topology"
)

// A word count, tested without a broker: lines in, counts out, and the
// counts store read directly.
func Example() {
	b := topology.NewBuilder()
	lines := topology.Stream(b, "lines", topology.String(), topology.String())
	words := topology.FlatMapValues(lines, func(_ string, l string) []string { return strings.Fields(l) })
	topology.GroupBy(words, func(_ string, w string) string { return w }).
		Count(topology.Named("counts")).ToStream().To("word-counts")
	topo, err := b.Build()
	if err != nil {
		panic(err)
	}

	d, err := streamtest.New(topo, streamtest.WithPartitions(2))
	if err != nil {
		panic(err)
	}
	defer d.Close()

	in := streamtest.CreateInputTopic(d, "lines", topology.String(), topology.String())
	out := streamtest.CreateOutputTopic(d, "word-counts", topology.String(), topology.Int64())
	if err := in.Pipe("", "to be or not to be"); err != nil {
		panic(err)
	}
	for !out.IsEmpty() {
		w, n, err := out.ReadKeyValue()
		if err != nil {
			panic(err)
		}
		fmt.Println(w, n)
	}
	n, _, err := streamtest.ReadStore(d, "counts", topology.String(), topology.Int64()).Get("be")
	fmt.Println("store: be", n, err)
	// Output:
	// to 1
	// be 1
	// or 1
	// not 1
	// to 2
	// be 2
	// store: be 2 <nil>
}
