package cluster

import (
	"fmt"
	"testing"

	"github.com/eddystreams/eddy/topology"
)

// BenchmarkComputeJoin is a large cluster at rest that a member joins:
// 12 members, 4 sub-topologies of 256 partitions (3 stateful), 1 standby.
func BenchmarkComputeJoin(b *testing.B) {
	var members []Member
	for i := 0; i < 12; i++ {
		members = append(members, Member{ID: NodeID(fmt.Sprintf("n%02d", i)), Rack: fmt.Sprintf("r%d", i%3)})
	}
	var tasks []topology.TaskID
	for st := 0; st < 4; st++ {
		for p := int32(0); p < 256; p++ {
			tasks = append(tasks, topology.TaskID{Subtopology: st, Partition: p})
		}
	}
	cfg := DefaultAssignorConfig()
	cfg.NumStandbys, cfg.Stateful = 1, statefulSubs(0, 1, 2)
	rest := Compute(Assignment{}, members, nil, tasks, cfg)
	joined := append(members, Member{ID: "new", Rack: "r0"})
	b.ResetTimer()
	for b.Loop() {
		Compute(rest, joined, nil, tasks, cfg)
	}
}
