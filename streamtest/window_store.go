package streamtest

import (
	"bytes"
	"errors"
	"fmt"
	"math"

	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/topology"
)

// WindowedValue is one window of a key read from a window or session
// store (topology.WindowedValue; the App's store readers return the same).
type WindowedValue[K, V any] = topology.WindowedValue[K, V]

// TestWindowStore reads a window store of the topology (the store of a
// windowed aggregation) across the tasks that hold its partitions, as Kafka
// Streams' TopologyTestDriver.getTimestampedWindowStore does. Window ends
// are start plus the store's window size (for sliding windows, the time
// difference: their end is inclusive). Windows past the store's retention
// are not returned, as in Kafka Streams.
type TestWindowStore[K, V any] struct {
	s *TestStore[K, V]
}

// ReadWindowStore returns a typed reader of the named window store. The
// serdes are the aggregation's (for WindowedCount, the grouping key's serde
// and topology.Int64()); nil means topology.DefaultSerde.
func ReadWindowStore[K, V any](d *Driver, name string, keySerde topology.Serde[K], valueSerde topology.Serde[V]) *TestWindowStore[K, V] {
	return &TestWindowStore[K, V]{s: ReadStore(d, name, keySerde, valueSerde)}
}

// TestSessionStore reads a session store of the topology (the store of a
// session aggregation) across the tasks that hold its partitions, as Kafka
// Streams' TopologyTestDriver.getSessionStore does.
type TestSessionStore[K, V any] struct {
	s *TestStore[K, V]
}

// ReadSessionStore returns a typed reader of the named session store, with
// the serdes of its aggregation; nil means topology.DefaultSerde.
func ReadSessionStore[K, V any](d *Driver, name string, keySerde topology.Serde[K], valueSerde topology.Serde[V]) *TestSessionStore[K, V] {
	return &TestSessionStore[K, V]{s: ReadStore(d, name, keySerde, valueSerde)}
}

// Fetch returns key's windows that start in [from, to], by start (Kafka
// Streams' ReadOnlyWindowStore.fetch(key, timeFrom, timeTo)).
func (w *TestWindowStore[K, V]) Fetch(key K, from, to int64) ([]WindowedValue[K, V], error) {
	if from > to {
		return nil, nil
	}
	return w.s.timeKeyed(topology.KindWindow, &key, topology.WindowKey, max(0, from), to, func(start, _ int64) bool { return start >= from && start <= to })
}

// FetchAll returns every key's windows that start in [from, to]: partition
// by partition, each by key bytes then start (ReadOnlyWindowStore.fetchAll).
func (w *TestWindowStore[K, V]) FetchAll(from, to int64) ([]WindowedValue[K, V], error) {
	return w.s.timeKeyed(topology.KindWindow, nil, nil, 0, 0, func(start, _ int64) bool { return start >= from && start <= to })
}

// All returns every window of the store: partition by partition, each by
// key bytes then start (ReadOnlyWindowStore.all).
func (w *TestWindowStore[K, V]) All() ([]WindowedValue[K, V], error) {
	return w.s.timeKeyed(topology.KindWindow, nil, nil, 0, 0, nil)
}

// Fetch returns every session of key, by end then start (Kafka Streams'
// ReadOnlySessionStore.fetch(key)).
func (w *TestSessionStore[K, V]) Fetch(key K) ([]WindowedValue[K, V], error) {
	return w.FindSessions(key, 0, math.MaxInt64)
}

// FindSessions returns key's sessions that end at or after earliestEnd and
// start at or before latestStart, by end then start (Kafka Streams'
// SessionStore.findSessions(key, earliestSessionEndTime,
// latestSessionStartTime)).
func (w *TestSessionStore[K, V]) FindSessions(key K, earliestEnd, latestStart int64) ([]WindowedValue[K, V], error) {
	sessionKey := func(kb []byte, t int64, _ uint32) []byte { return topology.SessionKey(kb, 0, t) }
	return w.s.timeKeyed(topology.KindSession, &key, sessionKey, max(0, earliestEnd), math.MaxInt64, func(start, end int64) bool {
		return end >= earliestEnd && start <= latestStart
	})
}

// All returns every session of the store: partition by partition, each by
// key bytes, end, then start.
func (w *TestSessionStore[K, V]) All() ([]WindowedValue[K, V], error) {
	return w.s.timeKeyed(topology.KindSession, nil, nil, 0, 0, nil)
}

// timeKeyed reads a window (kind KindWindow) or session store: with key,
// that key's entries whose store-key time lies in [lo, hi] on the key's
// task; without, every entry. keep, when set, filters on the window.
func (s *TestStore[K, V]) timeKeyed(kind topology.StoreKind, key *K, layout func([]byte, int64, uint32) []byte, lo, hi int64, keep func(start, end int64) bool) ([]WindowedValue[K, V], error) {
	spec, ok := s.d.topo.Store(s.name)
	if !ok {
		return nil, fmt.Errorf("streamtest: the topology has no store %q", s.name)
	}
	if spec.Kind != kind {
		return nil, fmt.Errorf("streamtest: store %q is a %s store, not a %s store", s.name, spec.Kind, kind)
	}
	topic := s.serdeTopic()
	var kb []byte
	if key != nil {
		var err error
		if kb, err = s.keySerde.Serialize(topic, *key); err != nil {
			return nil, fmt.Errorf("streamtest: store %s: serialize key: %w", s.name, err)
		}
	}
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	stores, err := s.d.kvStores(s.name)
	if err != nil {
		return nil, err
	}
	parts := stores
	var from, to []byte
	if key != nil {
		parts = stores[partition.KeyPartition(kb, int32(len(stores))):][:1]
		from, to = layout(kb, lo, 0), append(layout(kb, hi, math.MaxUint32), 0)
	}
	size := spec.WindowSize.Milliseconds()
	var out []WindowedValue[K, V]
	for _, st := range parts {
		it, err := st.Range(from, to)
		if err != nil {
			return nil, fmt.Errorf("streamtest: store %s: %w", s.name, err)
		}
		for it.Next() {
			var k []byte
			var win topology.Window
			var ts int64
			vb := it.Value()
			if kind == topology.KindSession {
				k, win.Start, win.End, err = topology.SplitSessionKey(it.Key())
				ts = win.End
			} else {
				k, win.Start, _, err = topology.SplitWindowKey(it.Key())
				win.End = win.Start + size
				if err == nil {
					ts, vb, err = topology.SplitTimestamped(vb)
				}
			}
			if err != nil {
				return nil, errors.Join(fmt.Errorf("streamtest: store %s: %w", s.name, err), it.Close())
			}
			if key != nil && !bytes.Equal(k, kb) {
				continue // another key that starts with the same bytes
			}
			if keep != nil && !keep(win.Start, win.End) {
				continue
			}
			kk, err := s.keySerde.Deserialize(topic, k)
			if err != nil {
				return nil, errors.Join(fmt.Errorf("streamtest: store %s: key: %w", s.name, err), it.Close())
			}
			v, err := s.valueSerde.Deserialize(topic, vb)
			if err != nil {
				return nil, errors.Join(fmt.Errorf("streamtest: store %s: value: %w", s.name, err), it.Close())
			}
			out = append(out, WindowedValue[K, V]{Key: topology.Windowed[K]{Key: kk, Window: win}, Value: v, Timestamp: ts})
		}
		if err := errors.Join(it.Err(), it.Close()); err != nil {
			return nil, fmt.Errorf("streamtest: store %s: %w", s.name, err)
		}
	}
	return out, nil
}
