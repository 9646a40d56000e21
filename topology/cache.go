package topology

// CacheFlushListener receives the writes a record cache flushes, in the
// order they were made: the key, its new value (nil: deleted) and the value
// the store held before (nil: none), with the context of the record whose
// processing made the write.
type CacheFlushListener func(key, newValue, oldValue []byte, rec RecordMeta) error

// CachedStore is a key-value store with a record cache in front (see
// WithCaching). Writes to the same key between commits are merged; the
// latest value of each key reaches the store, its changelog and the flush
// listener when the cache is flushed (at every commit) or evicts it.
type CachedStore interface {
	KeyValueStore
	// SetFlushListener sets the function the cache flushes to. A processor
	// that forwards what it writes (an aggregation) sets one and forwards
	// from it instead of on every write.
	SetFlushListener(CacheFlushListener)
}

// forwardOnFlush makes a cached store forward its flushed writes to next
// as table changes, and reports whether the store is cached; when it is not,
// the caller forwards on every write itself. topic is the name the serdes
// are given.
func forwardOnFlush[K, V any](kv KeyValueStore, topic string, ks Serde[K], vs Serde[V], next func(Record[K, Change[V]]) error) bool {
	cs, ok := kv.(CachedStore)
	if !ok {
		return false
	}
	cs.SetFlushListener(func(key, newValue, oldValue []byte, rec RecordMeta) error {
		k, err := ks.Deserialize(topic, key)
		if err != nil {
			return err
		}
		var c Change[V]
		if newValue != nil {
			if c.New, err = vs.Deserialize(topic, newValue); err != nil {
				return err
			}
			c.HasNew = true
		}
		if oldValue != nil {
			if c.Old, err = vs.Deserialize(topic, oldValue); err != nil {
				return err
			}
			c.HasOld = true
		}
		return next(Record[K, Change[V]]{Key: k, Value: c, Timestamp: rec.Timestamp, Headers: rec.Headers})
	})
	return true
}
