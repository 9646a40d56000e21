package eddy

import (
	"fmt"

	"github.com/eddystreams/eddy/cluster"
	"github.com/hashicorp/memberlist"
)

// clusterCfg is how an App joins the other processes of its application
// (cluster.go). By default it does, with no configuration: it gossips on
// loopback at any free port and finds the others through Kafka.
type clusterCfg struct {
	standalone bool
	bind       string   // gossip bind host:port; "" is 127.0.0.1:0
	advertise  string   // what the others reach this node at; "" is the bound address
	seeds      []string // gossip addresses to join besides those found in Kafka
	key        []byte   // AES-GCM key of the gossip; nil: not encrypted
	standbys   int      // standby replicas of each stateful task
	rack       string
	capacity   int
	// wrap wraps the gossip transport (tests cut links with it).
	wrap func(cluster.NodeID, memberlist.NodeAwareTransport) memberlist.NodeAwareTransport
}

func (c *clusterCfg) validate() error {
	switch len(c.key) {
	case 0, 16, 24, 32:
	default:
		return fmt.Errorf("gossip key is %d bytes: want 16, 24 or 32 (AES-128, -192, -256)", len(c.key))
	}
	if c.standbys < 0 {
		return fmt.Errorf("standby replicas %d: must not be negative", c.standbys)
	}
	if c.capacity < 0 {
		return fmt.Errorf("node capacity %d: must not be negative", c.capacity)
	}
	return nil
}

// WithStandalone makes the App run every task itself without joining a
// cluster: no gossip, no decision log. Two standalone processes of one
// application do not share the work; each fences the other's tasks in turn.
// Meant for tests and single-process deployments that want no listener.
func WithStandalone() Option { return optFunc(func(c *cfg) { c.cluster.standalone = true }) }

// WithGossipBind sets the host:port the cluster's gossip (UDP and TCP)
// listens on. Default 127.0.0.1:0: loopback and any free port, so that
// several processes on one machine find each other and nothing listens
// beyond the machine. Give a routable address (or 0.0.0.0) to spread the
// application over machines.
func WithGossipBind(addr string) Option { return optFunc(func(c *cfg) { c.cluster.bind = addr }) }

// WithGossipAdvertise sets the host:port the other nodes reach this one at,
// when it is not the bound address (NAT, containers).
func WithGossipAdvertise(addr string) Option {
	return optFunc(func(c *cfg) { c.cluster.advertise = addr })
}

// WithClusterSeeds adds gossip addresses (host:port) of nodes to join.
// Optional: nodes publish their gossip addresses in Kafka (topic
// <application id>-eddy-members) and find each other there.
func WithClusterSeeds(addrs ...string) Option {
	return optFunc(func(c *cfg) { c.cluster.seeds = append(c.cluster.seeds, addrs...) })
}

// WithGossipKey encrypts the cluster's gossip with AES-GCM under key (16, 24
// or 32 bytes); every node of the application needs the same key. Without
// it the gossip (node addresses, capacity, rack; never records or state)
// travels in clear.
func WithGossipKey(key []byte) Option {
	return optFunc(func(c *cfg) { c.cluster.key = append([]byte(nil), key...) })
}

// WithStandbyReplicas sets how many standby copies of each stateful task's
// state other nodes keep up to date from the changelogs, for failover
// without a full restore (Kafka Streams' num.standby.replicas). Default 1:
// with two nodes or more every stateful task has a standby. 0 turns
// standbys off.
func WithStandbyReplicas(n int) Option { return optFunc(func(c *cfg) { c.cluster.standbys = n }) }

// WithRack says where this node runs (a rack, a zone): standbys are placed
// on other racks than their active task when there are any.
func WithRack(rack string) Option { return optFunc(func(c *cfg) { c.cluster.rack = rack }) }

// WithNodeCapacity weighs this node in the sharing out of tasks: a node of
// capacity 2 gets twice the tasks of one of capacity 1. Default 1.
func WithNodeCapacity(n int) Option { return optFunc(func(c *cfg) { c.cluster.capacity = n }) }
