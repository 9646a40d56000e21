package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/eddystreams/eddy/actors"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Local is what a cluster node drives on its process: the actors.Node that
// runs the task actors.
type Local interface {
	// Tell sends an Assign, Revoke or StatusRequest and returns the
	// node's status.
	Tell(ctx context.Context, msg any) (actors.NodeStatus, error)
	// Closing is closed once a task taken away is committed and closed
	// (nil: not closing).
	Closing(id topology.TaskID) <-chan struct{}
}

// NodeConfig is what NewNode needs.
type NodeConfig struct {
	// OnFatal, when set, takes an error that no retry gets past (no ACL
	// for the coordinator's transactional id): the application stops.
	OnFatal func(error)
	// Membership configures the gossip; its OnEvent and OnMessage are the
	// node's own. Membership.Kafka is also how the node reaches the
	// decision log.
	Membership MembershipConfig
	// Replication is the decision log topic's replication factor (≤ 0:
	// the broker's default).
	Replication int16
	// Tasks are every task of the topology; Assignor places them.
	Tasks    []topology.TaskID
	Assignor AssignorConfig
	// Local runs the tasks this node is given.
	Local Local
	// Lease is renewed while the node reads the decision log to its end;
	// the task actors check it (actors.NodeConfig.Lease). NewNode makes
	// one of DefaultLease when nil.
	Lease *Lease
	// ReportInterval is how often the node reports the lags of its
	// standby and warm-up tasks to the coordinator, and sends again the
	// releases not yet in the log. Default 1 s.
	ReportInterval time.Duration
	// HandoverTimeout bounds how long a task moved here waits for its
	// previous owner, still a live member, to release it; after that the
	// task fences it (safe, but the previous owner's work since its last
	// commit is redone). Default 10 s.
	HandoverTimeout time.Duration
	// Coordinator's timings (zero: the coordinator's defaults).
	Debounce, JoinSettle time.Duration
	Logger               *slog.Logger
}

// Node is one process of the cluster: its gossip membership, its reader of
// the decision log (whose lease its tasks check), its coordinator (acting
// when this node is the oldest member), and the loop that applies each
// decision to the local task actors, hands tasks over (releases) and
// reports lags.
//
// A task moved here starts once its previous owner released it (read from
// the log), or is no longer a live member, or HandoverTimeout passed; the
// start then fences the previous owner through the task's transactional id
// in any case (decision 0015), so waiting is about not wasting its work,
// not about safety.
type Node struct {
	cfg   NodeConfig
	log   *slog.Logger
	self  NodeID
	lease *Lease

	ms     *Membership
	view   *memberView
	reader *LogReader
	writer *LogWriter
	coord  *Coordinator
	admin  *kgo.Client

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	wake   chan struct{} // a decision to apply

	mu        sync.Mutex
	latest    Decision
	hasLatest bool
	applied   Decision // the last decision told to Local
	hasApp    bool
	handover  map[topology.TaskID]handover
	released  map[topology.TaskID]Released // newest release read per task
	pending   map[topology.TaskID]pendingRelease
	joined    chan struct{} // closed once a decision with this node was applied
	joinedAs  actors.Assign
	started   bool          // Start made the membership and knows self
	changed   chan struct{} // closed and replaced on releases and membership changes
	closed    bool
}

// handover is the last change of a task's owner seen in the log: at Epoch,
// From gave it up.
type handover struct {
	From  NodeID
	Epoch int64
}

type pendingRelease struct {
	rel   Released
	since time.Time
}

// NewNode checks cfg; Start joins the cluster.
func NewNode(cfg NodeConfig) (*Node, error) {
	if cfg.Local == nil {
		return nil, errors.New("cluster node: Local is required")
	}
	if cfg.Membership.Kafka == nil {
		return nil, errors.New("cluster node: Membership.Kafka (the client options) is required: the decision log is in Kafka")
	}
	if cfg.ReportInterval <= 0 {
		cfg.ReportInterval = time.Second
	}
	if cfg.HandoverTimeout <= 0 {
		cfg.HandoverTimeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Lease == nil {
		cfg.Lease = NewLease(DefaultLease)
	}
	n := &Node{
		cfg: cfg, log: cfg.Logger.With("component", "cluster"), lease: cfg.Lease,
		wake: make(chan struct{}, 1), handover: map[topology.TaskID]handover{},
		released: map[topology.TaskID]Released{}, pending: map[topology.TaskID]pendingRelease{},
		joined: make(chan struct{}), changed: make(chan struct{}),
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	return n, nil
}

// Lease is the node's lease (for actors.NodeConfig.Lease).
func (n *Node) Lease() *Lease { return n.lease }

// Self is this node's id (after Start).
func (n *Node) Self() NodeID {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.self
}

// Start creates the decision log topic if needed, joins the gossip, and
// starts following the log and coordinating. It does not wait for an
// assignment: see WaitJoined.
func (n *Node) Start(ctx context.Context) error {
	var err error
	kafka := n.cfg.Membership.Kafka
	if n.admin, err = kgo.NewClient(kafka...); err != nil {
		return fmt.Errorf("cluster: admin client: %w", err)
	}
	app := n.cfg.Membership.AppID
	if err := EnsureLogTopic(ctx, kadm.NewClient(n.admin), app, n.cfg.Replication); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	n.view = newMemberView()
	mcfg := n.cfg.Membership
	mcfg.OnEvent = func(MemberEvent) { n.view.signal(); n.signalChanged() }
	mcfg.OnMessage = n.onMessage
	if n.ms, err = NewMembership(mcfg); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	if err := n.ms.Start(ctx); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	n.view.ms = n.ms
	n.mu.Lock()
	n.self = n.ms.Self().ID
	n.started = true
	n.mu.Unlock()
	n.log = n.log.With("node", n.self)
	readFrom := time.Now()
	if n.reader, err = NewLogReader(LogReaderConfig{
		App: app, Client: kafka, Lease: n.lease,
		OnDecision: n.onDecision, OnReleased: n.onReleased, Log: n.log,
	}); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	n.writer = NewLogWriter(app, kafka)
	coord, err := NewCoordinator(CoordinatorConfig{
		OnFatal: n.cfg.OnFatal,
		App:     app, Self: n.self, MembershipView: n.view, Log: n.writer, View: n.reader,
		Tasks: n.cfg.Tasks, Assignor: n.cfg.Assignor, Debounce: n.cfg.Debounce,
		JoinSettle: n.cfg.JoinSettle, Logger: n.log, AliveElsewhere: n.ms.AliveInKafka, Reachable: n.ms.Reachable,
	})
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	n.mu.Lock()
	n.coord = coord
	latest, has := n.latest, n.hasLatest
	n.mu.Unlock()
	if has {
		coord.Observe(latest, false)
	}
	n.wg.Add(2)
	go n.applyLoop(readFrom)
	go n.reportLoop()
	return nil
}

// WaitJoined waits until the node applied a decision that counts it as a
// member, and returns what that decision gave it.
func (n *Node) WaitJoined(ctx context.Context) (actors.Assign, error) {
	select {
	case <-n.joined:
		n.mu.Lock()
		defer n.mu.Unlock()
		return n.joinedAs, nil
	case <-ctx.Done():
		st := n.Status()
		return actors.Assign{}, fmt.Errorf("cluster: no assignment for node %s yet (coordinator %s, epoch %d%s): %w",
			n.self, st.Coordinator.Coordinator, st.Coordinator.Epoch, waitingWhy(st.Coordinator), ctx.Err())
	}
}

func waitingWhy(s CoordinatorStatus) string {
	switch {
	case s.Foreign != nil:
		return "; " + s.Foreign.Error()
	case s.Waiting != "":
		return "; coordinator waits: " + s.Waiting
	case s.Fenced != nil:
		return "; " + s.Fenced.Error()
	}
	return ""
}

// NodeStatus is what a cluster node knows: itself, the members it sees,
// its coordinator's status, and the decision it applied last.
type NodeStatus struct {
	Self        NodeID
	GossipAddr  string
	Members     []MemberInfo
	Coordinator CoordinatorStatus
	Applied     Decision
	LeaseValid  bool
}

// Status is a snapshot of the node.
func (n *Node) Status() NodeStatus {
	n.mu.Lock()
	st := NodeStatus{Self: n.self, LeaseValid: n.lease.Valid(time.Now()), Applied: n.applied}
	coord, started := n.coord, n.started
	n.mu.Unlock()
	if started {
		st.Members = n.ms.Members()
		st.GossipAddr = n.ms.Self().GossipAddr
	}
	if coord != nil {
		st.Coordinator = coord.Status()
	}
	return st
}

// Applied is the decision this node applied last (zero before the first).
func (n *Node) Applied() Decision {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.applied
}

// Member is the live member id as this node sees it, if there is one.
func (n *Node) Member(id NodeID) (MemberInfo, bool) {
	n.mu.Lock()
	started := n.started
	n.mu.Unlock()
	if !started {
		return MemberInfo{}, false
	}
	return n.ms.Member(id)
}

// Err is the error that keeps this node out of the cluster, if any: a
// second cluster writing the decision log.
func (n *Node) Err() error {
	n.mu.Lock()
	coord := n.coord
	n.mu.Unlock()
	if coord == nil {
		return nil
	}
	if f := coord.Status().Foreign; f != nil {
		return f
	}
	return nil
}

// Close stops coordinating, leaves the gossip and stops reading the log.
// The caller closes its tasks first (their last commits release them), so
// that the nodes that take them over need not wait.
func (n *Node) Close() error { return n.close(true) }

// Abandon is Close without leaving the gossip (Membership.Abandon): the
// others find the node gone by themselves, as after a crash.
func (n *Node) Abandon() error { return n.close(false) }

func (n *Node) close(leave bool) error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	n.mu.Unlock()
	n.cancel()
	n.wg.Wait()
	if n.coord != nil {
		n.coord.Close()
	}
	if n.ms != nil {
		// Leaving is a courtesy: the others find a node that did not
		// say goodbye dead within a second or so; nothing is lost.
		if !leave {
			if err := n.ms.Abandon(); err != nil {
				n.log.Debug("stopping the gossip", "err", err)
			}
		} else if err := n.ms.Close(); err != nil {
			n.log.Warn("leaving the gossip: the others will find this node gone by themselves", "err", err)
		}
	}
	if n.reader != nil {
		n.reader.Close()
	}
	if n.writer != nil {
		n.writer.Release()
	}
	if n.admin != nil {
		n.admin.Close()
	}
	return nil
}

// onDecision takes each decision read from the log, in epoch order.
func (n *Node) onDecision(d Decision, live bool) {
	n.mu.Lock()
	prev, hadPrev := n.latest, n.hasLatest
	n.latest, n.hasLatest = d, true
	for _, t := range n.cfg.Tasks {
		owner, _ := d.Owner(t)
		var before NodeID
		if hadPrev {
			before, _ = prev.Owner(t)
		}
		if hadPrev && owner != before {
			n.handover[t] = handover{From: before, Epoch: d.Epoch}
		}
	}
	coord := n.coord
	n.mu.Unlock()
	if coord != nil {
		coord.Observe(d, live)
	}
	select {
	case n.wake <- struct{}{}:
	default:
	}
	n.signalChanged() // a start waiting for its handover looks again
}

// onReleased takes each release read from the log.
func (n *Node) onReleased(r Released) {
	n.mu.Lock()
	if old, ok := n.released[r.Task]; !ok || r.Epoch >= old.Epoch {
		n.released[r.Task] = r
	}
	if p, ok := n.pending[r.Task]; ok && r.Node == n.self && r.Epoch >= p.rel.Epoch {
		delete(n.pending, r.Task)
	}
	n.mu.Unlock()
	n.signalChanged()
}

func (n *Node) signalChanged() {
	n.mu.Lock()
	close(n.changed)
	n.changed = make(chan struct{})
	n.mu.Unlock()
}

// onMessage takes a message another node sent this one's coordinator.
func (n *Node) onMessage(b []byte) {
	m, err := decodeNodeMessage(b)
	if err != nil {
		n.log.Debug("message from another node ignored", "err", err)
		return
	}
	n.mu.Lock()
	coord := n.coord
	n.mu.Unlock()
	if coord == nil {
		return
	}
	switch m.kind {
	case msgKindLags:
		coord.ReportLags(m.node, m.lags)
	case msgKindRelease:
		coord.ReportRelease(m.release)
	}
}

// applyLoop tells Local each new decision, in epoch order (a decision read
// while the previous one was being told replaces any not told yet: each is
// a whole placement).
func (n *Node) applyLoop(readFrom time.Time) {
	defer n.wg.Done()
	// Nothing from the log's history is applied: a decision that gave
	// this node tasks before it restarted would fence their owners now.
	if err := n.reader.WaitFresh(n.ctx, readFrom); err != nil {
		return
	}
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-n.wake:
		}
		n.mu.Lock()
		d, ok := n.latest, n.hasLatest
		prev, hadPrev := n.applied, n.hasApp
		n.mu.Unlock()
		if !ok || hadPrev && d.Epoch <= prev.Epoch {
			continue
		}
		n.apply(d, prev, hadPrev)
	}
}

func (n *Node) apply(d, prev Decision, hadPrev bool) {
	mine, member := d.Nodes[n.self]
	a, err := n.tell(d)
	if err != nil {
		if n.ctx.Err() == nil {
			n.log.Warn("applying the cluster's decision failed", "epoch", d.Epoch, "err", err)
		}
		return
	}
	n.mu.Lock()
	n.applied, n.hasApp = d, true
	joinedNow := false
	if member {
		select {
		case <-n.joined:
		default:
			n.joinedAs = a
			close(n.joined)
			joinedNow = true
		}
	}
	n.mu.Unlock()
	n.log.Info("applied the cluster's decision", "epoch", d.Epoch, "active", len(mine.Active), "standby", len(mine.Standby), "warmup", len(mine.Warmup), "joined", joinedNow)
	if !hadPrev {
		return
	}
	// Tasks taken away: release each once it is committed and closed.
	keep := map[topology.TaskID]bool{}
	for _, t := range mine.Active {
		keep[t] = true
	}
	for _, t := range prev.Nodes[n.self].Active {
		if keep[t] {
			continue
		}
		rel := Released{Task: t, Epoch: d.Epoch, Node: n.self}
		closing := n.cfg.Local.Closing(t)
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			if closing != nil {
				select {
				case <-closing:
				case <-n.ctx.Done():
					return
				}
			}
			n.mu.Lock()
			n.pending[t] = pendingRelease{rel: rel, since: time.Now()}
			n.mu.Unlock()
			n.sendRelease(rel)
		}()
	}
}

// coordinatorID is the coordinator as this node sees it.
func (n *Node) coordinatorID() (NodeID, bool) {
	return Elect(n.view.Members())
}

func (n *Node) sendRelease(r Released) {
	to, ok := n.coordinatorID()
	if !ok {
		return
	}
	if to == n.self {
		n.coord.ReportRelease(r)
		return
	}
	if err := n.ms.Send(to, encodeRelease(r)); err != nil {
		n.log.Debug("sending a release to the coordinator failed; it goes again", "task", r.Task.String(), "err", err)
	}
}

// maxReleaseRetry is how long a release is sent again while it does not
// show in the log; past it the new owner has stopped waiting anyway.
const maxReleaseRetry = 30 * time.Second

// reportLoop reports this node's standby and warm-up lags to the
// coordinator and sends again the releases not yet in the log.
func (n *Node) reportLoop() {
	defer n.wg.Done()
	t := time.NewTicker(n.cfg.ReportInterval)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		}
		n.reportLags()
		n.mu.Lock()
		var again []Released
		for id, p := range n.pending {
			if time.Since(p.since) > maxReleaseRetry {
				delete(n.pending, id)
				continue
			}
			again = append(again, p.rel)
		}
		n.mu.Unlock()
		for _, r := range again {
			n.sendRelease(r)
		}
	}
}

func (n *Node) reportLags() {
	ctx, cancel := context.WithTimeout(n.ctx, n.cfg.ReportInterval)
	st, err := n.cfg.Local.Tell(ctx, &actors.StatusRequest{})
	cancel()
	if err != nil {
		return
	}
	lags := map[topology.TaskID]int64{}
	lost := false
	for _, ts := range st.Tasks {
		if ts.Role != actors.RoleActive && ts.ChangelogLag >= 0 {
			lags[ts.ID] = ts.ChangelogLag
		}
		lost = lost || ts.Role == actors.RoleActive && ts.State == actors.TaskLost
	}
	if lost {
		n.retakeLost(st)
	}
	// To every member, not only the coordinator of the moment: the node
	// that takes over when the coordinator dies must already know where
	// the caught-up copies are, or it would place a dead node's task on a
	// node without one and restore it from scratch.
	n.coord.ReportLags(n.self, lags)
	msg := encodeLags(n.self, lags)
	for _, m := range n.view.Members() {
		if m.ID == n.self || m.State == MemberDead {
			continue
		}
		if err := n.ms.Send(m.ID, msg); err != nil {
			n.log.Debug("reporting lags to a member failed", "member", m.ID, "err", err)
		}
	}
}

// retakeLost starts again the tasks this node lost to a fence while the
// newest decision still gives them to it: the fence came from a node that
// acted on an older decision (the decision log is the authority, and this
// node, its lease valid, has read it to within the lease). Telling the
// node the decision again starts them (actors.Node re-assigns a lost task
// when an assignment names it).
func (n *Node) retakeLost(st actors.NodeStatus) {
	n.mu.Lock()
	d, applied := n.latest, n.applied
	n.mu.Unlock()
	if d.Epoch != applied.Epoch || !n.lease.Valid(time.Now()) {
		return // a newer decision is on its way; it decides
	}
	mine := d.Nodes[n.self]
	active := map[topology.TaskID]bool{}
	for _, t := range mine.Active {
		active[t] = true
	}
	var again []string
	for _, ts := range st.Tasks {
		if ts.Role == actors.RoleActive && ts.State == actors.TaskLost && active[ts.ID] {
			again = append(again, ts.ID.String())
		}
	}
	if len(again) == 0 {
		return
	}
	n.log.Warn("tasks lost to a fence are still this node's in the newest decision; starting them again", "tasks", again, "epoch", d.Epoch)
	if _, err := n.tell(d); err != nil && n.ctx.Err() == nil {
		n.log.Warn("starting lost tasks again failed", "err", err)
	}
}

// tell gives Local what decision d gives this node.
func (n *Node) tell(d Decision) (actors.Assign, error) {
	mine := d.Nodes[n.self]
	a := actors.Assign{Epoch: d.Epoch, Active: mine.Active, Standby: mine.Standby, Warmup: mine.Warmup}
	ctx, cancel := context.WithTimeout(n.ctx, 30*time.Second)
	defer cancel()
	_, err := n.cfg.Local.Tell(ctx, &a)
	return a, err
}

// BeforeStart is actors.NodeConfig.BeforeStart: a task moved here waits
// until its previous owner released it, is no longer a live member, or
// HandoverTimeout passed.
func (n *Node) BeforeStart(ctx context.Context, id topology.TaskID) error {
	var deadline <-chan time.Time
	for {
		n.mu.Lock()
		h, moved := n.handover[id]
		rel, hasRel := n.released[id]
		changed := n.changed
		n.mu.Unlock()
		if !n.stillMine(id) {
			// A newer decision took it away before the start fenced
			// anyone: the start must not take it from its new owner.
			return actors.ErrNoLongerAssigned
		}
		if !moved || h.From == "" || h.From == n.self {
			return nil
		}
		if hasRel && rel.Node == h.From && rel.Epoch >= h.Epoch {
			return nil
		}
		if !n.isLive(h.From) {
			return nil
		}
		if deadline == nil {
			n.log.Info("waiting for the task's previous owner to release it", "task", id.String(), "from", h.From, "epoch", h.Epoch)
			t := time.NewTimer(n.cfg.HandoverTimeout)
			defer t.Stop()
			deadline = t.C
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline:
			n.log.Warn("the task's previous owner did not release it in time; taking it over", "task", id.String(), "from", h.From, "after", n.cfg.HandoverTimeout)
			return nil
		case <-changed:
		}
	}
}

// stillMine says whether the newest decision read gives task id to this
// node as active.
func (n *Node) stillMine(id topology.TaskID) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, t := range n.latest.Nodes[n.self].Active {
		if t == id {
			return true
		}
	}
	return false
}

func (n *Node) isLive(id NodeID) bool {
	for _, m := range n.view.Members() {
		if m.ID == id && m.State != MemberDead {
			return true
		}
	}
	return false
}

// memberView is the Membership as the coordinator sees it.
type memberView struct {
	ms      *Membership
	changes chan struct{}
}

func newMemberView() *memberView { return &memberView{changes: make(chan struct{}, 1)} }

func (v *memberView) signal() {
	select {
	case v.changes <- struct{}{}:
	default:
	}
}

func (v *memberView) Changes() <-chan struct{} { return v.changes }

func (v *memberView) Members() []ViewMember {
	if v.ms == nil {
		return nil
	}
	infos := v.ms.Members()
	out := make([]ViewMember, 0, len(infos))
	for _, m := range infos {
		out = append(out, ViewMember{ID: m.ID, Addr: m.GossipAddr, Capacity: m.Capacity, Rack: m.Rack, State: m.State, Started: m.Started})
	}
	return out
}
