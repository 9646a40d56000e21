package cluster

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/eddystreams/eddy/topology"
)

// fakeHub is an in-memory decision log shared by the coordinators of a
// test: like Kafka, the last Acquire fences every earlier writer, and every
// committed decision reaches every observer as a live read.
type fakeHub struct {
	mu        sync.Mutex
	gen       int
	decisions []Decision
	releases  []Released
	acquires  map[NodeID]int
	observers []*Coordinator
}

func newHub() *fakeHub { return &fakeHub{acquires: map[NodeID]int{}} }

func (h *fakeHub) writer(node NodeID) *fakeWriter { return &fakeWriter{hub: h, node: node} }

func (h *fakeHub) written() []Decision {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Decision(nil), h.decisions...)
}

type fakeWriter struct {
	hub  *fakeHub
	node NodeID
	gen  int
}

func (w *fakeWriter) Acquire(context.Context) error {
	w.hub.mu.Lock()
	defer w.hub.mu.Unlock()
	w.hub.gen++
	w.gen = w.hub.gen
	w.hub.acquires[w.node]++
	return nil
}

func (w *fakeWriter) Write(_ context.Context, d *Decision, rels []Released) error {
	w.hub.mu.Lock()
	if w.gen != w.hub.gen {
		w.hub.mu.Unlock()
		return ErrFenced
	}
	if d != nil {
		w.hub.decisions = append(w.hub.decisions, *d)
	}
	w.hub.releases = append(w.hub.releases, rels...)
	obs := append([]*Coordinator(nil), w.hub.observers...)
	w.hub.mu.Unlock()
	if d != nil {
		for _, o := range obs {
			o.Observe(*d, true)
		}
	}
	return nil
}

func (w *fakeWriter) Release() {}

func (w *fakeWriter) WaitFresh(context.Context, time.Time) error { return nil }

// fakeView is a membership view that tests change; every coordinator
// subscribed gets a signal per change.
type fakeView struct {
	mu      sync.Mutex
	members map[NodeID]ViewMember
	subs    []chan struct{}
}

func newView(ms ...ViewMember) *fakeView {
	v := &fakeView{members: map[NodeID]ViewMember{}}
	for _, m := range ms {
		v.members[m.ID] = m
	}
	return v
}

func (v *fakeView) sub() MembershipView {
	ch := make(chan struct{}, 1)
	v.mu.Lock()
	v.subs = append(v.subs, ch)
	v.mu.Unlock()
	return viewSub{v, ch}
}

func (v *fakeView) set(ms ...ViewMember) {
	v.mu.Lock()
	for _, m := range ms {
		v.members[m.ID] = m
	}
	subs := v.subs
	v.mu.Unlock()
	for _, ch := range subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (v *fakeView) kill(ids ...NodeID) {
	v.mu.Lock()
	var ms []ViewMember
	for _, id := range ids {
		m := v.members[id]
		m.State = MemberDead
		ms = append(ms, m)
	}
	v.mu.Unlock()
	v.set(ms...)
}

type viewSub struct {
	v  *fakeView
	ch chan struct{}
}

func (s viewSub) Members() []ViewMember {
	s.v.mu.Lock()
	defer s.v.mu.Unlock()
	out := make([]ViewMember, 0, len(s.v.members))
	for _, m := range s.v.members {
		out = append(out, m)
	}
	return out
}

func (s viewSub) Changes() <-chan struct{} { return s.ch }

var t0 = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// member is node id started at t0 + age seconds (smaller: older).
func member(id NodeID, age int) ViewMember {
	return ViewMember{ID: id, Addr: string(id) + ":7946", Capacity: 1, State: MemberAlive, Started: t0.Add(time.Duration(age) * time.Second)}
}

func tasks(n int) []topology.TaskID {
	out := make([]topology.TaskID, n)
	for i := range out {
		out[i] = topology.TaskID{Partition: int32(i)}
	}
	return out
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startCoordinator starts self's coordinator on view and hub, with test
// durations (the bubble's clock makes them exact).
func startCoordinator(t *testing.T, app string, self NodeID, view *fakeView, hub *fakeHub, cfg CoordinatorConfig) *Coordinator {
	t.Helper()
	w := hub.writer(self)
	cfg.App, cfg.Self, cfg.MembershipView, cfg.Log, cfg.View, cfg.Logger = app, self, view.sub(), w, w, quiet()
	if cfg.Tasks == nil {
		cfg.Tasks = tasks(6)
	}
	c, err := NewCoordinator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hub.mu.Lock()
	hub.observers = append(hub.observers, c)
	hub.mu.Unlock()
	t.Cleanup(c.Close)
	return c
}

// advance moves the bubble's fake clock by d and waits until every
// goroutine of the bubble is blocked again (synctest: no real time passes).
func advance(d time.Duration) {
	time.Sleep(d)
	synctest.Wait()
}

func TestElectOldestAliveThenSmallestID(t *testing.T) {
	a, b, c, d := member("a", 5), member("b", 3), member("c", 3), member("d", 1)
	d.State = MemberDraining
	dead := member("e", 0)
	dead.State = MemberDead
	for _, tc := range []struct {
		view []ViewMember
		want NodeID
	}{
		{[]ViewMember{a, b, c}, "b"},
		{[]ViewMember{c, b, a}, "b"}, // order of the view does not matter
		{[]ViewMember{a, c}, "c"},
		{[]ViewMember{a, b, d, dead}, "b"}, // draining and dead do not coordinate
		{[]ViewMember{a}, "a"},
	} {
		if got, ok := Elect(tc.view); !ok || got != tc.want {
			t.Errorf("Elect(%v) = %q, %v; want %q", tc.view, got, ok, tc.want)
		}
	}
	if got, ok := Elect([]ViewMember{d, dead}); ok {
		t.Errorf("Elect with no alive member = %q, want none", got)
	}
}

func TestCoordinatorOnlyTheElectedWrites(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hub := newHub()
		view := newView(member("a", 3), member("b", 1), member("c", 2))
		cs := map[NodeID]*Coordinator{}
		for _, id := range []NodeID{"a", "b", "c"} {
			cs[id] = startCoordinator(t, "app", id, view, hub, CoordinatorConfig{JoinSettle: 2 * time.Second})
		}
		// On an empty log the oldest decides at once on what it sees,
		// without waiting for joins to settle; the joins seen since do
		// not call for another decision when nothing changed.
		advance(400 * time.Millisecond) // the election settles (300 ms)
		if n := len(hub.written()); n != 1 {
			t.Fatalf("%d decisions right after the start on an empty log, want 1", n)
		}
		advance(2100 * time.Millisecond)
		ds := hub.written()
		if len(ds) != 1 || ds[0].Coordinator != "b" || ds[0].Epoch != 1 || len(ds[0].Nodes) != 3 {
			t.Fatalf("decisions %+v; want one, epoch 1 by b (the oldest) over a, b, c", ds)
		}
		for id, c := range cs {
			st := c.Status()
			if st.Coordinator != "b" || st.Leading != (id == "b") || st.Epoch != 1 {
				t.Errorf("%s: status %+v", id, st)
			}
		}
		if hub.acquires["a"] != 0 || hub.acquires["c"] != 0 || hub.acquires["b"] != 1 {
			t.Errorf("acquires %v; only b may take the log", hub.acquires)
		}
		// b dies: c, the oldest left, takes over; b's decisions are not
		// foreign, b was a member when they were read.
		view.kill("b")
		advance(300 * time.Millisecond)
		ds = hub.written()
		if len(ds) != 2 || ds[1].Coordinator != "c" || ds[1].Epoch != 2 || len(ds[1].Nodes) != 2 {
			t.Fatalf("after b died: decisions %+v; want epoch 2 by c over a and c", ds)
		}
	})
}

func TestCoordinatorNeedsAMajorityOfThePreviousMembers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hub := newHub()
		view := newView(member("a", 1), member("b", 2), member("c", 3))
		ca := startCoordinator(t, "app", "a", view, hub, CoordinatorConfig{})
		advance(3 * time.Second)
		if ds := hub.written(); len(ds) != 1 || len(ds[0].Nodes) != 3 {
			t.Fatalf("decisions %+v; want epoch 1 over three nodes", ds)
		}
		// Two of three die at once: a sees 1 of 3, no majority (it may be
		// the minority side of a split).
		view.kill("b", "c")
		advance(time.Minute)
		if ds := hub.written(); len(ds) != 1 {
			t.Fatalf("a decided without a majority: %+v", ds[1:])
		}
		if st := ca.Status(); !strings.Contains(st.Waiting, "1 of the 3") {
			t.Fatalf("status %+v; want it to say it waits for a majority", st)
		}
		// One comes back: 2 of 3 is a majority.
		view.set(member("c", 3))
		advance(3 * time.Second)
		ds := hub.written()
		if len(ds) != 2 || ds[1].Epoch != 2 || len(ds[1].Nodes) != 2 {
			t.Fatalf("decisions %+v; want epoch 2 over a and c once a majority is seen", ds)
		}
		if st := ca.Status(); st.Waiting != "" {
			t.Fatalf("still waiting: %+v", st)
		}
	})
}

func TestCoordinatorCollapsesBursts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hub := newHub()
		view := newView(member("a", 1), member("b", 2), member("c", 3), member("d", 4), member("e", 5))
		startCoordinator(t, "app", "a", view, hub, CoordinatorConfig{Debounce: 200 * time.Millisecond, JoinSettle: 2 * time.Second})
		advance(3 * time.Second)
		if n := len(hub.written()); n != 1 {
			t.Fatalf("%d decisions at the start, want 1", n)
		}
		// Two deaths 100 ms apart: one decision, 200 ms after the last.
		view.kill("d")
		advance(100 * time.Millisecond)
		view.kill("e")
		advance(150 * time.Millisecond)
		if n := len(hub.written()); n != 1 {
			t.Fatalf("decided %d times within the debounce of the last death", n-1)
		}
		advance(100 * time.Millisecond)
		ds := hub.written()
		if len(ds) != 2 || len(ds[1].Nodes) != 3 {
			t.Fatalf("decisions %+v; want one more, over a, b, c", ds)
		}
		// Three joins 500 ms apart: one decision, 2 s after the last.
		for _, m := range []ViewMember{member("f", 6), member("g", 7), member("h", 8)} {
			view.set(m)
			advance(500 * time.Millisecond)
		}
		advance(1400 * time.Millisecond) // 1.9 s after the last join
		if n := len(hub.written()); n != 2 {
			t.Fatalf("decided %d times before the joins settled", n-2)
		}
		advance(200 * time.Millisecond)
		ds = hub.written()
		if len(ds) != 3 || len(ds[2].Nodes) != 6 || ds[2].Epoch != 3 {
			t.Fatalf("decisions %+v; want one more, epoch 3 over six nodes", ds)
		}
	})
}

func TestCoordinatorLagCrossingAndRelease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hub := newHub()
		view := newView(member("a", 1))
		cfg := CoordinatorConfig{Assignor: AssignorConfig{Stateful: func(topology.TaskID) bool { return true }, AcceptableRecoveryLag: 100, MaxWarmups: 2}, Tasks: tasks(2)}
		ca := startCoordinator(t, "app", "a", view, hub, cfg)
		advance(3 * time.Second)
		view.set(member("b", 2))
		advance(3 * time.Second)
		ds := hub.written()
		if len(ds) != 2 || len(ds[1].Nodes["b"].Warmup) != 1 {
			t.Fatalf("decisions %+v; want epoch 2 with a warm-up on b", ds)
		}
		warm := ds[1].Nodes["b"].Warmup[0]
		// A lag above the threshold changes nothing.
		ca.ReportLags("b", map[topology.TaskID]int64{warm: 5000})
		advance(time.Second)
		if n := len(hub.written()); n != 2 {
			t.Fatalf("a report under no crossing made %d decisions", n-2)
		}
		// Crossing it moves the active to b.
		ca.ReportLags("b", map[topology.TaskID]int64{warm: 10})
		advance(time.Second)
		ds = hub.written()
		if len(ds) != 3 || len(ds[2].Nodes["b"].Active) != 1 || ds[2].Nodes["b"].Active[0] != warm {
			t.Fatalf("decisions %+v; want epoch 3 with %v active on b", ds, warm)
		}
		// a reports it released the task: written without a new epoch.
		ca.ReportRelease(Released{Task: warm, Epoch: 3, Node: "a"})
		// A release by the current owner is nonsense and is dropped.
		ca.ReportRelease(Released{Task: ds[2].Nodes["a"].Active[0], Epoch: 3, Node: "a"})
		advance(time.Second)
		hub.mu.Lock()
		rels := append([]Released(nil), hub.releases...)
		hub.mu.Unlock()
		if len(rels) != 1 || rels[0] != (Released{Task: warm, Epoch: 3, Node: "a"}) || len(hub.written()) != 3 {
			t.Fatalf("releases %v, decisions %d; want a's release of %v only, and no new epoch", rels, len(hub.written()), warm)
		}
	})
}

func TestCoordinatorReportsAForeignCoordinatorAndDoesNotFenceBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hub := newHub()
		ours := newView(member("y1", 1))
		cy := startCoordinator(t, "app", "y1", ours, hub, CoordinatorConfig{ForeignGrace: 5 * time.Second})
		advance(3 * time.Second)
		if ds := hub.written(); len(ds) != 1 || ds[0].Coordinator != "y1" {
			t.Fatalf("decisions %+v", ds)
		}
		// A second cluster with the same application id: x1 sees only
		// itself, takes the log and writes.
		// (Its heartbeat check finds y1 dead: say y1's heartbeats lag.)
		theirs := newView(member("x1", 0))
		cx := startCoordinator(t, "app", "x1", theirs, hub, CoordinatorConfig{AliveElsewhere: func(context.Context, []NodeID) (map[NodeID]bool, error) {
			return map[NodeID]bool{}, nil
		}})
		cx.Observe(hub.written()[0], false) // x1's reader catching up
		advance(3 * time.Second)
		ds := hub.written()
		if len(ds) != 2 || ds[1].Coordinator != "x1" || ds[1].Epoch != 2 {
			t.Fatalf("decisions %+v; want x1's epoch 2", ds)
		}
		st := cy.Status()
		if st.Leading || !errors.Is(st.Fenced, ErrFenced) {
			t.Fatalf("y1 status %+v; want it stopped and fenced", st)
		}
		advance(5 * time.Second) // past the grace
		st = cy.Status()
		if st.Foreign == nil || st.Foreign.Coordinator != "x1" || st.Foreign.Addr != "x1:7946" {
			t.Fatalf("y1 status %+v; want a foreign coordinator x1 at x1:7946", st)
		}
		if msg := st.Foreign.Error(); !strings.Contains(msg, "second cluster") || !strings.Contains(msg, "cluster seed") {
			t.Fatalf("error %q should say what happened and how to join", msg)
		}
		// y1's membership changes (a node joins it): still no take-back.
		ours.set(member("y2", 2))
		advance(time.Minute)
		if hub.acquires["y1"] != 1 {
			t.Fatalf("y1 took the log back (%d acquires)", hub.acquires["y1"])
		}
		if st := cx.Status(); !st.Leading || st.Fenced != nil || st.Foreign != nil {
			t.Fatalf("x1 status %+v; want it leading, undisturbed", st)
		}
		// Once x1 is seen as a member, it is no longer foreign.
		ours.set(member("x1", 0))
		advance(time.Second)
		if st := cy.Status(); st.Foreign != nil {
			t.Fatalf("y1 still reports x1 foreign once it sees it: %+v", st)
		}
	})
}

// TestCoordinatorCountsOutMembersDeadByHeartbeat: members the coordinator
// does not see count in its quorum only while their heartbeats in Kafka say
// they are alive (AliveElsewhere). Two of three dead for good: a decides once
// their heartbeats stopped; a node cut off from the gossip of members alive
// elsewhere never takes the log from them.
func TestCoordinatorCountsOutMembersDeadByHeartbeat(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hub := newHub()
		view := newView(member("a", 1), member("b", 2), member("c", 3))
		var mu sync.Mutex
		alive := map[NodeID]bool{"b": true, "c": true}
		elsewhere := func(_ context.Context, ids []NodeID) (map[NodeID]bool, error) {
			mu.Lock()
			defer mu.Unlock()
			out := map[NodeID]bool{}
			for _, id := range ids {
				if alive[id] {
					out[id] = true
				}
			}
			return out, nil
		}
		ca := startCoordinator(t, "app", "a", view, hub, CoordinatorConfig{AliveElsewhere: elsewhere})
		advance(3 * time.Second)
		if ds := hub.written(); len(ds) != 1 || len(ds[0].Nodes) != 3 {
			t.Fatalf("decisions %+v; want epoch 1 over three nodes", ds)
		}
		view.kill("b", "c")
		advance(10 * time.Second)
		if ds := hub.written(); len(ds) != 1 {
			t.Fatalf("a decided while b and c were alive elsewhere: %+v", ds[1:])
		}
		mu.Lock()
		alive = map[NodeID]bool{} // their heartbeats stopped
		mu.Unlock()
		advance(3 * time.Second)
		ds := hub.written()
		if len(ds) != 2 || len(ds[1].Nodes) != 1 || len(ds[1].Nodes["a"].Active) != 6 {
			t.Fatalf("decisions %+v; want epoch 2 giving a every task once b and c are dead by heartbeat", ds)
		}
		if st := ca.Status(); st.Waiting != "" {
			t.Fatalf("still waiting: %+v", st)
		}

		// x, cut off from a's gossip but not from Kafka, sees only
		// itself: a is alive elsewhere, so x neither takes the log nor
		// decides, and says why.
		lonely := newView(member("x", 0))
		cx := startCoordinator(t, "app", "x", lonely, hub, CoordinatorConfig{AliveElsewhere: func(context.Context, []NodeID) (map[NodeID]bool, error) {
			return map[NodeID]bool{"a": true}, nil
		}})
		cx.Observe(ds[1], false)
		advance(10 * time.Second)
		if hub.acquires["x"] != 0 || len(hub.written()) != 2 {
			t.Fatalf("x took the log (%d acquires) or decided (%d decisions) without seeing any member", hub.acquires["x"], len(hub.written()))
		}
		if st := cx.Status(); !strings.Contains(st.Waiting, "0 of the 1") || !strings.Contains(st.Waiting, "a:7946") {
			t.Fatalf("x status %+v; want it to say it sees none of the members, and where the coordinator is", st)
		}
		if st := ca.Status(); !st.Leading || st.Fenced != nil {
			t.Fatalf("a status %+v; want it leading, undisturbed", st)
		}
	})
}

// TestCoordinatorCountsOnlyMembersThatAnswer: a node cut off from the
// others still sees them alive until their suspicion times out; if it
// became coordinator meanwhile (the old one seen dead first), it must not
// count members that do not answer its pings.
func TestCoordinatorCountsOnlyMembersThatAnswer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hub := newHub()
		view := newView(member("a", 1), member("b", 2), member("c", 3))
		ca := startCoordinator(t, "app", "a", view, hub, CoordinatorConfig{})
		advance(3 * time.Second)
		first := hub.written()
		if len(first) != 1 {
			t.Fatalf("decisions %+v; want epoch 1", first)
		}
		// b's view: a dead already, c not yet; but c does not answer.
		bview := newView(member("b", 2), member("c", 3))
		cb := startCoordinator(t, "app", "b", bview, hub, CoordinatorConfig{
			Reachable: func(context.Context, []NodeID) map[NodeID]bool { return map[NodeID]bool{} },
			AliveElsewhere: func(_ context.Context, ids []NodeID) (map[NodeID]bool, error) {
				out := map[NodeID]bool{}
				for _, id := range ids {
					out[id] = true // a and c heartbeat in Kafka
				}
				return out, nil
			},
		})
		cb.Observe(first[0], false)
		advance(10 * time.Second)
		if hub.acquires["b"] != 0 || len(hub.written()) != 1 {
			t.Fatalf("b took the log (%d acquires) or decided (%d decisions) counting a member that does not answer", hub.acquires["b"], len(hub.written()))
		}
		if st := cb.Status(); !strings.Contains(st.Waiting, "1 of the 3") {
			t.Fatalf("b status %+v; want it waiting, seeing 1 of 3", st)
		}
		if st := ca.Status(); !st.Leading {
			t.Fatalf("a status %+v; want it still leading", st)
		}
	})
}

// TestCoordinatorFencedByAMemberTakesTheLogBack: b, seeing a dead for a
// moment, takes the log and decides; once b sees a again it steps down.
// a, fenced by a member and still elected, waits out a backoff and takes
// the log back, instead of leaving the cluster without a coordinator until
// the membership changes again.
func TestCoordinatorFencedByAMemberTakesTheLogBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hub := newHub()
		view := newView(member("a", 1), member("b", 2))
		ca := startCoordinator(t, "app", "a", view, hub, CoordinatorConfig{})
		advance(3 * time.Second)
		if ds := hub.written(); len(ds) != 1 || ds[0].Coordinator != "a" {
			t.Fatalf("decisions %+v; want epoch 1 by a", ds)
		}
		bview := newView(member("b", 2)) // b's view: a gone for a moment
		cb := startCoordinator(t, "app", "b", bview, hub, CoordinatorConfig{})
		cb.Observe(hub.written()[0], false)
		advance(3 * time.Second) // its own join settles
		if ds := hub.written(); len(ds) < 2 || ds[1].Coordinator != "b" {
			t.Fatalf("decisions %+v; want b's epoch 2", ds)
		}
		bview.set(member("a", 1)) // a is back in b's view: b steps down
		advance(5 * time.Second)
		ds := hub.written()
		last := ds[len(ds)-1]
		if last.Coordinator != "a" || len(last.Nodes) != 2 || !ca.Status().Leading {
			t.Fatalf("decisions %+v, a %+v; want a coordinating again over a and b", ds, ca.Status())
		}
		if st := cb.Status(); st.Leading {
			t.Fatalf("b still leads: %+v", st)
		}
	})
}

// acquired is how many times id took the log.
func (h *fakeHub) acquired(id NodeID) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.acquires[id]
}

// gatedView is a decision log view whose reads to the end wait for open.
type gatedView struct {
	open  chan struct{}
	mu    sync.Mutex
	after []time.Time
}

func (g *gatedView) WaitFresh(ctx context.Context, after time.Time) error {
	g.mu.Lock()
	g.after = append(g.after, after)
	g.mu.Unlock()
	select {
	case <-g.open:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// A node that has seen no other member since it started has no false
// suspicion to wait out: it takes the log once it has read the log to its
// end, without the election settle. A node that saw another member and
// then lost it waits the settle out.
func TestCoordinatorAloneFromItsStartSkipsTheElectionSettle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hub := newHub()
		view := newView(member("a", 1))
		gate := &gatedView{open: make(chan struct{})}
		w := hub.writer("a")
		started := time.Now()
		c, err := NewCoordinator(CoordinatorConfig{App: "app", Self: "a", MembershipView: view.sub(), Log: w, View: gate,
			Logger: quiet(), Tasks: tasks(2), ElectionSettle: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		advance(time.Second)
		if hub.acquired("a") != 0 {
			t.Fatal("took the log before reading it to its end")
		}
		gate.mu.Lock()
		if len(gate.after) != 1 || gate.after[0].Before(started) {
			t.Fatalf("reads to the end asked for: %v; want one, by a check after the start %v", gate.after, started)
		}
		gate.mu.Unlock()
		close(gate.open)
		advance(time.Millisecond)
		if ds := hub.written(); hub.acquired("a") != 1 || len(ds) != 1 || ds[0].Coordinator != "a" {
			t.Fatalf("acquires %v, decisions %+v; want a to decide at once once the log is read", hub.acquires, ds)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		hub := newHub()
		view := newView(member("a", 2), member("b", 1)) // b, older, coordinates (not running here)
		startCoordinator(t, "app", "a", view, hub, CoordinatorConfig{ElectionSettle: time.Minute, Tasks: tasks(2)})
		advance(time.Second)
		view.kill("b")
		advance(59 * time.Second)
		if hub.acquired("a") != 0 {
			t.Fatal("a took the log within the election settle after seeing b")
		}
		advance(2 * time.Second)
		if hub.acquired("a") != 1 || len(hub.written()) != 1 {
			t.Fatalf("acquires %v, decisions %+v; want a to decide once the settle is over", hub.acquires, hub.written())
		}
	})
}
