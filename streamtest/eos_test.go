package streamtest_test

import (
	"fmt"
	"testing"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/streamtest"
	"github.com/eddystreams/eddy/topology"
)

// eosCounts counts words twice, through a repartition topic: into a logged
// store ("counts" → "out") and into a RocksDB store without a changelog
// ("scratch" → "scratch-out").
func eosCounts(t *testing.T) *topology.Topology {
	t.Helper()
	b := topology.NewBuilder()
	words := topology.Stream(b, "words", topology.String(), topology.String())
	grouped := topology.GroupBy(words, func(_ string, w string) string { return w })
	grouped.Count(topology.Named("counts")).ToStream().To("out")
	grouped.Count(topology.Named("scratch"), topology.WithLogging(false), topology.WithEngine(topology.EngineRocksDB)).ToStream().To("scratch-out")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// TestExactlyOnceInTheDriver runs the driver under exactly-once: outputs
// are seen only once committed (read_committed), a crash aborts what was
// not committed so no count is seen twice, and the store without a
// changelog starts over after an unclean stop (it may hold uncommitted
// writes). Each of these fails if the task commits its offsets outside the
// transaction, keeps an unlogged store after an unclean exactly-once stop, or
// if readers saw uncommitted records.
func TestExactlyOnceInTheDriver(t *testing.T) {
	d, err := streamtest.New(eosCounts(t), eddy.WithProcessingGuarantee(eddy.ExactlyOnce), streamtest.WithPartitions(2))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	in := streamtest.CreateInputTopic(d, "words", topology.String(), topology.String())
	out := streamtest.CreateOutputTopic(d, "out", topology.String(), topology.Int64())
	scratch := streamtest.CreateOutputTopic(d, "scratch-out", topology.String(), topology.Int64())
	pipe := func(words ...string) {
		t.Helper()
		for _, w := range words {
			if err := in.Pipe("", w); err != nil {
				t.Fatal(err)
			}
		}
	}
	seqs := map[string][]int64{}
	read := func(o *streamtest.TestOutputTopic[string, int64], into map[string][]int64) {
		t.Helper()
		rs, err := o.ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			into[r.Key] = append(into[r.Key], r.Value)
		}
	}

	pipe("a", "b", "a")
	if !out.IsEmpty() {
		t.Fatal("counts are visible before the commit")
	}
	if err := d.Commit(); err != nil {
		t.Fatal(err)
	}
	read(out, seqs)
	if fmt.Sprint(seqs) != "map[a:[1 2] b:[1]]" {
		t.Fatalf("after the first commit: %v", seqs)
	}

	// Processed, not committed, then a crash: aborted, done again.
	pipe("a", "c")
	if err := d.Restart(streamtest.Unclean()); err != nil {
		t.Fatal(err)
	}
	if err := d.Commit(); err != nil {
		t.Fatal(err)
	}
	read(out, seqs)
	if fmt.Sprint(seqs) != "map[a:[1 2 3] b:[1] c:[1]]" {
		t.Fatalf("after the crash: %v (each count exactly once)", seqs)
	}

	// The store without a changelog was wiped by the unclean stop: its
	// counts start over, from the records after the last commit.
	scratchSeqs := map[string][]int64{}
	read(scratch, scratchSeqs)
	if fmt.Sprint(scratchSeqs) != "map[a:[1 2 1] b:[1] c:[1]]" {
		t.Fatalf("counts of the store without a changelog: %v, want a fresh start after the crash", scratchSeqs)
	}
	var committed int64
	for p := int32(0); p < 2; p++ {
		o, _ := d.Committed("words", p)
		committed += o
	}
	if committed != 5 {
		t.Fatalf("committed input offsets sum to %d, want the 5 records piped", committed)
	}
}
