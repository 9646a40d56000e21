package partition

import (
	"github.com/eddystreams/eddy/state"
	"github.com/twmb/franz-go/pkg/kgo"
)

// recordQueue buffers the fetched, not yet processed records of one input
// partition, in offset order.
type recordQueue struct {
	tp   state.TopicPartition
	recs []*kgo.Record
	head int
}

func (q *recordQueue) len() int { return len(q.recs) - q.head }

func (q *recordQueue) push(rs []*kgo.Record) {
	if q.head > 0 && q.head == len(q.recs) {
		clear(q.recs)
		q.recs, q.head = q.recs[:0], 0
	}
	q.recs = append(q.recs, rs...)
}

func (q *recordQueue) peek() *kgo.Record { return q.recs[q.head] }

func (q *recordQueue) pop() *kgo.Record {
	r := q.recs[q.head]
	q.recs[q.head] = nil
	q.head++
	return r
}

// partitionGroup chooses which buffered record a task processes next: the
// head with the lowest timestamp across its input partitions (Kafka Streams'
// PartitionGroup), so that records of several inputs interleave in event time.
type partitionGroup struct {
	queues   []*recordQueue
	byTP     map[state.TopicPartition]*recordQueue
	buffered int
}

func newPartitionGroup(tps []state.TopicPartition) *partitionGroup {
	g := &partitionGroup{byTP: make(map[state.TopicPartition]*recordQueue, len(tps))}
	for _, tp := range tps {
		q := &recordQueue{tp: tp}
		g.queues = append(g.queues, q)
		g.byTP[tp] = q
	}
	return g
}

func (g *partitionGroup) add(tp state.TopicPartition, rs []*kgo.Record) bool {
	q, ok := g.byTP[tp]
	if !ok {
		return false
	}
	q.push(rs)
	g.buffered += len(rs)
	return true
}

// next pops the record to process next, or returns nil when all queues are
// empty. Control records (transaction markers) come out like data records so
// that the consumed offset moves past them.
func (g *partitionGroup) next() (*recordQueue, *kgo.Record) {
	var best *recordQueue
	for _, q := range g.queues {
		if q.len() == 0 {
			continue
		}
		if best == nil || q.peek().Timestamp.Before(best.peek().Timestamp) {
			best = q
		}
	}
	if best == nil {
		return nil, nil
	}
	g.buffered--
	return best, best.pop()
}
