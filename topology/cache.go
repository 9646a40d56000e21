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

// forwardWindowsOnFlush is forwardOnFlush for the window (kind KindWindow,
// windows of size ms) or session store (KindSession) of a windowed
// aggregation: the flushed store keys are taken apart into the key and its
// window, window store values into their timestamp and aggregate. A window
// change carries the window's timestamp (the largest record time in it, or
// for a removed window the time of the write), a session change the
// session's end, as the changes forwarded without a cache do.
func forwardWindowsOnFlush[K, A any](kv KeyValueStore, kind StoreKind, topic string, ks Serde[K], vs Serde[A], size int64, next func(Record[Windowed[K], Change[A]]) error) bool {
	cs, ok := kv.(CachedStore)
	if !ok {
		return false
	}
	decode := func(b []byte) (A, int64, error) {
		var ts int64
		if kind == KindWindow {
			var err error
			if ts, b, err = SplitTimestamped(b); err != nil {
				var zero A
				return zero, 0, err
			}
		}
		v, err := vs.Deserialize(topic, b)
		return v, ts, err
	}
	cs.SetFlushListener(func(key, newValue, oldValue []byte, rec RecordMeta) error {
		var kb []byte
		var win Window
		var err error
		if kind == KindSession {
			kb, win.Start, win.End, err = SplitSessionKey(key)
		} else {
			kb, win.Start, _, err = SplitWindowKey(key)
			win.End = win.Start + size
		}
		if err != nil {
			return err
		}
		k, err := ks.Deserialize(topic, kb)
		if err != nil {
			return err
		}
		ts := rec.Timestamp
		var c Change[A]
		if newValue != nil {
			if c.New, ts, err = decode(newValue); err != nil {
				return err
			}
			c.HasNew = true
		}
		if oldValue != nil {
			if c.Old, _, err = decode(oldValue); err != nil {
				return err
			}
			c.HasOld = true
		}
		if kind == KindSession {
			ts = win.End
		}
		return next(Record[Windowed[K], Change[A]]{Key: Windowed[K]{Key: k, Window: win}, Value: c, Timestamp: ts, Headers: rec.Headers})
	})
	return true
}
