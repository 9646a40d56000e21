package topology

import (
	"fmt"
	"sort"
	"strings"
)

// Copartition applies Kafka Streams' co-partitioning rule to a physical
// plan: a sub-topology that keeps state and reads several topics (a cogroup,
// a merge before an aggregation, later joins) must read them all with the
// same partition count, or a key's records from different topics would
// reach different tasks. counts maps full topic names to partition counts;
// repartition topics such a sub-topology reads are widened in it to the
// widest of its sources (Eddy makes them), and a source topic of another
// width is an error that names the topics.
func (t *Topology) Copartition(appID string, counts map[string]int32) error {
	var errs []string
	for _, st := range t.Subtopologies {
		if len(st.Stores) == 0 || len(st.Sources) < 2 {
			continue
		}
		width, known := int32(0), true
		for _, s := range st.Sources {
			n, ok := counts[s.FullName(appID)]
			width, known = max(width, n), known && ok
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
