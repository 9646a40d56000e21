package partition

import (
	"context"
	"errors"
	"fmt"
	"github.com/eddystreams/eddy/internal/authz"
	"sync"
	"time"

	"github.com/eddystreams/eddy/state"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Producer is the part of a Kafka client a task sends through; *kgo.Client
// implements it. The promise may be called from another goroutine.
type Producer interface {
	Produce(ctx context.Context, r *kgo.Record, promise func(*kgo.Record, error))
}

// PartitionCounter tells how many partitions a topic has.
type PartitionCounter func(topic string) (int32, error)

// RecordCollector sends a task's records and keeps track of what is still in
// flight, so that a commit can wait until everything the task sent is
// acknowledged. It also remembers the offsets of the task's changelog records,
// which go into the task's checkpoint.
type RecordCollector struct {
	ctx        context.Context
	producer   Producer
	partitions PartitionCounter
	nullKey    uint32 // round-robin counter for records without a key

	// onFailure decides on a record Kafka refused: nil drops it (the
	// production error handler chose to go on), else the sticky error.
	// changelog is set for tracked sends (a store's changelog records),
	// which must never be dropped.
	onFailure func(r *kgo.Record, err error, changelog bool) error

	mu       sync.Mutex
	dlq      []*kgo.Record // dead letters queued by onFailure, sent by Flush
	pending  int
	drained  chan struct{}
	err      error
	tracked  map[state.TopicPartition]int64 // next offset after the last acked record
	countBuf map[string]int32

	// The promises of sends, made once rather than per record.
	doneTracked, doneUntracked func(*kgo.Record, error)
}

// NewRecordCollector makes a collector sending through p. ctx bounds every
// send (cancel it when the task closes).
func NewRecordCollector(ctx context.Context, p Producer, partitions PartitionCounter) *RecordCollector {
	c := &RecordCollector{ctx: ctx, producer: p, partitions: partitions,
		tracked: map[state.TopicPartition]int64{}, countBuf: map[string]int32{}}
	c.doneTracked = func(r *kgo.Record, err error) { c.done(r, err, true) }
	c.doneUntracked = func(r *kgo.Record, err error) { c.done(r, err, false) }
	return c
}

func (c *RecordCollector) partitionCount(topic string) (int32, error) {
	if n, ok := c.countBuf[topic]; ok {
		return n, nil
	}
	n, err := c.partitions(topic)
	if err != nil {
		return 0, err
	}
	if n <= 0 {
		return 0, fmt.Errorf("topic %q has no partitions", topic)
	}
	c.countBuf[topic] = n
	return n, nil
}

// Send writes a record to topic, choosing the partition as Kafka's default
// partitioner does for keyed records (murmur2); records without a key go
// round-robin.
func (c *RecordCollector) Send(topic string, key, value []byte, ts int64, headers []topology.Header) error {
	n, err := c.partitionCount(topic)
	if err != nil {
		return fmt.Errorf("send to %s: %w", topic, err)
	}
	var p int32
	if key == nil {
		p = int32(c.nullKey % uint32(n))
		c.nullKey++
	} else {
		p = KeyPartition(key, n)
	}
	return c.SendTo(topic, p, key, value, ts, headers, false)
}

// SendTo writes a record to one partition. With track set, the offset of the
// record is remembered once acknowledged (changelog records).
func (c *RecordCollector) SendTo(topic string, partition int32, key, value []byte, ts int64, headers []topology.Header, track bool) error {
	c.mu.Lock()
	if err := c.err; err != nil {
		c.mu.Unlock()
		return err
	}
	c.pending++
	c.mu.Unlock()
	r := &kgo.Record{Topic: topic, Partition: partition, Key: key, Value: value, Timestamp: time.UnixMilli(ts)}
	if len(headers) > 0 {
		r.Headers = make([]kgo.RecordHeader, len(headers))
		for i, h := range headers {
			r.Headers[i] = kgo.RecordHeader{Key: h.Key, Value: h.Value}
		}
	}
	promise := c.doneUntracked
	if track {
		promise = c.doneTracked
	}
	c.producer.Produce(c.ctx, r, promise)
	return nil
}

// SendChangelog implements ChangelogWriter: a store's change, tracked.
func (c *RecordCollector) SendChangelog(tp state.TopicPartition, key, value []byte, ts int64) error {
	return c.SendTo(tp.Topic, tp.Partition, key, value, ts, nil, true)
}

var _ ChangelogWriter = (*RecordCollector)(nil)

func (c *RecordCollector) done(r *kgo.Record, err error, track bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil && c.err == nil {
		err = classifyProduceErr(authz.Wrap(fmt.Errorf("produce to %s-%d: %w", r.Topic, r.Partition, err), authz.Topic, r.Topic, "Write"))
		if c.onFailure != nil {
			c.mu.Unlock()
			err = c.onFailure(r, err, track)
			c.mu.Lock()
		}
		if err != nil && c.err == nil {
			c.err = err
		}
	}
	if err == nil && track {
		tp := state.TopicPartition{Topic: r.Topic, Partition: r.Partition}
		if next := r.Offset + 1; next > c.tracked[tp] {
			c.tracked[tp] = next
		}
	}
	c.pending--
	if c.pending == 0 && c.drained != nil {
		close(c.drained)
		c.drained = nil
	}
}

// Flush waits until every record sent so far is acknowledged, and returns the
// first send error, if any. Errors are sticky: once a send failed the task
// must not commit.
func (c *RecordCollector) Flush(ctx context.Context) error {
	for {
		c.mu.Lock()
		if c.pending == 0 && len(c.dlq) > 0 && c.err == nil {
			dlq := c.dlq
			c.dlq = nil
			c.mu.Unlock()
			for _, r := range dlq {
				hs := make([]topology.Header, len(r.Headers))
				for i, h := range r.Headers {
					hs[i] = topology.Header{Key: h.Key, Value: h.Value}
				}
				if err := c.Send(r.Topic, r.Key, r.Value, r.Timestamp.UnixMilli(), hs); err != nil {
					return err
				}
			}
			continue
		}
		if c.pending == 0 {
			err := c.err
			c.mu.Unlock()
			return err
		}
		if c.drained == nil {
			c.drained = make(chan struct{})
		}
		ch := c.drained
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return &RecoverableError{Err: fmt.Errorf("flush records: %w", ctx.Err())}
		}
	}
}

// deadLetter queues a record for the dead-letter topic; Flush sends it.
func (c *RecordCollector) deadLetter(r *kgo.Record) {
	c.mu.Lock()
	c.dlq = append(c.dlq, r)
	c.mu.Unlock()
}

// Track sets the known next offset of a changelog partition (after restore).
func (c *RecordCollector) Track(tp state.TopicPartition, next int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if next > c.tracked[tp] {
		c.tracked[tp] = next
	}
}

// Tracked returns the next offsets of the tracked (changelog) partitions.
func (c *RecordCollector) Tracked() map[state.TopicPartition]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := make(map[state.TopicPartition]int64, len(c.tracked))
	for k, v := range c.tracked {
		m[k] = v
	}
	return m
}

// classifyProduceErr marks a failed send: fencing stops the task for good,
// errors Kafka calls retriable (and timeouts) let it restart from its last
// commit, anything else (a record too large, no authorization) is fatal.
func classifyProduceErr(err error) error {
	var ke *kerr.Error
	switch {
	case isFenced(err):
		return fmt.Errorf("%w: %w", ErrFenced, err)
	case errors.As(err, &ke) && ke.Retriable, errors.Is(err, context.DeadlineExceeded), errors.Is(err, kgo.ErrRecordTimeout):
		return &RecoverableError{Err: err}
	}
	return err
}
