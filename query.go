package eddy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"

	"github.com/eddystreams/eddy/actors"
	"github.com/eddystreams/eddy/actors/querypb"
	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/topology"
)

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
	r, err := typedStore[K, V](app, name)
	if err != nil {
		return nil, err
	}
	if k := r.spec.Kind; k == topology.KindWindow || k == topology.KindSession {
		return nil, fmt.Errorf("eddy: store %q is a %s store: read it with eddy.WindowStore", name, k)
	}
	return r, nil
}

// typedStore is a reader of any store with the serdes the topology gave
// it.
func typedStore[K, V any](app *App, name string) (*StoreReader[K, V], error) {
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
	if spec.Global {
		// Every node holds all of a global table: read here.
		return &StoreReader[K, V]{app: app, spec: spec}, nil
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
	return topology.ChangelogTopicName(r.app.cfg.AppID, r.spec.Name)
}

func (r *StoreReader[K, V]) taskOf(kb []byte) topology.TaskID {
	if r.st == nil {
		return topology.TaskID{} // a global store: one copy, here
	}
	return topology.TaskID{Subtopology: r.st.ID, Partition: partition.KeyPartition(kb, r.app.layout.TaskCount(r.st.ID))}
}

// tasks lists the store's tasks (a global store: one, here).
func (r *StoreReader[K, V]) tasks() []topology.TaskID {
	if r.st == nil {
		return []topology.TaskID{{}}
	}
	ids := make([]topology.TaskID, r.app.layout.TaskCount(r.st.ID))
	for i := range ids {
		ids[i] = topology.TaskID{Subtopology: r.st.ID, Partition: int32(i)}
	}
	return ids
}

// query runs q on task id of the store, on the node that owns it (this one
// or another, see request).
func (r *StoreReader[K, V]) query(ctx context.Context, id topology.TaskID, q actors.StoreQuery, opts ...QueryOption) (actors.StoreResult, QueryMeta, error) {
	if r.st == nil {
		kv, err := r.app.GlobalStore(r.spec.Name)
		if err != nil {
			return actors.StoreResult{}, QueryMeta{}, err
		}
		res, err := actors.ServeKV(kv, q)
		if err != nil {
			return res, QueryMeta{}, fmt.Errorf("eddy: global store %q: %w", r.spec.Name, err)
		}
		return res, QueryMeta{Node: r.app.nodeName()}, nil
	}
	var o queryOpts
	for _, opt := range opts {
		opt(&o)
	}
	req := &querypb.StoreRequest{Store: r.spec.Name, Get: q.Get, Key: q.Key, From: q.From, To: q.To, Limit: int32(q.Limit), MaxBytes: int32(q.MaxBytes)}
	resp, err := r.app.request(ctx, id, req, o)
	if err != nil {
		return actors.StoreResult{}, QueryMeta{}, err
	}
	res := actors.StoreResult{Value: resp.Value, Found: resp.Found, More: resp.More, Next: resp.Next}
	if len(resp.Entries) > 0 {
		res.Entries = make([]actors.KV, len(resp.Entries))
		for i, e := range resp.Entries {
			res.Entries[i] = actors.KV{Key: e.Key, Value: e.Value}
		}
	}
	return res, metaOf(resp), nil
}

// Get returns the value of key and whether it is present, read on the node
// that runs the key's task (this one or another). While the task moves or
// fails over it asks the new owner, up to the query timeout
// (WithQueryTimeout); then it gives ErrQueryUnavailable.
func (r *StoreReader[K, V]) Get(ctx context.Context, key K, opts ...QueryOption) (V, bool, error) {
	v, found, _, err := r.GetWithMeta(ctx, key, opts...)
	return v, found, err
}

// GetWithMeta is Get that also says which node answered, at which epoch,
// and (with AllowStale) whether a standby answered and its lag.
func (r *StoreReader[K, V]) GetWithMeta(ctx context.Context, key K, opts ...QueryOption) (V, bool, QueryMeta, error) {
	var zero V
	if err := r.ready(); err != nil {
		return zero, false, QueryMeta{}, err
	}
	kb, err := r.ks.Serialize(r.topic(), key)
	if err != nil {
		return zero, false, QueryMeta{}, fmt.Errorf("eddy: store %q: serialize key: %w", r.spec.Name, err)
	}
	res, meta, err := r.query(ctx, r.taskOf(kb), actors.StoreQuery{Get: true, Key: kb}, opts...)
	if err != nil || !res.Found {
		return zero, false, meta, err
	}
	v, err := r.vs.Deserialize(r.topic(), res.Value)
	if err != nil {
		return zero, false, meta, fmt.Errorf("eddy: store %q: deserialize value: %w", r.spec.Name, err)
	}
	return v, true, meta, nil
}

// Range returns the entries with keys from..to, both included, ordered by
// serialized key (bytewise), from every task of the store, wherever it
// runs. It holds the whole answer in memory; RangeSeq does not.
func (r *StoreReader[K, V]) Range(ctx context.Context, from, to K, opts ...QueryOption) ([]topology.Pair[K, V], error) {
	return collect(r.RangeSeq(ctx, from, to, opts...))
}

// RangeSeq is Range as an iterator: the store is read a page at a time from
// each task (on its owner) and merged by key, so memory holds one page per
// task.
func (r *StoreReader[K, V]) RangeSeq(ctx context.Context, from, to K, opts ...QueryOption) iter.Seq2[topology.Pair[K, V], error] {
	fb, err := r.ks.Serialize(r.topic(), from)
	if err != nil {
		return failed[K, V](fmt.Errorf("eddy: store %q: serialize key: %w", r.spec.Name, err))
	}
	tb, err := r.ks.Serialize(r.topic(), to)
	if err != nil {
		return failed[K, V](fmt.Errorf("eddy: store %q: serialize key: %w", r.spec.Name, err))
	}
	return r.scan(ctx, fb, append(append([]byte(nil), tb...), 0), opts...) // to included: up to the first key after it
}

// PrefixScan returns the entries whose serialized key starts with prefix,
// ordered by serialized key, from every task of the store.
func (r *StoreReader[K, V]) PrefixScan(ctx context.Context, prefix []byte, opts ...QueryOption) ([]topology.Pair[K, V], error) {
	return collect(r.PrefixSeq(ctx, prefix, opts...))
}

// PrefixSeq is PrefixScan as an iterator (see RangeSeq).
func (r *StoreReader[K, V]) PrefixSeq(ctx context.Context, prefix []byte, opts ...QueryOption) iter.Seq2[topology.Pair[K, V], error] {
	return r.scan(ctx, prefix, prefixEnd(prefix), opts...)
}

// All returns every entry of the store, ordered by serialized key. It
// holds the whole store in memory; AllSeq does not.
func (r *StoreReader[K, V]) All(ctx context.Context, opts ...QueryOption) ([]topology.Pair[K, V], error) {
	return collect(r.AllSeq(ctx, opts...))
}

// AllSeq is All as an iterator, a page per task at a time (see RangeSeq).
func (r *StoreReader[K, V]) AllSeq(ctx context.Context, opts ...QueryOption) iter.Seq2[topology.Pair[K, V], error] {
	return r.scan(ctx, nil, nil, opts...)
}

// prefixEnd is the first key after every key starting with prefix (nil:
// none, the prefix is all 0xff).
func prefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

func collect[K, V any](seq iter.Seq2[topology.Pair[K, V], error]) ([]topology.Pair[K, V], error) {
	var out []topology.Pair[K, V]
	for p, err := range seq {
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func failed[K, V any](err error) iter.Seq2[topology.Pair[K, V], error] {
	return func(yield func(topology.Pair[K, V], error) bool) { yield(topology.Pair[K, V]{}, err) }
}

// pager reads one task's part of a range a page at a time.
type pager struct {
	id   topology.TaskID
	q    actors.StoreQuery
	page []actors.KV
	done bool // no page after this one
}

// scan reads keys in [from, to) from every task of the store, on its
// owner, and merges them by key: a page per task in memory at a time, each
// page read on its task between two records. A task whose owner does not
// answer within the query timeout makes the answer incomplete, which is an
// error (ErrQueryUnavailable) rather than a silent partial result. Each
// page goes to the task's owner at the time it is asked for, so a scan
// goes on across a move.
func (r *StoreReader[K, V]) scan(ctx context.Context, from, to []byte, opts ...QueryOption) iter.Seq2[topology.Pair[K, V], error] {
	return r.scanPages(ctx, from, to, 0, opts...)
}

// scanPages is scan reading at most pageLimit entries per request to a
// task (0: the server's default page), for callers that want few entries.
func (r *StoreReader[K, V]) scanPages(ctx context.Context, from, to []byte, pageLimit int, opts ...QueryOption) iter.Seq2[topology.Pair[K, V], error] {
	return func(yield func(topology.Pair[K, V], error) bool) {
		if err := r.ready(); err != nil {
			yield(topology.Pair[K, V]{}, err)
			return
		}
		var pagers []*pager
		fill := func(p *pager) error {
			for len(p.page) == 0 && !p.done {
				res, _, err := r.query(ctx, p.id, p.q, opts...)
				if err != nil {
					return err
				}
				p.page, p.done = res.Entries, !res.More
				p.q.From = res.Next
			}
			return nil
		}
		for _, id := range r.tasks() {
			p := &pager{id: id, q: actors.StoreQuery{From: from, To: to, Limit: pageLimit}}
			if err := fill(p); err != nil {
				yield(topology.Pair[K, V]{}, err)
				return
			}
			pagers = append(pagers, p)
		}
		for {
			var next *pager
			for _, p := range pagers {
				if len(p.page) > 0 && (next == nil || bytes.Compare(p.page[0].Key, next.page[0].Key) < 0) {
					next = p
				}
			}
			if next == nil {
				return
			}
			e := next.page[0]
			next.page = next.page[1:]
			k, err := r.ks.Deserialize(r.topic(), e.Key)
			if err != nil {
				yield(topology.Pair[K, V]{}, fmt.Errorf("eddy: store %q: deserialize key: %w", r.spec.Name, err))
				return
			}
			v, err := r.vs.Deserialize(r.topic(), e.Value)
			if err != nil {
				yield(topology.Pair[K, V]{}, fmt.Errorf("eddy: store %q: deserialize value: %w", r.spec.Name, err))
				return
			}
			if !yield(topology.KV(k, v), nil) {
				return
			}
			if err := fill(next); err != nil {
				yield(topology.Pair[K, V]{}, err)
				return
			}
		}
	}
}
