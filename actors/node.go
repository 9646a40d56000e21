package actors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/state"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

// NodeConfig is what a node needs to run tasks.
type NodeConfig struct {
	// System is the actor system the node's actors live in; nil: a system
	// of the node's own, shut down when the node closes. A given system is
	// left running.
	System *actor.ActorSystem
	// NewTask makes the (not yet initialized) task for an id.
	NewTask func(id topology.TaskID) (*partition.Task, error)
	// NewStandby makes the (not yet initialized) standby task for an id,
	// for the standby and warm-up roles (standby.go), in the same state
	// directory as NewTask's task of that id. Nil, or without
	// ChangelogConsumer: the node runs no standbys (reported TaskNotRun).
	NewStandby func(id topology.TaskID) (*partition.StandbyTask, error)
	// ChangelogConsumer reads the changelogs the node's standbys follow:
	// a direct consumer (no group), shared by them, read_committed under
	// exactly-once, and keeping control records (kgo.KeepControlRecords)
	// so that a standby's position moves past transaction markers and its
	// lag reaches 0.
	ChangelogConsumer *kgo.Client
	// Consumer reads input partitions; it must be a direct consumer (no group).
	Consumer *kgo.Client
	// Committer commits input offsets (at-least-once).
	Committer partition.OffsetCommitter
	// Committed returns what was committed for input partitions: the next
	// offsets to read (absent partitions start at the earliest offset) and
	// the task's commit point. While the offsets stay unstable (a
	// transactional commit pending), it may call abortPending, which ends
	// commits the task's fenced predecessors left pending.
	Committed func(ctx context.Context, tps []state.TopicPartition, abortPending func(context.Context) error) (map[state.TopicPartition]int64, partition.CommitPoint, error)
	// CommitInterval is how often tasks commit.
	CommitInterval time.Duration
	// CommitTimeout bounds one commit (flush + offset commit).
	CommitTimeout time.Duration
	// MaxBuffered is the number of fetched but unprocessed records per task
	// above which its partitions stop being fetched.
	MaxBuffered int
	// MaxBufferedBytes bounds the bytes of fetched but unprocessed records
	// of all tasks together (see inputBytes). Default: 64 MiB.
	MaxBufferedBytes int64
	// RestartBackoff is the first wait before a task that failed with a
	// recoverable error starts again; it doubles up to 10s.
	RestartBackoff time.Duration
	// WallClockTick is how often tasks that want wall-clock ticks get one
	// (see punctuate.go). Default: 100ms.
	WallClockTick time.Duration
	// InputOffsets lists the start and end offsets of input partitions, for
	// tasks that wait for empty inputs (partition.Task.NeedsFetchedLags).
	InputOffsets func(ctx context.Context, tps []state.TopicPartition) (map[state.TopicPartition]InputOffsets, error)
	// ReadCommitted says the consumer reads read_committed: a partition's
	// end is then its last stable offset.
	ReadCommitted bool
	// Owner identifies this run of the process in commit metadata (see
	// partition.CommitPoint.PredecessorGrace); the node makes one up when
	// it is 0. Tasks must be made with the same value.
	Owner int64
	// WaitForPredecessors makes a starting task wait, after it fenced, for
	// a previous owner that did not release it to find out (at-least-once:
	// such an owner may write until its next, refused, commit). The wait is
	// CommitPoint.PredecessorGrace with PredecessorMargin (default 1s).
	WaitForPredecessors bool
	PredecessorMargin   time.Duration
	// MaxPredecessorWait, when above 0, caps that wait: in a cluster an
	// owner stops writing once its node lease runs out (checked before
	// every record, partition.Config.NodeLease), at most the lease after
	// the decision that moved the task, which the new owner read before
	// it fenced; so the lease and a margin are enough, however long the
	// old owner's commit interval.
	MaxPredecessorWait time.Duration
	// Lease, when set, is the node's right to run tasks (a cluster.Lease,
	// renewed while the node keeps up with the cluster's decisions). A
	// task checks it before each chunk of records and each punctuation:
	// once it ran out, the task stops (closed without a commit,
	// ErrNodeLeaseExpired) and starts again from its last commit when the
	// lease is valid again, if it is still assigned here. A start waits for
	// a valid lease before it fences.
	Lease interface{ Valid(time.Time) bool }
	// BeforeStart, when set, is called on every start of a task before it
	// fences: it returns once the task may be taken (its previous owner
	// handed it over, or is gone), or with ctx's error.
	BeforeStart func(ctx context.Context, id topology.TaskID) error
	Logger      *slog.Logger
}

// runningTask is an incarnation of a task that started: the task actor's
// PID (the same for every incarnation), its task and its flow control.
type runningTask struct {
	id    topology.TaskID
	pid   *actor.PID
	task  *partition.Task
	flow  *flowControl
	child *taskChild

	closeOnce    sync.Once
	closeErr     error
	commitQueued atomic.Bool // a commitTick is in the actor's mailbox
}

// Node runs the task actors of one process.
type Node struct {
	cfg    NodeConfig
	system *actor.ActorSystem
	log    *slog.Logger
	fetch  *fetcher
	input  *inputBytes

	mu       sync.RWMutex
	tasks    map[topology.TaskID]*runningTask // incarnations running
	children map[topology.TaskID]*taskChild   // task actors, latest of each task
	epoch    int64
	errCh    chan error
	wg       sync.WaitGroup // loops, closes of revoked tasks
	startWG  sync.WaitGroup // starts and restarts under way
	childWG  sync.WaitGroup // task actors not stopped yet
	ctx      context.Context
	cancel   context.CancelFunc
	closed   bool
	restarts int64
	closing  map[*runningTask]bool                      // stopped, not yet closed
	retired  map[topology.TaskID]*partition.TaskMetrics // counters of closed tasks, by task
	assigned map[topology.TaskID]bool
	lost     int64 // tasks given up because another instance fenced them
	// staleBatches counts record batches a restarted task actor dropped:
	// fetched for an earlier incarnation, whose input it reads again
	// from the last commit.
	staleBatches atomic.Int64
	slots        chan struct{} // bounds concurrent task starts
	entries      map[topology.TaskID]*taskEntry
	pid          *actor.PID // the node actor (assign.go)

	standbys     map[topology.TaskID]*standbyChild // standby actors, latest of each task (standby.go)
	standbyRoles map[topology.TaskID]Role          // standby and warm-up roles of the last Assign
	clFetch      *changelogFetcher                 // nil: no ChangelogConsumer
}

// NewNode makes a node; Start begins fetching and committing.
func NewNode(cfg NodeConfig) *Node {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxBuffered <= 0 {
		cfg.MaxBuffered = 10000
	}
	if cfg.MaxBufferedBytes <= 0 {
		cfg.MaxBufferedBytes = DefaultMaxBufferedBytes
	}
	if cfg.CommitTimeout <= 0 {
		cfg.CommitTimeout = time.Minute
	}
	if cfg.RestartBackoff <= 0 {
		cfg.RestartBackoff = 100 * time.Millisecond
	}
	if cfg.PredecessorMargin <= 0 {
		cfg.PredecessorMargin = time.Second
	}
	for cfg.Owner == 0 {
		cfg.Owner = rand.Int64()
	}
	logger := cfg.Logger
	system := cfg.System
	if system == nil {
		system = actor.NewActorSystem(QuietLogger(logger.Handler()))
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &Node{
		cfg:      cfg,
		system:   system,
		log:      logger,
		tasks:    map[topology.TaskID]*runningTask{},
		closing:  map[*runningTask]bool{},
		assigned: map[topology.TaskID]bool{},
		children: map[topology.TaskID]*taskChild{},
		entries:  map[topology.TaskID]*taskEntry{},
		standbys: map[topology.TaskID]*standbyChild{},
		slots:    make(chan struct{}, parallelStarts()),
		errCh:    make(chan error, 1),
		ctx:      ctx,
		cancel:   cancel,
	}
	n.input = newInputBytes(cfg.MaxBufferedBytes)
	n.fetch = newFetcher(cfg.Consumer, system, logger, cfg.ReadCommitted)
	n.fetch.fatal = n.reportErr
	if cfg.ChangelogConsumer != nil {
		n.clFetch = newChangelogFetcher(cfg.ChangelogConsumer, system, logger, cfg.ReadCommitted)
		n.clFetch.fatal = n.reportErr
	}
	// Task actors are the node actor's children, under its supervision.
	n.pid = system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return &nodeActor{n: n} },
		actor.WithSupervisor(taskSupervisor{n: n})))
	return n
}

// Errors delivers the first fatal task error.
func (n *Node) Errors() <-chan error { return n.errCh }

// Restarts counts tasks restarted after recoverable errors.
func (n *Node) Restarts() int64 {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.restarts
}

func (n *Node) reportErr(err error) {
	select {
	case n.errCh <- err:
	default:
	}
}

// Start begins the fetch loop, the commit loop and the wall-clock
// punctuation ticks.
func (n *Node) Start() {
	n.wg.Add(3)
	go func() { defer n.wg.Done(); n.fetch.run(n.ctx) }()
	go func() { defer n.wg.Done(); n.commitLoop(n.ctx) }()
	go func() { defer n.wg.Done(); n.wallClockLoop(n.ctx) }()
	if n.clFetch != nil {
		n.wg.Add(1)
		go func() { defer n.wg.Done(); n.clFetch.run(n.ctx) }()
	}
}

// taskLost records that another instance owns task id now: this node gives
// it up until an assignment names it again (Kafka Streams' TaskMigrated).
func (n *Node) taskLost(id topology.TaskID, err error) {
	n.mu.Lock()
	delete(n.assigned, id)
	n.lost++
	if e := n.entries[id]; e != nil {
		e.state, e.err = TaskLost, err
	}
	n.mu.Unlock()
	n.log.Warn("task lost: another instance owns it now; closed without commit", "task", id.String(), "error", err)
}

// Lost counts tasks this node gave up because another instance fenced them.
func (n *Node) Lost() int64 {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.lost
}

// parallelStarts is how many tasks a node starts at once.
func parallelStarts() int { return max(4, 2*runtime.GOMAXPROCS(0)) }

func (n *Node) acquireSlot(ctx context.Context) error {
	select {
	case n.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stopTask takes a task's incarnation off the node (the fetcher stops
// fetching for it), closes it with close, and keeps its counters.
func (n *Node) stopTask(rt *runningTask, close func() error) error {
	n.mu.Lock()
	if n.tasks[rt.id] == rt {
		delete(n.tasks, rt.id)
		n.closing[rt] = true
	}
	n.mu.Unlock()
	n.fetch.remove(rt)
	err := close()
	n.mu.Lock()
	if n.closing[rt] {
		delete(n.closing, rt)
		if n.retired == nil {
			n.retired = map[topology.TaskID]*partition.TaskMetrics{}
		}
		id := rt.task.ID()
		if n.retired[id] == nil {
			n.retired[id] = &partition.TaskMetrics{}
		}
		n.retired[id].Add(rt.task.Metrics())
	}
	n.mu.Unlock()
	return err
}

// Metrics sums the record counters of the node's tasks, including those
// closed since the node started (a task restarted after a failure counts
// the records it processes again).
func (n *Node) Metrics() partition.TaskMetrics {
	var m partition.TaskMetrics
	for _, t := range n.TaskMetrics() {
		m.Add(t)
	}
	return m
}

// TaskMetrics are the record counters of every task the node has run since
// it started, by task: those of its incarnations closed since (after a
// revocation or a failure) plus those of the one running now, so that each
// only grows.
func (n *Node) TaskMetrics() map[topology.TaskID]partition.TaskMetrics {
	n.mu.RLock()
	defer n.mu.RUnlock()
	m := make(map[topology.TaskID]partition.TaskMetrics, len(n.retired)+len(n.tasks))
	add := func(id topology.TaskID, o partition.TaskMetrics) {
		t := m[id]
		t.Add(o)
		m[id] = t
	}
	for id, t := range n.retired {
		add(id, *t)
	}
	for _, rt := range n.tasks {
		add(rt.task.ID(), rt.task.Metrics())
	}
	for rt := range n.closing {
		add(rt.task.ID(), rt.task.Metrics())
	}
	return m
}

// closeActor has the task actor commit (when clean) and close its task,
// then stops the actor. The close always runs, once: it is a message the
// actor answers after whatever it is doing, and an actor stopped any other
// way (its supervisor stopped it after a failure) closes its task on the
// way out (taskActor's Stopped case).
func (n *Node) closeActor(rt *runningTask, clean bool) error {
	rt.closeOnce.Do(func() {
		done := make(chan error, 1)
		n.system.Root.Send(rt.pid, &closeRequest{clean: clean, done: done})
		warn := time.NewTicker(n.cfg.CommitTimeout)
		defer warn.Stop()
		for waiting := true; waiting; {
			select {
			case rt.closeErr = <-done:
				waiting = false
			case <-rt.child.stopped:
				rt.closeErr = fmt.Errorf("task %s failed before its close; closed without commit", rt.id)
				waiting = false
			case <-warn.C:
				n.log.Warn("task still closing", "task", rt.id.String())
			}
		}
		_ = n.system.Root.StopFuture(rt.pid).Wait()
		rt.flow.release()
	})
	return rt.closeErr
}

func (n *Node) commitLoop(ctx context.Context) {
	if n.cfg.CommitInterval <= 0 {
		return
	}
	t := time.NewTicker(n.cfg.CommitInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n.commitTick()
		}
	}
}

// commitTick asks every task that has no commit queued to commit. It does
// not wait: a task that is slow (a long commit, a processor that blocks)
// must not hold up the others' commits, which renew their ownership leases.
func (n *Node) commitTick() {
	n.mu.RLock()
	defer n.mu.RUnlock()
	for _, rt := range n.tasks {
		if rt.commitQueued.CompareAndSwap(false, true) {
			n.system.Root.Send(rt.pid, commitTick{queued: &rt.commitQueued})
		}
	}
	n.standbyTickLocked()
}

// CommitAll asks every task to commit now and waits for them.
func (n *Node) CommitAll(ctx context.Context) error {
	n.mu.RLock()
	rts := make([]*runningTask, 0, len(n.tasks))
	for _, rt := range n.tasks {
		rts = append(rts, rt)
	}
	n.mu.RUnlock()
	dones := make([]chan error, len(rts))
	for i, rt := range rts {
		dones[i] = make(chan error, 1)
		n.system.Root.Send(rt.pid, &commitRequest{done: dones[i]})
	}
	var errs []error
	for i, rt := range rts {
		// A task actor that stops meanwhile (a failure the supervisor
		// does not restart) drops the request: stop waiting for it then.
		select {
		case err := <-dones[i]:
			if err != nil {
				errs = append(errs, err)
			}
		case <-rt.child.stopped:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return errors.Join(errs...)
}

// Close stops fetching, commits and closes every task, and stops the actor
// system.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	var waiting []*actor.PID
	for _, ch := range n.children {
		if n.cancelRestartLocked(ch) {
			waiting = append(waiting, ch.pid)
		}
	}
	n.mu.Unlock()
	n.cancel() // ends the loops and the starts under way
	for _, pid := range waiting {
		n.system.Root.Stop(pid)
	}
	n.wg.Wait()
	n.startWG.Wait() // each start ended: running, or failed and closed
	n.mu.RLock()
	rts := make([]*runningTask, 0, len(n.tasks))
	for _, rt := range n.tasks {
		rts = append(rts, rt)
	}
	n.mu.RUnlock()
	var errs []error
	for _, rt := range rts {
		errs = append(errs, n.stopTask(rt, func() error { return n.closeActor(rt, true) }))
	}
	n.mu.Lock()
	sbs := make([]*standbyChild, 0, len(n.standbys))
	for _, ch := range n.standbys {
		ch.ending = true
		ch.cancel()
		sbs = append(sbs, ch)
	}
	n.mu.Unlock()
	for _, ch := range sbs {
		n.closeStandby(ch) // with a checkpoint: its progress survives
	}
	n.childWG.Wait() // the actors the supervisor stops, too
	if n.cfg.System == nil {
		n.system.Shutdown()
	} else {
		_ = n.system.Root.StopFuture(n.pid).Wait()
	}
	return errors.Join(errs...)
}
