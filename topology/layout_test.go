package topology_test

import (
	"reflect"
	"testing"

	"github.com/eddystreams/eddy/topology"
)

// TestLayoutOfWordCount lays out a word count: sub-topology 0 reads "lines"
// (3 partitions) and writes the repartition topic, which sub-topology 1
// reads to count into a logged store, and "other" (5 partitions) is read by
// a third sub-topology with no store.
func TestLayoutOfWordCount(t *testing.T) {
	b := topology.NewBuilder()
	lines := topology.Stream(b, "lines", topology.String(), topology.String())
	topology.GroupBy(lines, func(_ string, v string) string { return v }).Count(topology.Named("counts")).ToStream().To("out")
	topology.Stream(b, "other", topology.String(), topology.String()).To("copy")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	l, err := topology.NewLayout(topo, "app", map[string]int32{"lines": 3, "out": 1, "other": 5, "copy": 2})
	if err != nil {
		t.Fatal(err)
	}
	var counting, copying int
	for _, st := range topo.Subtopologies {
		for _, s := range st.Sources {
			switch {
			case s.Internal:
				counting = st.ID
			case s.Name == "other":
				copying = st.ID
			}
		}
	}
	if got := l.TaskCount(counting); got != 3 {
		t.Errorf("counting sub-topology has %d tasks, want 3 (the width of the repartitioned input)", got)
	}
	if got := l.TaskCount(copying); got != 5 {
		t.Errorf("copying sub-topology has %d tasks, want 5", got)
	}
	if n := len(l.Tasks()); n != 3+3+5 {
		t.Errorf("%d tasks, want 11", n)
	}
	want := []topology.TopicPartition{{Topic: "app-counts-repartition", Partition: 2}}
	if got := l.Inputs(topology.TaskID{Subtopology: counting, Partition: 2}); !reflect.DeepEqual(got, want) {
		t.Errorf("inputs of the counting task 2: %v, want %v", got, want)
	}
	if got := l.TasksOf("app-counts-repartition", 1); !reflect.DeepEqual(got, []topology.TaskID{{Subtopology: counting, Partition: 1}}) {
		t.Errorf("tasks of app-counts-repartition-1: %v", got)
	}
	if got := l.TasksOf("other", 5); got != nil {
		t.Errorf("partition 5 of a 5-partition topic has tasks %v", got)
	}
	if got := l.TasksOf("out", 0); got != nil {
		t.Errorf("a topic only written has reading tasks %v", got)
	}
	if id, ok := l.StoreTask("counts", 2); !ok || id != (topology.TaskID{Subtopology: counting, Partition: 2}) {
		t.Errorf("store counts, partition 2: %v %v", id, ok)
	}
	if _, ok := l.StoreTask("counts", 3); ok {
		t.Error("store partition past the task count must not name a task")
	}
	if _, ok := l.StoreTask("nope", 0); ok {
		t.Error("an unknown store must not name a task")
	}
	got := l.InternalTopics()
	wantTopics := []topology.InternalTopic{
		{Name: "app-counts-changelog", Kind: topology.TopicChangelog, Partitions: 3, Configs: map[string]string{"cleanup.policy": "compact"}},
		{Name: "app-counts-repartition", Kind: topology.TopicRepartition, Partitions: 3, Configs: map[string]string{}},
	}
	if !reflect.DeepEqual(got, wantTopics) {
		t.Errorf("internal topics:\n got %+v\nwant %+v", got, wantTopics)
	}
	if got := topology.ExternalTopics(topo); !reflect.DeepEqual(got, []string{"copy", "lines", "other", "out"}) {
		t.Errorf("external topics %v", got)
	}
}
