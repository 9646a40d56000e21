package topology

import (
	"fmt"
	"sort"
	"strings"
)

// Plan works out the physical layout of the topology for an application:
// given the partition counts of the topics it reads and writes (counts,
// full names), it adds the counts of its internal topics (repartition
// topics, foreign-key join topics) and returns the number of tasks of every
// sub-topology.
//
// A sub-topology has as many tasks as its widest input, and an internal
// topic as many partitions as the sub-topology writing it has tasks, except
// where Copartition's rule overrides that (below). A sub-topology that keeps
// state and reads external topics takes its width from those alone, so
// internal topics written downstream of it (a foreign-key join's response
// topic, which its own right side writes) do not hold it up; where such a
// cycle of internal topics has no external topic at all, one of its
// sub-topologies is sized from the inputs it knows. Plan then applies
// Copartition, whose error names the topics that are not co-partitioned.
func (t *Topology) Plan(appID string, counts map[string]int32) ([]int32, error) {
	tasks := make([]int32, len(t.Subtopologies))
	done := make([]bool, len(t.Subtopologies))
	place := func(st *Subtopology, width int32) {
		tasks[st.ID], done[st.ID] = width, true
		for _, s := range st.Sinks {
			if name := s.FullName(appID); s.Internal {
				if _, set := counts[name]; !set {
					counts[name] = width
				}
			}
		}
	}
	// known is the widest known input of st, and whether all are known.
	known := func(st *Subtopology) (width int32, all, some bool) {
		all = true
		for _, s := range st.Sources {
			n, ok := counts[s.FullName(appID)]
			width, all, some = max(width, n), all && ok, some || ok
		}
		return width, all, some
	}
	for {
		progress := false
		for _, st := range t.Subtopologies {
			if done[st.ID] {
				continue
			}
			width, all, _ := known(st)
			if !all {
				// A co-partitioned sub-topology's width is that of its
				// external inputs: its internal ones get it.
				var ok bool
				if width, ok = externalWidth(st, appID, counts); !ok || !copartitioned(st) {
					continue
				}
			}
			place(st, width)
			progress = true
		}
		if progress {
			continue
		}
		// Stuck on a cycle of internal topics between co-partitioned
		// sub-topologies that read no external topic (a foreign-key join
		// of two aggregates): size one from the inputs it knows; the
		// others it reads follow it.
		for _, st := range t.Subtopologies {
			if width, _, some := known(st); !done[st.ID] && copartitioned(st) && some {
				place(st, width)
				progress = true
				break
			}
		}
		if !progress {
			break
		}
	}
	for _, st := range t.Subtopologies {
		if !done[st.ID] {
			return nil, fmt.Errorf("cannot work out the partition count of sub-topology %d", st.ID)
		}
	}
	if err := t.Copartition(appID, counts); err != nil {
		return nil, err
	}
	for _, st := range t.Subtopologies {
		tasks[st.ID] = 0
		for _, s := range st.Sources {
			tasks[st.ID] = max(tasks[st.ID], counts[s.FullName(appID)])
		}
	}
	return tasks, nil
}

// copartitioned reports whether st is bound by the co-partitioning rule:
// it keeps state and reads several topics.
func copartitioned(st *Subtopology) bool { return len(st.Stores) > 0 && len(st.Sources) >= 2 }

// externalWidth is the widest of st's external (not internal) inputs; ok
// is false when st reads none or one's count is unknown.
func externalWidth(st *Subtopology, appID string, counts map[string]int32) (width int32, ok bool) {
	for _, s := range st.Sources {
		if s.Internal {
			continue
		}
		n, known := counts[s.FullName(appID)]
		if !known {
			return 0, false
		}
		width, ok = max(width, n), true
	}
	return width, ok
}

// Copartition applies Kafka Streams' co-partitioning rule to a physical
// plan: a sub-topology that keeps state and reads several topics (a join, a
// cogroup, a merge before an aggregation) must read them all with the same
// partition count, or a key's records from different topics would reach
// different tasks. counts maps full topic names to partition counts. The
// internal topics such a sub-topology reads (which Eddy makes) are set to
// the count of the external topics it reads, or, when it reads none, to the
// widest of its internal ones; an external topic of another count than the
// widest external one is an error that names the topics.
func (t *Topology) Copartition(appID string, counts map[string]int32) error {
	var errs []string
	for _, st := range t.Subtopologies {
		if !copartitioned(st) {
			continue
		}
		width, known := int32(0), true
		for _, s := range st.Sources {
			n, ok := counts[s.FullName(appID)]
			width, known = max(width, n), known && ok
		}
		if ext, ok := externalWidth(st, appID, counts); ok {
			width, known = ext, true
		}
		if !known {
			continue // reported by the caller: the plan is incomplete
		}
		var bad []string
		for _, s := range st.Sources {
			name := s.FullName(appID)
			switch {
			case s.Internal:
				counts[name] = width
			case counts[name] != width:
				bad = append(bad, fmt.Sprintf("%s has %d", name, counts[name]))
			}
		}
		if len(bad) > 0 {
			sort.Strings(bad)
			errs = append(errs, fmt.Sprintf("sub-topology %d keeps state and reads topics that are not co-partitioned: %s, where its widest input has %d partitions (give them the same partition count)",
				st.ID, strings.Join(bad, ", "), width))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}
