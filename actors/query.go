package actors

import (
	"context"
	"errors"
	"fmt"

	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/topology"
)

// ErrTaskNotHere means the task does not run on this node (now).
var ErrTaskNotHere = errors.New("task does not run on this node")

// StoreQuery is a read of one task's store, as data: it can cross nodes
// (remote queries carry it as a message), unlike a closure. A range is
// served in pages: each StoreQuery returns at most Limit entries and
// MaxBytes of keys and values, read on the task actor between two records,
// so that no scan holds the store in memory or stalls processing for long;
// the caller asks again from StoreResult.Next.
type StoreQuery struct {
	Store string
	// Get reads Key alone; otherwise the query reads keys in [From, To),
	// nil meaning unbounded.
	Get      bool
	Key      []byte
	From, To []byte
	// Limit and MaxBytes bound one page (defaults 1000 and 1 MiB; a page
	// always holds at least one entry when there is one).
	Limit    int
	MaxBytes int
}

// KV is one entry of a store, as bytes.
type KV struct{ Key, Value []byte }

// StoreResult answers a StoreQuery. For Get: Value and Found. For a range:
// Entries in key order, and More with Next (the key to start the next page
// from) when the range goes on.
type StoreResult struct {
	Value   []byte
	Found   bool
	Entries []KV
	More    bool
	Next    []byte
}

const (
	defaultPageEntries = 1000
	defaultPageBytes   = 1 << 20
)

// queryRequest carries a StoreQuery to a task actor; the answer goes to
// done.
type queryRequest struct {
	q    StoreQuery
	done chan<- queryReply
}

// queryReply is the answer to a queryRequest.
type queryReply struct {
	res StoreResult
	err error
}

// serve runs q on task t (on its actor's goroutine).
func serve(t *partition.Task, q StoreQuery) (StoreResult, error) {
	kv, ok := t.Store(q.Store).(topology.KeyValueStore)
	if !ok {
		if t.Store(q.Store) == nil {
			return StoreResult{}, fmt.Errorf("task %s has no store %q", t.ID(), q.Store)
		}
		return StoreResult{}, fmt.Errorf("store %q is not a key-value store", q.Store)
	}
	if q.Get {
		v, err := kv.Get(q.Key)
		return StoreResult{Value: v, Found: v != nil}, err
	}
	limit, maxBytes := q.Limit, q.MaxBytes
	if limit <= 0 {
		limit = defaultPageEntries
	}
	if maxBytes <= 0 {
		maxBytes = defaultPageBytes
	}
	it, err := kv.Range(q.From, q.To)
	if err != nil {
		return StoreResult{}, err
	}
	var res StoreResult
	size := 0
	for it.Next() {
		k := it.Key()
		if len(res.Entries) >= limit || (len(res.Entries) > 0 && size+len(k)+len(it.Value()) > maxBytes) {
			res.More, res.Next = true, append([]byte(nil), k...)
			break
		}
		e := KV{Key: append([]byte(nil), k...), Value: append([]byte(nil), it.Value()...)}
		size += len(e.Key) + len(e.Value)
		res.Entries = append(res.Entries, e)
	}
	return res, errors.Join(it.Err(), it.Close())
}

// QueryStore runs q on the actor of task id, between two records. It fails
// with ErrTaskNotHere when the task does not run on this node, or is not
// running (restoring, closed).
func (n *Node) QueryStore(ctx context.Context, id topology.TaskID, q StoreQuery) (StoreResult, error) {
	n.mu.RLock()
	rt, ok := n.tasks[id]
	n.mu.RUnlock()
	if !ok {
		return StoreResult{}, fmt.Errorf("task %s: %w", id, ErrTaskNotHere)
	}
	if _, ok := ctx.Deadline(); !ok {
		// A query sent as the task stops is dropped with the actor's
		// mailbox: without a deadline of the caller's it would wait for
		// ever.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, n.cfg.CommitTimeout)
		defer cancel()
	}
	done := make(chan queryReply, 1)
	n.system.Root.Send(rt.pid, &queryRequest{q: q, done: done})
	select {
	case r := <-done:
		return r.res, r.err
	case <-ctx.Done():
		return StoreResult{}, fmt.Errorf("task %s: query: %w", id, ctx.Err())
	}
}

// RunningTasks lists the tasks running on this node.
func (n *Node) RunningTasks() []topology.TaskID {
	n.mu.RLock()
	defer n.mu.RUnlock()
	ids := make([]topology.TaskID, 0, len(n.tasks))
	for id := range n.tasks {
		ids = append(ids, id)
	}
	return ids
}
