package actors

import (
	"context"
	"log/slog"
	"sync"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/eddystreams/eddy/partition"
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
//
// For tasks that wait for empty inputs (partition/idle.go) the fetcher also
// reports each partition's lag: the records on the broker past the last one
// handed to the task, from the partition's end (high watermark, or last
// stable offset under read_committed) as seen in fetch responses, or as
// listed when the task started. Lags go out from the fetch loop in order
// with the records, so a task never learns a lag older than its records.
type fetcher struct {
	pollLoop
	system        *actor.ActorSystem
	readCommitted bool
	byTP          map[state.TopicPartition]*runningTask // owned by the loop
	pos           map[state.TopicPartition]*fetchPos    // every partition; owned by the loop

	lagMu sync.Mutex
	lags  map[state.TopicPartition]int64 // last lag of every partition, -1 unknown, for inputLag
}

func newFetcher(cl *kgo.Client, system *actor.ActorSystem, log *slog.Logger, readCommitted bool) *fetcher {
	return &fetcher{pollLoop: pollLoop{cl: cl, log: log, what: "fetch"}, system: system, readCommitted: readCommitted,
		byTP: map[state.TopicPartition]*runningTask{}, pos: map[state.TopicPartition]*fetchPos{},
		lags: map[state.TopicPartition]int64{}}
}

// fetchPos is what the fetcher knows of a partition whose task wants lags.
type fetchPos struct {
	next   int64 // offset after the last record handed to the task; -1 unknown
	end    int64 // largest end offset seen; -1 unknown
	report bool  // the task wants lags (partition.Task.NeedsFetchedLags)
	sent   int64 // last lag reported
}

// lag is the records on the broker not yet handed over, -1 if unknown.
func (p *fetchPos) lag() int64 {
	if p.next < 0 || p.end < 0 {
		return -1
	}
	return max(0, p.end-p.next)
}

// observe takes in a fetched partition: its records and its end.
func (p *fetchPos) observe(fp *kgo.FetchPartition, readCommitted bool) {
	if n := len(fp.Records); n > 0 {
		p.next = fp.Records[n-1].Offset + 1
	}
	if fp.Err != nil {
		return
	}
	if p.next < 0 && fp.LogStartOffset >= 0 {
		// Nothing fetched yet, and p.next would be known had fetching
		// started from a committed offset (add): it started at the log
		// start, and is still there. So an empty partition has lag 0, as
		// Kafka's consumer reports, not an unknown one.
		p.next = fp.LogStartOffset
	}
	end := fp.HighWatermark
	if readCommitted {
		end = fp.LastStableOffset
	}
	p.end = max(p.end, end)
}

// InputOffsets are the log start and end offsets of an input partition, as
// listed when its task starts. End is the high watermark, or the last
// stable offset under read_committed.
type InputOffsets struct {
	Start, End int64
}

// inputLag is the records on the broker past those fetched, summed over
// tps; -1 while any of them is unknown (nothing fetched yet).
func (f *fetcher) inputLag(tps []state.TopicPartition) int64 {
	f.lagMu.Lock()
	defer f.lagMu.Unlock()
	var sum int64
	for _, tp := range tps {
		l, ok := f.lags[tp]
		if !ok || l < 0 {
			return -1
		}
		sum += l
	}
	return sum
}

// inputLags is the last known lag of every input partition fetched now:
// the records on the broker past those fetched.
func (f *fetcher) inputLags() map[state.TopicPartition]int64 {
	f.lagMu.Lock()
	defer f.lagMu.Unlock()
	m := make(map[state.TopicPartition]int64, len(f.lags))
	for tp, l := range f.lags {
		if l >= 0 {
			m[tp] = l
		}
	}
	return m
}

// InputLags is, for every input partition of the node's running tasks
// whose lag is known, the records on the broker past those fetched
// (Kafka's consumer records-lag); a partition not fetched yet is missing.
func (n *Node) InputLags() map[state.TopicPartition]int64 { return n.fetch.inputLags() }

// add starts fetching the inputs of rt from starts (absent: the earliest
// offset). ends are the inputs' offsets (nil: unknown), which report (rt
// needs lags) requires.
func (f *fetcher) add(rt *runningTask, starts map[state.TopicPartition]int64, ends map[state.TopicPartition]InputOffsets, report bool) {
	f.do(func() {
		add := map[string]map[int32]kgo.Offset{}
		var lags map[state.TopicPartition]int64
		for _, tp := range rt.task.Inputs() {
			f.byTP[tp] = rt
			p := &fetchPos{next: -1, end: -1, report: report}
			if e, ok := ends[tp]; ok {
				p.next, p.end = e.Start, e.End
			}
			if off, ok := starts[tp]; ok {
				p.next = max(off, p.next) // below the log start, fetching resets to it
			}
			p.sent = p.lag()
			f.pos[tp] = p
			f.lagMu.Lock()
			f.lags[tp] = p.sent
			f.lagMu.Unlock()
			if p.report {
				if lags == nil {
					lags = map[state.TopicPartition]int64{}
				}
				lags[tp] = p.sent
			}
			o := kgo.NewOffset().AtStart()
			if off, ok := starts[tp]; ok {
				o = kgo.NewOffset().At(off)
			}
			if add[tp.Topic] == nil {
				add[tp.Topic] = map[int32]kgo.Offset{}
			}
			add[tp.Topic][tp.Partition] = o
		}
		if lags != nil {
			f.system.Root.Send(rt.pid, &fetchedLags{rt: rt, lags: lags})
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
				delete(f.pos, tp)
				f.lagMu.Lock()
				delete(f.lags, tp)
				f.lagMu.Unlock()
				rm[tp.Topic] = append(rm[tp.Topic], tp.Partition)
			}
		}
		f.cl.RemoveConsumePartitions(rm)
		f.cl.ResumeFetchPartitions(rm) // a paused partition must not stay paused for its next owner
	})
}

func (f *fetcher) run(ctx context.Context) { f.pollLoop.run(ctx, f.deliver) }

// deliver hands a fetched partition's records to its task, with the lag
// after them; a partition without records only updates a changed lag.
func (f *fetcher) deliver(p kgo.FetchTopicPartition) {
	tp := state.TopicPartition{Topic: p.Topic, Partition: p.Partition}
	rt, ok := f.byTP[tp]
	if !ok {
		return // removed; its next owner fetches from the last commit
	}
	pos := f.pos[tp]
	pos.observe(&p.FetchPartition, f.readCommitted)
	lag := pos.lag()
	f.lagMu.Lock()
	f.lags[tp] = lag
	f.lagMu.Unlock()
	if !pos.report {
		lag = -1 // not sent: the task does not wait on lags
	}
	if len(p.Records) == 0 {
		if pos.report && lag != pos.sent {
			pos.sent = lag
			f.system.Root.Send(rt.pid, &fetchedLags{rt: rt, lags: map[state.TopicPartition]int64{tp: lag}})
		}
		return
	}
	pos.sent = lag
	// Counted before the task can take them, so the counts never go
	// below zero and a pause comes before the task sees the records.
	rt.flow.added(len(p.Records), partition.RecordsBytes(p.Records))
	f.system.Root.Send(rt.pid, &recordBatch{rt: rt, tp: tp, recs: p.Records, lag: lag, hasLag: pos.report})
}
