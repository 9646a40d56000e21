package topology_test

import (
	"strings"
	"testing"
	"time"

	"github.com/eddystreams/eddy/topology"
)

func TestDescribeTablesAndGlobalStores(t *testing.T) {
	b := topology.NewBuilder()
	users := topology.Table(b, "user-regions", topology.String(), topology.String(), topology.Named("users"))
	topology.GroupTableBy(users, func(u, r string) (string, string) { return r, u }).
		Count(topology.Named("counts")).ToStream().To("region-counts")
	topology.GlobalTable(b, "regions", topology.String(), topology.String(), topology.Named("regions"))
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	const want = `Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [user-regions])
      --> KTABLE-SOURCE-0000000001
    Processor: KTABLE-SOURCE-0000000001 (stores: [users])
      --> KTABLE-SELECT-0000000002
      <-- KSTREAM-SOURCE-0000000000
    Processor: KTABLE-SELECT-0000000002 (stores: [])
      --> KTABLE-SINK-0000000004
      <-- KTABLE-SOURCE-0000000001
    Sink: KTABLE-SINK-0000000004 (topic: <app>-counts-repartition)
      <-- KTABLE-SELECT-0000000002
   Sub-topology: 1
    Source: KSTREAM-SOURCE-0000000005 (topics: [<app>-counts-repartition])
      --> KTABLE-AGGREGATE-0000000003
    Processor: KTABLE-AGGREGATE-0000000003 (stores: [counts])
      --> KTABLE-TOSTREAM-0000000006
      <-- KSTREAM-SOURCE-0000000005
    Processor: KTABLE-TOSTREAM-0000000006 (stores: [])
      --> KSTREAM-SINK-0000000007
      <-- KTABLE-AGGREGATE-0000000003
    Sink: KSTREAM-SINK-0000000007 (topic: region-counts)
      <-- KTABLE-TOSTREAM-0000000006
   Sub-topology: 2 for global store (will not generate tasks)
    Source: KSTREAM-SOURCE-0000000008 (topics: [regions])
      --> KTABLE-SOURCE-0000000009
    Processor: KTABLE-SOURCE-0000000009 (stores: [regions])
      --> none
      <-- KSTREAM-SOURCE-0000000008
Stores:
    Store: counts (sub-topology: 1, engine: default, changelog: <app>-counts-changelog)
    Store: regions (global, engine: default, changelog: regions (source topic))
    Store: users (sub-topology: 0, engine: default, changelog: user-regions (source topic))
Internal topics:
    Repartition topic: <app>-counts-repartition (written by sub-topology 0)
`
	if got := topo.Describe(); got != want {
		t.Fatalf("Describe:\n%s\nwant:\n%s", got, want)
	}
	if topo.GlobalSubtopology() == nil || len(topo.Subtopologies) != 2 {
		t.Fatalf("%d sub-topologies, global %v; want 2 and a global one", len(topo.Subtopologies), topo.GlobalSubtopology())
	}
	spec, _ := topo.Store("users")
	if spec.Logging || spec.SourceTopic != "user-regions" || spec.Global {
		t.Fatalf("users store spec %+v: want unlogged, source topic user-regions", spec)
	}
}

func TestGeneratedTableStoreNames(t *testing.T) {
	b := topology.NewBuilder()
	tb := topology.Table(b, "t", topology.String(), topology.String())
	g := topology.GlobalTable(b, "g", topology.String(), topology.String())
	if tb.StoreName() != "t-STATE-STORE-0000000000" || g.StoreName() != "g-STATE-STORE-0000000003" || g.Topic() != "g" {
		t.Fatalf("store names %q, %q", tb.StoreName(), g.StoreName())
	}
	if _, err := b.Build(); err != nil {
		t.Fatal(err)
	}
}

func TestGlobalStoreNamedByAProcessorJoinsNoSubtopology(t *testing.T) {
	// Two streams whose processors both read the global store stay two
	// sub-topologies: a global store is reachable from every task.
	b := topology.NewBuilder()
	g := topology.GlobalTable(b, "g", topology.String(), topology.String())
	for _, topic := range []string{"a", "b"} {
		s := topology.Stream(b, topic, topology.String(), topology.String())
		topology.Process(s, func() topology.Processor[string, string, string, string] { return nil }, g.StoreName()).To(topic + "-out")
	}
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	if n := len(topo.Subtopologies); n != 2 {
		t.Fatalf("%d sub-topologies:\n%s", n, topo.Describe())
	}
	for _, st := range topo.Subtopologies {
		if len(st.Stores) != 0 {
			t.Fatalf("sub-topology %d owns stores %v", st.ID, st.Stores)
		}
	}
}

func TestTableOnlyTopologyBuilds(t *testing.T) {
	b := topology.NewBuilder()
	topology.GlobalTable(b, "g", topology.String(), topology.String())
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	if len(topo.Subtopologies) != 0 || !strings.Contains(topo.Describe(), "for global store") {
		t.Fatalf("global-only topology:\n%s", topo.Describe())
	}
}

func TestGlobalTableJoinsTakeNamed(t *testing.T) {
	b := topology.NewBuilder()
	g := topology.GlobalTable(b, "g", topology.String(), topology.String())
	s := topology.Stream(b, "in", topology.String(), topology.String())
	key := func(k, _ string) (string, bool) { return k, true }
	topology.JoinGlobalTable(s, g, key, func(v, gv string) string { return v + gv }, topology.Named("enrich")).To("out")
	topology.LeftJoinGlobalTable(s, g, key, func(v, gv string, _ bool) string { return v + gv }, topology.Named("enrich-left")).To("out-left")
	topology.JoinGlobalTable(s, g, key, func(v, gv string) string { return v + gv }).To("out-default")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	d := topo.Describe()
	expectContains(t, d, "Processor: enrich (stores: [g-STATE-STORE-0000000000])", "Processor: enrich-left (stores: [g-STATE-STORE-0000000000])", "Processor: KSTREAM-JOIN-")

	for name, opt := range map[string]topology.StoreOption{
		"engine":  topology.WithEngine(topology.EngineRocksDB),
		"logging": topology.WithLogging(false),
		"grace":   topology.WithGracePeriod(time.Second),
	} {
		b := topology.NewBuilder()
		g := topology.GlobalTable(b, "g", topology.String(), topology.String())
		s := topology.Stream(b, "in", topology.String(), topology.String())
		topology.JoinGlobalTable(s, g, key, func(v, gv string) string { return v + gv }, topology.Named("j"), opt).To("out")
		if _, err := b.Build(); err == nil || !strings.Contains(err.Error(), "global-table join j: the only option is Named") {
			t.Errorf("%s: Build error %v, want one saying the only option is Named", name, err)
		}
	}
}
