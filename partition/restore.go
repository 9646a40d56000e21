package partition

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/eddystreams/eddy/state"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ChangelogReader reads a changelog partition from an offset up to its end
// (the last stable offset: restoration reads committed data only).
type ChangelogReader interface {
	// Restore calls apply with batches of records of tp from offset from
	// up to offset until (exclusive; negative: the end as of the call), and
	// returns the offset after the last record or marker read. Control
	// records are not passed to apply. From past the end is a
	// *ChangelogBehindError.
	Restore(ctx context.Context, tp state.TopicPartition, from, until int64, apply func([]*kgo.Record) error) (int64, error)
}

// ChangelogBehindError is returned by a ChangelogReader asked to read from
// an offset past the partition's end: the partition lost records a reader
// had seen (the topic was deleted and made again, or truncated).
type ChangelogBehindError struct {
	TP        state.TopicPartition
	From, End int64
}

func (e *ChangelogBehindError) Error() string {
	return fmt.Sprintf("changelog %s ends at offset %d, before the offset %d to read from (was it deleted and made again?)", e.TP, e.End, e.From)
}

// KafkaChangelogReader restores from Kafka with a short-lived consumer per
// partition.
type KafkaChangelogReader struct {
	Opts  []kgo.Opt // connection options (seed brokers, ...)
	Admin *kadm.Client
	// FetchMaxBytes bounds one fetch of a restore (the consumer buffers
	// about two). Tasks restore a few at a time, so a node holds that many
	// times as much. Default 0: 64 MiB.
	FetchMaxBytes int32
}

// endOffset is the last stable offset of tp. A topic created moments ago may
// not be in the metadata the client answers from yet (franz-go keeps it for
// up to a few seconds), so a missing partition is asked again until ctx ends.
func (k *KafkaChangelogReader) endOffset(ctx context.Context, tp state.TopicPartition) (kadm.ListedOffset, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	backoff := 50 * time.Millisecond
	for {
		ends, err := k.Admin.ListCommittedOffsets(ctx, tp.Topic)
		if err != nil {
			return kadm.ListedOffset{}, fmt.Errorf("list end offsets of %s: %w", tp.Topic, err)
		}
		end, ok := ends.Lookup(tp.Topic, tp.Partition)
		if ok && end.Err == nil {
			return end, nil
		}
		if ok && !errors.Is(end.Err, kerr.UnknownTopicOrPartition) && !errors.Is(end.Err, kerr.LeaderNotAvailable) && !errors.Is(end.Err, kerr.NotLeaderForPartition) {
			return end, fmt.Errorf("end offset of %s-%d: %w", tp.Topic, tp.Partition, end.Err)
		}
		select {
		case <-ctx.Done():
			return end, fmt.Errorf("end offset of %s-%d: partition not found (%v): %w", tp.Topic, tp.Partition, end.Err, ctx.Err())
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}

// Restore implements ChangelogReader.
func (k *KafkaChangelogReader) Restore(ctx context.Context, tp state.TopicPartition, from, until int64, apply func([]*kgo.Record) error) (int64, error) {
	end, err := k.endOffset(ctx, tp)
	if err != nil {
		return 0, err
	}
	starts, err := k.Admin.ListStartOffsets(ctx, tp.Topic)
	if err != nil {
		return 0, fmt.Errorf("list start offsets of %s: %w", tp.Topic, err)
	}
	// A checkpoint written right after an exactly-once commit may be
	// ahead of the read-committed end for a moment: the broker writes
	// the transaction's markers after it answered the commit. Only an end
	// that stays behind means the changelog is not the one the store
	// matches.
	for wait := 20 * time.Millisecond; from > end.Offset && wait <= time.Second; wait *= 2 {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(wait):
		}
		if end, err = k.endOffset(ctx, tp); err != nil {
			return 0, err
		}
	}
	if from > end.Offset {
		return from, &ChangelogBehindError{TP: tp, From: from, End: end.Offset}
	}
	if s, ok := starts.Lookup(tp.Topic, tp.Partition); ok && s.Err == nil && s.Offset > from {
		from = s.Offset
	}
	if until >= 0 && until < end.Offset {
		end.Offset = until
	}
	if from >= end.Offset {
		return from, nil
	}
	trace := restoreTraceOf(ctx)
	if trace != nil {
		trace.start(from, end.Offset)
	}
	opts := append(append([]kgo.Opt(nil), k.Opts...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{tp.Topic: {tp.Partition: kgo.NewOffset().At(from)}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		kgo.FetchMaxBytes(cmp.Or(k.FetchMaxBytes, 64<<20)),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return 0, fmt.Errorf("restore client: %w", err)
	}
	defer cl.Close()
	next := from
	batch := make([]*kgo.Record, 0, 4096)
	for next < end.Offset {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return next, err
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) { ferr = fmt.Errorf("fetch %s-%d: %w", t, p, err) })
		if ferr != nil {
			return next, ferr
		}
		batch = batch[:0]
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset >= end.Offset {
				// Past the end: what was before it is gone (compacted
				// away, or aborted and filtered out).
				next = max(next, end.Offset)
				return
			}
			next = r.Offset + 1
			if !r.Attrs.IsControl() {
				batch = append(batch, r)
			}
		})
		if len(batch) > 0 {
			if err := apply(batch); err != nil {
				return next, err
			}
		}
		if trace != nil && len(batch) > 0 {
			trace.batch(next, len(batch))
		}
	}
	return next, nil
}

// applyToStore writes changelog records to a store's engine, in one batch
// when the engine supports it.
func applyToStore(s topology.KeyValueStore, recs []*kgo.Record) error {
	if bw, ok := s.(topology.BatchWriter); ok {
		kvs := make([]topology.KeyValue, len(recs))
		for i, r := range recs {
			kvs[i] = topology.KeyValue{Key: r.Key, Value: r.Value}
		}
		return bw.WriteBatch(kvs)
	}
	for _, r := range recs {
		if err := s.Put(r.Key, r.Value); err != nil {
			return err
		}
	}
	return nil
}
