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
//
// Under exactly-once it also waits until the output topics' transactions
// are complete, so that a read_committed consumer started after it returns
// reads every output record: the broker answers a transaction's commit
// once it has decided it, and writes the commit markers to the output
// partitions, and to the group's offsets, a moment later and in no set
// order, so committed input offsets alone do not say that the output can
// be read yet. A transaction another producer leaves open on an output
// topic holds WaitIdle until it ends (at the latest, its transaction
// timeout).
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
	if a.cfg.guarantee == ExactlyOnce {
		if err := a.waitOutputsStable(ctx); err != nil {
			return fmt.Errorf("eddy: wait for the output transactions: %w", err)
		}
	}
	return nil
}

// waitOutputsStable waits until no transaction is open below the current
// end of any output topic: each partition's last stable offset (the end a
// read_committed consumer reads to) has reached its high watermark as of
// the call.
func (a *App) waitOutputsStable(ctx context.Context) error {
	names := a.outputTopics()
	if len(names) == 0 {
		return nil
	}
	ends, err := a.endOffsets(ctx, names)
	if err != nil {
		return err
	}
	return a.pollUntil(ctx, func() (bool, error) {
		stable, err := a.admin.ListCommittedOffsets(ctx, names...)
		if err == nil {
			err = stable.Error()
		}
		if err != nil {
			return false, err
		}
		done := true
		ends.Each(func(end kadm.ListedOffset) {
			if s, ok := stable.Lookup(end.Topic, end.Partition); !ok || s.Offset < end.Offset {
				done = false
			}
		})
		return done, nil
	})
}

// outputTopics lists the external topics the App's tasks write, once each:
// its sinks' topics in definition order, then the error handlers' dead-letter
// topics.
func (a *App) outputTopics() []string {
	var names []string
	seen := map[string]bool{}
	add := func(t string) {
		if t != "" && !seen[t] {
			seen[t] = true
			names = append(names, t)
		}
	}
	for _, st := range a.topo.Subtopologies {
		for _, s := range st.Sinks {
			if !s.Internal {
				add(s.Name)
			}
		}
	}
	for _, h := range []topology.ErrorHandler{a.cfg.OnDeserialize, a.cfg.OnProcessing, a.cfg.OnProduction} {
		add(h.DeadLetterTopic)
	}
	return names
}

// pollUntil calls done until it says so, with a growing pause between
// calls (5 ms to 200 ms), and gives up when ctx ends or the App fails.
func (a *App) pollUntil(ctx context.Context, done func() (bool, error)) error {
	backoff := 5 * time.Millisecond
	for {
		ok, err := done()
		if err != nil || ok {
			return err
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
	return a.pollUntil(ctx, func() (bool, error) {
		if err := a.node.CommitAll(ctx); err != nil {
			return false, err
		}
		committed, _, err := a.offsets.Committed(ctx, tps, nil)
		if err != nil {
			return false, err
		}
		for _, tp := range tps {
			end, ok := ends.Lookup(tp.Topic, tp.Partition)
			if ok && end.Offset > 0 && committed[tp] < end.Offset {
				return false, nil
			}
		}
		return true, nil
	})
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
