package streamtest

import "github.com/eddystreams/eddy/state"

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
