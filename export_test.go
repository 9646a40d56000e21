package eddy

import (
	"time"

	"github.com/eddystreams/eddy/cluster"
	"github.com/hashicorp/memberlist"
)

// WithGossipTransport wraps the App's gossip transport: tests cut links
// between nodes with cluster.LinkCutter.
func WithGossipTransport(wrap func(cluster.NodeID, memberlist.NodeAwareTransport) memberlist.NodeAwareTransport) Option {
	return optFunc(func(c *cfg) { c.cluster.wrap = wrap })
}

// WithBrokerWarnInterval sets how often the App warns of unreachable
// brokers (default 5s).
func WithBrokerWarnInterval(d time.Duration) Option {
	return optFunc(func(c *cfg) { c.brokerWarnEvery = d })
}

// WithCommitTimeout bounds each commit, the final one included (default 1
// minute).
func WithCommitTimeout(d time.Duration) Option {
	return optFunc(func(c *cfg) { c.commitTimeout = d })
}

// HoldRestores has every restore batch of a (not yet started) App call
// hook first, before it is counted: a test blocks in hook to watch a
// restore in progress.
func HoldRestores(a *App, hook func()) { a.restores.batchHook = hook }
