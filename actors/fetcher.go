package actors

import (
	"context"
	"log/slog"
	"sync"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/eddystreams/eddy/state"
	"github.com/twmb/franz-go/pkg/kgo"
)

// fetcher reads the input partitions of the node's tasks and hands each
// partition's records to its task actor as one message.
//
// Partitions are added and removed on the fetch loop's own goroutine, between
// two polls. So a poll never returns records of a partition from before it
// was removed and re-added (a restarted task), which would otherwise reach
// the new task ahead of the records it must process first.
type fetcher struct {
	cl     *kgo.Client
	system *actor.ActorSystem
	log    *slog.Logger
	byTP   map[state.TopicPartition]*runningTask // owned by the loop

	mu      sync.Mutex
	ops     []func()
	running bool
	wake    context.CancelFunc // cancels the poll in progress
}

func newFetcher(cl *kgo.Client, system *actor.ActorSystem, log *slog.Logger) *fetcher {
	return &fetcher{cl: cl, system: system, log: log, byTP: map[state.TopicPartition]*runningTask{}}
}

// do runs op on the fetch loop between polls and waits for it; before the loop
// runs or after it ended, op runs at once.
func (f *fetcher) do(op func()) {
	done := make(chan struct{})
	f.mu.Lock()
	if !f.running {
		f.mu.Unlock()
		op()
		return
	}
	f.ops = append(f.ops, func() { op(); close(done) })
	if f.wake != nil {
		f.wake()
	}
	f.mu.Unlock()
	<-done
}

func (f *fetcher) add(rt *runningTask, starts map[state.TopicPartition]int64) {
	f.do(func() {
		add := map[string]map[int32]kgo.Offset{}
		for _, tp := range rt.task.Inputs() {
			f.byTP[tp] = rt
			o := kgo.NewOffset().AtStart()
			if off, ok := starts[tp]; ok {
				o = kgo.NewOffset().At(off)
			}
			if add[tp.Topic] == nil {
				add[tp.Topic] = map[int32]kgo.Offset{}
			}
			add[tp.Topic][tp.Partition] = o
		}
		f.cl.AddConsumePartitions(add)
	})
}

func (f *fetcher) remove(rt *runningTask) {
	f.do(func() {
		rm := map[string][]int32{}
		for _, tp := range rt.task.Inputs() {
			if f.byTP[tp] == rt {
				delete(f.byTP, tp)
				rm[tp.Topic] = append(rm[tp.Topic], tp.Partition)
			}
		}
		f.cl.RemoveConsumePartitions(rm)
		f.cl.ResumeFetchPartitions(rm) // a paused partition must not stay paused for its next owner
	})
}

func (f *fetcher) run(ctx context.Context) {
	f.mu.Lock()
	f.running = true
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.running = false
		ops := f.ops
		f.ops = nil
		f.mu.Unlock()
		for _, op := range ops {
			op()
		}
	}()
	for {
		f.mu.Lock()
		ops := f.ops
		f.ops = nil
		pctx, cancel := context.WithCancel(ctx)
		f.wake = cancel
		f.mu.Unlock()
		for _, op := range ops {
			op()
		}
		if len(ops) > 0 {
			cancel()
			continue
		}
		fs := f.cl.PollRecords(pctx, 10000)
		f.mu.Lock()
		f.wake = nil
		f.mu.Unlock()
		cancel()
		if ctx.Err() != nil || fs.IsClientClosed() {
			return
		}
		fs.EachError(func(t string, p int32, err error) {
			if pctx.Err() == nil {
				// The client retries by itself; this is for the log.
				f.log.Warn("fetch error", "topic", t, "partition", p, "error", err)
			}
		})
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			if len(p.Records) == 0 {
				return
			}
			tp := state.TopicPartition{Topic: p.Topic, Partition: p.Partition}
			rt, ok := f.byTP[tp]
			if !ok {
				return // removed; its next owner fetches from the last commit
			}
			f.system.Root.Send(rt.pid, &recordBatch{tp: tp, recs: p.Records})
			rt.flow.added(len(p.Records))
		})
	}
}
