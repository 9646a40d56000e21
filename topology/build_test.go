package topology_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/eddystreams/eddy/topology"
)

// buildErr builds and returns the error, failing the test when there is none.
func buildErr(t *testing.T, b *topology.Builder) string {
	t.Helper()
	topo, err := b.Build()
	if err == nil {
		t.Fatalf("Build succeeded:\n%s", topo.Describe())
	}
	if topo != nil {
		t.Fatal("Build returned a topology with its error")
	}
	return err.Error()
}

func expectContains(t *testing.T, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%q lacks %q", s, sub)
		}
	}
}

func TestBuildNoSource(t *testing.T) {
	expectContains(t, buildErr(t, topology.NewBuilder()), "topology has no source")
}

func TestBuildTopicReadTwice(t *testing.T) {
	b := topology.NewBuilder()
	topology.Stream(b, "in", topology.String(), topology.String()).To("a")
	topology.Stream(b, "in", topology.String(), topology.Int64()).To("b")
	expectContains(t, buildErr(t, b), "topic in is already read by source KSTREAM-SOURCE-0000000000", "share the stream")
}

func TestBuildStoreDefinedTwice(t *testing.T) {
	b := topology.NewBuilder()
	s := topology.Stream(b, "in", topology.String(), topology.String())
	s.GroupByKey().Count(topology.Named("counts"))
	s.GroupByKey().Reduce(func(a, v string) string { return a + v }, topology.Named("counts"))
	expectContains(t, buildErr(t, b), `store "counts" is defined twice`)
}

func TestBuildSplitDefaultTwice(t *testing.T) {
	b := topology.NewBuilder()
	s := topology.Stream(b, "in", topology.String(), topology.String())
	bs := s.Split("p-").Branch("a", func(string, string) bool { return true })
	bs.Default("rest")
	if again := bs.Default("other"); again != nil {
		t.Fatalf("second Default returned branches %v", again)
	}
	expectContains(t, buildErr(t, b), "split: Default or NoDefault called twice")

	b = topology.NewBuilder()
	bs = topology.Stream(b, "in", topology.String(), topology.String()).Split("p-")
	bs.NoDefault()
	bs.Default("rest")
	expectContains(t, buildErr(t, b), "called twice")
}

func TestBuildSplitBranchNameTwice(t *testing.T) {
	b := topology.NewBuilder()
	s := topology.Stream(b, "in", topology.String(), topology.String())
	yes := func(string, string) bool { return true }
	s.Split("p-").Branch("x", yes).Branch("x", yes).NoDefault()
	expectContains(t, buildErr(t, b), `split: branch name "p-x" used twice`)

	// The default branch's name counts too.
	b = topology.NewBuilder()
	topology.Stream(b, "in", topology.String(), topology.String()).Split("").Branch("x", yes).Default("x")
	expectContains(t, buildErr(t, b), `branch name "x" used twice`)
}

func TestBuildEmptyTopicNames(t *testing.T) {
	b := topology.NewBuilder()
	topology.Stream(b, "", topology.String(), topology.String()).To("out")
	expectContains(t, buildErr(t, b), "source KSTREAM-SOURCE-0000000000: empty topic name")

	b = topology.NewBuilder()
	topology.Stream(b, "in", topology.String(), topology.String()).To("")
	expectContains(t, buildErr(t, b), "sink KSTREAM-SINK-0000000001: empty topic name")
}

func TestBuildMergeAcrossBuilders(t *testing.T) {
	b1, b2 := topology.NewBuilder(), topology.NewBuilder()
	s1 := topology.Stream(b1, "a", topology.String(), topology.String())
	s2 := topology.Stream(b2, "b", topology.String(), topology.String())
	s1.Merge(s2).To("out")
	expectContains(t, buildErr(t, b1), "merge: streams come from different builders")
}

func TestBuildReportsEveryMistake(t *testing.T) {
	b := topology.NewBuilder()
	s := topology.Stream(b, "in", topology.String(), topology.String())
	s.To("")
	topology.Stream(b, "in", topology.String(), topology.String())
	msg := buildErr(t, b)
	expectContains(t, msg, "empty topic name", "already read")
}

func TestBuildSplitsAtRepartitionTopics(t *testing.T) {
	b := topology.NewBuilder()
	s := topology.Stream(b, "in", topology.String(), topology.String())
	// Two groupings of a re-keyed stream: two repartition topics, each
	// starting its own sub-topology.
	keyed := topology.SelectKey(s, func(_, v string) string { return v })
	keyed.GroupByKey().Count(topology.Named("c1"))
	keyed.GroupByKey().Count(topology.Named("c2"), topology.WithEngine(topology.EngineMemory), topology.WithLogging(false))
	// An unrelated stream is its own sub-topology.
	topology.Stream(b, "other", topology.String(), topology.String()).To("other-out")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	type shape struct {
		Sources, Sinks []topology.TopicRef
		Stores         []string
	}
	var got []shape
	for i, st := range topo.Subtopologies {
		if st.ID != i {
			t.Fatalf("sub-topology %d has id %d", i, st.ID)
		}
		sh := shape{Sources: st.Sources, Sinks: st.Sinks}
		for _, spec := range st.Stores {
			sh.Stores = append(sh.Stores, spec.Name)
		}
		got = append(got, sh)
	}
	rep1 := topology.TopicRef{Name: "c1-repartition", Internal: true}
	rep2 := topology.TopicRef{Name: "c2-repartition", Internal: true}
	want := []shape{
		{Sources: []topology.TopicRef{{Name: "in"}}, Sinks: []topology.TopicRef{rep1, rep2}},
		{Sources: []topology.TopicRef{rep1}, Stores: []string{"c1"}},
		{Sources: []topology.TopicRef{rep2}, Stores: []string{"c2"}},
		{Sources: []topology.TopicRef{{Name: "other"}}, Sinks: []topology.TopicRef{{Name: "other-out"}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("sub-topologies\n got  %+v\n want %+v", got, want)
	}
	c2, ok := topo.Store("c2")
	if !ok || c2.Engine != topology.EngineMemory || c2.Logging {
		t.Fatalf("store c2 = %+v, %v", c2, ok)
	}
	if st, ok := topo.SubtopologyOfStore("c1"); !ok || st.ID != 1 {
		t.Fatalf("c1 owned by %v, %v", st, ok)
	}
	if _, ok := topo.Store("nope"); ok {
		t.Fatal("unknown store found")
	}
	if _, ok := topo.SubtopologyOfStore("nope"); ok {
		t.Fatal("unknown store has a sub-topology")
	}
	if got := rep1.FullName("app"); got != "app-c1-repartition" {
		t.Fatalf("full name %q", got)
	}
}

func TestUnnamedStoreGetsGeneratedName(t *testing.T) {
	b := topology.NewBuilder()
	topology.Stream(b, "in", topology.String(), topology.String()).GroupByKey().Count().ToStream().To("out")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	if got := topo.Subtopologies[0].Stores; len(got) != 1 || got[0].Name != "KSTREAM-AGGREGATE-STATE-STORE-0000000002" || !got[0].Logging {
		t.Fatalf("stores %+v", got)
	}
}
