package eddy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/eddystreams/eddy/actors"
	"github.com/eddystreams/eddy/actors/querypb"
	"github.com/eddystreams/eddy/topology"
)

// QueryProtocol is the version of the query messages (actors/querypb) this
// build speaks. Nodes announce it in their cluster metadata; a request of a
// newer version is answered UNSUPPORTED_PROTOCOL.
const QueryProtocol = 1

// QueryActorName is the name of a node's query actor in its actor system:
// "eddy/<application id>/<node id>/query" (node id: App.ClusterStatus().Self,
// or "standalone-…" for a standalone App; App.Nodes lists every node's id
// and remote address). It takes querypb.StoreRequest and answers
// querypb.StoreResponse. App.QueryPID is this node's.
func QueryActorName(appID, nodeID string) string { return "eddy/" + appID + "/" + nodeID + "/query" }

// localAddress is protoactor's address of a system without remote.
const localAddress = "nonhost"

// processActors is the actor system the Apps of this process share unless
// given one (WithActorSystem), with protoactor remote started on it by the
// first App that needs it. One remote per process: protoactor's remote
// sets gRPC's process-wide logger as it starts, so two remotes in one
// process would race. Apps share it, each with its own query actor; it
// lives as long as the process.
var processActors struct {
	mu       sync.Mutex
	sys      *actor.ActorSystem
	remote   *remote.Remote
	bind     string
	security remoteSecurity
}

// startActors adopts the App's actor system (its own WithActorSystem, or the
// process's), and starts protoactor remote on it unless standalone or
// already running. It runs before the cluster node, which announces the
// remote address; the query actor comes once the node has its id
// (spawnQueryActor).
func (a *App) startActors() error {
	sys := a.cfg.query.system
	needRemote := !a.cfg.cluster.standalone
	if sys == nil {
		pa := &processActors
		pa.mu.Lock()
		defer pa.mu.Unlock()
		if pa.sys == nil {
			pa.sys = actor.NewActorSystem(actors.QuietLogger(slog.Default().Handler()))
		}
		sys = pa.sys
		sec := a.cfg.query.security
		if needRemote && pa.remote == nil {
			r, bind, err := startRemote(sys, a.cfg.query.bind, a.cfg.query.advertise, sec.configOptions(a.log))
			if err != nil {
				return err
			}
			pa.remote, pa.bind, pa.security = r, bind, sec
		} else if needRemote && a.cfg.query.bind != "" && a.cfg.query.bind != pa.bind {
			return fmt.Errorf("eddy: this process already serves remote queries at %s (bound to %s): one remote listener per process; give every App of the process the same WithRemoteBind, or none", sys.Address(), pa.bind)
		} else if needRemote && !sec.same(pa.security) {
			return fmt.Errorf("eddy: this process already serves remote queries at %s with other security settings (%s): one remote listener per process; give every App of the process the same WithRemoteTLS and WithRemoteToken", sys.Address(), pa.security.describe())
		}
	} else if needRemote && sys.Address() == localAddress {
		if _, _, err := startRemote(sys, a.cfg.query.bind, a.cfg.query.advertise, a.cfg.query.security.configOptions(a.log)); err != nil {
			return err
		}
	} else if needRemote && !a.cfg.query.security.isZero() {
		return errors.New("eddy: WithRemoteTLS / WithRemoteToken with an actor system that already runs protoactor remote: its security is the program's (start its remote with RemoteSecurityOptions)")
	}
	a.mu.Lock()
	a.system = sys
	a.mu.Unlock()
	a.queries = make(chan struct{}, maxConcurrentQueries)
	return nil
}

// spawnQueryActor spawns the App's query actor, named after its node.
func (a *App) spawnQueryActor() error {
	props := actor.PropsFromProducer(func() actor.Actor { return &queryActor{a: a} })
	name := QueryActorName(a.cfg.AppID, a.nodeName())
	pid, err := a.system.Root.SpawnNamed(props, name)
	if err != nil {
		return fmt.Errorf("eddy: query actor %q: %w", name, err)
	}
	a.mu.Lock()
	a.queryPID = pid
	a.mu.Unlock()
	return nil
}

// startRemote starts protoactor remote on sys. Remote.Start panics when it
// cannot listen; that becomes an error.
func startRemote(sys *actor.ActorSystem, bind, advertise string, opts []remote.ConfigOption) (r *remote.Remote, _ string, err error) {
	if bind == "" {
		bind = "127.0.0.1:0"
	}
	host, portStr, err := net.SplitHostPort(bind)
	if err != nil {
		return nil, "", fmt.Errorf("eddy: remote address %q: %w", bind, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, "", fmt.Errorf("eddy: remote address %q: bad port", bind)
	}
	if advertise != "" {
		opts = append(opts, remote.WithAdvertisedHost(advertise))
	}
	r = remote.NewRemote(sys, remote.Configure(host, port, opts...))
	defer func() {
		if p := recover(); p != nil {
			r, err = nil, fmt.Errorf("eddy: start remote queries on %s: %v", bind, p)
		}
	}()
	r.Start()
	return r, bind, nil
}

// RemoteAddr is the address other nodes send this App's queries to (its
// actor system's protoactor remote address); "" when it has none
// (standalone, or before Start).
func (a *App) RemoteAddr() string {
	a.mu.Lock()
	sys := a.system
	a.mu.Unlock()
	if sys == nil || sys.Address() == localAddress {
		return ""
	}
	return sys.Address()
}

// QueryPID is the PID of the App's query actor (nil before Start).
func (a *App) QueryPID() *actor.PID {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.queryPID
}

// closeActors stops the query actor; the actor system stays (the
// process's, or the user's).
func (a *App) closeActors() {
	a.mu.Lock()
	sys, pid := a.system, a.queryPID
	a.mu.Unlock()
	if sys != nil && pid != nil {
		_ = sys.Root.StopFuture(pid).Wait()
	}
}

// maxConcurrentQueries bounds the requests a node serves at once; more
// wait for a turn (in their own goroutines, not in the actor's mailbox).
const maxConcurrentQueries = 256

// queryActor is a node's query actor: each request is served in a
// goroutine of its own so that one slow read holds up no other.
type queryActor struct{ a *App }

func (q *queryActor) Receive(c actor.Context) {
	req, ok := c.Message().(*querypb.StoreRequest)
	if !ok {
		return
	}
	sender := c.Sender()
	if sender == nil {
		return // nowhere to answer
	}
	root := c.ActorSystem().Root
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), q.a.queryTimeout())
		defer cancel()
		root.Send(sender, q.a.serveQuery(ctx, req))
	}()
}

func (a *App) queryTimeout() time.Duration {
	if a.cfg.query.timeout > 0 {
		return a.cfg.query.timeout
	}
	return defaultQueryTimeout
}

// serveQuery answers req from this node's tasks: the active task of the
// request's task, or (when the request allows) its standby copy if close
// enough; else NOT_OWNER with the epoch this node applied.
func (a *App) serveQuery(ctx context.Context, req *querypb.StoreRequest) *querypb.StoreResponse {
	select {
	case a.queries <- struct{}{}:
		defer func() { <-a.queries }()
	case <-ctx.Done():
		return &querypb.StoreResponse{Protocol: QueryProtocol, Status: querypb.Status_FAILED, Error: "node too busy: " + ctx.Err().Error(), Node: a.nodeName()}
	}
	resp := a.serve(ctx, req)
	resp.Protocol, resp.Node = QueryProtocol, a.nodeName()
	return resp
}

func (a *App) serve(ctx context.Context, req *querypb.StoreRequest) *querypb.StoreResponse {
	bad := func(st querypb.Status, format string, args ...any) *querypb.StoreResponse {
		return &querypb.StoreResponse{Status: st, Error: fmt.Sprintf(format, args...)}
	}
	switch {
	case req.Protocol == 0:
		return bad(querypb.Status_BAD_REQUEST, "protocol version missing (want %d)", QueryProtocol)
	case req.Protocol > QueryProtocol:
		return bad(querypb.Status_UNSUPPORTED_PROTOCOL, "protocol %d is newer than this node's %d", req.Protocol, QueryProtocol)
	}
	a.mu.Lock()
	node := a.node
	a.mu.Unlock()
	if node == nil {
		return bad(querypb.Status_NOT_READY, "node not started")
	}
	spec, ok := a.topo.Store(req.Store)
	if !ok {
		return bad(querypb.Status_UNKNOWN_STORE, "no store named %q", req.Store)
	}
	st, ok := a.topo.SubtopologyOfStore(spec.Name)
	if !ok {
		return bad(querypb.Status_UNKNOWN_STORE, "store %q is used by no processor", req.Store)
	}
	if int(req.Subtopology) != st.ID {
		return bad(querypb.Status_BAD_REQUEST, "store %q belongs to subtopology %d, not %d", req.Store, st.ID, req.Subtopology)
	}
	if n := a.layout.TaskCount(st.ID); req.Partition < 0 || req.Partition >= n {
		return bad(querypb.Status_BAD_REQUEST, "store %q has tasks 0..%d, not %d", req.Store, n-1, req.Partition)
	}
	if req.Limit < 0 || req.MaxBytes < 0 || req.MaxLag < 0 {
		return bad(querypb.Status_BAD_REQUEST, "negative limit, max_bytes or max_lag")
	}
	id := topology.TaskID{Subtopology: st.ID, Partition: req.Partition}
	q := actors.StoreQuery{Store: spec.Name, Get: req.Get, Key: req.Key, From: req.From, To: req.To, Limit: int(req.Limit), MaxBytes: int(req.MaxBytes)}
	if len(q.From) == 0 {
		q.From = nil
	}
	if len(q.To) == 0 {
		q.To = nil
	}
	role, assigned, running, epoch := a.waitEpoch(ctx, node, id, req.MinEpoch)
	if req.MinEpoch > epoch {
		return &querypb.StoreResponse{Status: querypb.Status_NOT_OWNER, Epoch: epoch, Error: fmt.Sprintf("this node applied epoch %d, not yet %d", epoch, req.MinEpoch)}
	}
	var res actors.StoreResult
	var err error
	resp := &querypb.StoreResponse{Epoch: epoch}
	switch {
	case assigned && role == actors.RoleActive && running:
		res, err = node.QueryStore(ctx, id, q)
	case assigned && role == actors.RoleActive:
		return &querypb.StoreResponse{Status: querypb.Status_NOT_READY, Epoch: epoch, Error: fmt.Sprintf("task %s is starting or restoring here", id)}
	case assigned && req.AllowStale && running:
		resp.Standby = true
		res, resp.Lag, err = node.QueryStandby(ctx, id, q, req.MaxLag)
	default:
		return &querypb.StoreResponse{Status: querypb.Status_NOT_OWNER, Epoch: epoch, Error: fmt.Sprintf("task %s is not active here at epoch %d", id, epoch)}
	}
	switch {
	case err == nil:
	case errors.Is(err, actors.ErrTooStale):
		return &querypb.StoreResponse{Status: querypb.Status_NOT_OWNER, Epoch: epoch, Lag: resp.Lag, Standby: true, Error: err.Error()}
	case errors.Is(err, actors.ErrTaskNotHere):
		return &querypb.StoreResponse{Status: querypb.Status_NOT_READY, Epoch: epoch, Error: err.Error()}
	case errors.Is(err, actors.ErrNoSuchStore):
		return bad(querypb.Status_UNKNOWN_STORE, "%v", err)
	default:
		return &querypb.StoreResponse{Status: querypb.Status_FAILED, Epoch: epoch, Error: err.Error()}
	}
	resp.Status = querypb.Status_OK
	resp.Found, resp.Value, resp.More, resp.Next = res.Found, res.Value, res.More, res.Next
	if len(res.Entries) > 0 {
		resp.Entries = make([]*querypb.KV, len(res.Entries))
		for i, e := range res.Entries {
			resp.Entries[i] = &querypb.KV{Key: e.Key, Value: e.Value}
		}
	}
	return resp
}

// waitEpoch reads task id's role on node, waiting (up to a second, within
// ctx) until the node applied epoch minEpoch when the caller saw a newer
// assignment than this node applied.
func (a *App) waitEpoch(ctx context.Context, node *actors.Node, id topology.TaskID, minEpoch int64) (actors.Role, bool, bool, int64) {
	role, assigned, running, epoch := node.TaskRole(id)
	if epoch >= minEpoch {
		return role, assigned, running, epoch
	}
	deadline := time.NewTimer(time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for epoch < minEpoch {
		select {
		case <-tick.C:
		case <-deadline.C:
			return role, assigned, running, epoch
		case <-ctx.Done():
			return role, assigned, running, epoch
		}
		role, assigned, running, epoch = node.TaskRole(id)
	}
	return role, assigned, running, epoch
}

// nodeName is this node's id in its cluster, or "standalone-<run>" for a
// standalone App.
func (a *App) nodeName() string {
	a.mu.Lock()
	cn := a.cluster
	a.mu.Unlock()
	if cn == nil {
		return "standalone-" + strconv.FormatUint(uint64(a.owner), 36)
	}
	return string(cn.Self())
}
