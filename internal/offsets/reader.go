package offsets

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/eddystreams/eddy/actors"
	"github.com/eddystreams/eddy/internal/kretry"
	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/state"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Reader reads an application's committed offsets and its inputs' offsets.
type Reader struct {
	Client *kgo.Client // any client of the cluster
	Group  string      // the application id
	Log    *slog.Logger
	// TxnTimeout is the tasks' transaction timeout: offsets pending for
	// half of it are logged with what holds them.
	TxnTimeout time.Duration
	// ReadCommitted says inputs are read read_committed: their end is the
	// last stable offset.
	ReadCommitted bool
}

func (r *Reader) admin() *kadm.Client { return kadm.NewClient(r.Client) }

// Committed returns what was committed for a task's input partitions: the
// next offsets to read (absent partitions start at the earliest offset)
// and the task's commit point (partition.NewCommitPoint). abortPending, when
// set, is called if the offsets stay unstable after the task fenced its
// predecessors (see fetchCommitted).
func (r *Reader) Committed(ctx context.Context, tps []state.TopicPartition, abortPending func(context.Context) error) (map[state.TopicPartition]int64, partition.CommitPoint, error) {
	out := map[state.TopicPartition]int64{}
	cp := partition.CommitPoint{StreamTime: state.UnknownStreamTime}
	resp, err := r.fetchCommitted(ctx, tps, abortPending)
	if errors.Is(err, kerr.GroupIDNotFound) {
		return out, cp, nil // nothing committed yet
	}
	if err != nil {
		return nil, cp, err
	}
	// Every commit of a task writes to all its consumed partitions, whole
	// or split across them: they are read together.
	committed := map[state.TopicPartition]partition.CommittedOffset{}
	for _, tp := range tps {
		o, ok := resp[tp]
		if !ok {
			continue
		}
		if o.at >= 0 {
			out[tp] = o.at
		}
		// An offset of -1 carries the release of a task that never
		// consumed (partition.Task.Release): its metadata is read too.
		committed[tp] = partition.CommittedOffset{Offset: o.at, Metadata: o.metadata}
	}
	cp, err = partition.NewCommitPoint(committed)
	if err != nil {
		return nil, cp, err
	}
	return out, cp, nil
}

// InputOffsets lists the start and end offsets of input partitions, for
// tasks that wait for empty inputs (WithMaxTaskIdle). Under read_committed
// the end is the last stable offset.
func (r *Reader) InputOffsets(ctx context.Context, tps []state.TopicPartition) (map[state.TopicPartition]actors.InputOffsets, error) {
	var topics []string
	seen := map[string]bool{}
	for _, tp := range tps {
		if !seen[tp.Topic] {
			seen[tp.Topic] = true
			topics = append(topics, tp.Topic)
		}
	}
	adm := r.admin()
	var starts, ends kadm.ListedOffsets
	err := kretry.Do(ctx, func() (err error) {
		if starts, err = adm.ListStartOffsets(ctx, topics...); err != nil {
			return err
		}
		if r.ReadCommitted {
			ends, err = adm.ListCommittedOffsets(ctx, topics...)
		} else {
			ends, err = adm.ListEndOffsets(ctx, topics...)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make(map[state.TopicPartition]actors.InputOffsets, len(tps))
	for _, tp := range tps {
		s, ok1 := starts.Lookup(tp.Topic, tp.Partition)
		e, ok2 := ends.Lookup(tp.Topic, tp.Partition)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("offsets of %s were not listed", tp)
		}
		if err := errors.Join(s.Err, e.Err); err != nil {
			return nil, fmt.Errorf("offsets of %s: %w", tp, err)
		}
		out[tp] = actors.InputOffsets{Start: s.Offset, End: e.Offset}
	}
	return out, nil
}
