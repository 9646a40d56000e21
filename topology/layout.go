package topology

import (
	"fmt"
	"sort"
)

// TopicPartition names one partition of a topic (full topic name).
type TopicPartition struct {
	Topic     string
	Partition int32
}

func (tp TopicPartition) String() string { return fmt.Sprintf("%s-%d", tp.Topic, tp.Partition) }

// TopicKind says what an internal topic is for.
type TopicKind int

const (
	// TopicRepartition carries records between sub-topologies.
	TopicRepartition TopicKind = iota
	// TopicChangelog is a store's compacted changelog.
	TopicChangelog
)

func (k TopicKind) String() string {
	if k == TopicChangelog {
		return "changelog"
	}
	return "repartition"
}

// InternalTopic is a topic the application creates and owns.
type InternalTopic struct {
	Name       string // full name, with the application id
	Kind       TopicKind
	Partitions int32
	// Configs are the topic configs it needs beyond the broker's defaults
	// (a changelog's cleanup policy and its store's ChangelogConfig).
	Configs map[string]string
}

// Layout is the physical plan of an application: how many tasks each
// sub-topology has, how many partitions every topic it touches has, which
// partitions each task reads, and which task a record of an input
// partition goes to. The App, the test driver and the cluster's router all
// work from it; it is a value, fixed once the input topics' partition
// counts are known.
type Layout struct {
	appID  string
	topo   *Topology
	counts map[string]int32 // full topic name -> partitions
	tasks  []int32          // per sub-topology
	// readers maps an input topic (full name) to the sub-topologies
	// reading it.
	readers map[string][]int
}

// NewLayout plans topo for application appID given the partition counts
// of its external topics (sources, sinks, global tables' sources; by
// name). Internal topics take their counts from the sub-topology writing
// them, or from the one reading them where co-partitioning binds them; a
// sub-topology has as many tasks as its widest input; a changelog as many
// partitions as its sub-topology has tasks.
func NewLayout(topo *Topology, appID string, external map[string]int32) (*Layout, error) {
	l := &Layout{appID: appID, topo: topo, counts: make(map[string]int32, len(external)), readers: map[string][]int{}}
	for t, n := range external {
		l.counts[t] = n
	}
	tasks, err := topo.Plan(appID, l.counts)
	if err != nil {
		return nil, err
	}
	l.tasks = tasks
	for _, st := range topo.Subtopologies {
		for _, spec := range st.Stores {
			if spec.Logging && spec.SourceTopic == "" {
				l.counts[ChangelogTopicName(appID, spec.Name)] = tasks[st.ID]
			}
		}
		for _, s := range st.Sources {
			name := s.FullName(appID)
			l.readers[name] = append(l.readers[name], st.ID)
		}
	}
	return l, nil
}

// ApplicationID is the application the layout is for.
func (l *Layout) ApplicationID() string { return l.appID }

// Topology is the topology laid out.
func (l *Layout) Topology() *Topology { return l.topo }

// Partitions is the partition count of a topic the layout knows.
func (l *Layout) Partitions(topic string) (int32, bool) {
	n, ok := l.counts[topic]
	return n, ok
}

// TaskCount is the number of tasks of sub-topology st.
func (l *Layout) TaskCount(st int) int32 { return l.tasks[st] }

// Tasks lists every task, by sub-topology and then partition.
func (l *Layout) Tasks() []TaskID {
	var ids []TaskID
	for st, n := range l.tasks {
		for p := int32(0); p < n; p++ {
			ids = append(ids, TaskID{Subtopology: st, Partition: p})
		}
	}
	return ids
}

// Inputs are the partitions task id reads: partition p of each of its
// sub-topology's source topics that has one.
func (l *Layout) Inputs(id TaskID) []TopicPartition {
	var tps []TopicPartition
	for _, s := range l.topo.Subtopologies[id.Subtopology].Sources {
		name := s.FullName(l.appID)
		if id.Partition < l.counts[name] {
			tps = append(tps, TopicPartition{Topic: name, Partition: id.Partition})
		}
	}
	return tps
}

// TasksOf lists the tasks that read partition p of topic (full name):
// one per sub-topology reading the topic. None when no sub-topology reads
// it or it has no such partition.
func (l *Layout) TasksOf(topic string, p int32) []TaskID {
	if n, ok := l.counts[topic]; !ok || p < 0 || p >= n {
		return nil
	}
	var ids []TaskID
	for _, st := range l.readers[topic] {
		if p < l.tasks[st] {
			ids = append(ids, TaskID{Subtopology: st, Partition: p})
		}
	}
	return ids
}

// StoreTask is the task that holds the partition of store whose changelog
// partition is p (the partition a key's bytes hash to under the store's
// key serde), and false when no sub-topology has the store.
func (l *Layout) StoreTask(store string, p int32) (TaskID, bool) {
	for _, st := range l.topo.Subtopologies {
		for _, spec := range st.Stores {
			if spec.Name == store {
				if p < 0 || p >= l.tasks[st.ID] {
					return TaskID{}, false
				}
				return TaskID{Subtopology: st.ID, Partition: p}, true
			}
		}
	}
	return TaskID{}, false
}

// InternalTopics lists the topics the application creates, sorted by name:
// repartition topics and the changelogs of logged stores (a source table's
// store has none: its source topic is its changelog).
func (l *Layout) InternalTopics() []InternalTopic {
	var out []InternalTopic
	seen := map[string]bool{}
	for _, st := range l.topo.Subtopologies {
		for _, s := range st.Sinks {
			name := s.FullName(l.appID)
			if s.Internal && !seen[name] {
				seen[name] = true
				out = append(out, InternalTopic{Name: name, Kind: TopicRepartition, Partitions: l.counts[name], Configs: map[string]string{}})
			}
		}
		for _, spec := range st.Stores {
			if !spec.Logging || spec.SourceTopic != "" {
				continue
			}
			name := ChangelogTopicName(l.appID, spec.Name)
			if seen[name] {
				continue
			}
			seen[name] = true
			c := map[string]string{"cleanup.policy": "compact"}
			for k, v := range spec.ChangelogConfig {
				c[k] = v
			}
			out = append(out, InternalTopic{Name: name, Kind: TopicChangelog, Partitions: l.tasks[st.ID], Configs: c})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// ExternalTopics lists the topics the application reads or writes but does
// not create: sources, sinks and global tables' sources, sorted, without
// repeats.
func ExternalTopics(topo *Topology) []string {
	seen := map[string]bool{}
	var out []string
	add := func(t TopicRef) {
		if !t.Internal && !seen[t.Name] {
			seen[t.Name] = true
			out = append(out, t.Name)
		}
	}
	for _, st := range topo.Subtopologies {
		for _, s := range st.Sources {
			add(s)
		}
		for _, s := range st.Sinks {
			add(s)
		}
	}
	if g := topo.GlobalSubtopology(); g != nil {
		for _, s := range g.Sources {
			add(s)
		}
	}
	sort.Strings(out)
	return out
}
