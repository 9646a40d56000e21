package topology_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/eddystreams/eddy/topology"
)

var str = topology.String()

func concat(a, b string) string { return a + b }

// ordersAndCustomers builds a foreign-key join of a table of orders
// (value: the customer) with a table of customers, named "oc".
func ordersAndCustomers(t *testing.T) *topology.Topology {
	t.Helper()
	b := topology.NewBuilder()
	orders := topology.Table(b, "orders", str, str, topology.Named("orders"))
	customers := topology.Table(b, "customers", str, str, topology.Named("customers"))
	topology.JoinForeignKey(orders, customers, func(_, v string) (string, bool) { return v, true }, concat, topology.Named("oc")).
		ToStream().To("out")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

func TestForeignKeyJoinDescribeListsItsTopicsAndStores(t *testing.T) {
	d := ordersAndCustomers(t).Describe()
	expectContains(t, d,
		"Subscription topic: <app>-oc-subscription-registration-topic (written by sub-topology 0)",
		"Subscription response topic: <app>-oc-subscription-response-topic (written by sub-topology 1)",
		"Store: oc (sub-topology: 0, engine: default, changelog: <app>-oc-changelog)",
		"Store: oc-subscription-store (sub-topology: 1, engine: default, changelog: <app>-oc-subscription-store-changelog)",
		"Processor: KTABLE-FK-JOIN-OUTPUT-0000000011 (stores: [oc, orders])",
		"Store: oc-foreign-timestamps (sub-topology: 1, engine: default, changelog: <app>-oc-foreign-timestamps-changelog)",
		"Processor: KTABLE-FK-JOIN-SUBSCRIPTION-RECEIVE-0000000007 (stores: [oc-subscription-store, oc-foreign-timestamps, customers])",
		"Processor: KTABLE-FK-JOIN-FOREIGN-0000000008 (stores: [oc-subscription-store, oc-foreign-timestamps])",
	)
}

func TestPlanForeignKeyJoinNeedsNoCopartitioning(t *testing.T) {
	// The left side reads the response topic its right side writes, and the
	// right side the subscription topic the left side writes: each takes
	// the width of the table it sits beside.
	counts := map[string]int32{"orders": 3, "customers": 2, "out": 1}
	tasks, err := ordersAndCustomers(t).Plan("app", counts)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(tasks, []int32{3, 2}) {
		t.Fatalf("tasks %v, want [3 2]", tasks)
	}
	if s, r := counts["app-oc-subscription-registration-topic"], counts["app-oc-subscription-response-topic"]; s != 2 || r != 3 {
		t.Fatalf("subscription topic %d partitions, response topic %d; want 2 and 3", s, r)
	}
}

func TestPlanStreamTableJoin(t *testing.T) {
	build := func(rekey bool) *topology.Topology {
		b := topology.NewBuilder()
		s := topology.Stream(b, "clicks", str, str)
		if rekey {
			s = topology.SelectKey(s, func(_, v string) string { return v })
		}
		users := topology.Table(b, "users", str, str)
		topology.JoinTable(s, users, concat).To("out")
		topo, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		return topo
	}
	// Stream and table are one sub-topology (the join reads the table's
	// store), bound by co-partitioning: topics of different widths are an
	// error naming them (Kafka Streams' TopologyException "Topics not
	// co-partitioned").
	topo := build(false)
	if len(topo.Subtopologies) != 1 {
		t.Fatalf("%d sub-topologies, want 1:\n%s", len(topo.Subtopologies), topo.Describe())
	}
	_, err := topo.Plan("app", map[string]int32{"clicks": 4, "users": 2, "out": 1})
	if err == nil {
		t.Fatal("Plan accepted a join of topics with 4 and 2 partitions")
	}
	expectContains(t, err.Error(), "not co-partitioned", "users has 2", "widest input has 4")
	if _, err := topo.Plan("app", map[string]int32{"clicks": 3, "users": 3, "out": 1}); err != nil {
		t.Fatal(err)
	}
	// A re-keyed stream is repartitioned; its repartition topic takes the
	// table's width, whatever the width of the stream's own topic.
	topo = build(true)
	counts := map[string]int32{"clicks": 8, "users": 2, "out": 1}
	tasks, err := topo.Plan("app", counts)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(tasks, []int32{8, 2}) || counts["app-KSTREAM-JOIN-0000000005-left-repartition"] != 2 {
		t.Fatalf("tasks %v, counts %v: want [8 2] and a repartition topic of 2\n%s", tasks, counts, topo.Describe())
	}
}

// Joining derived tables keeps no copy of their values: the join reads them
// through the source tables' stores. Its only store is the one that keeps
// the timestamps of both sides' values, for Kafka Streams' result
// timestamps (join_table_table.go).
func TestJoiningDerivedTablesAddsOnlyATimestampsStore(t *testing.T) {
	b := topology.NewBuilder()
	s := topology.Stream(b, "s", str, str)
	l := topology.Table(b, "l", str, str, topology.Named("l"))
	r := topology.Table(b, "r", str, str, topology.Named("r"))
	derived := topology.MapTableValues(l.Filter(func(_, v string) bool { return v != "" }), func(_, v string) int64 { return int64(len(v)) })
	joined := topology.LeftJoinTables(derived, r, func(n int64, v string, ok bool) string { return v })
	topology.LeftJoinTable(s, joined, func(a, b string, ok bool) string { return a + b }).To("out")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	if len(topo.Subtopologies) != 1 {
		t.Fatalf("%d sub-topologies, want 1", len(topo.Subtopologies))
	}
	var names []string
	for _, s := range topo.Subtopologies[0].Stores {
		names = append(names, s.Name)
	}
	if want := []string{"l", "r", "KTABLE-LEFTTHIS-0000000007-timestamps"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("stores %v, want the source tables' and the join's timestamps %v", names, want)
	}
	// The stream join reads the join result through both tables' stores.
	expectContains(t, topo.Describe(), "Processor: KSTREAM-LEFTJOIN-0000000010 (stores: [l, r])")
}

func TestJoinsAcrossBuildersFail(t *testing.T) {
	b1, b2 := topology.NewBuilder(), topology.NewBuilder()
	s := topology.Stream(b1, "s", str, str)
	t1 := topology.Table(b1, "t1", str, str)
	t2 := topology.Table(b2, "t2", str, str)
	topology.JoinTable(s, t2, concat)
	topology.JoinTables(t1, t2, concat)
	topology.JoinForeignKey(t1, t2, func(_, v string) (string, bool) { return v, true }, concat)
	err := buildErr(t, b1)
	if strings.Count(err, "different builders") != 3 {
		t.Fatalf("error %q: want three complaints about different builders", err)
	}
}

func TestPlanForeignKeyJoinOfAggregates(t *testing.T) {
	// Both tables are aggregates, read from repartition topics: the cycle
	// of subscription and response topics has no external topic to take a
	// width from, so the plan sizes one side from what it knows.
	b := topology.NewBuilder()
	latest := func(_, v string, _ string) string { return v }
	orders := topology.Aggregate(topology.GroupBy(topology.Stream(b, "order-events", str, str), func(k, _ string) string { return k }),
		func() string { return "" }, latest, str)
	customers := topology.Aggregate(topology.GroupBy(topology.Stream(b, "customer-events", str, str), func(k, _ string) string { return k }),
		func() string { return "" }, latest, str)
	topology.LeftJoinForeignKey(orders, customers, func(_, v string) (string, bool) { return v, v != "" },
		func(o, c string, _ bool) string { return o + c }, topology.Named("oc")).ToStream().To("out")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int32{"order-events": 3, "customer-events": 5, "out": 1}
	tasks, err := topo.Plan("app", counts)
	if err != nil {
		t.Fatalf("Plan: %v\n%s", err, topo.Describe())
	}
	for _, st := range topo.Subtopologies {
		for _, s := range st.Sources {
			if n := counts[s.FullName("app")]; n != tasks[st.ID] && len(st.Stores) > 0 {
				t.Fatalf("sub-topology %d has %d tasks but reads %s with %d partitions\n%s", st.ID, tasks[st.ID], s, n, topo.Describe())
			}
		}
	}
}
