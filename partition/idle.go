package partition

import (
	"github.com/eddystreams/eddy/state"
)

// Task idling follows Kafka Streams' max.task.idle.ms as KIP-695 defined
// it (PartitionGroup.readyToProcess). A task reading several partitions
// takes the buffered head with the lowest timestamp; while one of its
// partitions has nothing buffered, the next record there might be earlier
// than every buffered one. So, unless idling is off, a task does not
// process while some partition is empty and:
//
//   - its lag is not known (the fetcher has not reported on it yet), or
//   - its lag is above 0: records are on the broker and are being fetched,
//   - or its lag is 0 and it has been empty for less than MaxTaskIdle of
//     wall-clock time (the wait for producers to send more; 0 waits for
//     nothing but data already in Kafka).
//
// When every empty partition is past its deadline the task processes
// ("enforced processing"); the deadline is forgotten once the partition
// has records again or its lag is above 0. With all input already in
// Kafka, the default (MaxTaskIdle 0) makes the interleaving of several
// inputs depend on timestamps only, not on how fetches happened to arrive.
//
// The lag is what the fetcher reports (UpdateFetchedLag): the records on
// the broker past the last one it handed to the task (up to the last
// stable offset under read_committed). It is reported in order with the
// records, so a task never sees a lag older than the records it holds.

// idlePolicy is a task's idling configuration, in milliseconds.
type idlePolicy struct {
	wait    bool  // false: never wait (Kafka Streams' -1)
	maxIdle int64 // how long to wait for a caught-up empty partition
}

// ready reports whether the task may process a buffered record at
// wall-clock time now (milliseconds). Deadlines of caught-up empty
// partitions start at the first call that finds them empty.
func (g *partitionGroup) ready(now int64) bool {
	if !g.idle.wait || g.buffered == 0 {
		return g.buffered > 0
	}
	for _, q := range g.queues {
		if q.len() > 0 {
			q.hasDeadline = false
			continue
		}
		if q.lag != 0 { // unknown, or data on the broker
			q.hasDeadline = false
			return false
		}
		if !q.hasDeadline {
			q.deadline, q.hasDeadline = now+g.idle.maxIdle, true
		}
		if now < q.deadline {
			return false
		}
	}
	return true // every empty partition is past its deadline
}

// starved lists the empty partitions the task waits for because records
// are (or may be) on the broker: their fetching must not stay paused.
func (g *partitionGroup) starved() []state.TopicPartition {
	if !g.idle.wait {
		return nil
	}
	var out []state.TopicPartition
	for _, q := range g.queues {
		if q.len() == 0 && q.lag != 0 {
			out = append(out, q.tp)
		}
	}
	return out
}

// setLag records the fetcher's lag of tp (-1: unknown).
func (g *partitionGroup) setLag(tp state.TopicPartition, lag int64) bool {
	q, ok := g.byTP[tp]
	if !ok {
		return false
	}
	if lag < 0 {
		lag = -1
	}
	q.lag = lag
	return true
}

// UpdateFetchedLag tells the task how many records of its input partition
// tp are on the broker past those handed to it so far (-1: unknown). The
// fetcher calls it in order with AddRecords. It returns false if tp is not
// an input.
func (t *Task) UpdateFetchedLag(tp state.TopicPartition, lag int64) bool {
	return t.queues.setLag(tp, lag)
}

// NeedsFetchedLags reports whether the task waits for empty inputs and so
// needs UpdateFetchedLag: it reads several partitions and idling is on.
func (t *Task) NeedsFetchedLags() bool {
	return t.cfg.WaitForInputs && len(t.cfg.Inputs) > 1
}

// WaitingForInput reports whether the last Process stopped with records
// buffered because the task waits for an empty input partition. Safe from
// any goroutine.
func (t *Task) WaitingForInput() bool { return t.idling.Load() }

// StarvedInputs lists the empty input partitions the task waits for with
// data on the broker (or not known yet): fetching them must go on even
// while the task's other partitions are paused for holding too much.
func (t *Task) StarvedInputs() []state.TopicPartition { return t.queues.starved() }
