package eddy

import (
	"context"
	"slices"
	"sync"

	"github.com/eddystreams/eddy/actors"
	"github.com/eddystreams/eddy/topology"
)

// State is where an App is in its life (Kafka Streams' KafkaStreams.State):
//
//	Created ──Start──▶ Starting ──▶ Running ◀──▶ Rebalancing
//	   │                  │            │              │
//	   └──────────────────┴──Close─────┴──────────────┘
//	                      ▼
//	               PendingShutdown ──▶ NotRunning | Error
//
// Rebalancing: the node applies a new cluster decision that starts or stops
// active tasks here; it is Running again once those tasks run (or closed).
// Error: the App stopped because of a fatal error (see
// WithFatalErrorHandler), because Start failed, or because its final
// commit failed; Err and Run say which.
type State int

const (
	Created State = iota
	Starting
	Running
	Rebalancing
	PendingShutdown
	NotRunning
	Error
)

func (s State) String() string {
	if s < Created || s > Error {
		return "UNKNOWN"
	}
	return [...]string{"CREATED", "STARTING", "RUNNING", "REBALANCING", "PENDING_SHUTDOWN", "NOT_RUNNING", "ERROR"}[s]
}

// IsRunning says whether the App processes (or is about to): Starting,
// Running or Rebalancing.
func (s State) IsRunning() bool { return s == Starting || s == Running || s == Rebalancing }

// canBecome says whether a change from s to next is valid.
func (s State) canBecome(next State) bool {
	switch s {
	case Created:
		return next == Starting || next == PendingShutdown
	case Starting:
		return next == Running || next == PendingShutdown
	case Running:
		return next == Rebalancing || next == PendingShutdown
	case Rebalancing:
		return next == Running || next == PendingShutdown
	case PendingShutdown:
		return next == NotRunning || next == Error
	}
	return false // NotRunning and Error are final
}

// stateChange is one change the listener is told of.
type stateChange struct{ old, new State }

// lifecycle holds an App's state. Changes are told to the listener in
// order by a goroutine of their own (started at the first change, ending
// after the final one), never while a lock is held: a listener may call
// any method of the App, Close included.
type lifecycle struct {
	mu       sync.Mutex
	state    State
	queue    []stateChange
	wake     chan struct{} // the deliverer has changes to tell
	running  bool          // the deliverer runs
	listener func(old, new State)
	done     chan struct{} // closed once the final state was told

	// Rebalancing: the active tasks of the last assignment told to the
	// node, and which assignment a wait for Running belongs to.
	active []topology.TaskID
	gen    int64
}

func newLifecycle(listener func(old, new State)) *lifecycle {
	return &lifecycle{listener: listener, done: make(chan struct{}), wake: make(chan struct{}, 1)}
}

// get returns the state now.
func (l *lifecycle) get() State {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.state
}

// set moves to next if that is a valid change from the state now, and
// reports whether it did.
func (l *lifecycle) set(next State) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.setLocked(next)
}

func (l *lifecycle) setLocked(next State) bool {
	if !l.state.canBecome(next) {
		return false
	}
	l.queue = append(l.queue, stateChange{old: l.state, new: next})
	l.state = next
	if !l.running {
		l.running = true
		go l.deliver()
	}
	select {
	case l.wake <- struct{}{}:
	default:
	}
	return true
}

// deliver tells the listener each change, in order, and closes done after
// the final one.
func (l *lifecycle) deliver() {
	for range l.wake {
		for {
			l.mu.Lock()
			if len(l.queue) == 0 {
				l.mu.Unlock()
				break
			}
			c := l.queue[0]
			l.queue = l.queue[1:]
			l.mu.Unlock()
			if l.listener != nil {
				l.listener(c.old, c.new)
			}
			if c.new == NotRunning || c.new == Error {
				close(l.done)
				return
			}
		}
	}
}

// State returns the App's state now.
func (a *App) State() State { return a.life.get() }

// Done is closed once the App stopped (NotRunning or Error) and the
// listener was told.
func (a *App) Done() <-chan struct{} { return a.life.done }

// WithStateListener calls fn on every change of the App's state, in order,
// from a goroutine of its own (Kafka Streams' StateListener). fn may call
// the App's methods; it should return soon, since the next change waits for
// it, and Done is closed only after fn saw the final state. Default: none.
func WithStateListener(fn func(old, new State)) Option {
	return optFunc(func(c *cfg) { c.stateListener = fn })
}

// assigning is called before an assignment is told to the node: one that
// starts or stops active tasks of a running App makes it Rebalancing. It
// returns the assignment's generation for rebalanced.
func (l *lifecycle) assigning(a *actors.Assign) (gen int64, rebalance bool) {
	active := slices.Clone(a.Active)
	slices.SortFunc(active, topology.CompareTaskIDs)
	l.mu.Lock()
	defer l.mu.Unlock()
	changed := !slices.Equal(active, l.active)
	l.active = active
	l.gen++
	if !changed || (l.state != Running && l.state != Rebalancing) {
		return l.gen, false
	}
	if l.state == Running {
		l.setLocked(Rebalancing)
	}
	return l.gen, true
}

// rebalanced makes the App Running again once the assignment of generation
// gen, the last one, is applied.
func (l *lifecycle) rebalanced(gen int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if gen == l.gen && l.state == Rebalancing {
		l.setLocked(Running)
	}
}

// tellAssign tells the node an assignment from the cluster; when it starts
// or stops tasks the App is Rebalancing until they run (or closed).
func (a *App) tellAssign(ctx context.Context, as *actors.Assign) (actors.NodeStatus, error) {
	gen, rebalance := a.life.assigning(as)
	st, err := a.node.Tell(ctx, as)
	if !rebalance {
		return st, err
	}
	if err != nil {
		a.life.rebalanced(gen) // not applied: nothing to wait for
		return st, err
	}
	assign := *as
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		// Failed starts are the node's to report; the rebalance is over
		// all the same.
		_ = a.node.Wait(a.lifeCtx, assign)
		a.life.rebalanced(gen)
	}()
	return st, nil
}
