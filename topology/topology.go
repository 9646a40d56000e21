package topology

import (
	"fmt"
	"sort"
	"strings"
)

// Topology is the validated result of Build: sub-topologies joined by
// repartition topics. It is immutable and may be shared by many applications.
type Topology struct {
	Subtopologies []*Subtopology
	stores        map[string]*StoreSpec
	globalNodes   []*node // global tables' nodes, in no sub-topology
}

// Subtopology is a connected part of the processor graph. It runs as one task
// per partition of its source topics.
type Subtopology struct {
	ID      int
	Sources []TopicRef // topics read, in definition order
	Sinks   []TopicRef // topics written (output and repartition)
	Stores  []StoreSpec
	nodes   []*node
	topo    *Topology
}

// Store returns the spec of the named store.
func (t *Topology) Store(name string) (StoreSpec, bool) {
	s, ok := t.stores[name]
	if !ok {
		return StoreSpec{}, false
	}
	return *s, true
}

// SubtopologyOfStore returns the sub-topology that owns the named store.
func (t *Topology) SubtopologyOfStore(name string) (*Subtopology, bool) {
	for _, st := range t.Subtopologies {
		if containsStore(st.Stores, name) {
			return st, true
		}
	}
	return nil, false
}

// TaskGraph is a sub-topology instantiated for one task.
type TaskGraph struct {
	sources map[string]func(*RawRecord) error
	life    *lifecycle // processors' Init and Close (lifecycle.go)

	// The source of the last record's topic: consecutive records mostly
	// come from the same topic, and comparing the name (the same string
	// each time) is cheaper than hashing it.
	lastTopic  string
	lastSource func(*RawRecord) error
}

// Process runs one input record, read from its full topic name, through the
// task's processors. r is only valid during the call: the caller may reuse
// it for the next record.
func (g *TaskGraph) Process(r *RawRecord) error {
	if g.lastSource != nil && r.Topic == g.lastTopic {
		return g.lastSource(r)
	}
	f, ok := g.sources[r.Topic]
	if !ok {
		return fmt.Errorf("no source node reads topic %q", r.Topic)
	}
	g.lastTopic, g.lastSource = r.Topic, f
	return f(r)
}

// Instantiate builds the runtime processors of the sub-topology for one task.
func (st *Subtopology) Instantiate(ctx TaskContext) (*TaskGraph, error) {
	made := map[int]any{}
	life := &lifecycle{}
	var inst func(n *node) (any, error)
	inst = func(n *node) (any, error) {
		if v, ok := made[n.id]; ok {
			return v, nil
		}
		kids := make([]any, len(n.children))
		for i, c := range n.children {
			k, err := inst(c)
			if err != nil {
				return nil, err
			}
			kids[i] = k
		}
		v, err := n.make(ctx, kids)
		if err != nil {
			return nil, fmt.Errorf("instantiate %s: %w", n.name, err)
		}
		v = life.register(n, v) // keeps a processor's Init and Close hooks
		made[n.id] = v
		return v, nil
	}
	g := &TaskGraph{sources: map[string]func(*RawRecord) error{}, life: life}
	for _, n := range st.nodes {
		if n.kind != kindSource {
			continue
		}
		v, err := inst(n)
		if err != nil {
			return nil, err
		}
		for _, tp := range n.topics {
			g.sources[tp.FullName(ctx.ApplicationID())] = v.(func(*RawRecord) error)
		}
	}
	return g, nil
}

// Describe prints the sub-topologies with their sources, processors, stores
// and sinks, in the spirit of Kafka Streams' TopologyDescription. Internal
// topics are shown with the "<app>-" placeholder for the application id.
func (t *Topology) Describe() string {
	var sb strings.Builder
	sb.WriteString("Topologies:\n")
	for _, st := range t.Subtopologies {
		fmt.Fprintf(&sb, "   Sub-topology: %d\n", st.ID)
		describeNodes(&sb, st.nodes)
	}
	t.describeGlobals(&sb)
	if len(t.stores) > 0 {
		sb.WriteString("Stores:\n")
		names := make([]string, 0, len(t.stores))
		for n := range t.stores {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			sb.WriteString(t.describeStore(t.stores[n]))
		}
	}
	var internal []string
	for _, st := range t.Subtopologies {
		for _, s := range st.Sinks {
			if s.Internal {
				internal = append(internal, fmt.Sprintf("    %s: %s (written by sub-topology %d)\n", internalTopicKind(s), s, st.ID))
			}
		}
	}
	if len(internal) > 0 {
		sb.WriteString("Internal topics:\n")
		for _, l := range internal {
			sb.WriteString(l)
		}
	}
	return sb.String()
}

func joinTopics(ts []TopicRef) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = t.String()
	}
	return strings.Join(s, ", ")
}

func joinNames(ns []*node) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = n.name
	}
	return strings.Join(s, ", ")
}
