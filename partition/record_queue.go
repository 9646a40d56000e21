package partition

import (
	"fmt"
	"runtime/debug"

	"github.com/eddystreams/eddy/state"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

// recordQueue buffers the fetched, not yet processed records of one input
// partition, in offset order. The head record's timestamp is extracted when
// it reaches the head (Kafka Streams' RecordQueue.updateHead), so that the
// partition group can compare heads by event time.
type recordQueue struct {
	tp   state.TopicPartition
	recs []*kgo.Record
	head int

	// extract is the source's timestamp extractor; nil: the record's own.
	extract topology.TimestampExtractor
	// partTime is the partition time: the largest timestamp extracted from
	// this partition so far, -1 before any.
	partTime int64
	// headOK says headTS and headErr hold the extraction of recs[head].
	headOK  bool
	headTS  int64
	headErr error

	// idle.go: what the fetcher last said of the partition, and the
	// wall-clock deadline of waiting for it while it is empty.
	lag         int64 // records on the broker not yet buffered; -1 unknown
	deadline    int64 // milliseconds; valid when hasDeadline
	hasDeadline bool
}

func newRecordQueue(tp state.TopicPartition, extract topology.TimestampExtractor) *recordQueue {
	return &recordQueue{tp: tp, extract: extract, partTime: -1, lag: -1}
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

// headTime extracts the head record's timestamp once. A control record
// (transaction marker) or a record whose extraction failed gives ok false:
// it carries no event time and is taken out at once.
func (q *recordQueue) headTime() (ts int64, ok bool) {
	if !q.headOK {
		q.headOK = true
		q.headTS, q.headErr = q.extractHead()
		if q.headErr == nil && q.headTS > q.partTime {
			q.partTime = q.headTS
		}
	}
	return q.headTS, q.headErr == nil && !q.peek().Attrs.IsControl()
}

// extractHead runs the extractor on the head record. A negative time is an
// error wrapping topology.ErrInvalidTimestamp; a panic in the extractor is
// an error too.
func (q *recordQueue) extractHead() (ts int64, err error) {
	r := q.peek()
	if r.Attrs.IsControl() {
		return -1, nil
	}
	if q.extract == nil {
		ts = r.Timestamp.UnixMilli()
	} else {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("timestamp extractor panicked: %v\n%s", p, debug.Stack())
			}
		}()
		raw := rawRecord(q.tp, r, r.Timestamp.UnixMilli())
		if ts, err = q.extract(&raw, q.partTime); err != nil {
			return -1, fmt.Errorf("timestamp extractor: %w", err)
		}
	}
	if ts < 0 {
		return -1, fmt.Errorf("%w: %d", topology.ErrInvalidTimestamp, ts)
	}
	return ts, nil
}

// pop removes the head record; it returns the extracted timestamp, or the
// extraction error.
func (q *recordQueue) pop() (*kgo.Record, int64, error) {
	q.headTime()
	r, ts, err := q.recs[q.head], q.headTS, q.headErr
	q.recs[q.head] = nil
	q.head++
	q.headOK, q.headErr = false, nil
	return r, ts, err
}

// rawRecord is r as the processors see it, with timestamp ts.
func rawRecord(tp state.TopicPartition, r *kgo.Record, ts int64) topology.RawRecord {
	return topology.RawRecord{Topic: tp.Topic, Partition: tp.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value, Timestamp: ts, Headers: headersOf(r.Headers)}
}

// headersOf converts a Kafka record's headers (nil for none).
func headersOf(hs []kgo.RecordHeader) []topology.Header {
	if len(hs) == 0 {
		return nil
	}
	out := make([]topology.Header, len(hs))
	for i, h := range hs {
		out[i] = topology.Header{Key: h.Key, Value: h.Value}
	}
	return out
}

// partitionGroup chooses which buffered record a task processes next: the
// head with the lowest extracted timestamp across its input partitions
// (Kafka Streams' PartitionGroup), so that records of several inputs
// interleave in event time. Whether the task may take one at all while
// some partition is empty is decided by ready (idle.go).
type partitionGroup struct {
	queues   []*recordQueue
	byTP     map[state.TopicPartition]*recordQueue
	buffered int
	bytes    int64      // RecordsBytes of the buffered records
	idle     idlePolicy // idle.go
}

// newPartitionGroup makes the queues of tps; extractor gives each
// partition's timestamp extractor (nil for none).
func newPartitionGroup(tps []state.TopicPartition, extractor func(topic string) topology.TimestampExtractor) *partitionGroup {
	g := &partitionGroup{byTP: make(map[state.TopicPartition]*recordQueue, len(tps))}
	for _, tp := range tps {
		var ex topology.TimestampExtractor
		if extractor != nil {
			ex = extractor(tp.Topic)
		}
		q := newRecordQueue(tp, ex)
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
	g.bytes += RecordsBytes(rs)
	return true
}

// next pops the record to process next with its extracted timestamp, or
// returns a nil record when all queues are empty. Control records
// (transaction markers) come out like data records so that the consumed
// offset moves past them; they and records whose timestamp could not be
// extracted (err set) come out first, as they take no part in the order.
func (g *partitionGroup) next() (q *recordQueue, r *kgo.Record, ts int64, err error) {
	var best *recordQueue
	var bestTS int64
	for _, q := range g.queues {
		if q.len() == 0 {
			continue
		}
		t, ok := q.headTime()
		if !ok {
			best = q
			break
		}
		if best == nil || t < bestTS {
			best, bestTS = q, t
		}
	}
	if best == nil {
		return nil, nil, -1, nil
	}
	g.buffered--
	r, ts, err = best.pop()
	g.bytes -= recordBytes(r)
	return best, r, ts, err
}

// BufferedBytes is the size of the records waiting to be processed, as
// RecordsBytes counts it.
func (t *Task) BufferedBytes() int64 { return t.queues.bytes }

// RecordsBytes is the size of fetched records that bounds on buffered
// input count: keys, values and headers.
func RecordsBytes(rs []*kgo.Record) int64 {
	var n int64
	for _, r := range rs {
		n += recordBytes(r)
	}
	return n
}

func recordBytes(r *kgo.Record) int64 {
	n := len(r.Key) + len(r.Value)
	for _, h := range r.Headers {
		n += len(h.Key) + len(h.Value)
	}
	return int64(n)
}

// extractors gives the timestamp extractor of each input topic of the
// task's sub-topology.
func extractors(cfg Config) func(topic string) topology.TimestampExtractor {
	if cfg.Subtopology == nil {
		return nil
	}
	return func(topic string) topology.TimestampExtractor {
		return cfg.Subtopology.TimestampExtractor(cfg.ApplicationID, topic)
	}
}
