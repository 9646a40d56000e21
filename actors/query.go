package actors

import (
	"context"
	"errors"
	"fmt"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/eddystreams/eddy/topology"
)

// ErrTaskNotHere means the task does not run on this node (now).
var ErrTaskNotHere = errors.New("task does not run on this node")

// ErrNoSuchStore means the task has no store of the name asked for.
var ErrNoSuchStore = errors.New("no such store")

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

// storeHolder is a task or a standby task: what a query reads.
type storeHolder interface {
	ID() topology.TaskID
	Store(name string) topology.StateStore
}

// serve runs q on the stores of t, an active or a standby task (on its
// actor's goroutine).
func serve(t storeHolder, q StoreQuery) (StoreResult, error) {
	kv, ok := t.Store(q.Store).(topology.KeyValueStore)
	if !ok {
		if t.Store(q.Store) == nil {
			return StoreResult{}, fmt.Errorf("task %s has no store %q: %w", t.ID(), q.Store, ErrNoSuchStore)
		}
		return StoreResult{}, fmt.Errorf("store %q is not a key-value store", q.Store)
	}
	return ServeKV(kv, q)
}

// ServeKV runs q on kv: a get, or a page of a range.
func ServeKV(kv topology.KeyValueStore, q StoreQuery) (StoreResult, error) {
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
	return n.ask(ctx, id, rt.pid, q)
}

// ask sends q to the actor pid (a task's or a standby's) and waits for the
// answer.
func (n *Node) ask(ctx context.Context, id topology.TaskID, pid *actor.PID, q StoreQuery) (StoreResult, error) {
	if _, ok := ctx.Deadline(); !ok {
		// A query sent as the task stops is dropped with the actor's
		// mailbox: without a deadline of the caller's it would wait for
		// ever.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, n.cfg.CommitTimeout)
		defer cancel()
	}
	done := make(chan queryReply, 1)
	n.system.Root.Send(pid, &queryRequest{q: q, done: done})
	select {
	case r := <-done:
		return r.res, r.err
	case <-ctx.Done():
		return StoreResult{}, fmt.Errorf("task %s: query: %w", id, ctx.Err())
	}
}

// QueryStandby runs q on the standby (or warm-up) copy of task id on this
// node, between two changelog batches, when that copy is at most maxLag
// records behind its changelogs' ends. It returns the lag the copy had. It
// fails with ErrTaskNotHere when no such copy runs here, and with
// ErrTooStale (wrapped) when the copy is further behind.
func (n *Node) QueryStandby(ctx context.Context, id topology.TaskID, q StoreQuery, maxLag int64) (StoreResult, int64, error) {
	n.mu.RLock()
	ch := n.standbys[id]
	var run *standbyRun
	if ch != nil && !ch.ending {
		run = ch.run
	}
	n.mu.RUnlock()
	if run == nil {
		return StoreResult{}, -1, fmt.Errorf("standby of task %s: %w", id, ErrTaskNotHere)
	}
	lag := run.sb.Lag()
	if lag < 0 || lag > maxLag {
		return StoreResult{}, lag, fmt.Errorf("standby of task %s is %d records behind, more than %d: %w", id, lag, maxLag, ErrTooStale)
	}
	res, err := n.ask(ctx, id, ch.pid, q)
	return res, lag, err
}

// ErrTooStale means a standby's copy is further behind than a query allows.
var ErrTooStale = errors.New("standby too far behind")

// TaskRole says how task id is assigned to this node by the last applied
// assignment (assigned false: not at all) and whether it runs now (an
// active processing, a standby following its changelogs); epoch is the
// node's applied epoch.
func (n *Node) TaskRole(id topology.TaskID) (role Role, assigned, running bool, epoch int64) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	e := n.entries[id]
	if e == nil {
		return 0, false, false, n.epoch
	}
	switch e.role {
	case RoleActive:
		_, running = n.tasks[id]
	case RoleStandby, RoleWarmup:
		ch := n.standbys[id]
		running = ch != nil && !ch.ending && ch.run != nil
	}
	return e.role, true, running, n.epoch
}

// System is the node's actor system.
func (n *Node) System() *actor.ActorSystem { return n.system }

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
