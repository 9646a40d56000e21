package actors

import (
	"context"
	"log/slog"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/state"
	"github.com/twmb/franz-go/pkg/kgo"
)

// changelogFetcher reads the changelog partitions of the node's standby and
// warm-up tasks on one long-lived consumer per node
// (NodeConfig.ChangelogConsumer), and hands each partition's records to its
// standby actor as one message per poll, as the input fetcher does for
// active tasks. One consumer for all standbys, rather than one each, keeps
// the node's connections and fetch sessions to one however many standbys
// it holds, and lets a poll fill from whichever changelogs have data.
//
// Partitions are added and removed on the loop's goroutine between polls
// (the input fetcher's reason: a poll never returns records of a partition
// from before it was removed and added again).
type changelogFetcher struct {
	pollLoop
	system        *actor.ActorSystem
	readCommitted bool
	byTP          map[state.TopicPartition]*standbyRun // owned by the loop
}

// changelogBatch carries fetched records of one changelog partition to its
// standby, with the partition's end as the fetch saw it (-1: unknown). run
// is the standby run they were fetched for.
type changelogBatch struct {
	run  *standbyRun
	tp   state.TopicPartition
	recs []*kgo.Record
	end  int64
}

func newChangelogFetcher(cl *kgo.Client, system *actor.ActorSystem, log *slog.Logger, readCommitted bool) *changelogFetcher {
	return &changelogFetcher{pollLoop: pollLoop{cl: cl, log: log, what: "changelog fetch"}, system: system, readCommitted: readCommitted, byTP: map[state.TopicPartition]*standbyRun{}}
}

// add starts fetching run's changelog partitions from the given offsets.
func (f *changelogFetcher) add(run *standbyRun, from map[state.TopicPartition]int64) {
	f.do(func() {
		add := map[string]map[int32]kgo.Offset{}
		for tp, off := range from {
			f.byTP[tp] = run
			if add[tp.Topic] == nil {
				add[tp.Topic] = map[int32]kgo.Offset{}
			}
			add[tp.Topic][tp.Partition] = kgo.NewOffset().At(off)
		}
		f.cl.AddConsumePartitions(add)
	})
}

// remove stops fetching run's changelog partitions.
func (f *changelogFetcher) remove(run *standbyRun) {
	f.do(func() {
		rm := map[string][]int32{}
		for tp, r := range f.byTP {
			if r == run {
				delete(f.byTP, tp)
				rm[tp.Topic] = append(rm[tp.Topic], tp.Partition)
			}
		}
		f.cl.RemoveConsumePartitions(rm)
		f.cl.ResumeFetchPartitions(rm)
	})
}

func (f *changelogFetcher) run(ctx context.Context) { f.pollLoop.run(ctx, f.deliver) }

func (f *changelogFetcher) deliver(p kgo.FetchTopicPartition) {
	tp := state.TopicPartition{Topic: p.Topic, Partition: p.Partition}
	run, ok := f.byTP[tp]
	if !ok {
		return
	}
	end := int64(-1)
	if p.Err == nil {
		end = p.HighWatermark
		if f.readCommitted {
			end = p.LastStableOffset
		}
	}
	if len(p.Records) > 0 {
		run.flow.added(len(p.Records), partition.RecordsBytes(p.Records))
	}
	f.system.Root.Send(run.pid, &changelogBatch{run: run, tp: tp, recs: p.Records, end: end})
}
