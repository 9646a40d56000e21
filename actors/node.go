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
	// NewTask makes the (not yet initialized) task for an id.
	NewTask func(id topology.TaskID) (*partition.Task, error)
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
	Logger              *slog.Logger
}

type runningTask struct {
	id   topology.TaskID
	pid  *actor.PID
	task *partition.Task
	flow *flowControl

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
	tasks    map[topology.TaskID]*runningTask
	epoch    int64
	errCh    chan error
	wg       sync.WaitGroup
	ctx      context.Context
	cancel   context.CancelFunc
	closed   bool
	restarts int64
	closing  map[*runningTask]bool // stopped, not yet closed
	retired  partition.TaskMetrics // counters of closed tasks
	assigned map[topology.TaskID]bool
	starting map[topology.TaskID]bool // a start (or restart) is under way
	lost     int64                    // tasks given up because another instance fenced them
	slots    chan struct{}            // bounds concurrent task starts
	entries  map[topology.TaskID]*taskEntry
	pid      *actor.PID // the node actor (assign.go)
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
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return logger.With("component", "actor")
	}))
	ctx, cancel := context.WithCancel(context.Background())
	n := &Node{
		cfg:      cfg,
		system:   system,
		log:      logger,
		tasks:    map[topology.TaskID]*runningTask{},
		closing:  map[*runningTask]bool{},
		assigned: map[topology.TaskID]bool{},
		starting: map[topology.TaskID]bool{},
		entries:  map[topology.TaskID]*taskEntry{},
		slots:    make(chan struct{}, parallelStarts()),
		errCh:    make(chan error, 1),
		ctx:      ctx,
		cancel:   cancel,
	}
	n.input = newInputBytes(cfg.MaxBufferedBytes)
	n.fetch = newFetcher(cfg.Consumer, system, logger, cfg.ReadCommitted)
	n.pid = system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return &nodeActor{n: n} }))
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
}

func (n *Node) endStart(id topology.TaskID) {
	n.mu.Lock()
	delete(n.starting, id)
	n.mu.Unlock()
}

// isAssigned says whether the latest assignment gives id to this node.
func (n *Node) isAssigned(id topology.TaskID) bool {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.assigned[id] && !n.closed
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

// startTask creates, fences, restores and registers task id. It holds one
// of the node's start slots while it works, not while it waits for a
// predecessor. Whatever fails, an actor it spawned is closed (stores and
// clients released) before it returns.
func (n *Node) startTask(ctx context.Context, id topology.TaskID) (err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(n.ctx, cancel)() // Close cancels starts
	if err := n.acquireSlot(ctx); err != nil {
		return fmt.Errorf("start task %s: %w", id, err)
	}
	held := true
	defer func() {
		if held {
			<-n.slots
		}
	}()
	task, err := n.cfg.NewTask(id)
	if err != nil {
		return fmt.Errorf("create task %s: %w", id, err)
	}
	tps := map[string][]int32{}
	for _, tp := range task.Inputs() {
		tps[tp.Topic] = append(tps[tp.Topic], tp.Partition)
	}
	rt := &runningTask{id: id, task: task, flow: newFlowControl(int64(n.cfg.MaxBuffered), n.cfg.Consumer, tps, n.input)}
	ta := &taskActor{task: task, flow: rt.flow, committer: n.cfg.Committer, timeout: n.cfg.CommitTimeout, chunk: 500, log: n.log,
		failed: func(err error) { n.taskFailed(rt, err) }}
	rt.pid = n.system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return ta }))
	defer func() {
		if err != nil {
			_ = n.closeActor(rt, false)
		}
	}()
	// Fence first: the committed offsets and changelogs read next must not
	// change under a predecessor's transaction.
	if err := n.request(ctx, rt.pid, &fenceRequest{}); err != nil {
		if errors.Is(err, partition.ErrFenced) {
			return err
		}
		return &partition.RecoverableError{Err: err}
	}
	fencedAt := time.Now()
	abortPending := func(ctx context.Context) error { return n.request(ctx, rt.pid, &abortPendingRequest{}) }
	starts, cp, err := n.cfg.Committed(ctx, task.Inputs(), abortPending)
	if err != nil {
		return &partition.RecoverableError{Err: fmt.Errorf("task %s: committed offsets: %w", id, err)}
	}
	if n.cfg.WaitForPredecessors {
		if g := cp.PredecessorGrace(n.cfg.Owner, task.FirstOwner(), n.cfg.CommitInterval, n.cfg.PredecessorMargin); g > 0 {
			if wait := time.Until(fencedAt.Add(g)); wait > 0 {
				n.log.Info("waiting for the task's previous owner to find it was fenced", "task", id.String(), "for", wait.Round(time.Millisecond))
				<-n.slots
				held = false
				t := time.NewTimer(wait)
				select {
				case <-ctx.Done():
					t.Stop()
					return fmt.Errorf("start task %s: %w", id, ctx.Err())
				case <-t.C:
				}
				if err := n.acquireSlot(ctx); err != nil {
					return fmt.Errorf("start task %s: %w", id, err)
				}
				held = true
			}
		}
	}
	// No deadline: a restore takes as long as it takes; ctx (the caller's,
	// or Close) ends it.
	done := make(chan error, 1)
	n.system.Root.Send(rt.pid, &initRequest{ctx: ctx, commit: cp, done: done})
	select {
	case err = <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		return fmt.Errorf("start task %s: %w", id, err)
	}
	var ends map[state.TopicPartition]InputOffsets
	if task.NeedsFetchedLags() {
		if n.cfg.InputOffsets == nil {
			return fmt.Errorf("task %s waits for empty inputs, but the node cannot list input offsets", id)
		}
		if ends, err = n.cfg.InputOffsets(ctx, task.Inputs()); err != nil {
			return &partition.RecoverableError{Err: fmt.Errorf("task %s: input offsets: %w", id, err)}
		}
	}
	n.mu.Lock()
	if n.closed || !n.assigned[id] {
		n.mu.Unlock()
		return fmt.Errorf("start task %s: %w", id, errNoLongerAssigned)
	}
	n.tasks[id] = rt
	n.mu.Unlock()
	n.fetch.add(rt, starts, ends)
	n.log.Debug("task started", "task", id.String())
	return nil
}

// errNoLongerAssigned ends a start whose task an assignment took away (or
// the node closed) meanwhile.
var errNoLongerAssigned = errors.New("no longer assigned to this node")

func (n *Node) acquireSlot(ctx context.Context) error {
	select {
	case n.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// taskFailed is called (once per task incarnation) when a task fails. A
// task fenced by another instance is closed without commit and given up; a
// recoverable failure closes the task dirty and starts it again from its last
// commit, as long as it is still assigned here; anything else stops the
// application.
func (n *Node) taskFailed(rt *runningTask, err error) {
	fenced := errors.Is(err, partition.ErrFenced)
	var rec *partition.RecoverableError
	if !fenced && !errors.As(err, &rec) {
		n.reportErr(err)
		return
	}
	n.mu.Lock()
	if n.closed || n.tasks[rt.id] != rt {
		n.mu.Unlock()
		return
	}
	if !fenced {
		n.restarts++
		n.starting[rt.id] = true // Apply must not start it meanwhile
	}
	n.wg.Add(1)
	n.mu.Unlock()
	if fenced {
		go func() {
			defer n.wg.Done()
			_ = n.stopTask(rt, false)
			n.taskLost(rt.id, err)
		}()
		return
	}
	n.log.Warn("task failed; restarting it from its last commit", "task", rt.id.String(), "error", err)
	go func() {
		defer n.wg.Done()
		defer n.endStart(rt.id)
		n.setState(rt.id, TaskStarting, err)
		_ = n.stopTask(rt, false)
		backoff := n.cfg.RestartBackoff
		for {
			select {
			case <-n.ctx.Done():
				return
			case <-time.After(backoff):
			}
			if !n.isAssigned(rt.id) {
				n.log.Info("task no longer assigned here; not restarting it", "task", rt.id.String())
				return
			}
			err := n.startTask(n.ctx, rt.id)
			switch {
			case err == nil:
				n.started(rt.id, nil)
				return
			case errors.Is(err, errNoLongerAssigned) || n.ctx.Err() != nil:
				return
			case errors.Is(err, partition.ErrFenced):
				n.taskLost(rt.id, err)
				return
			case !errors.As(err, &rec):
				n.setState(rt.id, TaskFailed, err)
				n.reportErr(err)
				return
			}
			n.log.Warn("task restart failed; retrying", "task", rt.id.String(), "error", err)
			backoff = min(2*backoff, 10*time.Second)
		}
	}()
}

func (n *Node) stopTask(rt *runningTask, clean bool) error {
	n.mu.Lock()
	if n.tasks[rt.id] == rt {
		delete(n.tasks, rt.id)
		n.closing[rt] = true
	}
	n.mu.Unlock()
	n.fetch.remove(rt)
	err := n.closeActor(rt, clean)
	n.mu.Lock()
	if n.closing[rt] {
		delete(n.closing, rt)
		n.retired.Add(rt.task.Metrics())
	}
	n.mu.Unlock()
	return err
}

// Metrics sums the record counters of the node's tasks, including those
// closed since the node started (a task restarted after a failure counts
// the records it processes again).
func (n *Node) Metrics() partition.TaskMetrics {
	n.mu.RLock()
	defer n.mu.RUnlock()
	var m partition.TaskMetrics
	m.Add(n.retired)
	for _, rt := range n.tasks {
		m.Add(rt.task.Metrics())
	}
	for rt := range n.closing {
		m.Add(rt.task.Metrics())
	}
	return m
}

// closeActor has the task actor commit (when clean) and close its task,
// then stops the actor. The close always runs, once: it is a message the
// actor answers after whatever it is doing (a start in progress was
// cancelled first, so that ends soon), and an actor stopped any other way
// closes its task on the way out (taskActor's Stopped case).
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
			case <-warn.C:
				n.log.Warn("task still closing", "task", rt.id.String())
			}
		}
		_ = n.system.Root.StopFuture(rt.pid).Wait()
		rt.flow.release()
	})
	return rt.closeErr
}

func (n *Node) request(ctx context.Context, pid *actor.PID, msg any) error {
	timeout := n.cfg.CommitTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	if timeout <= 0 {
		timeout = time.Millisecond
	}
	res, err := n.system.Root.RequestFuture(pid, msg, timeout).Result()
	if err != nil {
		return err
	}
	if r, ok := res.(reply); ok {
		return r.err
	}
	return fmt.Errorf("unexpected reply %T", res)
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
}

// CommitAll asks every task to commit now and waits for them.
func (n *Node) CommitAll(ctx context.Context) error {
	n.mu.RLock()
	pids := make([]*actor.PID, 0, len(n.tasks))
	for _, rt := range n.tasks {
		pids = append(pids, rt.pid)
	}
	n.mu.RUnlock()
	futures := make([]*actor.Future, len(pids))
	for i, pid := range pids {
		futures[i] = n.system.Root.RequestFuture(pid, &commitRequest{}, n.cfg.CommitTimeout)
	}
	var errs []error
	for _, f := range futures {
		res, err := f.Result()
		if err != nil {
			errs = append(errs, err)
		} else if r, ok := res.(reply); ok && r.err != nil {
			errs = append(errs, r.err)
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
	n.mu.Unlock()
	n.cancel()
	n.wg.Wait()
	n.mu.RLock()
	rts := make([]*runningTask, 0, len(n.tasks))
	for _, rt := range n.tasks {
		rts = append(rts, rt)
	}
	n.mu.RUnlock()
	var errs []error
	for _, rt := range rts {
		errs = append(errs, n.stopTask(rt, true))
	}
	n.system.Shutdown()
	return errors.Join(errs...)
}
