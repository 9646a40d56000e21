package topology_test

import (
	"strings"
	"testing"

	"github.com/eddystreams/eddy/topology"
)

func wordCount(t *testing.T) *topology.Topology {
	t.Helper()
	b := topology.NewBuilder()
	lines := topology.Stream(b, "text-lines", topology.String(), topology.String())
	words := topology.FlatMapValues(lines, func(_ string, line string) []string { return strings.Fields(line) })
	topology.GroupBy(words, func(_ string, w string) string { return w }).
		Count(topology.Named("counts")).ToStream().To("word-counts")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

func TestDescribeWordCount(t *testing.T) {
	const want = `Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [text-lines])
      --> KSTREAM-FLATMAPVALUES-0000000001
    Processor: KSTREAM-FLATMAPVALUES-0000000001 (stores: [])
      --> KSTREAM-KEY-SELECT-0000000002
      <-- KSTREAM-SOURCE-0000000000
    Processor: KSTREAM-KEY-SELECT-0000000002 (stores: [])
      --> KSTREAM-SINK-0000000004
      <-- KSTREAM-FLATMAPVALUES-0000000001
    Sink: KSTREAM-SINK-0000000004 (topic: <app>-counts-repartition)
      <-- KSTREAM-KEY-SELECT-0000000002
   Sub-topology: 1
    Source: KSTREAM-SOURCE-0000000005 (topics: [<app>-counts-repartition])
      --> KSTREAM-AGGREGATE-0000000003
    Processor: KSTREAM-AGGREGATE-0000000003 (stores: [counts])
      --> KTABLE-TOSTREAM-0000000006
      <-- KSTREAM-SOURCE-0000000005
    Processor: KTABLE-TOSTREAM-0000000006 (stores: [])
      --> KSTREAM-SINK-0000000007
      <-- KSTREAM-AGGREGATE-0000000003
    Sink: KSTREAM-SINK-0000000007 (topic: word-counts)
      <-- KTABLE-TOSTREAM-0000000006
Stores:
    Store: counts (sub-topology: 1, engine: default, changelog: <app>-counts-changelog)
Internal topics:
    Repartition topic: <app>-counts-repartition (written by sub-topology 0)
`
	got := wordCount(t).Describe()
	if got != want {
		t.Fatalf("Describe:\n%s\nwant:\n%s", got, want)
	}
}

func TestDescribeWithoutStoresOrInternalTopics(t *testing.T) {
	b := topology.NewBuilder()
	s := topology.Stream(b, "in", topology.String(), topology.String())
	s.Filter(func(string, string) bool { return true }).To("out")
	s.Foreach(func(string, string) {})
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	got := topo.Describe()
	for _, s := range []string{"Stores:", "Internal topics:", "Sub-topology: 1"} {
		if strings.Contains(got, s) {
			t.Errorf("Describe shows %q:\n%s", s, got)
		}
	}
	expectContains(t, got,
		"--> KSTREAM-FILTER-0000000001, KSTREAM-FOREACH-0000000003",
		"Processor: KSTREAM-FOREACH-0000000003 (stores: [])\n      --> none\n",
	)
}

func TestDescribeUnloggedStore(t *testing.T) {
	b := topology.NewBuilder()
	topology.Stream(b, "in", topology.String(), topology.String()).GroupByKey().
		Count(topology.Named("c"), topology.WithLogging(false), topology.WithEngine(topology.EngineRocksDB))
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	expectContains(t, topo.Describe(), "Store: c (sub-topology: 0, engine: rocksdb, changelog: none)")
}
