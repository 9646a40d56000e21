package streamtest

import (
	"sort"

	"github.com/eddystreams/eddy/state"
	"github.com/eddystreams/eddy/topology"
)

// layout is the application's topology.Layout in the driver, with the
// partition counts given to the driver (c.partitions for every external
// topic not named otherwise).
type layout struct {
	*topology.Layout
	appID        string
	topo         *topology.Topology
	defaultCount int32
	inputs       map[string]bool // external topics the topology reads
	globals      map[string]bool // source topics of global tables (also in inputs)
}

func newLayout(topo *topology.Topology, c *cfg) (*layout, error) {
	l := &layout{
		appID:        c.AppID,
		topo:         topo,
		defaultCount: c.partitions,
		inputs:       map[string]bool{},
		globals:      map[string]bool{},
	}
	counts := map[string]int32{}
	for _, t := range topology.ExternalTopics(topo) {
		counts[t] = c.partitions
	}
	for t, n := range c.topicPartitions {
		counts[t] = n
	}
	for _, st := range topo.Subtopologies {
		for _, s := range st.Sources {
			if !s.Internal {
				l.inputs[s.Name] = true
			}
		}
	}
	if g := topo.GlobalSubtopology(); g != nil {
		for _, s := range g.Sources {
			l.inputs[s.Name], l.globals[s.Name] = true, true
		}
	}
	tl, err := topology.NewLayout(topo, c.AppID, counts)
	if err != nil {
		return nil, err
	}
	l.Layout = tl
	return l, nil
}

// partitions is the partition count of topic; topics the topology does not
// name (such as a dead-letter topic) get the default count.
func (l *layout) partitions(topic string) int32 {
	if n, ok := l.Partitions(topic); ok {
		return n
	}
	return l.defaultCount
}

// taskIDs lists every task, by sub-topology and then partition.
func (l *layout) taskIDs() []topology.TaskID { return l.Tasks() }

// taskInputs are the partitions a task reads.
func (l *layout) taskInputs(id topology.TaskID) []state.TopicPartition { return l.Inputs(id) }

// inputNames lists the external input topics, sorted, for error messages.
func (l *layout) inputNames() []string {
	names := make([]string, 0, len(l.inputs))
	for n := range l.inputs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
