package topology_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/eddystreams/eddy/topology"
)

func streamJoinTopology(t *testing.T, rekeyLeft bool, w topology.JoinWindows, opts ...topology.StoreOption) (*topology.Topology, error) {
	t.Helper()
	b := topology.NewBuilder()
	l := topology.Stream(b, "views", str, str)
	if rekeyLeft {
		l = topology.SelectKey(l, func(_, v string) string { return v })
	}
	r := topology.Stream(b, "clicks", str, str)
	topology.LeftJoinStreams(l, r, func(a, b string, _ bool) string { return a + b }, w, opts...).To("out")
	return b.Build()
}

func TestStreamJoinIsOneSubtopologyWithThreeStores(t *testing.T) {
	topo, err := streamJoinTopology(t, false, topology.JoinWindowsOf(time.Minute, 10*time.Second), topology.Named("vc"))
	if err != nil {
		t.Fatal(err)
	}
	if len(topo.Subtopologies) != 1 {
		t.Fatalf("%d sub-topologies, want 1:\n%s", len(topo.Subtopologies), topo.Describe())
	}
	var names []string
	for _, s := range topo.Subtopologies[0].Stores {
		names = append(names, s.Name)
	}
	if want := []string{"vc-left-store", "vc-right-store", "vc-outer-store"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("stores %v, want %v", names, want)
	}
	// Buffers are window stores kept for before + after + grace (+1ms, see
	// JoinWindows.bufferRetention); the store of unmatched records is a
	// plain key-value store.
	for _, n := range names[:2] {
		spec, _ := topo.Store(n)
		if spec.Kind != topology.KindWindow || spec.Retention != 130*time.Second+time.Millisecond || !spec.Logging {
			t.Fatalf("store %s: kind %v, retention %v, logging %v", n, spec.Kind, spec.Retention, spec.Logging)
		}
	}
	if spec, _ := topo.Store("vc-outer-store"); spec.Kind != topology.KindKeyValue {
		t.Fatalf("outer store kind %v", spec.Kind)
	}
	expectContains(t, topo.Describe(), "KSTREAM-OUTERTHIS-", "KSTREAM-JOINOTHER-", "KSTREAM-MERGE-",
		"stores: [vc-left-store, vc-right-store, vc-outer-store]")
	// Co-partitioned: topics of different widths are an error naming them.
	_, err = topo.Plan("app", map[string]int32{"views": 4, "clicks": 2, "out": 1})
	if err == nil {
		t.Fatal("Plan accepted a join of topics with 4 and 2 partitions")
	}
	expectContains(t, err.Error(), "not co-partitioned", "clicks has 2")
}

func TestStreamJoinRepartitionsARekeyedSide(t *testing.T) {
	topo, err := streamJoinTopology(t, true, topology.JoinWindowsOf(time.Minute, 0), topology.Named("vc"))
	if err != nil {
		t.Fatal(err)
	}
	// The re-keyed side goes through "<app>-vc-left-repartition"; the other
	// is read as is. The repartition topic takes the other input's width.
	desc := topo.Describe()
	expectContains(t, desc, "<app>-vc-left-repartition")
	if strings.Contains(desc, "vc-right-repartition") {
		t.Fatalf("the right side was repartitioned:\n%s", desc)
	}
	counts := map[string]int32{"views": 8, "clicks": 3, "out": 1}
	if _, err := topo.Plan("app", counts); err != nil {
		t.Fatal(err)
	}
	if n := counts["app-vc-left-repartition"]; n != 3 {
		t.Fatalf("repartition topic of %d partitions, want 3", n)
	}
}

func TestStreamJoinValidation(t *testing.T) {
	for _, c := range []struct {
		w    topology.JoinWindows
		want string
	}{
		{topology.JoinWindows{Before: -2 * time.Second, After: time.Second}, "inverse window"},
		{topology.JoinWindows{Before: time.Second, After: time.Second, Grace: -1}, "negative grace"},
	} {
		if _, err := streamJoinTopology(t, false, c.w); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("windows %+v: err %v, want %q", c.w, err, c.want)
		}
	}
	// A window that does not contain the record's own time is fine.
	if _, err := streamJoinTopology(t, false, topology.JoinWindows{Before: -time.Second, After: 2 * time.Second}); err != nil {
		t.Error(err)
	}
	_, err := streamJoinTopology(t, false, topology.JoinWindowsOf(time.Second, 0), topology.StreamJoined(str, topology.Int64(), str))
	if err == nil || !strings.Contains(err.Error(), "StreamJoined serdes do not match") {
		t.Errorf("StreamJoined of the wrong types: err %v", err)
	}
	if _, err := streamJoinTopology(t, false, topology.JoinWindowsOf(time.Second, 0), topology.StreamJoined[string, string, string](nil, str, nil)); err != nil {
		t.Errorf("StreamJoined with nil serdes: %v", err)
	}
}

func TestVersionedTableStore(t *testing.T) {
	b := topology.NewBuilder()
	prices := topology.Table(b, "prices", str, str, topology.Versioned(time.Hour), topology.Named("prices"))
	topology.LeftJoinTable(topology.Stream(b, "orders", str, str), prices, func(o, p string, _ bool) string { return o + p }).To("out")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := topo.Store("prices")
	// Its own changelog: the store holds versions, not the topic's records.
	if spec.Kind != topology.KindVersioned || spec.Retention != time.Hour || !spec.Logging || spec.SourceTopic != "" {
		t.Fatalf("store: %+v", spec)
	}
	if len(topo.Subtopologies) != 1 {
		t.Fatalf("%d sub-topologies, want 1:\n%s", len(topo.Subtopologies), topo.Describe())
	}
	b = topology.NewBuilder()
	topology.VersionedTable(b, "prices", str, str, 0)
	if _, err := b.Build(); err == nil || !strings.Contains(err.Error(), "history retention") {
		t.Fatalf("zero history retention: %v", err)
	}
}
