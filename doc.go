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
// A running App's stores are read from Go with Store and WindowStore, and
// over HTTP/JSON from any node's gateway (App.HTTPAddr; the routes are
// described in http_query.go and README.md): every node answers for every
// key, asking the node that owns it.
//
// The root package holds the public entry point and its options; it imports
// every other package of Eddy.
package eddy
