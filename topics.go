package eddy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/eddystreams/eddy/internal/topics"
	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/state"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kerr"
)

// layout is the physical plan of an application: the partition count of every
// topic it touches and the number of tasks per sub-topology.
type layout struct {
	appID  string
	topo   *topology.Topology
	counts map[string]int32 // full topic name -> partitions
	tasks  []int32          // per sub-topology
	// repartition are the internal topics tasks write for other tasks to
	// read (repartition and subscription topics), purged once committed.
	repartition []string
}

func (l *layout) allTasks() []topology.TaskID {
	var ids []topology.TaskID
	for st, n := range l.tasks {
		for p := int32(0); p < n; p++ {
			ids = append(ids, topology.TaskID{Subtopology: st, Partition: p})
		}
	}
	return ids
}

// inputs are the partitions a task reads: partition p of each source topic
// that has one.
func (l *layout) inputs(id topology.TaskID) []state.TopicPartition {
	var tps []state.TopicPartition
	for _, s := range l.topo.Subtopologies[id.Subtopology].Sources {
		name := s.FullName(l.appID)
		if id.Partition < l.counts[name] {
			tps = append(tps, state.TopicPartition{Topic: name, Partition: id.Partition})
		}
	}
	return tps
}

// prepareTopics looks up the input topics, works out the partition counts of
// the internal topics (a repartition topic gets the largest count among the
// sources of the sub-topology writing it, a changelog the task count of its
// sub-topology), creates missing internal topics, and checks existing ones.
func (a *App) prepareTopics(ctx context.Context) (*layout, error) {
	appID := a.cfg.appID
	l := &layout{appID: appID, topo: a.topo, counts: map[string]int32{}, tasks: make([]int32, len(a.topo.Subtopologies))}
	var external []string
	for _, st := range a.topo.Subtopologies {
		for _, s := range st.Sources {
			if !s.Internal {
				external = append(external, s.Name)
			}
		}
		for _, s := range st.Sinks {
			if !s.Internal {
				external = append(external, s.Name)
			}
		}
	}
	if g := a.topo.GlobalSubtopology(); g != nil {
		for _, s := range g.Sources {
			external = append(external, s.Name) // global tables' source topics
		}
	}
	for _, h := range []partition.ErrorHandler{a.cfg.onDeserialize, a.cfg.onProcessing, a.cfg.onProduction} {
		if h.DeadLetterTopic != "" {
			external = append(external, h.DeadLetterTopic)
		}
	}
	existing, err := a.admin.ListTopics(ctx)
	if err != nil {
		return nil, fmt.Errorf("eddy: list topics: %w", err)
	}
	var missing []string
	for _, t := range external {
		d, ok := existing[t]
		if !ok || d.Err != nil {
			missing = append(missing, t)
			continue
		}
		l.counts[t] = int32(len(d.Partitions))
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("eddy: topics %v do not exist; create them first (Eddy creates only its internal topics)", dedupe(missing))
	}
	// Internal topics take their counts from their writers, or from the
	// sub-topology reading them where co-partitioning binds them.
	tasks, err := a.topo.Plan(appID, l.counts)
	if err != nil {
		return nil, fmt.Errorf("eddy: %w", err)
	}
	l.tasks = tasks
	type want struct {
		name       string
		partitions int32
		configs    map[string]*string
	}
	var wants []want
	compact := "compact"
	for _, st := range a.topo.Subtopologies {
		for _, s := range st.Sinks {
			if s.Internal {
				name := s.FullName(appID)
				wants = append(wants, want{name: name, partitions: l.counts[name], configs: topics.RepartitionConfig(a.cfg.internalConfig)})
				l.repartition = append(l.repartition, name)
			}
		}
		for _, spec := range st.Stores {
			if !spec.Logging {
				continue
			}
			c := map[string]*string{"cleanup.policy": &compact}
			for k, v := range a.cfg.internalConfig {
				if k != "cleanup.policy" { // a changelog is compacted, whatever else
					c[k] = &v
				}
			}
			for k, v := range spec.ChangelogConfig {
				c[k] = &v
			}
			name := topology.ChangelogTopicName(appID, spec.Name)
			wants = append(wants, want{name: name, partitions: l.tasks[st.ID], configs: c})
			l.counts[name] = l.tasks[st.ID]
		}
	}
	var errs []error
	var existingRepartition []string
	for _, w := range wants {
		if d, ok := existing[w.name]; ok && d.Err == nil {
			if got := int32(len(d.Partitions)); got != w.partitions {
				errs = append(errs, fmt.Errorf("internal topic %s has %d partitions, but the topology needs %d (delete it, or use another application id)", w.name, got, w.partitions))
			}
			if slices.Contains(l.repartition, w.name) {
				existingRepartition = append(existingRepartition, w.name)
			}
			continue
		}
		resp, err := a.admin.CreateTopic(ctx, w.partitions, a.cfg.replication, w.configs, w.name)
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			errs = append(errs, fmt.Errorf("create internal topic %s: %w", w.name, err))
		} else if resp.Err != nil && !errors.Is(resp.Err, kerr.TopicAlreadyExists) {
			errs = append(errs, fmt.Errorf("create internal topic %s: %w", w.name, resp.Err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("eddy: %w", err)
	}
	// Repartition topics made before Eddy set their retention (or by hand)
	// keep it: say what to fix rather than change a topic's configuration
	// behind its owner's back.
	problems, err := topics.CheckRepartitionRetention(ctx, a.admin, existingRepartition)
	if err != nil {
		return nil, fmt.Errorf("eddy: %w", err)
	}
	for _, p := range problems {
		a.log.Warn("repartition topic may lose records: " + p)
	}
	return l, nil
}

// startPurger starts the purge of the repartition topics' committed records
// (WithRepartitionPurgeInterval), unless it is off or there are none.
func (a *App) startPurger() error {
	if a.cfg.purgeInterval == 0 || len(a.layout.repartition) == 0 {
		return nil
	}
	parts := map[string][]int32{}
	for _, name := range a.layout.repartition {
		if _, ok := parts[name]; ok {
			continue
		}
		for p := int32(0); p < a.layout.counts[name]; p++ {
			parts[name] = append(parts[name], p)
		}
	}
	p, err := topics.NewPurger(topics.PurgerConfig{Client: a.adminCl, Group: a.cfg.appID, Partitions: parts, Interval: a.cfg.purgeInterval, Logger: a.log})
	if err != nil {
		return fmt.Errorf("eddy: %w", err)
	}
	a.purger = p
	p.Start()
	return nil
}

func dedupe(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

func topologyTask(st int, p int32) topology.TaskID {
	return topology.TaskID{Subtopology: st, Partition: p}
}
