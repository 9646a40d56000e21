package partition

import (
	"fmt"

	"github.com/eddystreams/eddy/state"
	"github.com/eddystreams/eddy/topology"
)

// withCache puts a record cache in front of a store whose spec asks for one,
// when the node has a cache budget (StateConfig.RecordCache). The cache
// keeps the record context of each write (StateConfig.Record), so what it
// flushes later carries the write's timestamp and headers.
func (m *StateManager) withCache(spec topology.StoreSpec, s topology.KeyValueStore) topology.KeyValueStore {
	if !spec.Caching || m.cfg.RecordCache == nil {
		return s
	}
	c := state.NewCachingStore(s, m.cfg.RecordCache, m.cfg.Record)
	m.caches = append(m.caches, c)
	return c
}

// FlushCaches flushes the record caches in the order of the stores
// (upstream stores first, since flushing one forwards records that may
// write to a store downstream), and again while a flush made another cache
// dirty. A commit calls it first: what the caches flush goes downstream and
// to the changelogs, and must be in the commit.
func (m *StateManager) FlushCaches() error {
	for range len(m.caches) + 1 {
		for _, c := range m.caches {
			if err := c.FlushCache(); err != nil {
				return fmt.Errorf("flush record cache of %s: %w", c.Name(), err)
			}
		}
		if !m.CachesDirty() {
			return nil
		}
	}
	return fmt.Errorf("record caches still dirty after %d flushes: processors downstream of a cached store write back into it", len(m.caches)+1)
}

// CachesDirty says whether a record cache holds writes not flushed yet:
// writes no commit has made durable.
func (m *StateManager) CachesDirty() bool {
	for _, c := range m.caches {
		if c.Dirty() > 0 {
			return true
		}
	}
	return false
}
