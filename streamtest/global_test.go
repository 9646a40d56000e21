package streamtest_test

import (
	"github.com/eddystreams/eddy"
	"strings"
	"testing"

	"github.com/eddystreams/eddy/streamtest"
	"github.com/eddystreams/eddy/topology"
)

// enrich builds: a global table of region code -> name, and a stream of
// orders (key order id, value region code) enriched by a processor that
// looks the region up in the global store: "<code>:<name>", or
// "<code>:?" when the region is unknown. A write to the global store is
// tried too, and must fail.
func enrich(writeErrs *[]error) func(b *topology.Builder) {
	return func(b *topology.Builder) {
		regions := topology.GlobalTable(b, "regions", topology.String(), topology.String(), topology.Named("regions"))
		orders := topology.Stream(b, "orders", topology.String(), topology.String())
		topology.Process(orders, func() topology.Processor[string, string, string, string] {
			var tbl *topology.TypedKeyValueStore[string, string]
			return &funcProcessor[string, string, string, string]{
				init: func(ctx topology.ProcessorContext[string, string]) error {
					kv, err := ctx.KeyValueStore(regions.StoreName())
					if err != nil {
						return err
					}
					tbl, err = regions.Reader(kv)
					return err
				},
				process: func(ctx topology.ProcessorContext[string, string], r topology.Record[string, string]) error {
					name, ok, err := tbl.Get(r.Value)
					if err != nil {
						return err
					}
					if !ok {
						name = "?"
					}
					if writeErrs != nil {
						*writeErrs = append(*writeErrs, tbl.Put(r.Value, "x"))
					}
					r.Value = r.Value + ":" + name
					return ctx.Forward(r)
				},
			}
		}, regions.StoreName()).To("enriched")
	}
}

func TestGlobalTableLookupsFollowUpdates(t *testing.T) {
	var writeErrs []error
	d := newDriver(t, build(t, enrich(&writeErrs)), streamtest.WithTopicPartitions("regions", 3), streamtest.WithPartitions(2))
	regions := streamtest.CreateInputTopic(d, "regions", topology.String(), topology.String())
	orders := streamtest.CreateInputTopic(d, "orders", topology.String(), topology.String())
	out := streamtest.CreateOutputTopic(d, "enriched", topology.String(), topology.String())

	must(t, regions.PipeKeyValues(kv("eu", "Europe"), kv("us", "America"), kv("ap", "Asia")))
	must(t, orders.PipeKeyValues(kv("o1", "eu"), kv("o2", "ap"), kv("o3", "xx")))
	must(t, regions.Pipe("eu", "EU"))
	must(t, regions.PipeTombstone("ap"))
	must(t, orders.PipeKeyValues(kv("o4", "eu"), kv("o5", "ap")))
	got := map[string]string{}
	for _, p := range readAll(t, out) {
		got[p.Key] = p.Value
	}
	want := map[string]string{"o1": "eu:Europe", "o2": "ap:Asia", "o3": "xx:?", "o4": "eu:EU", "o5": "ap:?"}
	if len(got) != len(want) {
		t.Fatalf("enriched %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("enriched %v, want %v", got, want)
		}
	}
	for _, err := range writeErrs {
		if err == nil || !strings.Contains(err.Error(), "read only") {
			t.Fatalf("a write to the global store gave %v, want a read-only error", err)
		}
	}
	// Every partition of the topic is in the one store.
	expectStore(t, d, "regions", topology.String(), map[string]string{"eu": "EU", "us": "America"})
	// The global table sends nothing and has no changelog of its own.
	for _, topic := range d.ProducedTopics() {
		if topic != "enriched" {
			t.Fatalf("produced to %s", topic)
		}
	}
}

func TestGlobalTableRestoresBeforeTasksStart(t *testing.T) {
	for _, tc := range []struct {
		name   string
		engine topology.Engine
		opts   []streamtest.RestartOption
	}{
		{"memory", topology.EngineMemory, nil},
		{"rocksdb-checkpoint", topology.EngineRocksDB, nil},
		{"rocksdb-wiped", topology.EngineRocksDB, []streamtest.RestartOption{streamtest.WipeState()}},
		{"rocksdb-crash", topology.EngineRocksDB, []streamtest.RestartOption{streamtest.Unclean()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDriver(t, build(t, enrich(nil)), streamtest.WithTopicPartitions("regions", 2), eddy.WithDefaultStoreEngine(tc.engine))
			regions := streamtest.CreateInputTopic(d, "regions", topology.String(), topology.String())
			orders := streamtest.CreateInputTopic(d, "orders", topology.String(), topology.String())
			out := streamtest.CreateOutputTopic(d, "enriched", topology.String(), topology.String())
			must(t, regions.PipeKeyValues(kv("eu", "Europe"), kv("us", "America")))
			must(t, regions.PipeTombstone("us"))
			// An order piped before the restart but not committed is
			// processed again by the new tasks, against the restored
			// global store.
			must(t, orders.Pipe("o1", "eu"))
			must(t, d.Restart(tc.opts...))
			must(t, regions.Pipe("ap", "Asia"))
			must(t, orders.PipeKeyValues(kv("o2", "us"), kv("o3", "ap")))
			expectStore(t, d, "regions", topology.String(), map[string]string{"eu": "Europe", "ap": "Asia"})
			all := readAll(t, out)
			last := map[string]string{}
			for _, p := range all {
				last[p.Key] = p.Value
			}
			if last["o1"] != "eu:Europe" || last["o2"] != "us:?" || last["o3"] != "ap:Asia" {
				t.Fatalf("enriched %v", all)
			}
		})
	}
}
