package streamtest

import "github.com/eddystreams/eddy/state"

// WithCacheMaxBytes gives the tasks a record cache budget of n bytes, shared
// by every store with caching on (topology.WithCaching), as
// eddy.WithCacheMaxBytes does in an application. Updates of a key are then
// merged in the cache and go downstream and to the changelog when the
// driver commits (Commit, Restart, Close) or the budget evicts them, so a
// test sees what an application sends. Default: 0, no record cache, and
// every update goes out as it is processed — what Kafka Streams'
// TopologyTestDriver shows too, since it commits after every record.
func WithCacheMaxBytes(n int64) Option { return optFunc(func(c *cfg) { c.cache.max = n }) }

// recordCacheCfg makes the driver's record cache budget on first use.
type recordCacheCfg struct {
	max   int64
	cache *state.RecordCache
}

func (c *recordCacheCfg) get() *state.RecordCache {
	if c.max <= 0 {
		return nil
	}
	if c.cache == nil {
		c.cache = state.NewRecordCache(c.max)
	}
	return c.cache
}
