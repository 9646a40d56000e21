package offsets

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/eddystreams/eddy/internal/kretry"
	"github.com/eddystreams/eddy/state"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// committedOffset is one partition's committed offset (-1: none) and the
// metadata stored with it.
type committedOffset struct {
	at       int64
	metadata string
}

// fetchCommitted reads the application's committed offsets of tps, and of
// no other partition. Stable: a transactional offset commit to one of them
// that is still pending is waited for, else a commit in flight would be read
// as not made. Only tps: a pending commit to another partition — by the
// transaction of a task whose new owner has not fenced its predecessor yet,
// which the broker ends only at the transaction timeout — must not hold up
// a task that is already fenced. (A fetch of the whole group waits for every
// pending commit in it.)
//
// A task about to start passes abortPending: called when the offsets stay
// unstable for a few seconds after the task fenced its predecessors, it ends
// the commits they left pending. Nothing else can: the coordinator ends a
// pending commit when its producer ends a transaction with the group in it,
// and a commit that reached the broker after its transaction had ended (seen
// after broker restarts) is known to no coordinator.
func (r *Reader) fetchCommitted(ctx context.Context, tps []state.TopicPartition, abortPending func(context.Context) error) (map[state.TopicPartition]committedOffset, error) {
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = r.Group
	req.RequireStable = true
	idx := map[string]int{}
	for _, tp := range tps {
		i, ok := idx[tp.Topic]
		if !ok {
			i = len(req.Topics)
			idx[tp.Topic] = i
			t := kmsg.NewOffsetFetchRequestTopic()
			t.Topic = tp.Topic
			req.Topics = append(req.Topics, t)
		}
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, tp.Partition)
	}
	out := make(map[state.TopicPartition]committedOffset, len(tps))
	if len(tps) == 0 {
		return out, nil
	}
	var unstableSince, acted time.Time
	err := kretry.Do(ctx, func() error {
		err := r.fetchCommittedOnce(ctx, req, out)
		if !errors.Is(err, kerr.UnstableOffsetCommit) {
			return err
		}
		now := time.Now()
		if unstableSince.IsZero() {
			unstableSince, acted = now, now
		}
		switch {
		case abortPending != nil && now.Sub(acted) > pendingOffsetsGrace:
			acted = now
			r.Log.Warn("committed offsets of a task stay pending after it fenced its predecessors; aborting their commits",
				"for", now.Sub(unstableSince).Round(time.Millisecond), "error", err, "transactions", r.describePending(ctx))
			if aerr := abortPending(ctx); aerr != nil {
				// Not joined with err: that is retriable and would hide
				// a failure that is not (a fenced producer).
				return fmt.Errorf("abort pending offset commits: %w", aerr)
			}
		case abortPending == nil && now.Sub(acted) > r.TxnTimeout/2:
			// A running task's commit ends by itself, at the latest at the
			// transaction timeout; say which one holds it when it lasts.
			acted = now
			r.Log.Warn("committed offsets stay pending", "for", now.Sub(unstableSince).Round(time.Second),
				"error", err, "transactions", r.describePending(ctx))
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// pendingOffsetsGrace is how long a starting task waits for unstable
// committed offsets to clear by themselves (the markers of the transaction
// its fencing aborted being applied) before it aborts its predecessors'
// pending commits.
const pendingOffsetsGrace = 3 * time.Second

func (r *Reader) fetchCommittedOnce(ctx context.Context, req *kmsg.OffsetFetchRequest, out map[state.TopicPartition]committedOffset) error {
	resp, err := req.RequestWith(ctx, r.Client)
	if err != nil {
		return err
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return err
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return fmt.Errorf("%s-%d: %w", t.Topic, p.Partition, err)
			}
			md := ""
			if p.Metadata != nil {
				md = *p.Metadata
			}
			out[state.TopicPartition{Topic: t.Topic, Partition: p.Partition}] = committedOffset{at: p.Offset, metadata: md}
		}
	}
	return nil
}
