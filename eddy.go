package eddy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/eddystreams/eddy/actors"
	"github.com/eddystreams/eddy/cluster"
	"github.com/eddystreams/eddy/internal/authz"
	"github.com/eddystreams/eddy/internal/offsets"
	"github.com/eddystreams/eddy/internal/topics"
	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/state"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// App runs a topology on this process: it creates the internal topics, runs a
// task per assigned (sub-topology, partition), and commits.
type App struct {
	cfg  cfg
	topo *topology.Topology
	log  *slog.Logger

	fake        *kfake.Cluster
	admin       *kadm.Client
	adminCl     *kgo.Client
	producer    *kgo.Client
	consumer    *kgo.Client
	budget      *state.MemoryBudget // RocksDB memory of the node (memory.go)
	records     *state.RecordCache  // record cache budget (memory.go)
	node        *actors.Node
	layout      *topology.Layout
	offsets     *offsets.Reader // committed offsets and input offsets
	repartition []string        // the repartition topics, for the purge
	global      *globalConsumer // nil without global tables
	purger      *topics.Purger  // nil without repartition topics or with the purge off

	// changelogConsumer fetches the changelogs of standby tasks.
	changelogConsumer *kgo.Client
	// cluster is the App's node in its cluster (cluster.go); nil when
	// standalone.
	cluster *cluster.Node

	// The actor system (the user's with WithActorSystem, or the process's)
	// and the query actor (query_remote.go); queries bounds the requests
	// served at once.
	system   *actor.ActorSystem
	queryPID *actor.PID
	queries  chan struct{}

	// http is the App's HTTP server: the query gateway (http.go).
	http *appHTTP

	mu      sync.Mutex
	started bool
	closed  bool
	failed  chan struct{}
	failErr error
	// closeDone is closed when a Close ends; closeErr is what it returned.
	closeDone chan struct{}
	closeErr  error
	startErr  error

	// life is the App's State (lifecycle.go); lifeCtx ends the waits for
	// a rebalance to end, which wg counts.
	life       *lifecycle
	lifeCtx    context.Context
	lifeCancel context.CancelFunc
	wg         sync.WaitGroup
	// brokers follows the clients' connections: warnings while a broker
	// is unreachable (broker_watch.go).
	brokers *brokerWatch
	owner   int64         // this run, in commit metadata (partition.CommitPoint.PredecessorGrace)
	lock    *stateDirLock // held from Start to Close

	// memMu orders the metrics' reads of budget and records with their
	// making (Start) and the budget's release (Close).
	memMu        sync.Mutex
	budgetClosed bool

	// Prometheus metrics (metrics_prom.go)
	restores    restoreTracker
	promOnce    sync.Once
	promHandler http.Handler
}

// New checks the options and prepares an App for topo. With
// WithEmbeddedBroker, the embedded broker starts here (see Brokers).
func New(topo *topology.Topology, opts ...Option) (*App, error) {
	if topo == nil {
		return nil, errors.New("eddy.New: nil topology")
	}
	c := defaultCfg()
	c.App = &c // for the App's own options (optFunc)
	for _, o := range opts {
		if o != nil {
			o.Apply(&c.Settings)
		}
	}
	c.App = nil
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("eddy.New: %w", err)
	}
	if err := topo.ValidateTopicNames(c.AppID); err != nil {
		return nil, fmt.Errorf("eddy.New: %w", err)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.guarantee == ExactlyOnce && !c.commitSet {
		c.commitInterval = 100 * time.Millisecond
	}
	a := &App{cfg: c, topo: topo, log: c.Logger.With("app", c.AppID), failed: make(chan struct{}),
		closeDone: make(chan struct{}), life: newLifecycle(c.stateListener)}
	a.lifeCtx, a.lifeCancel = context.WithCancel(context.Background())
	a.brokers = newBrokerWatch(a.log, cmp.Or(c.brokerWarnEvery, brokerWarnEvery))
	a.http = newAppHTTP(a)
	for a.owner == 0 {
		a.owner = rand.Int64()
	}
	if c.embedded {
		fopts := []kfake.Opt{kfake.NumBrokers(1), kfake.AllowAutoTopicCreation()}
		if c.embeddedDataDir != "" {
			fopts = append(fopts, kfake.DataDir(c.embeddedDataDir), kfake.SyncWrites())
		}
		fc, err := kfake.NewCluster(fopts...)
		if err != nil {
			return nil, fmt.Errorf("eddy.New: embedded broker: %w", err)
		}
		a.fake = fc
		a.cfg.brokers = fc.ListenAddrs()
	}
	return a, nil
}

// Brokers returns the bootstrap addresses the App uses (the embedded broker's
// when there is one).
func (a *App) Brokers() []string { return append([]string(nil), a.cfg.brokers...) }

// Topology returns the topology the App runs.
func (a *App) Topology() *topology.Topology { return a.topo }

// metadataMinAge is the least time between two metadata refreshes of an
// App's clients (kgo.MetadataMinAge; WithKafkaOptions may set another).
const metadataMinAge = 250 * time.Millisecond

func (a *App) clientOpts(extra ...kgo.Opt) []kgo.Opt {
	opts := []kgo.Opt{kgo.SeedBrokers(a.cfg.brokers...), kgo.WithHooks(a.brokers),
		// A topic the App has just created (a repartition topic, a
		// changelog) is unknown to its clients' metadata at first: with
		// franz-go's default 5 s between refreshes, a sub-topology reading
		// a new repartition topic sat idle for 5 s after a fresh start.
		kgo.MetadataMinAge(metadataMinAge)}
	opts = append(opts, a.cfg.security.opts...) // options_security.go
	opts = append(opts, a.cfg.kafkaOpts...)
	return append(opts, extra...)
}

// Start creates the internal topics and starts the tasks; it returns once
// every task has restored its state and is processing. The App is Starting
// meanwhile, then Running. After an error, call Close (it ends in Error).
func (a *App) Start(ctx context.Context) error {
	a.mu.Lock()
	if a.started || a.closed {
		a.mu.Unlock()
		return errors.New("eddy: App already started or closed")
	}
	a.started = true
	a.mu.Unlock()
	a.life.set(Starting)
	a.brokers.start()
	// An authorization refusal (or a failed login) while starting (no ACL for the cluster
	// coordinator's transactional id, say) ends the start too, and is its
	// error: waiting on cannot help. Other fatal errors of a task (a
	// processor's failure) leave the start to finish as before; Err and Run
	// report them.
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-a.failed:
			if err := a.Err(); authz.Is(err) || errors.Is(err, kerr.SaslAuthenticationFailed) {
				cancel()
			}
		case <-sctx.Done():
		}
	}()
	if err := a.start(sctx); err != nil {
		if ferr := a.Err(); ferr != nil && ctx.Err() == nil {
			err = ferr
		}
		err = a.explainAuthz(err) // authz.go
		a.mu.Lock()
		a.startErr = err
		a.mu.Unlock()
		return err
	}
	a.life.set(Running) // unless a fatal error or Close came first
	return nil
}

func (a *App) start(ctx context.Context) error {
	var err error
	if a.lock, err = lockStateDir(filepath.Join(a.cfg.StateDir, a.cfg.AppID)); err != nil {
		return fmt.Errorf("eddy: %w", err)
	}
	if a.adminCl, err = kgo.NewClient(a.clientOpts()...); err != nil {
		return fmt.Errorf("eddy: admin client: %w", err)
	}
	a.admin = kadm.NewClient(a.adminCl)
	if err := a.prepareTopics(ctx); err != nil { // topics.go
		return err
	}
	a.offsets = &offsets.Reader{Client: a.adminCl, Group: a.cfg.AppID, Log: a.log, TxnTimeout: a.cfg.txnTimeout, ReadCommitted: a.cfg.guarantee == ExactlyOnce}
	if err := a.startPurger(); err != nil { // topics.go
		return err
	}
	if a.producer, err = kgo.NewClient(a.clientOpts(
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(5*time.Millisecond),
		kgo.MaxBufferedRecords(100000),
	)...); err != nil {
		return fmt.Errorf("eddy: producer: %w", err)
	}
	consumerOpts := []kgo.Opt{kgo.KeepControlRecords(), kgo.FetchMaxWait(100 * time.Millisecond),
		kgo.FetchMaxBytes(int32(min(a.cfg.maxBufferedBytes, 50<<20)))} // one fetch within the input byte bound
	if a.cfg.guarantee == ExactlyOnce {
		consumerOpts = append(consumerOpts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	if a.consumer, err = kgo.NewClient(a.clientOpts(consumerOpts...)...); err != nil {
		return fmt.Errorf("eddy: consumer: %w", err)
	}
	// Standby tasks' changelogs: a consumer of their own, so that an input
	// paused for back pressure never holds up a standby, nor the reverse.
	if a.changelogConsumer, err = kgo.NewClient(a.clientOpts(consumerOpts...)...); err != nil {
		return fmt.Errorf("eddy: changelog consumer: %w", err)
	}
	if err := a.startMemory(); err != nil {
		return err
	}
	// Global tables are caught up before any task processes.
	if err := a.startGlobal(ctx); err != nil {
		return err
	}
	if err := a.startActors(); err != nil { // query_remote.go
		return err
	}
	if err := a.startHTTP(); err != nil { // http.go; before the cluster node, which announces it
		return err
	}
	var lease interface{ Valid(time.Time) bool }
	var beforeStart func(context.Context, topology.TaskID) error
	if !a.cfg.cluster.standalone {
		if err := a.newClusterNode(); err != nil {
			return err
		}
		lease, beforeStart = a.cluster.Lease(), a.cluster.BeforeStart
	}
	node := actors.NewNode(actors.NodeConfig{
		System:    a.system,
		NewTask:   a.newTask,
		Consumer:  a.consumer,
		Committed: a.offsets.Committed,
		Owner:     a.owner,
		// Under exactly-once a fenced owner's writes are aborted; under
		// at-least-once they are not, so a start waits until it stopped.
		WaitForPredecessors: a.cfg.guarantee != ExactlyOnce,
		PredecessorMargin:   predecessorMargin,
		InputOffsets:        a.offsets.InputOffsets,
		ReadCommitted:       a.cfg.guarantee == ExactlyOnce,
		CommitInterval:      a.cfg.commitInterval,
		CommitTimeout:       a.cfg.commitTimeout,
		MaxBuffered:         a.cfg.maxBuffered,
		MaxBufferedBytes:    a.cfg.maxBufferedBytes,
		Logger:              a.log,

		NewStandby:        a.newStandby,
		ChangelogConsumer: a.changelogConsumer,
		Lease:             lease,
		BeforeStart:       beforeStart,
		// In a cluster an old owner stops writing within its node lease
		// of the decision that moved the task (cluster.go).
		MaxPredecessorWait: a.maxPredecessorWait(),
	})
	a.mu.Lock()
	a.node = node // read by Metrics
	a.mu.Unlock()
	a.node.Start()
	go a.watch()
	if a.cluster != nil {
		return a.startCluster(ctx)
	}
	if err := a.spawnQueryActor(); err != nil {
		return err
	}
	// Standalone: this node runs every task.
	if err := a.node.Apply(ctx, actors.Assign{Epoch: 1, Active: a.layout.Tasks()}); err != nil {
		return fmt.Errorf("eddy: start tasks: %w", err)
	}
	a.log.Info("started", "tasks", len(a.layout.Tasks()))
	return nil
}

func (a *App) watch() {
	err, ok := <-a.node.Errors()
	if !ok {
		return
	}
	a.fail(err)
}

// Tasks lists the tasks running on this App now, in order.
func (a *App) Tasks() []topology.TaskID {
	a.mu.Lock()
	node := a.node
	a.mu.Unlock()
	if node == nil {
		return nil
	}
	ids := node.RunningTasks()
	slices.SortFunc(ids, topology.CompareTaskIDs)
	return ids
}

// Err returns the error that stopped processing, if any.
func (a *App) Err() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.failErr
}

// Run starts the App and processes until ctx is done or a fatal error
// stopped it (see WithFatalErrorHandler), then closes gracefully. It
// returns nil after a clean stop by ctx; otherwise the error that stopped
// the App, or the failure of its final commit (Close).
func (a *App) Run(ctx context.Context) error {
	if err := a.Start(ctx); err != nil {
		if ctx.Err() != nil {
			return a.Close() // stopped while starting: a clean stop too
		}
		return errors.Join(err, a.Close())
	}
	select {
	case <-ctx.Done():
		return a.Close()
	case <-a.failed:
		return errors.Join(a.Err(), a.Close())
	}
}

// Close commits and closes every task, then the clients and the embedded
// broker, and leaves the cluster. It returns the errors of the final
// commits and of closing. The App is PendingShutdown meanwhile, then
// NotRunning, or Error when a fatal error stopped it, Start failed or Close
// failed. It is safe to call more than once and from several goroutines:
// every call returns when the App is closed, with the same error.
func (a *App) Close() error { return a.close(true) }

// close is Close; leave says whether the node leaves the cluster
// gracefully (fatal.go).
func (a *App) close(leave bool) error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		<-a.closeDone
		return a.closeErr
	}
	a.closed = true
	a.mu.Unlock()
	a.life.set(PendingShutdown)
	err := a.closeAll(leave)
	a.lifeCancel()
	a.wg.Wait() // the cluster node, closed, tells no more assignments
	a.mu.Lock()
	a.closeErr = err
	failed := a.failErr != nil || a.startErr != nil || err != nil
	a.mu.Unlock()
	close(a.closeDone)
	if failed {
		if err != nil {
			a.log.Error("closed with errors", "err", err)
		}
		a.life.set(Error)
	} else {
		a.life.set(NotRunning)
	}
	return err
}

func (a *App) closeAll(leave bool) error {
	var errs []error
	a.closeHTTP() // first: no new queries while the tasks close
	if a.purger != nil {
		a.purger.Close()
	}
	if a.node != nil {
		if err := a.node.Close(); err != nil {
			errs = append(errs, fmt.Errorf("eddy: final commit: %w", err))
		}
	}
	// After the tasks closed: their last commits released them, so the
	// nodes that take them over need not wait.
	if a.cluster != nil {
		if leave {
			errs = append(errs, a.cluster.Close())
		} else {
			errs = append(errs, a.cluster.Abandon())
		}
	}
	a.closeActors()
	if a.global != nil {
		errs = append(errs, a.global.Close())
	}
	for _, cl := range []*kgo.Client{a.consumer, a.changelogConsumer, a.producer, a.adminCl} {
		if cl != nil {
			cl.Close()
		}
	}
	a.brokers.close()
	a.closeMemory() // after the tasks and global stores closed
	if a.lock != nil {
		errs = append(errs, a.lock.release())
	}
	if a.fake != nil {
		a.fake.Close()
	}
	return errors.Join(errs...)
}

// predecessorMargin is what a new owner of a task under at-least-once waits,
// beyond its predecessor's commit interval, for it to stop writing; an owner
// stops processing that long past its last accepted commit unless it commits
// again (its ownership lease). It covers a commit's flush.
const predecessorMargin = time.Second

func (a *App) newTask(id topology.TaskID) (*partition.Task, error) {
	st := a.topo.Subtopologies[id.Subtopology]
	// Every task has a transactional id, under both guarantees: under
	// exactly-once all its writes go through it; under at-least-once its
	// offset commits do, so that the broker refuses them from an owner that
	// a newer one fenced (docs/decisions/0015).
	txn, err := partition.NewTxnProducer(a.clientOpts(), a.cfg.AppID, a.cfg.AppID+"-"+id.String(), a.cfg.txnTimeout)
	if err != nil {
		return nil, err
	}
	var producer partition.Producer = a.producer
	lease := a.cfg.commitInterval + predecessorMargin
	if a.cfg.guarantee == ExactlyOnce {
		producer = txn
		lease = 0 // a fenced owner's writes are aborted: no lease needed
	}
	return partition.NewTask(partition.Config{
		ExactlyOnce:            a.cfg.guarantee == ExactlyOnce,
		Txn:                    txn,
		ApplicationID:          a.cfg.AppID,
		ID:                     id,
		Subtopology:            st,
		Inputs:                 a.layout.Inputs(id),
		Dir:                    filepath.Join(a.cfg.StateDir, a.cfg.AppID, id.String()),
		DefaultEngine:          a.cfg.Engine,
		RocksDB:                a.rocksDBConfig(),
		RecordCache:            a.records,
		Producer:               producer,
		Partitions:             a.partitionCount,
		Changelogs:             a.changelogReader(),
		OnDeserializationError: a.cfg.OnDeserialize,
		GlobalStores:           a.globalStores(),
		OnProcessingError:      a.cfg.OnProcessing,
		OnProductionError:      a.cfg.OnProduction,
		Logger:                 a.log,
		WaitForInputs:          a.cfg.maxTaskIdle >= 0,
		MaxTaskIdle:            max(a.cfg.maxTaskIdle, 0),
		IdleStreamTimeAdvance:  a.cfg.IdleAdvance,
		OnDroppedRecord:        a.cfg.droppedHandler(),
		RestoreListener:        a.restoreListener(), // restore_listener.go: metrics and the user's
		Owner:                  a.owner,
		CommitInterval:         a.cfg.commitInterval,
		OwnershipLease:         lease,
		NodeLease:              a.nodeLease(),
	})
}

// newStandby makes the standby task of id, in the directory its active task
// uses, so that a promotion restores only the tail.
func (a *App) newStandby(id topology.TaskID) (*partition.StandbyTask, error) {
	return partition.NewStandbyTask(partition.StandbyConfig{
		ApplicationID: a.cfg.AppID,
		ID:            id,
		Subtopology:   a.topo.Subtopologies[id.Subtopology],
		Inputs:        a.layout.Inputs(id),
		Dir:           filepath.Join(a.cfg.StateDir, a.cfg.AppID, id.String()),
		DefaultEngine: a.cfg.Engine,
		RocksDB:       a.rocksDBConfig(),
		Changelogs:    a.changelogReader(),
		ExactlyOnce:   a.cfg.guarantee == ExactlyOnce,
		Logger:        a.log,
	}), nil
}

func (a *App) partitionCount(topic string) (int32, error) {
	if n, ok := a.layout.Partitions(topic); ok {
		return n, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	td, err := a.admin.ListTopics(ctx, topic)
	if err != nil {
		return 0, err
	}
	d, ok := td[topic]
	if !ok || d.Err != nil {
		return 0, fmt.Errorf("topic %q does not exist", topic)
	}
	return int32(len(d.Partitions)), nil
}
