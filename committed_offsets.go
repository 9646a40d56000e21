package eddy

import (
	"context"
	"errors"
	"fmt"
	"time"

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
func (a *App) fetchCommitted(ctx context.Context, tps []state.TopicPartition) (map[state.TopicPartition]committedOffset, error) {
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = a.cfg.appID
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
	var unstableSince, reported time.Time
	err := retriable(ctx, func() error {
		err := a.fetchCommittedOnce(ctx, req, out)
		if !errors.Is(err, kerr.UnstableOffsetCommit) {
			return err
		}
		// A pending commit clears when its transaction ends, at the latest
		// at the transaction timeout. Say which one holds it when it lasts.
		now := time.Now()
		if unstableSince.IsZero() {
			unstableSince = now
		}
		if now.Sub(unstableSince) > a.cfg.txnTimeout/2 && now.Sub(reported) > a.cfg.txnTimeout/2 {
			reported = now
			a.log.Warn("committed offsets stay pending", "for", now.Sub(unstableSince).Round(time.Second),
				"error", err, "transactions", a.describePendingOffsets(ctx))
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (a *App) fetchCommittedOnce(ctx context.Context, req *kmsg.OffsetFetchRequest, out map[state.TopicPartition]committedOffset) error {
	resp, err := req.RequestWith(ctx, a.adminCl)
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
