// Package eddy runs stream processing topologies on Apache Kafka: build a
// topology with package topology, then run it with New and Run.
//
//	b := topology.NewBuilder()
//	lines := topology.Stream(b, "text-lines", topology.String(), topology.String())
//	words := topology.FlatMapValues(lines, func(_ string, l string) []string { return strings.Fields(l) })
//	topology.GroupBy(words, func(_ string, w string) string { return w }).Count(topology.Named("counts")).ToStream().To("word-counts")
//	topo, err := b.Build()
//	app, err := eddy.New(topo, eddy.WithBrokers("localhost:9092"), eddy.WithApplicationID("wordcount"))
//	err = app.Run(ctx)
//
// The root package holds the public entry point and its options; it imports
// every other package of Eddy.
package eddy
