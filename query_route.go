package eddy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/eddystreams/eddy/actors/querypb"
	"github.com/eddystreams/eddy/cluster"
	"github.com/eddystreams/eddy/topology"
)

// ErrQueryUnavailable means no node answered a query for the key's task
// within the query timeout (WithQueryTimeout, default 10 s): the task had
// no owner that answered (a failover or restore under way, a node
// unreachable). The error says what the last attempt found.
var ErrQueryUnavailable = errors.New("eddy: no owner of the task answered the query in time")

// ErrQueryRefused means the serving node refused the query for a reason
// that asking again does not mend: an unknown store, a malformed request, a
// protocol it does not speak, or a failed read.
var ErrQueryRefused = errors.New("eddy: query refused")

// QueryOption changes how a query is routed.
type QueryOption func(*queryOpts)

type queryOpts struct {
	stale  bool
	maxLag int64
}

// AllowStale lets a standby copy of the key's task answer when it is at
// most maxLag changelog records behind (Kafka Streams' stale stores,
// KIP-535): queries keep being answered during a failover or restore, and
// spread over the copies. The answer carries the lag of the copy that gave
// it (QueryMeta.Lag). The active task is asked when no close enough copy
// answers.
func AllowStale(maxLag int64) QueryOption {
	return func(o *queryOpts) { o.stale, o.maxLag = true, max(maxLag, 0) }
}

// QueryMeta says who answered a query: the node, the assignment epoch it
// served at, and, when a standby answered, its lag.
type QueryMeta struct {
	Node    string
	Epoch   int64
	Standby bool
	Lag     int64
}

func metaOf(r *querypb.StoreResponse) QueryMeta {
	return QueryMeta{Node: r.Node, Epoch: r.Epoch, Standby: r.Standby, Lag: r.Lag}
}

// target is a node a request may go to.
type target struct {
	node cluster.NodeID
	pid  *actor.PID // nil: this node
}

// targets lists where task id's queries go in this node's view: the active
// owner, and with stale reads the standbys and warm-ups too (this node
// first, then the active, then the others). epoch is the view's.
func (a *App) targets(id topology.TaskID, o queryOpts) ([]target, int64) {
	a.mu.Lock()
	cn := a.cluster
	a.mu.Unlock()
	if cn == nil {
		return []target{{}}, 1 // standalone: every task is here
	}
	d := cn.Applied()
	self := cn.Self()
	owner, hasOwner := d.Owner(id)
	var copies []cluster.NodeID
	if o.stale {
		for n, na := range d.Nodes {
			if slices.Contains(na.Standby, id) || slices.Contains(na.Warmup, id) {
				copies = append(copies, n)
			}
		}
		slices.Sort(copies)
	}
	var ids []cluster.NodeID
	if o.stale && slices.Contains(copies, self) {
		ids = append(ids, self)
	}
	if hasOwner {
		ids = append(ids, owner)
	}
	for _, n := range copies {
		if n != self {
			ids = append(ids, n)
		}
	}
	out := make([]target, 0, len(ids))
	for _, n := range ids {
		if n == self {
			out = append(out, target{node: n})
			continue
		}
		m, ok := cn.Member(n)
		if !ok || m.RemoteAddr == "" {
			continue // not reachable now: a new decision will place its tasks
		}
		out = append(out, target{node: n, pid: actor.NewPID(m.RemoteAddr, QueryActorName(a.cfg.AppID, string(n)))})
	}
	return out, d.Epoch
}

// attemptTimeout bounds one remote attempt, so that a dead node costs a
// retry, not the whole query timeout.
const attemptTimeout = 2 * time.Second

// request sends req for task id to its owner (or a close enough standby),
// here or on another node, asking again while the task moves or fails
// over, until the query timeout. It returns the OK answer, or
// ErrQueryRefused / ErrQueryUnavailable.
func (a *App) request(ctx context.Context, id topology.TaskID, req *querypb.StoreRequest, o queryOpts) (*querypb.StoreResponse, error) {
	if a.QueryPID() == nil {
		return nil, errors.New("eddy: query before Start")
	}
	req.Protocol = QueryProtocol
	req.Subtopology, req.Partition = int32(id.Subtopology), id.Partition
	req.AllowStale, req.MaxLag = o.stale, o.maxLag
	ctx, cancel := context.WithTimeout(ctx, a.queryTimeout())
	defer cancel()
	backoff := 20 * time.Millisecond
	var last string
	for {
		// A closed App's view of the cluster no longer changes, and its
		// own tasks are gone: asking again would only wait out the
		// timeout.
		if a.isClosed() {
			return nil, ErrAppClosed
		}
		ts, epoch := a.targets(id, o)
		if req.MinEpoch < epoch {
			req.MinEpoch = epoch
		}
		if len(ts) == 0 {
			last = fmt.Sprintf("no owner of task %s at epoch %d", id, epoch)
		}
		for _, t := range ts {
			resp, err := a.ask(ctx, t, req)
			if err != nil {
				last = fmt.Sprintf("node %s: %v", t.node, err)
				continue
			}
			switch resp.Status {
			case querypb.Status_OK:
				return resp, nil
			case querypb.Status_NOT_OWNER, querypb.Status_NOT_READY:
				last = fmt.Sprintf("node %s (epoch %d): %s: %s", resp.Node, resp.Epoch, resp.Status, resp.Error)
			default:
				return nil, fmt.Errorf("%w by node %s: %s: %s", ErrQueryRefused, resp.Node, resp.Status, resp.Error)
			}
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			if last == "" {
				last = ctx.Err().Error()
			}
			return nil, fmt.Errorf("%w: store %q, task %s, after %v: last attempt: %s", ErrQueryUnavailable, req.Store, id, a.queryTimeout(), last)
		}
		backoff = min(2*backoff, 500*time.Millisecond)
	}
}

// ErrAppClosed is the error of a query on a closed App: ask another node.
var ErrAppClosed = errors.New("eddy: query on a closed App")

func (a *App) isClosed() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.closed
}

// ask sends req to one target: served in this goroutine when the target is
// this node, through protoactor remote otherwise.
func (a *App) ask(ctx context.Context, t target, req *querypb.StoreRequest) (*querypb.StoreResponse, error) {
	if t.pid == nil {
		return a.serveQuery(ctx, req), nil
	}
	d := attemptTimeout
	if dl, ok := ctx.Deadline(); ok {
		d = min(d, time.Until(dl))
	}
	if d <= 0 {
		return nil, context.DeadlineExceeded
	}
	res, err := a.system.Root.RequestFuture(t.pid, req, d).Result()
	if err != nil {
		if errors.Is(err, actor.ErrTimeout) {
			return nil, fmt.Errorf("no answer from %s within %v", t.pid.Address, d)
		}
		return nil, err
	}
	resp, ok := res.(*querypb.StoreResponse)
	if !ok {
		return nil, fmt.Errorf("unexpected answer %T from %s", res, t.pid.Address)
	}
	return resp, nil
}
