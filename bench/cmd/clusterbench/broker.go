package main

import (
	"context"

	"github.com/eddystreams/eddy/bench/internal/benchkafka"
)

// broker is the benchmark's own Kafka broker (on -port), with the questions
// only clusterbench asks of it.
type broker struct{ *benchkafka.Broker }

// groupLag is how many records of topic the group has not committed yet.
func (b *broker) groupLag(ctx context.Context, group, topic string) (int64, error) {
	ends, err := b.EndOffsets(ctx, topic, false)
	if err != nil {
		return 0, err
	}
	committed, err := b.Committed(ctx, group, topic, ends)
	if err != nil {
		return 0, err
	}
	var lag int64
	for p, end := range ends {
		// Under exactly-once the end is past the last commit marker,
		// which no commit covers; a lag of a marker or two is caught up.
		if c := committed[p]; end-c > 2 {
			lag += end - c
		}
	}
	return lag, nil
}

// producerIDs returns the producer id of each transactional id that has one.
func (b *broker) producerIDs(ctx context.Context, txnIDs []string) (map[string]int64, error) {
	ds, err := b.Admin.DescribeTransactions(ctx, txnIDs...)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for id, d := range ds {
		if d.Err == nil && d.ProducerID >= 0 {
			out[id] = d.ProducerID
		}
	}
	return out, nil
}
