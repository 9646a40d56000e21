package cluster

import (
	"context"
	"errors"
	"fmt"
	"github.com/eddystreams/eddy/internal/authz"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/eddystreams/eddy/topology"
)

// ViewMember is one node as this node's membership sees it.
type ViewMember struct {
	ID NodeID
	// Addr is the node's gossip address: what another node joins it by.
	Addr     string
	Capacity int
	Rack     string
	State    MemberState
	// Started is when the node's process started: the oldest live node
	// coordinates.
	Started time.Time
}

// MembershipView is what the coordinator needs of the gossip membership: the
// current view, this node included, and a signal after each change. The
// channel carries no data, so a sender may drop a signal when one is
// already pending (a channel of capacity 1 and a non-blocking send).
type MembershipView interface {
	Members() []ViewMember
	Changes() <-chan struct{}
}

// DecisionLog is the coordinator's side of the decision log (LogWriter).
type DecisionLog interface {
	// Acquire takes the log, fencing earlier writers.
	Acquire(ctx context.Context) error
	// Write commits an assignment (if not nil) and releases in one
	// transaction; ErrFenced in the chain if another writer took the log.
	Write(ctx context.Context, d *Decision, rels []Released) error
	// Release gives up the log without writing.
	Release()
}

// LogView is the node's reader of the decision log (LogReader): the
// coordinator waits, after taking the log, until every decision committed
// before has been read (and given to Observe).
type LogView interface {
	WaitFresh(ctx context.Context, after time.Time) error
}

// Elect names the coordinator of a view: the alive member that started
// first, the smaller node id between equals. Draining and dead members do
// not coordinate. It is a pure function of the view, so nodes that see the
// same members agree without talking.
func Elect(members []ViewMember) (NodeID, bool) {
	var best *ViewMember
	for i := range members {
		m := &members[i]
		if m.State != MemberAlive {
			continue
		}
		if best == nil || m.Started.Before(best.Started) || m.Started.Equal(best.Started) && m.ID < best.ID {
			best = m
		}
	}
	if best == nil {
		return "", false
	}
	return best.ID, true
}

// ForeignCoordinatorError says that decisions come from a coordinator this
// node does not see as a live member: a second cluster (or the other side
// of a split) runs with the same application id. The node does not fence
// it back, which would only make two clusters take turns.
type ForeignCoordinatorError struct {
	App         string
	Coordinator NodeID
	Addr        string
	Epoch       int64
}

func (e *ForeignCoordinatorError) Error() string {
	return fmt.Sprintf("application %s: the decision log (epoch %d) is written by coordinator %s at %s, which this node does not see as a member: "+
		"a second cluster runs with the same application id. Join that cluster (give this node %s as a cluster seed) or give this application its own application id; "+
		"this node will not take the decision log back",
		e.App, e.Epoch, e.Coordinator, e.Addr, e.Addr)
}

// CoordinatorConfig is what NewCoordinator needs.
// maxRetryAfterFatal is how long the coordinator waits after a fatal
// error, while the application stops.
const maxRetryAfterFatal = time.Minute

type CoordinatorConfig struct {
	// OnFatal, when set, takes an error no retry gets past (no ACL for
	// the coordinator's transactional id): the application stops.
	OnFatal        func(error)
	App            string
	Self           NodeID
	MembershipView MembershipView
	Log            DecisionLog
	View           LogView
	// Tasks are every task of the application's topology.
	Tasks    []topology.TaskID
	Assignor AssignorConfig
	// Debounce is how long a death, a drain, a lag crossing the
	// threshold or a release waits for more of the same before a
	// decision. Default 200 ms.
	Debounce time.Duration
	// JoinSettle is how long a join (or a changed member) waits for the
	// membership to settle. Default 2 s. A stream of joins delays the
	// decision by at most 4 × JoinSettle.
	JoinSettle time.Duration
	// ForeignGrace is how long a decision from a coordinator that is not a
	// member may stay unexplained before it is reported (gossip may not
	// have brought the member yet). Default 5 s.
	ForeignGrace time.Duration
	// Reachable, if set, tells which of ids answer this node directly
	// (Membership.Reachable): members of the view that do not count as
	// unseen in the quorum (a node cut off from the others still sees
	// them alive until their suspicion times out). Nil: the view is
	// trusted.
	Reachable func(ctx context.Context, ids []NodeID) map[NodeID]bool
	// AliveElsewhere, if set, tells which of ids are alive by other means
	// than this node's gossip (their heartbeats in Kafka: see
	// Membership.AliveInKafka): members the coordinator does not see count
	// in its quorum only while they are (see quorum). Nil: every member
	// not seen counts.
	AliveElsewhere func(ctx context.Context, ids []NodeID) (map[NodeID]bool, error)
	// ElectionSettle is how long a node must stay elected before it
	// takes the log: a member suspected dead for a moment under load must
	// not make another node fence the coordinator. Default 300 ms (it
	// overlaps the death's debounce).
	ElectionSettle time.Duration
	// RetryBackoff is the wait after a failed take-over or write. Default
	// 1 s.
	RetryBackoff time.Duration
	Logger       *slog.Logger
}

// CoordinatorStatus is what a node's coordinator knows and does.
type CoordinatorStatus struct {
	// Coordinator is the elected coordinator in this node's view.
	Coordinator NodeID
	// Leading: this node holds the decision log and decides.
	Leading bool
	// Epoch is the newest decision known.
	Epoch int64
	// Decisions counts the assignments this node wrote.
	Decisions int
	// Fenced is set once another writer took the log from this node; it
	// stays until the membership changes.
	Fenced error
	// Foreign is set while decisions come from a coordinator this node
	// does not see.
	Foreign *ForeignCoordinatorError
	// Waiting says why a due decision is held back (no majority).
	Waiting string
}

// Coordinator runs on every node: it follows the membership and the
// decision log, and on the elected node (the oldest alive member) it takes
// the log and writes the next assignment whenever the membership, a lag or
// a release calls for one. A node's transport calls ReportLags and
// ReportRelease with what other nodes tell the coordinator; the node's
// LogReader calls Observe.
type Coordinator struct {
	cfg CoordinatorConfig

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	wake   chan struct{}

	mu         sync.Mutex // guards the inbox and status
	latest     Decision
	hasLatest  bool
	liveOther  *Decision // newest decision read live from another coordinator
	liveSeenAt time.Time
	lags       Lags
	releases   map[topology.TaskID]Released
	soonInbox  bool // a lag crossing or a release arrived
	status     CoordinatorStatus

	// Owned by the loop.
	seen         map[NodeID]ViewMember
	soon, settle time.Time // decision due by the debounce, by the settle
	settleCap    time.Time
	retryAt      time.Time
	leading      bool
	fenced       error
	fencedUntil  time.Time     // a fence by a member is waited out until then
	fenceBackoff time.Duration // doubles with each fence in a row
	electedSince time.Time     // this node elected without a break since
	// sawOthers: a member other than this node has been in the view
	// since the coordinator started. Until then no member can have been
	// suspected dead by mistake, and the election settles at once.
	sawOthers bool
	// startedAt is when the coordinator started; logRead is set once the
	// decision log was read to its end after it (the previous decision,
	// whose members the quorum counts, is known).
	startedAt     time.Time
	logRead       bool
	foreignSince  time.Time
	foreignFor    NodeID
	explained     *Decision // the live decision last found written by a member
	judged        *Decision // the live decision last looked at
	waitingLogged string
}

// NewCoordinator starts a node's coordinator; Close stops it.
func NewCoordinator(cfg CoordinatorConfig) (*Coordinator, error) {
	if cfg.Self == "" || cfg.MembershipView == nil || cfg.Log == nil || cfg.View == nil {
		return nil, errors.New("coordinator: Self, MembershipView, Log and View are required")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.Debounce, 200*time.Millisecond)
	def(&cfg.JoinSettle, 2*time.Second)
	def(&cfg.ForeignGrace, 5*time.Second)
	def(&cfg.RetryBackoff, time.Second)
	def(&cfg.ElectionSettle, 300*time.Millisecond)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Logger = cfg.Logger.With("node", cfg.Self)
	c := &Coordinator{
		cfg:       cfg,
		wake:      make(chan struct{}, 1),
		lags:      Lags{},
		releases:  map[topology.TaskID]Released{},
		seen:      map[NodeID]ViewMember{},
		startedAt: time.Now(),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.wg.Add(1)
	go c.run()
	return c, nil
}

// Close stops the coordinator (giving up the log if it held it) and waits
// for it.
func (c *Coordinator) Close() {
	c.cancel()
	c.wg.Wait()
}

// Status is a snapshot of what the coordinator knows.
func (c *Coordinator) Status() CoordinatorStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status
}

// Observe takes a decision read from the log (LogReaderConfig.OnDecision).
func (c *Coordinator) Observe(d Decision, live bool) {
	c.mu.Lock()
	if !c.hasLatest || d.Epoch > c.latest.Epoch {
		c.latest, c.hasLatest = d, true
		c.status.Epoch = d.Epoch
	}
	if live && d.Coordinator != c.cfg.Self {
		dd := d
		c.liveOther, c.liveSeenAt = &dd, time.Now()
	} else if d.Coordinator == c.cfg.Self {
		c.liveOther = nil
	}
	c.mu.Unlock()
	c.poke()
}

// ReportLags takes a node's lags on the copies it keeps (standbys and
// warm-ups). A report in which a copy crosses the acceptable recovery lag,
// either way, calls for a decision.
func (c *Coordinator) ReportLags(node NodeID, lags map[topology.TaskID]int64) {
	thr := c.cfg.Assignor.AcceptableRecoveryLag
	c.mu.Lock()
	old := c.lags[node]
	caught := func(v int64) bool { return v <= thr }
	crossed := false
	for t, v := range lags {
		// A copy not reported before counts as not caught up.
		if o, had := old[t]; caught(v) != (had && caught(o)) {
			crossed = true
		}
	}
	for t, o := range old {
		if _, ok := lags[t]; !ok && caught(o) {
			crossed = true // a caught-up copy is gone
		}
	}
	next := Lags{}
	for n, l := range c.lags {
		next[n] = l
	}
	next[node] = copyLags(lags)
	c.lags = next // copied on write: the loop reads it without the lock
	c.soonInbox = c.soonInbox || crossed
	c.mu.Unlock()
	if crossed {
		c.poke()
	}
}

func copyLags(l map[topology.TaskID]int64) map[topology.TaskID]int64 {
	out := make(map[topology.TaskID]int64, len(l))
	for k, v := range l {
		out[k] = v
	}
	return out
}

// ReportRelease takes a node's word that it committed and closed a task
// taken away at r.Epoch. The coordinator writes it to the log (decision
// 0024), where the task's new owner reads it. A node sends it again until
// it reads it back; duplicates are harmless.
func (c *Coordinator) ReportRelease(r Released) {
	c.mu.Lock()
	if old, ok := c.releases[r.Task]; !ok || r.Epoch >= old.Epoch {
		c.releases[r.Task] = r
	}
	c.soonInbox = true
	c.mu.Unlock()
	c.poke()
}

func (c *Coordinator) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *Coordinator) run() {
	defer c.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next := c.step(time.Now())
		timer.Stop()
		var tc <-chan time.Time
		if !next.IsZero() {
			timer.Reset(max(time.Until(next), 0))
			tc = timer.C
		}
		select {
		case <-c.ctx.Done():
			if c.leading {
				c.cfg.Log.Release()
			}
			return
		case <-c.cfg.MembershipView.Changes():
		case <-c.wake:
		case <-tc:
		}
	}
}

// step looks at everything once and acts; it returns when it wants to look
// again (zero: on the next event only).
func (c *Coordinator) step(now time.Time) time.Time {
	view := c.cfg.MembershipView.Members()
	c.noteChanges(view, now)
	c.mu.Lock()
	if c.soonInbox {
		c.soonInbox = false
		c.bumpSoon(now)
	}
	c.mu.Unlock()

	var wakeAt []time.Time
	if t := c.checkForeign(view, now); !t.IsZero() {
		wakeAt = append(wakeAt, t)
	}
	elected, _ := Elect(view)
	c.setStatus(func(s *CoordinatorStatus) { s.Coordinator = elected })
	if elected != c.cfg.Self {
		c.electedSince = time.Time{}
	} else if c.electedSince.IsZero() {
		c.electedSince = now
	}
	if c.fenced != nil && !c.fencedUntil.IsZero() && !now.Before(c.fencedUntil) {
		// Fenced by a member whose view disagreed for a moment: still
		// elected here once the fence is waited out, take the log back.
		c.cfg.Logger.Info("fenced a while ago by a member; coordinating again if still elected")
		c.fenced, c.fencedUntil = nil, time.Time{}
		c.setStatus(func(s *CoordinatorStatus) { s.Fenced = nil })
	}

	switch {
	case elected != c.cfg.Self:
		if c.leading {
			c.cfg.Logger.Info("no longer the oldest member: leaving the decision log to the new coordinator", "coordinator", elected)
			c.stopLeading()
		}
	case c.fenced != nil:
		// Stopped until the membership changes (noteChanges clears it)
		// or, when a member fenced it, until fencedUntil.
		if !c.fencedUntil.IsZero() {
			wakeAt = append(wakeAt, c.fencedUntil)
		}
	case !c.leading && c.sawOthers && now.Sub(c.electedSince) < c.cfg.ElectionSettle:
		// Newly elected: a member seen dead for a moment (a false
		// suspicion under load) must not make this node fence the
		// coordinator everyone else still sees. A node that has seen no
		// other member (alone from its start: its joins found nobody)
		// has no suspicion to wait out.
		wakeAt = append(wakeAt, c.electedSince.Add(c.cfg.ElectionSettle))
	case !c.foreignSince.IsZero():
		// A decision from a coordinator we do not see: never fence it
		// back; checkForeign reports it.
	case !c.leading:
		if now.Before(c.retryAt) {
			wakeAt = append(wakeAt, c.retryAt)
			break
		}
		if !c.logRead {
			// The quorum counts the previous decision's members: know it
			// first (the log read to its end since this coordinator
			// started).
			if err := c.readLog(); err != nil {
				c.cfg.Logger.Warn("cannot read the decision log to its end; trying again", "err", err, "in", c.cfg.RetryBackoff)
				c.retryAt = time.Now().Add(c.cfg.RetryBackoff)
				wakeAt = append(wakeAt, c.retryAt)
				break
			}
			c.logRead = true
			return time.Now() // look again with the previous decision known
		}
		// Without a quorum, taking the log would only fence the
		// coordinator of the nodes this one cannot see.
		c.mu.Lock()
		prev := c.latest
		c.mu.Unlock()
		if !c.checkQuorum(prev, liveOf(view)) {
			c.retryAt = now.Add(quorumRetry)
			wakeAt = append(wakeAt, c.retryAt)
			break
		}
		if err := c.takeOver(); err != nil {
			if authz.Is(err) && c.cfg.OnFatal != nil {
				c.cfg.OnFatal(authz.Wrap(err, authz.TransactionalID, CoordinatorTxnID(c.cfg.App), "Write"))
				c.retryAt = time.Now().Add(maxRetryAfterFatal)
				wakeAt = append(wakeAt, c.retryAt)
				break
			}
			c.cfg.Logger.Warn("cannot take the decision log; trying again", "err", err, "in", c.cfg.RetryBackoff)
			c.retryAt = time.Now().Add(c.cfg.RetryBackoff)
			wakeAt = append(wakeAt, c.retryAt)
			break
		}
		c.mu.Lock()
		empty := !c.hasLatest
		c.mu.Unlock()
		if empty || c.soon.IsZero() && c.settle.IsZero() {
			// Decide at once on what we see; on an empty log without
			// waiting for joins to settle either: the first node starts
			// its tasks at once, and those that join later get theirs
			// by warm-ups and moves.
			c.soon = time.Now()
		}
		return time.Now() // look again now that we lead
	default:
		due := c.due()
		if !due.IsZero() && !now.Before(due) {
			c.decide(view)
		}
		if due := c.due(); !due.IsZero() {
			wakeAt = append(wakeAt, due)
		}
	}
	var first time.Time
	for _, t := range wakeAt {
		if first.IsZero() || t.Before(first) {
			first = t
		}
	}
	return first
}

// due is when the next decision is due (zero: none).
func (c *Coordinator) due() time.Time {
	d := c.soon
	if !c.settle.IsZero() && (d.IsZero() || c.settle.Before(d)) {
		d = c.settle
	}
	return d
}

func (c *Coordinator) bumpSoon(now time.Time) { c.soon = now.Add(c.cfg.Debounce) }

// noteChanges compares the view with the last one: deaths and drains call
// for a decision after the debounce, joins and changed members after the
// settle. Any change lifts a fence: the membership that made another node
// coordinator has moved.
func (c *Coordinator) noteChanges(view []ViewMember, now time.Time) {
	cur := make(map[NodeID]ViewMember, len(view))
	for _, m := range view {
		if m.ID != c.cfg.Self {
			c.sawOthers = true
		}
		if m.State != MemberDead {
			cur[m.ID] = m
		}
	}
	changed := false
	for id, old := range c.seen {
		m, ok := cur[id]
		switch {
		case !ok, old.State != m.State:
			c.bumpSoon(now)
			changed = true
		case m != old:
			c.bumpSettle(now)
			changed = true
		}
	}
	for id := range cur {
		if _, ok := c.seen[id]; !ok {
			c.bumpSettle(now)
			changed = true
		}
	}
	c.seen = cur
	if changed && c.fenced != nil {
		c.cfg.Logger.Info("membership changed since this node was fenced: it may coordinate again if elected")
		c.fenced, c.fencedUntil = nil, time.Time{}
		c.setStatus(func(s *CoordinatorStatus) { s.Fenced = nil })
	}
	if changed {
		c.fenceBackoff = 0
	}
}

func (c *Coordinator) bumpSettle(now time.Time) {
	if c.settle.IsZero() {
		c.settleCap = now.Add(4 * c.cfg.JoinSettle)
	}
	c.settle = now.Add(c.cfg.JoinSettle)
	if c.settle.After(c.settleCap) {
		c.settle = c.settleCap
	}
}

// checkForeign reports decisions from a coordinator that is not a live
// member of this node's view, once they have stayed so for ForeignGrace.
// It returns when to look again.
func (c *Coordinator) checkForeign(view []ViewMember, now time.Time) time.Time {
	c.mu.Lock()
	d, seenAt := c.liveOther, c.liveSeenAt
	c.mu.Unlock()
	visible := false
	if d != nil {
		for _, m := range view {
			if m.ID == d.Coordinator && m.State != MemberDead {
				visible = true
			}
		}
		// Judge a decision by the view of when it was read: the
		// coordinator that wrote it as a member may have died since (the
		// normal failover), which does not make it foreign.
		if d != c.judged {
			c.judged = d
			if visible {
				c.explained = d
			}
		} else if visible {
			c.explained = d
		}
	}
	if d == nil || d == c.explained {
		if !c.foreignSince.IsZero() {
			c.foreignSince, c.foreignFor = time.Time{}, ""
			c.setStatus(func(s *CoordinatorStatus) { s.Foreign = nil })
		}
		if d != nil && c.leading {
			// A member we see wrote after we took the log: it took it.
			c.fenceStopByMember(fmt.Errorf("coordinator %s wrote epoch %d: %w", d.Coordinator, d.Epoch, ErrFenced))
		}
		return time.Time{}
	}
	if c.leading {
		c.fenceStop(fmt.Errorf("coordinator %s, not a member here, wrote epoch %d: %w", d.Coordinator, d.Epoch, ErrFenced))
	}
	if c.foreignSince.IsZero() || c.foreignFor != d.Coordinator {
		c.foreignSince, c.foreignFor = seenAt, d.Coordinator
	}
	at := c.foreignSince.Add(c.cfg.ForeignGrace)
	if now.Before(at) {
		return at
	}
	ferr := &ForeignCoordinatorError{App: c.cfg.App, Coordinator: d.Coordinator, Addr: d.CoordinatorAddr, Epoch: d.Epoch}
	if st := c.Status(); st.Foreign == nil || *st.Foreign != *ferr {
		c.cfg.Logger.Error("second cluster", "err", ferr)
		c.setStatus(func(s *CoordinatorStatus) { s.Foreign = ferr })
	}
	return time.Time{}
}

func (c *Coordinator) fenceStop(err error) {
	c.cfg.Logger.Error("fenced: another coordinator took the decision log; this node stopped coordinating", "err", err)
	c.stopLeading()
	c.fenced = err
	c.setStatus(func(s *CoordinatorStatus) { s.Fenced = err })
}

// fenceStopByMember is fenceStop when the writer that fenced this node is
// a member it sees (views disagreed): unlike a foreign coordinator, it is
// waited out for a backoff (1 s, doubling up to 30 s while it repeats),
// after which this node coordinates again if it is still elected.
func (c *Coordinator) fenceStopByMember(err error) {
	c.fenceStop(err)
	c.fenceBackoff = min(max(2*c.fenceBackoff, time.Second), 30*time.Second)
	c.fencedUntil = time.Now().Add(c.fenceBackoff)
}

func (c *Coordinator) stopLeading() {
	c.cfg.Log.Release()
	c.leading = false
	c.setStatus(func(s *CoordinatorStatus) { s.Leading = false })
}

// readLog waits until the node has read the decision log to its end by a
// check started after the coordinator did.
func (c *Coordinator) readLog() error {
	ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
	defer cancel()
	return c.cfg.View.WaitFresh(ctx, c.startedAt)
}

// takeOver takes the log (fencing any earlier coordinator) and waits until
// the node has read every decision committed before: the next epoch is
// numbered after the newest one.
func (c *Coordinator) takeOver() error {
	ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
	defer cancel()
	if err := c.cfg.Log.Acquire(ctx); err != nil {
		return err
	}
	if err := c.cfg.View.WaitFresh(ctx, time.Now()); err != nil {
		c.cfg.Log.Release()
		return fmt.Errorf("read the decision log to its end after taking it: %w", err)
	}
	c.mu.Lock()
	// Decisions read before we took the log are history, ours now.
	c.liveOther = nil
	epoch := c.latest.Epoch
	c.mu.Unlock()
	c.leading = true
	c.retryAt = time.Time{}
	c.setStatus(func(s *CoordinatorStatus) { s.Leading = true })
	c.cfg.Logger.Info("coordinating the cluster", "after_epoch", epoch)
	return nil
}

// decide computes the next assignment and writes it with the pending
// releases, if the previous assignment's members allow.
func (c *Coordinator) decide(view []ViewMember) {
	c.mu.Lock()
	prev, hasPrev := c.latest, c.hasLatest
	lags := c.lags
	rels := make([]Released, 0, len(c.releases))
	for _, r := range c.releases {
		rels = append(rels, r)
	}
	c.mu.Unlock()

	live := liveOf(view)
	if !c.checkQuorum(prev, live) {
		// Looked at again after a while: members unseen may turn out
		// dead by their heartbeats, with no change of membership here.
		c.soon, c.settle = time.Now().Add(quorumRetry), time.Time{}
		return
	}
	c.waitingLogged = ""
	c.setStatus(func(s *CoordinatorStatus) { s.Waiting = "" })

	members := make([]Member, 0, len(live))
	for _, m := range live {
		members = append(members, Member{ID: m.ID, Capacity: m.Capacity, Rack: m.Rack, State: m.State})
	}
	next := Compute(prev.Assignment, members, lags, c.cfg.Tasks, c.cfg.Assignor)
	var d *Decision
	if !hasPrev || !sameNodes(next, prev.Assignment) {
		next.Epoch = prev.Epoch + 1
		d = &Decision{Assignment: next, Coordinator: c.cfg.Self, CoordinatorAddr: live[c.cfg.Self].Addr}
	}
	rels = validReleases(rels, prev)
	if d == nil && len(rels) == 0 {
		c.soon, c.settle = time.Time{}, time.Time{}
		c.dropReleases(nil)
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
	err := c.cfg.Log.Write(ctx, d, rels)
	cancel()
	if errors.Is(err, ErrFenced) {
		// Who fenced it shows when its decision is read: a foreign
		// coordinator is then reported (checkForeign) and never fenced
		// back; a member is waited out.
		c.fenceStopByMember(err)
		return
	}
	if err != nil {
		// The outcome is unknown (a commit may have happened though
		// EndTxn failed): take the log again, which reads it to its end.
		c.cfg.Logger.Warn("writing the decision log failed; taking it again", "err", err, "in", c.cfg.RetryBackoff)
		c.stopLeading()
		c.retryAt = time.Now().Add(c.cfg.RetryBackoff)
		return
	}
	c.soon, c.settle = time.Time{}, time.Time{}
	c.dropReleases(rels)
	if d != nil {
		c.mu.Lock()
		if d.Epoch > c.latest.Epoch {
			c.latest, c.hasLatest = *d, true
		}
		c.status.Epoch = max(c.status.Epoch, d.Epoch)
		c.status.Decisions++
		c.mu.Unlock()
		c.cfg.Logger.Info("decided", "epoch", d.Epoch, "members", describeNodes(d.Assignment))
	}
}

// validReleases keeps the releases that can be true at prev: of an epoch
// already decided, by a node that no longer owns the task.
func validReleases(rels []Released, prev Decision) []Released {
	out := rels[:0]
	for _, r := range rels {
		if owner, ok := prev.Owner(r.Task); r.Epoch <= prev.Epoch && (!ok || owner != r.Node) {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Task.String() < out[j].Task.String() })
	return out
}

// dropReleases forgets the written releases, or (nil) every pending one
// that is not valid any more.
func (c *Coordinator) dropReleases(written []Released) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if written == nil {
		keep := validReleases(mapValues(c.releases), c.latest)
		c.releases = map[topology.TaskID]Released{}
		for _, r := range keep {
			c.releases[r.Task] = r
		}
		return
	}
	for _, r := range written {
		if cur, ok := c.releases[r.Task]; ok && cur == r {
			delete(c.releases, r.Task)
		}
	}
}

func mapValues(m map[topology.TaskID]Released) []Released {
	out := make([]Released, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func (c *Coordinator) setStatus(f func(*CoordinatorStatus)) {
	c.mu.Lock()
	f(&c.status)
	c.mu.Unlock()
}

func describeNodes(a Assignment) string {
	var sb strings.Builder
	for i, id := range a.nodeIDs() {
		if i > 0 {
			sb.WriteString(" ")
		}
		na := a.Nodes[id]
		fmt.Fprintf(&sb, "%s:%d/%d/%d", id, len(na.Active), len(na.Standby), len(na.Warmup))
	}
	return sb.String()
}
