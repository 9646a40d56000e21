package streamtest

import (
	"sort"

	"github.com/eddystreams/eddy/state"
	"github.com/eddystreams/eddy/topology"
)

// layout is the physical plan of the topology in the driver, worked out as
// the application does it against a cluster: the partition count of every
// topic and the number of tasks of every sub-topology.
type layout struct {
	appID        string
	topo         *topology.Topology
	defaultCount int32
	counts       map[string]int32 // full topic name -> partitions
	tasks        []int32          // per sub-topology
	inputs       map[string]bool  // external topics the topology reads
	globals      map[string]bool  // source topics of global tables (also in inputs)
}

func newLayout(topo *topology.Topology, c *cfg) (*layout, error) {
	l := &layout{
		appID:        c.appID,
		topo:         topo,
		defaultCount: c.partitions,
		counts:       map[string]int32{},
		tasks:        make([]int32, len(topo.Subtopologies)),
		inputs:       map[string]bool{},
		globals:      map[string]bool{},
	}
	for t, n := range c.topicPartitions {
		l.counts[t] = n
	}
	external := func(t topology.TopicRef) {
		if _, ok := l.counts[t.Name]; !ok {
			l.counts[t.Name] = c.partitions
		}
	}
	for _, st := range topo.Subtopologies {
		for _, s := range st.Sources {
			if !s.Internal {
				external(s)
				l.inputs[s.Name] = true
			}
		}
		for _, s := range st.Sinks {
			if !s.Internal {
				external(s)
			}
		}
	}
	if g := topo.GlobalSubtopology(); g != nil {
		for _, s := range g.Sources {
			external(s)
			l.inputs[s.Name], l.globals[s.Name] = true, true
		}
	}
	// A sub-topology has as many tasks as its widest input; an internal
	// topic as many partitions as the sub-topology writing it has tasks,
	// or as the one reading it where co-partitioning binds them.
	tasks, err := topo.Plan(l.appID, l.counts)
	if err != nil {
		return nil, err
	}
	l.tasks = tasks
	for _, st := range topo.Subtopologies {
		for _, spec := range st.Stores {
			if spec.Logging {
				l.counts[topology.ChangelogTopicName(l.appID, spec.Name)] = l.tasks[st.ID]
			}
		}
	}
	return l, nil
}

// partitions is the partition count of topic; topics the topology does not
// name (such as a dead-letter topic) get the default count.
func (l *layout) partitions(topic string) int32 {
	if n, ok := l.counts[topic]; ok {
		return n
	}
	return l.defaultCount
}

// taskIDs lists every task, by sub-topology and then partition.
func (l *layout) taskIDs() []topology.TaskID {
	var ids []topology.TaskID
	for st, n := range l.tasks {
		for p := int32(0); p < n; p++ {
			ids = append(ids, topology.TaskID{Subtopology: st, Partition: p})
		}
	}
	return ids
}

// taskInputs are the partitions a task reads: partition p of each source
// topic that has one.
func (l *layout) taskInputs(id topology.TaskID) []state.TopicPartition {
	var tps []state.TopicPartition
	for _, s := range l.topo.Subtopologies[id.Subtopology].Sources {
		name := s.FullName(l.appID)
		if id.Partition < l.partitions(name) {
			tps = append(tps, state.TopicPartition{Topic: name, Partition: id.Partition})
		}
	}
	return tps
}

// inputNames lists the external input topics, sorted, for error messages.
func (l *layout) inputNames() []string {
	names := make([]string, 0, len(l.inputs))
	for n := range l.inputs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
