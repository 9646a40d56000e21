package topology

import (
	"fmt"
	"strings"
)

// describeNodes prints nodes with their edges, one block per node.
func describeNodes(sb *strings.Builder, nodes []*node) {
	for _, n := range nodes {
		switch n.kind {
		case kindSource:
			fmt.Fprintf(sb, "    Source: %s (topics: [%s])\n", n.name, joinTopics(n.topics))
		case kindProcessor:
			fmt.Fprintf(sb, "    Processor: %s (stores: [%s])\n", n.name, strings.Join(n.stores, ", "))
		case kindSink:
			fmt.Fprintf(sb, "    Sink: %s (topic: %s)\n", n.name, joinTopics(n.topics))
		}
		if len(n.children) > 0 {
			fmt.Fprintf(sb, "      --> %s\n", joinNames(n.children))
		} else if n.kind != kindSink {
			sb.WriteString("      --> none\n")
		}
		if len(n.parents) > 0 {
			fmt.Fprintf(sb, "      <-- %s\n", joinNames(n.parents))
		} else if n.kind != kindSource {
			sb.WriteString("      <-- none\n")
		}
	}
}

// describeGlobals prints each global table as Kafka Streams does: a
// sub-topology numbered after the others, which makes no tasks.
func (t *Topology) describeGlobals(sb *strings.Builder) {
	id := len(t.Subtopologies)
	for i := 0; i < len(t.globalNodes); {
		// A global table's nodes are consecutive: its source, then its
		// processor.
		j := i + 1
		for j < len(t.globalNodes) && t.globalNodes[j].kind != kindSource {
			j++
		}
		fmt.Fprintf(sb, "   Sub-topology: %d for global store (will not generate tasks)\n", id)
		describeNodes(sb, t.globalNodes[i:j])
		id++
		i = j
	}
}

// describeStore prints one line about a store: where it lives and what its
// changelog is.
func (t *Topology) describeStore(s *StoreSpec) string {
	changelog := "none"
	switch {
	case s.SourceTopic != "":
		changelog = s.SourceTopic + " (source topic)"
	case s.Logging:
		changelog = "<app>-" + s.Name + "-changelog"
	}
	if s.Global {
		return fmt.Sprintf("    Store: %s (global, engine: %s, changelog: %s)\n", s.Name, s.Engine, changelog)
	}
	id := -1
	if st, ok := t.SubtopologyOfStore(s.Name); ok {
		id = st.ID
	}
	return fmt.Sprintf("    Store: %s (sub-topology: %d, engine: %s, changelog: %s)\n", s.Name, id, s.Engine, changelog)
}
