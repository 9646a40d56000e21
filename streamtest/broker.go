package streamtest

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/state"
	"github.com/twmb/franz-go/pkg/kgo"
)

// restoreBatch is how many changelog records one apply call of a restore
// gets, so that restoration goes through several batches as it does from
// Kafka.
const restoreBatch = 512

// broker stands in for Kafka: in-memory topics whose partitions assign
// offsets from 0. It is the tasks' Producer (sends succeed at once and the
// promise runs before Produce returns) and their ChangelogReader. It outlives
// the tasks, so a restarted task restores from what the old one wrote.
type broker struct {
	partitions func(topic string) int32 // fixed for the driver's lifetime

	mu       sync.Mutex
	topics   map[string]*memTopic
	arrivals []*kgo.Record   // every record of every topic, in append order
	produced map[string]bool // topics the tasks sent to

	// Transactions (txn.go): the transaction of each record sent in one,
	// the epoch of each transactional id and its open transaction.
	txnOf   map[*kgo.Record]*memTxn
	epochs  map[string]int
	openTxn map[string]*memTxn
}

// memTopic is one topic's records, by partition and in append order.
type memTopic struct {
	parts [][]*kgo.Record
	log   []*kgo.Record // every partition, in the order records arrived
}

var (
	_ partition.Producer        = (*broker)(nil)
	_ partition.ChangelogReader = (*broker)(nil)
)

func newBroker(partitions func(string) int32) *broker {
	return &broker{partitions: partitions, topics: map[string]*memTopic{}, produced: map[string]bool{},
		txnOf: map[*kgo.Record]*memTxn{}, epochs: map[string]int{}, openTxn: map[string]*memTxn{}}
}

// topic returns the named topic, creating it with its partition count the
// first time. b.mu must be held.
func (b *broker) topic(name string) *memTopic {
	t, ok := b.topics[name]
	if !ok {
		t = &memTopic{parts: make([][]*kgo.Record, b.partitions(name))}
		b.topics[name] = t
	}
	return t
}

// append stores a copy of a record at the end of its partition and returns
// the copy, which has its offset. The caller's slices are copied, as a
// broker would: a sender may reuse them afterwards.
func (b *broker) append(topic string, p int32, key, value []byte, ts time.Time, headers []kgo.RecordHeader) (*kgo.Record, error) {
	if topic == "" {
		return nil, fmt.Errorf("append to a topic with an empty name")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.topic(topic)
	if p < 0 || int(p) >= len(t.parts) {
		return nil, fmt.Errorf("topic %s has %d partitions, no partition %d", topic, len(t.parts), p)
	}
	r := &kgo.Record{
		Topic:     topic,
		Partition: p,
		Offset:    int64(len(t.parts[p])),
		Key:       bytes.Clone(key),
		Value:     bytes.Clone(value),
		Timestamp: ts,
	}
	if len(headers) > 0 {
		r.Headers = make([]kgo.RecordHeader, len(headers))
		for i, h := range headers {
			r.Headers[i] = kgo.RecordHeader{Key: h.Key, Value: bytes.Clone(h.Value)}
		}
	}
	t.parts[p] = append(t.parts[p], r)
	t.log = append(t.log, r)
	b.arrivals = append(b.arrivals, r)
	return r, nil
}

// Produce implements partition.Producer: the record is appended and the
// promise called with its offset before Produce returns.
func (b *broker) Produce(ctx context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	b.produceIn(ctx, r, nil, promise)
}

// produceIn appends r, in transaction txn when there is one.
func (b *broker) produceIn(ctx context.Context, r *kgo.Record, txn *memTxn, promise func(*kgo.Record, error)) {
	if err := ctx.Err(); err != nil {
		promise(r, err)
		return
	}
	stored, err := b.append(r.Topic, r.Partition, r.Key, r.Value, r.Timestamp, r.Headers)
	if err != nil {
		promise(r, err)
		return
	}
	b.mu.Lock()
	b.produced[r.Topic] = true
	if txn != nil {
		b.txnOf[stored] = txn
	}
	b.mu.Unlock()
	r.Offset = stored.Offset
	promise(r, nil)
}

// initTxnID starts a new epoch of a transactional id, aborting the open
// transaction of the previous one; first says the id was unused.
func (b *broker) initTxnID(id string) (epoch int, first bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, used := b.epochs[id]
	if t := b.openTxn[id]; t != nil {
		t.state = txnAborted
		delete(b.openTxn, id)
	}
	b.epochs[id] = e + 1
	return e + 1, !used
}

func (b *broker) txnEpoch(id string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.epochs[id]
}

func (b *broker) beginTxn(id string) *memTxn {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := &memTxn{state: txnOpen}
	b.openTxn[id] = t
	return t
}

// endTxn commits or aborts t (nil: nothing was produced in it).
func (b *broker) endTxn(id string, t *memTxn, to txnState) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if t != nil {
		t.state = to
	}
	if b.openTxn[id] == t {
		delete(b.openTxn, id)
	}
}

// visibility says whether a read_committed reader sees r (visible), must
// wait for it (open: its transaction is open, and so is everything after
// it, as the last stable offset), or passes over it (aborted). b.mu must be
// held.
func (b *broker) visibility(r *kgo.Record) txnState {
	t, ok := b.txnOf[r]
	if !ok {
		return txnCommitted
	}
	return t.state
}

// visibilityOf is visibility for callers not holding b.mu.
func (b *broker) visibilityOf(r *kgo.Record) txnState {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.visibility(r)
}

// stable returns the records of recs up to the first one in an open
// transaction, without aborted ones.
func (b *broker) stable(recs []*kgo.Record) []*kgo.Record {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []*kgo.Record
	for _, r := range recs {
		switch b.visibility(r) {
		case txnOpen:
			return out
		case txnCommitted:
			out = append(out, r)
		}
	}
	return out
}

// Restore implements partition.ChangelogReader: it applies the records of tp
// from offset from to until (negative: the current end).
func (b *broker) Restore(ctx context.Context, tp state.TopicPartition, from, until int64, apply func([]*kgo.Record) error) (int64, error) {
	if end := b.end(tp); from > end {
		return from, &partition.ChangelogBehindError{TP: tp, From: from, End: end}
	}
	recs := b.stable(b.fetch(tp, from))
	if until >= 0 {
		for i, r := range recs {
			if r.Offset >= until {
				recs = recs[:i]
				break
			}
		}
	}
	next := from
	for len(recs) > 0 {
		if err := ctx.Err(); err != nil {
			return next, err
		}
		n := min(len(recs), restoreBatch)
		if err := apply(recs[:n]); err != nil {
			return next, err
		}
		next = recs[n-1].Offset + 1
		recs = recs[n:]
	}
	return next, nil
}

// end is the offset after the last record of tp.
func (b *broker) end(tp state.TopicPartition) int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	if t, ok := b.topics[tp.Topic]; ok && tp.Partition >= 0 && int(tp.Partition) < len(t.parts) {
		return int64(len(t.parts[tp.Partition]))
	}
	return 0
}

// fetch returns the records of tp from offset from on. They are shared:
// nobody may modify them.
func (b *broker) fetch(tp state.TopicPartition, from int64) []*kgo.Record {
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.topics[tp.Topic]
	if !ok || int(tp.Partition) >= len(t.parts) || tp.Partition < 0 {
		return nil
	}
	p := t.parts[tp.Partition]
	if from < 0 {
		from = 0
	}
	if from >= int64(len(p)) {
		return nil
	}
	return p[from:len(p):len(p)]
}

// arrivedSince returns the records appended to any topic after the first i,
// in append order. They are shared: nobody may modify them.
func (b *broker) arrivedSince(i int) []*kgo.Record {
	b.mu.Lock()
	defer b.mu.Unlock()
	if i >= len(b.arrivals) {
		return nil
	}
	return b.arrivals[i:len(b.arrivals):len(b.arrivals)]
}

// at returns the i-th record to arrive in topic, across partitions, and
// how a read_committed reader sees it.
func (b *broker) at(topic string, i int) (*kgo.Record, txnState, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.topics[topic]
	if !ok || i >= len(t.log) {
		return nil, 0, false
	}
	return t.log[i], b.visibility(t.log[i]), true
}

// readable counts the records of topic from the i-th on that a
// read_committed reader sees now: up to the first one in an open
// transaction, without aborted ones.
func (b *broker) readable(topic string, i int) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.topics[topic]
	if !ok {
		return 0
	}
	n := 0
	for ; i < len(t.log); i++ {
		switch b.visibility(t.log[i]) {
		case txnOpen:
			return n
		case txnCommitted:
			n++
		}
	}
	return n
}

// size is the number of records in topic, across partitions.
func (b *broker) size(topic string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if t, ok := b.topics[topic]; ok {
		return len(t.log)
	}
	return 0
}

// producedTopics lists the topics the tasks sent records to, sorted.
func (b *broker) producedTopics() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	names := make([]string, 0, len(b.produced))
	for n := range b.produced {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
