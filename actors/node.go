package actors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
	// Committer commits input offsets.
	Committer Committer
	// StartOffsets returns where to start reading input partitions (the
	// committed offsets; absent partitions start at the earliest offset).
	StartOffsets func(ctx context.Context, tps []state.TopicPartition) (map[state.TopicPartition]int64, error)
	// CommitInterval is how often tasks commit.
	CommitInterval time.Duration
	// CommitTimeout bounds one commit (flush + offset commit).
	CommitTimeout time.Duration
	// MaxBuffered is the number of fetched but unprocessed records per task
	// above which its partitions stop being fetched.
	MaxBuffered int
	Logger      *slog.Logger
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

	mu     sync.RWMutex
	tasks  map[topology.TaskID]*runningTask
	byTP   map[state.TopicPartition]*runningTask
	epoch  int64
	errCh  chan error
	wg     sync.WaitGroup
	cancel context.CancelFunc
	closed bool
}

// NewNode makes a node; Start begins fetching and committing.
func NewNode(cfg NodeConfig) *Node {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxBuffered <= 0 {
		cfg.MaxBuffered = 10000
	}
	if cfg.CommitTimeout <= 0 {
		cfg.CommitTimeout = time.Minute
	}
	logger := cfg.Logger
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return logger.With("component", "actor")
	}))
	return &Node{
		cfg:    cfg,
		system: system,
		log:    logger,
		tasks:  map[topology.TaskID]*runningTask{},
		byTP:   map[state.TopicPartition]*runningTask{},
		errCh:  make(chan error, 1),
	}
}

// Errors delivers the first fatal task error.
func (n *Node) Errors() <-chan error { return n.errCh }

func (n *Node) reportErr(err error) {
	select {
	case n.errCh <- err:
	default:
	}
}

// Start begins the fetch loop and the commit loop.
func (n *Node) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	n.wg.Add(2)
	go func() { defer n.wg.Done(); n.fetchLoop(ctx) }()
	go func() { defer n.wg.Done(); n.commitLoop(ctx) }()
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
	for _, id := range ids {
		n.mu.RLock()
		_, have := n.tasks[id]
		n.mu.RUnlock()
		if have {
			continue
		}
		if err := n.startTask(ctx, id); err != nil {
			return errors.Join(append(errs, err)...)
		}
	}
	return errors.Join(errs...)
}

func (n *Node) startTask(ctx context.Context, id topology.TaskID) error {
	task, err := n.cfg.NewTask(id)
	if err != nil {
		return fmt.Errorf("create task %s: %w", id, err)
	}
	tps := map[string][]int32{}
	for _, tp := range task.Inputs() {
		tps[tp.Topic] = append(tps[tp.Topic], tp.Partition)
	}
	rt := &runningTask{id: id, task: task, flow: newFlowControl(int64(n.cfg.MaxBuffered), n.cfg.Consumer, tps)}
	ta := &taskActor{task: task, flow: rt.flow, committer: n.cfg.Committer, timeout: n.cfg.CommitTimeout, chunk: 500,
		failed: func(err error) { n.reportErr(err) }}
	rt.pid = n.system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return ta }))
	if err := n.request(ctx, rt.pid, &initRequest{}); err != nil {
		n.system.Root.Stop(rt.pid)
		return err
	}
	starts, err := n.cfg.StartOffsets(ctx, task.Inputs())
	if err != nil {
		_ = n.stopTask(rt, false)
		return fmt.Errorf("task %s: start offsets: %w", id, err)
	}
	add := map[string]map[int32]kgo.Offset{}
	n.mu.Lock()
	n.tasks[id] = rt
	for _, tp := range task.Inputs() {
		n.byTP[tp] = rt
		o := kgo.NewOffset().AtStart()
		if off, ok := starts[tp]; ok {
			o = kgo.NewOffset().At(off)
		}
		if add[tp.Topic] == nil {
			add[tp.Topic] = map[int32]kgo.Offset{}
		}
		add[tp.Topic][tp.Partition] = o
	}
	n.mu.Unlock()
	n.cfg.Consumer.AddConsumePartitions(add)
	n.log.Debug("task started", "task", id.String())
	return nil
}

func (n *Node) stopTask(rt *runningTask, clean bool) error {
	rm := map[string][]int32{}
	n.mu.Lock()
	delete(n.tasks, rt.id)
	for _, tp := range rt.task.Inputs() {
		delete(n.byTP, tp)
		rm[tp.Topic] = append(rm[tp.Topic], tp.Partition)
	}
	n.mu.Unlock()
	n.cfg.Consumer.RemoveConsumePartitions(rm)
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.CommitTimeout)
	defer cancel()
	err := n.request(ctx, rt.pid, &closeRequest{clean: clean})
	n.system.Root.Stop(rt.pid)
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

// fetchLoop polls the input partitions and hands each partition's records to
// its task actor as one message.
func (n *Node) fetchLoop(ctx context.Context) {
	for {
		fs := n.cfg.Consumer.PollRecords(ctx, 10000)
		if ctx.Err() != nil || fs.IsClientClosed() {
			return
		}
		fs.EachError(func(t string, p int32, err error) {
			// The client retries by itself; only report what it hands back.
			n.log.Warn("fetch error", "topic", t, "partition", p, "error", err)
		})
		n.mu.RLock()
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			if len(p.Records) == 0 {
				return
			}
			tp := state.TopicPartition{Topic: p.Topic, Partition: p.Partition}
			rt, ok := n.byTP[tp]
			if !ok {
				return // the task was stopped; its new owner fetches from the commit
			}
			n.system.Root.Send(rt.pid, &recordBatch{tp: tp, recs: p.Records})
			rt.flow.added(len(p.Records))
		})
		n.mu.RUnlock()
	}
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
				n.log.Warn("commit failed; retrying at the next interval", "error", err)
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
	if n.cancel != nil {
		n.cancel()
	}
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
