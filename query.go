package eddy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/eddystreams/eddy/actors"
	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/topology"
)

// ErrNotLocal means the task holding the key does not run on this node.
// Remote queries come with the cluster; until then ask the node that runs it.
var ErrNotLocal = errors.New("eddy: the key's task does not run on this node")

// StoreReader reads a key-value store of a running App: get by key, range,
// prefix and all. Every read runs on the task actor between two records, so
// it sees a consistent state while the task keeps processing.
type StoreReader[K, V any] struct {
	app  *App
	spec topology.StoreSpec
	st   *topology.Subtopology
	ks   topology.Serde[K]
	vs   topology.Serde[V]
}

// Store returns a typed reader of the named store, with the serdes the
// topology gave it. It fails when the store does not exist or its types are
// not K and V.
func Store[K, V any](app *App, name string) (*StoreReader[K, V], error) {
	r, err := storeReader[K, V](app, name)
	if err != nil {
		return nil, err
	}
	ks, ok := r.spec.KeySerde.(topology.Serde[K])
	if !ok {
		return nil, fmt.Errorf("eddy: store %q: its keys are not of type %T (key serde %T); use StoreWithSerdes for stores without serdes", name, *new(K), r.spec.KeySerde)
	}
	vs, ok := r.spec.ValueSerde.(topology.Serde[V])
	if !ok {
		return nil, fmt.Errorf("eddy: store %q: its values are not of type %T (value serde %T)", name, *new(V), r.spec.ValueSerde)
	}
	r.ks, r.vs = ks, vs
	return r, nil
}

// StoreWithSerdes returns a typed reader of the named store with the given
// serdes (for stores registered without them, e.g. by a Processor).
func StoreWithSerdes[K, V any](app *App, name string, ks topology.Serde[K], vs topology.Serde[V]) (*StoreReader[K, V], error) {
	r, err := storeReader[K, V](app, name)
	if err != nil {
		return nil, err
	}
	r.ks, r.vs = ks, vs
	return r, nil
}

func storeReader[K, V any](app *App, name string) (*StoreReader[K, V], error) {
	spec, ok := app.topo.Store(name)
	if !ok {
		return nil, fmt.Errorf("eddy: no store named %q in the topology", name)
	}
	st, ok := app.topo.SubtopologyOfStore(name)
	if !ok {
		return nil, fmt.Errorf("eddy: store %q is used by no processor", name)
	}
	return &StoreReader[K, V]{app: app, spec: spec, st: st}, nil
}

func (r *StoreReader[K, V]) ready() error {
	if r.app.layout == nil || r.app.node == nil {
		return errors.New("eddy: query before Start")
	}
	return nil
}

func (r *StoreReader[K, V]) topic() string {
	return topology.ChangelogTopicName(r.app.cfg.appID, r.spec.Name)
}

func (r *StoreReader[K, V]) kvStore(t *partition.Task) (topology.KeyValueStore, error) {
	kv, ok := t.Store(r.spec.Name).(topology.KeyValueStore)
	if !ok {
		return nil, fmt.Errorf("eddy: store %q is not a key-value store", r.spec.Name)
	}
	return kv, nil
}

// Get returns the value of key and whether it is present. A key whose task
// runs elsewhere gives ErrNotLocal.
func (r *StoreReader[K, V]) Get(ctx context.Context, key K) (V, bool, error) {
	var zero V
	if err := r.ready(); err != nil {
		return zero, false, err
	}
	kb, err := r.ks.Serialize(r.topic(), key)
	if err != nil {
		return zero, false, fmt.Errorf("eddy: store %q: serialize key: %w", r.spec.Name, err)
	}
	id := topology.TaskID{Subtopology: r.st.ID, Partition: partition.KeyPartition(kb, r.app.layout.tasks[r.st.ID])}
	res, err := r.app.node.Query(ctx, id, func(t *partition.Task) (any, error) {
		kv, err := r.kvStore(t)
		if err != nil {
			return nil, err
		}
		return kv.Get(kb)
	})
	if errors.Is(err, actors.ErrTaskNotHere) {
		return zero, false, fmt.Errorf("%w: store %q, key in task %s: %w", ErrNotLocal, r.spec.Name, id, err)
	}
	if err != nil || res.([]byte) == nil {
		return zero, false, err
	}
	v, err := r.vs.Deserialize(r.topic(), res.([]byte))
	if err != nil {
		return zero, false, fmt.Errorf("eddy: store %q: deserialize value: %w", r.spec.Name, err)
	}
	return v, true, nil
}

// Range returns the entries with keys from..to, both included, ordered by
// serialized key (bytewise), from every task of the store on this node.
func (r *StoreReader[K, V]) Range(ctx context.Context, from, to K) ([]topology.Pair[K, V], error) {
	fb, err := r.ks.Serialize(r.topic(), from)
	if err != nil {
		return nil, fmt.Errorf("eddy: store %q: serialize key: %w", r.spec.Name, err)
	}
	tb, err := r.ks.Serialize(r.topic(), to)
	if err != nil {
		return nil, fmt.Errorf("eddy: store %q: serialize key: %w", r.spec.Name, err)
	}
	end := append(append([]byte(nil), tb...), 0) // the first key after to
	return r.scan(ctx, func(kv topology.KeyValueStore) (topology.KeyValueIterator, error) { return kv.Range(fb, end) })
}

// PrefixScan returns the entries whose serialized key starts with prefix,
// ordered by serialized key, from every task of the store on this node.
func (r *StoreReader[K, V]) PrefixScan(ctx context.Context, prefix []byte) ([]topology.Pair[K, V], error) {
	return r.scan(ctx, func(kv topology.KeyValueStore) (topology.KeyValueIterator, error) { return kv.PrefixScan(prefix) })
}

// All returns every entry of the store on this node, ordered by serialized
// key.
func (r *StoreReader[K, V]) All(ctx context.Context) ([]topology.Pair[K, V], error) {
	return r.scan(ctx, func(kv topology.KeyValueStore) (topology.KeyValueIterator, error) { return kv.Range(nil, nil) })
}

// scan runs open on every local task of the store and merges the results.
// A task of the store that does not run here makes the answer incomplete,
// which is an error (ErrNotLocal) rather than a silent partial result.
func (r *StoreReader[K, V]) scan(ctx context.Context, open func(topology.KeyValueStore) (topology.KeyValueIterator, error)) ([]topology.Pair[K, V], error) {
	if err := r.ready(); err != nil {
		return nil, err
	}
	type raw struct{ k, v []byte }
	var all []raw
	for p := int32(0); p < r.app.layout.tasks[r.st.ID]; p++ {
		id := topology.TaskID{Subtopology: r.st.ID, Partition: p}
		res, err := r.app.node.Query(ctx, id, func(t *partition.Task) (any, error) {
			kv, err := r.kvStore(t)
			if err != nil {
				return nil, err
			}
			it, err := open(kv)
			if err != nil {
				return nil, err
			}
			defer it.Close()
			var out []raw
			for it.Next() {
				out = append(out, raw{it.Key(), it.Value()})
			}
			return out, it.Err()
		})
		if errors.Is(err, actors.ErrTaskNotHere) {
			return nil, fmt.Errorf("%w: store %q, task %s: %w", ErrNotLocal, r.spec.Name, id, err)
		}
		if err != nil {
			return nil, err
		}
		all = append(all, res.([]raw)...)
	}
	sort.Slice(all, func(i, j int) bool { return bytes.Compare(all[i].k, all[j].k) < 0 })
	out := make([]topology.Pair[K, V], 0, len(all))
	for _, e := range all {
		k, err := r.ks.Deserialize(r.topic(), e.k)
		if err != nil {
			return nil, fmt.Errorf("eddy: store %q: deserialize key: %w", r.spec.Name, err)
		}
		v, err := r.vs.Deserialize(r.topic(), e.v)
		if err != nil {
			return nil, fmt.Errorf("eddy: store %q: deserialize value: %w", r.spec.Name, err)
		}
		out = append(out, topology.KV(k, v))
	}
	return out, nil
}
