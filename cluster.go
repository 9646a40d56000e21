package eddy

import (
	"context"
	"fmt"
	"time"

	"github.com/eddystreams/eddy/actors"
	"github.com/eddystreams/eddy/cluster"
	"github.com/eddystreams/eddy/topology"
)

// An App joins the other processes of its application id unless
// WithStandalone: they find each other through Kafka and gossip, and a
// coordinator places the tasks (package cluster, DESIGN.md "Cluster").

// newClusterNode prepares the App's cluster node; it starts after the
// actors node (startCluster), which needs its lease and handover wait.
func (a *App) newClusterNode() error {
	cc := a.cfg.cluster
	tasks := a.layout.Tasks()
	stateful := map[topology.TaskID]bool{}
	for _, id := range tasks {
		if a.hasChangelogs(id) {
			stateful[id] = true
		}
	}
	ac := cluster.DefaultAssignorConfig()
	ac.NumStandbys = cc.standbys
	ac.Stateful = func(id topology.TaskID) bool { return stateful[id] }
	cn, err := cluster.NewNode(cluster.NodeConfig{
		OnFatal: a.fail,
		Membership: cluster.MembershipConfig{
			AppID:                   a.cfg.AppID,
			StateDir:                a.cfg.StateDir,
			BindAddr:                cc.bind,
			AdvertiseAddr:           cc.advertise,
			Seeds:                   cc.seeds,
			Kafka:                   a.clientOpts(),
			MembersTopicReplication: a.cfg.replication,
			SecretKey:               cc.key,
			Capacity:                cc.capacity,
			Rack:                    cc.rack,
			RemoteAddr:              a.RemoteAddr(),
			HTTPAddr:                a.HTTPAddr(),
			Logger:                  a.log,
			WrapTransport:           cc.wrap,
		},
		Replication: a.cfg.replication,
		Tasks:       tasks,
		Assignor:    ac,
		Local:       localNode{a},
		Logger:      a.log,
	})
	if err != nil {
		return fmt.Errorf("eddy: %w", err)
	}
	a.mu.Lock()
	a.cluster = cn
	a.mu.Unlock()
	return nil
}

// hasChangelogs says whether task id has a store with a changelog (a
// standby can keep a copy of it).
func (a *App) hasChangelogs(id topology.TaskID) bool {
	for _, s := range a.topo.Subtopologies[id.Subtopology].Stores {
		if s.Logging {
			return true
		}
	}
	return false
}

// startCluster joins the cluster and waits for the first decision that
// counts this node, then for the tasks it gives here to start.
func (a *App) startCluster(ctx context.Context) error {
	if err := a.cluster.Start(ctx); err != nil {
		return err
	}
	if err := a.spawnQueryActor(); err != nil { // named after the node's id
		return err
	}
	assign, err := a.cluster.WaitJoined(ctx)
	if err != nil {
		return fmt.Errorf("eddy: join the cluster: %w", err)
	}
	if err := a.node.Wait(ctx, assign); err != nil {
		return fmt.Errorf("eddy: start tasks: %w", err)
	}
	st := a.cluster.Status()
	a.log.Info("joined the cluster", "node", st.Self, "gossip", st.GossipAddr, "members", len(st.Members), "epoch", assign.Epoch, "active", len(assign.Active), "standby", len(assign.Standby), "warmup", len(assign.Warmup))
	return nil
}

// localNode gives the cluster node the App's actors node.
type localNode struct{ a *App }

func (l localNode) Tell(ctx context.Context, msg any) (actors.NodeStatus, error) {
	if as, ok := msg.(*actors.Assign); ok {
		return l.a.tellAssign(ctx, as) // lifecycle.go: Rebalancing
	}
	return l.a.node.Tell(ctx, msg)
}

func (l localNode) Closing(id topology.TaskID) <-chan struct{} { return l.a.node.Closing(id) }

// ClusterStatus is what this App's node knows of its cluster: itself, the
// members it sees, the coordinator, the decision it applied last. Zero for
// a standalone App.
type ClusterStatus = cluster.NodeStatus

// ClusterStatus reports this node's view of its cluster.
func (a *App) ClusterStatus() ClusterStatus {
	a.mu.Lock()
	cn := a.cluster
	a.mu.Unlock()
	if cn == nil {
		return ClusterStatus{}
	}
	return cn.Status()
}

// nodeLease is the cluster node's lease, checked by tasks before every
// record; nil when standalone.
func (a *App) nodeLease() interface{ Valid(time.Time) bool } {
	if a.cluster == nil {
		return nil
	}
	return a.cluster.Lease()
}

// maxPredecessorWait bounds how long a task taken over under at-least-once
// waits for its previous owner to stop writing: in a cluster the previous
// owner stops within its lease of the decision this node read before it
// fenced, plus the margin a commit's flush takes (decision 0026). 0: no
// bound (standalone: the previous owner's commit interval and the margin).
func (a *App) maxPredecessorWait() time.Duration {
	if a.cluster == nil {
		return 0
	}
	return a.cluster.Lease().Length() + predecessorMargin
}
