package partition

import (
	"fmt"

	"github.com/eddystreams/eddy/state"
	"github.com/eddystreams/eddy/topology"
)

// withCache puts a record cache in front of a store whose spec asks for one,
// when the node has a cache budget (Config.RecordCache).
func (t *Task) withCache(spec topology.StoreSpec, s topology.KeyValueStore) topology.KeyValueStore {
	if !spec.Caching || t.cfg.RecordCache == nil {
		return s
	}
	c := state.NewCachingStore(s, t.cfg.RecordCache, taskRecordContext{t})
	t.caches = append(t.caches, c)
	return c
}

// flushCaches flushes the record caches in the order of the
// sub-topology's stores (upstream stores first, since flushing one
// forwards records that may write to a store downstream), and again while a
// flush made another cache dirty.
func (t *Task) flushCaches() error {
	for range len(t.caches) + 1 {
		for _, c := range t.caches {
			if err := c.FlushCache(); err != nil {
				return fmt.Errorf("flush record cache of %s: %w", c.Name(), err)
			}
		}
		if !t.cachesDirty() {
			return nil
		}
	}
	return fmt.Errorf("record caches still dirty after %d flushes: processors downstream of a cached store write back into it", len(t.caches)+1)
}

func (t *Task) cachesDirty() bool {
	for _, c := range t.caches {
		if c.Dirty() > 0 {
			return true
		}
	}
	return false
}

// taskRecordContext gives a CachingStore the record being processed, and
// lets it set the context of a cached write while it flushes it.
type taskRecordContext struct{ t *Task }

func (c taskRecordContext) Record() topology.RecordMeta     { return c.t.cur }
func (c taskRecordContext) SetRecord(m topology.RecordMeta) { c.t.cur = m }
