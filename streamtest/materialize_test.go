package streamtest_test

import (
	"testing"

	"github.com/eddystreams/eddy/streamtest"
	"github.com/eddystreams/eddy/topology"
)

func TestMaterializedFilteredTable(t *testing.T) {
	d := newDriver(t, build(t, func(b *topology.Builder) {
		tb := topology.Table(b, "in", topology.String(), topology.Int64())
		big := tb.Filter(func(_ string, v int64) bool { return v >= 10 }).Materialize(topology.Named("big"))
		if big.StoreName() != "big" {
			panic("StoreName " + big.StoreName())
		}
		topology.MapTableValues(big, func(_ string, v int64) string { return "n" }).ToStream().To("out")
	}))
	in := streamtest.CreateInputTopic(d, "in", topology.String(), topology.Int64())
	out := streamtest.CreateOutputTopic(d, "out", topology.String(), topology.String())
	must(t, in.PipeKeyValues(kv("a", int64(12)), kv("b", int64(3)), kv("c", int64(50)), kv("a", int64(1))))
	must(t, in.PipeTombstone("c"))
	expectUpdates(t, out, "a=n", "c=n", "a=<null>", "c=<null>")
	expectStore(t, d, "big", topology.Int64(), map[string]int64{})
	must(t, in.Pipe("b", 30))
	expectStore(t, d, "big", topology.Int64(), map[string]int64{"b": 30})
	// The store is change-logged: a restart without local state restores it.
	must(t, d.Restart(streamtest.WipeState()))
	expectStore(t, d, "big", topology.Int64(), map[string]int64{"b": 30})
}
