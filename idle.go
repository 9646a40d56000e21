package eddy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/eddystreams/eddy/internal/kretry"
	"github.com/eddystreams/eddy/state"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// WaitIdle waits until every record that is in the application's input
// topics when it is called has been processed and committed, including the
// records that processing sends through repartition topics. It is meant for
// batch-like runs and tests (the examples' -print); it asks tasks to commit
// as it goes, so it does not wait for the commit interval.
func (a *App) WaitIdle(ctx context.Context) error {
	if a.layout == nil {
		return errors.New("eddy: WaitIdle before Start")
	}
	// Sub-topologies are in definition order: writers of repartition topics
	// come before their readers, so once a sub-topology's inputs are all
	// committed, everything it sent downstream is in Kafka.
	for _, st := range a.topo.Subtopologies {
		var tps []state.TopicPartition
		for p := int32(0); p < a.layout.TaskCount(st.ID); p++ {
			tps = append(tps, a.layout.Inputs(topology.TaskID{Subtopology: st.ID, Partition: p})...)
		}
		if err := a.waitCommitted(ctx, tps); err != nil {
			return fmt.Errorf("eddy: wait for sub-topology %d: %w", st.ID, err)
		}
	}
	return nil
}

func (a *App) waitCommitted(ctx context.Context, tps []state.TopicPartition) error {
	topics := map[string]bool{}
	var names []string
	for _, tp := range tps {
		if !topics[tp.Topic] {
			topics[tp.Topic] = true
			names = append(names, tp.Topic)
		}
	}
	ends, err := a.endOffsets(ctx, names)
	if err != nil {
		return err
	}
	backoff := 5 * time.Millisecond
	for {
		if err := a.node.CommitAll(ctx); err != nil {
			return err
		}
		committed, _, err := a.offsets.Committed(ctx, tps, nil)
		if err != nil {
			return err
		}
		done := true
		for _, tp := range tps {
			end, ok := ends.Lookup(tp.Topic, tp.Partition)
			if !ok || end.Offset == 0 {
				continue
			}
			if committed[tp] < end.Offset {
				done = false
				break
			}
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-a.failed:
			return a.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 200*time.Millisecond)
	}
}

// endOffsets lists the end offsets of topics. A topic another node of the
// cluster created a moment ago may be unknown to this node's cached
// metadata for a while: that answer is asked again until ctx ends.
func (a *App) endOffsets(ctx context.Context, topics []string) (kadm.ListedOffsets, error) {
	var ends kadm.ListedOffsets
	err := kretry.Do(ctx, func() error {
		var err error
		if ends, err = a.admin.ListEndOffsets(ctx, topics...); err == nil {
			err = ends.Error()
		}
		return err
	}, kerr.UnknownTopicOrPartition)
	return ends, err
}
