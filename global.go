package eddy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

// globalCheckpointRecords is how many records the global consumer applies
// before a checkpoint is due at the next commit interval (Kafka Streams
// uses the same threshold); an idle one checkpoints at least every
// globalCheckpointMax after an update.
const (
	globalCheckpointRecords = 10000
	globalCheckpointMax     = time.Minute
)

// globalConsumer keeps the global tables of an App up to date: Kafka
// Streams' GlobalStreamThread. It owns the partition.GlobalTask and one
// consumer of every partition of the global tables' source topics, reading
// from where restoration stopped (read_committed under exactly-once). Its
// goroutine ends with Close.
type globalConsumer struct {
	task     *partition.GlobalTask
	cl       *kgo.Client
	interval time.Duration
	log      *slog.Logger
	fail     func(error)
	cancel   context.CancelFunc
	done     chan struct{}
}

// startGlobal restores the global tables, if the topology has any, and
// starts keeping them up to date. It returns once every global store is
// caught up with the end of its source topic as of the call.
func (a *App) startGlobal(ctx context.Context) error {
	st := a.topo.GlobalSubtopology()
	if st == nil {
		return nil
	}
	task, err := partition.NewGlobalTask(partition.GlobalConfig{
		ApplicationID:          a.cfg.AppID,
		Subtopology:            st,
		Dir:                    filepath.Join(a.cfg.StateDir, a.cfg.AppID, "global"),
		DefaultEngine:          a.cfg.Engine,
		RocksDB:                a.rocksDBConfig(),
		Partitions:             a.partitionCount,
		Changelogs:             a.changelogReader(),
		OnDeserializationError: a.cfg.OnDeserialize,
		Logger:                 a.log,
	})
	if err != nil {
		return fmt.Errorf("eddy: global tables: %w", err)
	}
	if err := task.Initialize(ctx); err != nil {
		return errors.Join(fmt.Errorf("eddy: restore global tables: %w", err), task.Close(false))
	}
	starts := map[string]map[int32]kgo.Offset{}
	for tp, o := range task.Positions() {
		if starts[tp.Topic] == nil {
			starts[tp.Topic] = map[int32]kgo.Offset{}
		}
		starts[tp.Topic][tp.Partition] = kgo.NewOffset().At(o)
	}
	opts := []kgo.Opt{kgo.ConsumePartitions(starts), kgo.KeepControlRecords(), kgo.FetchMaxWait(100 * time.Millisecond)}
	if a.cfg.guarantee == ExactlyOnce {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	cl, err := kgo.NewClient(a.clientOpts(opts...)...)
	if err != nil {
		return errors.Join(fmt.Errorf("eddy: global consumer: %w", err), task.Close(false))
	}
	runCtx, cancel := context.WithCancel(context.Background())
	g := &globalConsumer{task: task, cl: cl, interval: a.cfg.commitInterval, log: a.log.With("task", "global"),
		fail: a.fail, cancel: cancel, done: make(chan struct{})}
	if g.interval <= 0 {
		g.interval = time.Second
	}
	a.mu.Lock()
	a.global = g
	a.mu.Unlock()
	go g.run(runCtx)
	return nil
}

func (g *globalConsumer) run(ctx context.Context) {
	defer close(g.done)
	last := time.Now()
	for {
		pctx, cancel := context.WithTimeout(ctx, g.interval)
		fs := g.cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil || fs.IsClientClosed() {
			return
		}
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				g.log.Warn("global consumer: fetch error", "topic", t, "partition", p, "error", err)
			}
		})
		var err error
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			if err == nil && len(p.Records) > 0 {
				err = g.task.Apply(p.Records)
			}
		})
		if err != nil {
			g.fail(fmt.Errorf("eddy: global tables: %w", err))
			return
		}
		if n := g.task.Applied(); n > 0 {
			if since := time.Since(last); since >= g.interval && n >= globalCheckpointRecords || since >= max(g.interval, globalCheckpointMax) {
				if err := g.task.Checkpoint(); err != nil {
					g.log.Warn("global checkpoint failed", "error", err)
				}
				last = time.Now()
			}
		}
	}
}

// Close stops the consumer, writes a checkpoint and closes the global
// stores.
func (g *globalConsumer) Close() error {
	g.cancel()
	<-g.done
	g.cl.Close()
	return g.task.Close(true)
}

// fail records the first error that stops the App.
// The fatal error handler runs then, and the App closes as it says
// (fatal.go).
func (a *App) fail(err error) {
	err = a.explainAuthz(err) // authz.go; it may ask the broker, so not under a.mu
	a.mu.Lock()
	if a.failErr != nil || a.closed {
		a.mu.Unlock()
		return
	}
	a.failErr = err
	close(a.failed)
	a.mu.Unlock()
	go a.onFatal(err) // ends with the App's close
}

// GlobalStore returns the named global table's store on this node (every
// node holds all of it), read only, for lookups by serialized key (eddy.Store
// reads it typed, like any store); wrap it
// with GlobalKTable.Reader or topology.NewTypedKeyValueStore for typed
// reads. It fails before Start and for a store that is not a global
// table's.
func (a *App) GlobalStore(name string) (topology.KeyValueStore, error) {
	spec, ok := a.topo.Store(name)
	if !ok || !spec.Global {
		return nil, fmt.Errorf("eddy: %q is not a global table's store", name)
	}
	a.mu.Lock()
	g := a.global
	a.mu.Unlock()
	if g == nil {
		return nil, errors.New("eddy: global store read before Start")
	}
	kv, ok := g.task.Stores()[name].(topology.KeyValueStore)
	if !ok {
		return nil, fmt.Errorf("eddy: global store %q is not open", name)
	}
	return kv, nil
}

// globalStores are the global stores given to every task.
func (a *App) globalStores() map[string]topology.StateStore {
	if a.global == nil {
		return nil
	}
	return a.global.task.Stores()
}
