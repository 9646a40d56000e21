package eddy

import (
	"github.com/eddystreams/eddy/cluster"
	"github.com/hashicorp/memberlist"
)

// WithGossipTransport wraps the App's gossip transport: tests cut links
// between nodes with cluster.LinkCutter.
func WithGossipTransport(wrap func(cluster.NodeID, memberlist.NodeAwareTransport) memberlist.NodeAwareTransport) Option {
	return optFunc(func(c *cfg) { c.cluster.wrap = wrap })
}
