package streamtest

import (
	"errors"
	"fmt"

	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/topology"
)

// TestStore reads a key-value store of the topology across the tasks that
// hold its partitions, as interactive queries do.
type TestStore[K, V any] struct {
	d          *Driver
	name       string
	keySerde   topology.Serde[K]
	valueSerde topology.Serde[V]
}

// ReadStore returns a typed reader of the named store. The serdes are the
// store's (for Count, the grouping key's serde and topology.Int64()); nil
// means topology.DefaultSerde. A name the topology does not define makes
// every read fail.
func ReadStore[K, V any](d *Driver, name string, keySerde topology.Serde[K], valueSerde topology.Serde[V]) *TestStore[K, V] {
	if keySerde == nil {
		keySerde = topology.DefaultSerde[K]()
	}
	if valueSerde == nil {
		valueSerde = topology.DefaultSerde[V]()
	}
	return &TestStore[K, V]{d: d, name: name, keySerde: keySerde, valueSerde: valueSerde}
}

// serdeTopic is the topic name the store's serdes are given, by the
// convention of topology.TypedKeyValueStore: the store's changelog.
func (s *TestStore[K, V]) serdeTopic() string {
	if spec, ok := s.d.topo.Store(s.name); ok && spec.SourceTopic != "" {
		return spec.SourceTopic // a source table's store holds what its topic holds
	}
	return topology.ChangelogTopicName(s.d.cfg.AppID, s.name)
}

// Get returns the value of k and whether it is present. It asks the task
// owning k: the partition Kafka's default partitioner picks for the
// serialized key, which is where a topology that grouped by k put it.
func (s *TestStore[K, V]) Get(k K) (V, bool, error) {
	var zero V
	kb, err := s.keySerde.Serialize(s.serdeTopic(), k)
	if err != nil {
		return zero, false, fmt.Errorf("streamtest: store %s: serialize key: %w", s.name, err)
	}
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	stores, err := s.d.kvStores(s.name)
	if err != nil {
		return zero, false, err
	}
	p := partition.KeyPartition(kb, int32(len(stores)))
	return topology.NewTypedKeyValueStore(stores[p], s.serdeTopic(), s.keySerde, s.valueSerde).Get(k)
}

// All returns every entry of the store: partition by partition, each in
// the order of the serialized keys.
func (s *TestStore[K, V]) All() ([]topology.Pair[K, V], error) {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	stores, err := s.d.kvStores(s.name)
	if err != nil {
		return nil, err
	}
	var out []topology.Pair[K, V]
	for p, st := range stores {
		it, err := st.Range(nil, nil)
		if err != nil {
			return nil, fmt.Errorf("streamtest: store %s partition %d: %w", s.name, p, err)
		}
		for it.Next() {
			k, err := s.keySerde.Deserialize(s.serdeTopic(), it.Key())
			if err != nil {
				return nil, errors.Join(fmt.Errorf("streamtest: store %s partition %d: key: %w", s.name, p, err), it.Close())
			}
			v, err := s.valueSerde.Deserialize(s.serdeTopic(), it.Value())
			if err != nil {
				return nil, errors.Join(fmt.Errorf("streamtest: store %s partition %d: value: %w", s.name, p, err), it.Close())
			}
			out = append(out, topology.KV(k, v))
		}
		if err := errors.Join(it.Err(), it.Close()); err != nil {
			return nil, fmt.Errorf("streamtest: store %s partition %d: %w", s.name, p, err)
		}
	}
	return out, nil
}

// StoreToMap returns every entry of the store as a map.
func StoreToMap[K comparable, V any](s *TestStore[K, V]) (map[K]V, error) {
	kvs, err := s.All()
	if err != nil {
		return nil, err
	}
	m := make(map[K]V, len(kvs))
	for _, kv := range kvs {
		m[kv.Key] = kv.Value
	}
	return m, nil
}

// kvStores returns the named store of each task of the sub-topology owning
// it, by partition. d.mu must be held.
func (d *Driver) kvStores(name string) ([]topology.KeyValueStore, error) {
	if err := d.usable(); err != nil {
		return nil, err
	}
	if spec, ok := d.topo.Store(name); ok && spec.Global {
		return d.globalStore(name)
	}
	st, ok := d.topo.SubtopologyOfStore(name)
	if !ok {
		return nil, fmt.Errorf("streamtest: the topology has no store %q", name)
	}
	var out []topology.KeyValueStore
	for _, t := range d.tasks {
		if t.ID().Subtopology != st.ID {
			continue
		}
		kv, ok := t.Store(name).(topology.KeyValueStore)
		if !ok {
			return nil, fmt.Errorf("streamtest: store %q of task %s is not a key-value store", name, t.ID())
		}
		out = append(out, kv)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("streamtest: no task holds store %q", name)
	}
	return out, nil
}
