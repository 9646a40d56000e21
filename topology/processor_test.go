package topology_test

import (
	"testing"

	"github.com/eddystreams/eddy/topology"
)

type nopProcessor struct{}

func (nopProcessor) Init(topology.ProcessorContext[string, string]) error { return nil }
func (nopProcessor) Process(topology.Record[string, string]) error        { return nil }
func (nopProcessor) Close() error                                         { return nil }

func nop() topology.Processor[string, string, string, string] { return nopProcessor{} }

func TestProcessStoresJoinSubtopologies(t *testing.T) {
	b := topology.NewBuilder()
	b.AddStore(topology.StoreSpec{Name: "custom", Engine: topology.EngineMemory, Logging: true})
	a := topology.Stream(b, "a", topology.String(), topology.String())
	counts := a.GroupByKey().Count(topology.Named("counts"))
	counts.ToStream().To("counts-out")
	// A processor on another input that uses the DSL's store and a custom
	// one joins the sub-topology owning them.
	other := topology.Stream(b, "other", topology.String(), topology.String())
	topology.Process(other, nop, "counts", "custom").To("out")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	if n := len(topo.Subtopologies); n != 1 {
		t.Fatalf("%d sub-topologies, want 1:\n%s", n, topo.Describe())
	}
	expectContains(t, topo.Describe(),
		"Processor: KSTREAM-PROCESSOR-0000000005 (stores: [counts, custom])",
		"Store: custom (sub-topology: 0, engine: memory, changelog: <app>-custom-changelog)")
	spec, ok := topo.Store("custom")
	if !ok || !spec.Logging || spec.Engine != topology.EngineMemory {
		t.Fatalf("custom store %+v, %v", spec, ok)
	}
}

func TestProcessBuildErrors(t *testing.T) {
	b := topology.NewBuilder()
	topology.Process(topology.Stream(b, "in", topology.String(), topology.String()), nop, "missing")
	expectContains(t, buildErr(t, b), `processor KSTREAM-PROCESSOR-0000000001 uses store "missing", which is not defined`)

	b = topology.NewBuilder()
	topology.Process[string, string, string, string](topology.Stream(b, "in", topology.String(), topology.String()), nil)
	expectContains(t, buildErr(t, b), "nil processor supplier")

	b = topology.NewBuilder()
	s := topology.Stream(b, "in", topology.String(), topology.String())
	s.As("x").To("a")
	s.As("x").To("b")
	s.As("")
	expectContains(t, buildErr(t, b), `As: node name "x" is used twice`, "As: empty node name")

	b = topology.NewBuilder()
	topology.Stream(b, "in", topology.String(), topology.String())
	b.AddStore(topology.StoreSpec{Name: "s"})
	b.AddStore(topology.StoreSpec{Name: "s"})
	b.AddStore(topology.StoreSpec{Name: "e", Engine: 99})
	b.AddStore(topology.StoreSpec{})
	expectContains(t, buildErr(t, b), `store "s" is defined twice`, `store "e": unknown engine 99`, "a store needs a name")
}
