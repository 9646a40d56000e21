package actors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/state"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Assignment is the set of tasks a node runs, numbered by epoch. A single
// node assigns itself everything; the cluster will send assignments later.
type Assignment struct {
	Epoch  int64
	Active []topology.TaskID
}

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
	Logger        *slog.Logger
}

type runningTask struct {
	id   topology.TaskID
	pid  *actor.PID
	task *partition.Task
	flow *flowControl
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
	logger := cfg.Logger
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return logger.With("component", "actor")
	}))
	ctx, cancel := context.WithCancel(context.Background())
	n := &Node{
		cfg:     cfg,
		system:  system,
		log:     logger,
		tasks:   map[topology.TaskID]*runningTask{},
		closing: map[*runningTask]bool{},
		errCh:   make(chan error, 1),
		ctx:     ctx,
		cancel:  cancel,
	}
	n.input = newInputBytes(cfg.MaxBufferedBytes)
	n.fetch = newFetcher(cfg.Consumer, system, logger, cfg.ReadCommitted)
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

// Apply makes the node run exactly the tasks of a: new tasks are created,
// restored and started, and tasks no longer assigned are committed and closed.
func (n *Node) Apply(ctx context.Context, a Assignment) error {
	n.mu.Lock()
	if a.Epoch < n.epoch {
		n.mu.Unlock()
		return fmt.Errorf("assignment epoch %d is older than %d", a.Epoch, n.epoch)
	}
	n.epoch = a.Epoch
	want := map[topology.TaskID]bool{}
	for _, id := range a.Active {
		want[id] = true
	}
	var gone []*runningTask
	for id, rt := range n.tasks {
		if !want[id] {
			gone = append(gone, rt)
		}
	}
	n.mu.Unlock()
	var errs []error
	for _, rt := range gone {
		errs = append(errs, n.stopTask(rt, true))
	}
	ids := append([]topology.TaskID(nil), a.Active...)
	sort.Slice(ids, func(i, j int) bool {
		if ids[i].Subtopology != ids[j].Subtopology {
			return ids[i].Subtopology < ids[j].Subtopology
		}
		return ids[i].Partition < ids[j].Partition
	})
	// Tasks start (fence, read commits, restore) a few at a time: a start
	// mostly waits on Kafka round trips and fetches, so one after the
	// other would leave the cores idle.
	var (
		mu        sync.Mutex
		wg        sync.WaitGroup
		started   = make(chan struct{}, parallelStarts())
		startErrs []error
	)
	for _, id := range ids {
		n.mu.RLock()
		_, have := n.tasks[id]
		n.mu.RUnlock()
		if have {
			continue
		}
		started <- struct{}{}
		mu.Lock()
		failed := len(startErrs) > 0
		mu.Unlock()
		if failed {
			<-started
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-started; wg.Done() }()
			if err := n.startTask(ctx, id); err != nil {
				mu.Lock()
				startErrs = append(startErrs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(append(errs, startErrs...)...)
}

// parallelStarts is how many tasks a node starts at once.
func parallelStarts() int { return max(4, 2*runtime.GOMAXPROCS(0)) }

func (n *Node) startTask(ctx context.Context, id topology.TaskID) error {
	task, err := n.cfg.NewTask(id)
	if err != nil {
		return fmt.Errorf("create task %s: %w", id, err)
	}
	tps := map[string][]int32{}
	for _, tp := range task.Inputs() {
		tps[tp.Topic] = append(tps[tp.Topic], tp.Partition)
	}
	rt := &runningTask{id: id, task: task, flow: newFlowControl(int64(n.cfg.MaxBuffered), n.cfg.Consumer, tps, n.input)}
	ta := &taskActor{task: task, flow: rt.flow, committer: n.cfg.Committer, timeout: n.cfg.CommitTimeout, chunk: 500,
		failed: func(err error) { n.taskFailed(rt, err) }}
	rt.pid = n.system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return ta }))
	// Fence first: the committed offsets and changelogs read next must not
	// change under a predecessor's transaction.
	if err := n.request(ctx, rt.pid, &fenceRequest{}); err != nil {
		n.closeActor(rt, false)
		return &partition.RecoverableError{Err: err}
	}
	abortPending := func(ctx context.Context) error { return n.request(ctx, rt.pid, &abortPendingRequest{}) }
	starts, cp, err := n.cfg.Committed(ctx, task.Inputs(), abortPending)
	if err != nil {
		n.closeActor(rt, false)
		return &partition.RecoverableError{Err: fmt.Errorf("task %s: committed offsets: %w", id, err)}
	}
	if err := n.request(ctx, rt.pid, &initRequest{commit: cp}); err != nil {
		n.closeActor(rt, false)
		return err
	}
	var ends map[state.TopicPartition]InputOffsets
	if task.NeedsFetchedLags() {
		if n.cfg.InputOffsets == nil {
			n.closeActor(rt, false)
			return fmt.Errorf("task %s waits for empty inputs, but the node cannot list input offsets", id)
		}
		if ends, err = n.cfg.InputOffsets(ctx, task.Inputs()); err != nil {
			n.closeActor(rt, false)
			return &partition.RecoverableError{Err: fmt.Errorf("task %s: input offsets: %w", id, err)}
		}
	}
	n.mu.Lock()
	n.tasks[id] = rt
	n.mu.Unlock()
	n.fetch.add(rt, starts, ends)
	n.log.Debug("task started", "task", id.String())
	return nil
}

// taskFailed is called (once per task incarnation) when a task fails. A
// recoverable failure closes the task dirty and starts it again from its last
// commit; anything else stops the application.
func (n *Node) taskFailed(rt *runningTask, err error) {
	var rec *partition.RecoverableError
	if !errors.As(err, &rec) {
		n.reportErr(err)
		return
	}
	n.mu.Lock()
	if n.closed || n.tasks[rt.id] != rt {
		n.mu.Unlock()
		return
	}
	n.restarts++
	n.wg.Add(1)
	n.mu.Unlock()
	n.log.Warn("task failed; restarting it from its last commit", "task", rt.id.String(), "error", err)
	go func() {
		defer n.wg.Done()
		_ = n.stopTask(rt, false)
		backoff := n.cfg.RestartBackoff
		for {
			select {
			case <-n.ctx.Done():
				return
			case <-time.After(backoff):
			}
			err := n.startTask(n.ctx, rt.id)
			if err == nil {
				return
			}
			if !errors.As(err, &rec) && n.ctx.Err() == nil {
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

func (n *Node) closeActor(rt *runningTask, clean bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.CommitTimeout)
	defer cancel()
	err := n.request(ctx, rt.pid, &closeRequest{clean: clean})
	n.system.Root.Stop(rt.pid)
	rt.flow.release()
	return err
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
			if err := n.CommitAll(ctx); err != nil {
				n.log.Warn("commit failed", "error", err)
			}
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
