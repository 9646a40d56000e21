package eddy

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
)

// topicsToCreate is one WithCreateTopics.
type topicsToCreate struct {
	partitions int32
	topics     []string
}

// WithCreateTopics has Start create topics (the input and output topics of
// the topology, say) with the given partition count and the replication
// factor of WithReplicationFactor, before it checks them. A topic that
// exists already is left as it is, whatever its partition count: Start then
// checks it as it checks any topic it reads (co-partitioning). Meant for
// development and tests, where creating topics by hand is a chore; in
// production create them with the settings they need (eddy topics create).
// May be given more than once, for topics of different partition counts.
func WithCreateTopics(partitions int32, topics ...string) Option {
	return optFunc(func(c *cfg) {
		c.createTopics = append(c.createTopics, topicsToCreate{partitions, append([]string(nil), topics...)})
	})
}

func (a *App) createTopics(ctx context.Context) error {
	for _, ct := range a.cfg.createTopics {
		if ct.partitions < 1 {
			return fmt.Errorf("eddy: WithCreateTopics: %d partitions", ct.partitions)
		}
		if len(ct.topics) == 0 {
			continue
		}
		resps, err := a.admin.CreateTopics(ctx, ct.partitions, a.cfg.replication, nil, ct.topics...)
		if err != nil {
			return fmt.Errorf("eddy: create topics %v: %w", ct.topics, err)
		}
		for _, t := range ct.topics {
			r, ok := resps[t]
			switch {
			case !ok:
				return fmt.Errorf("eddy: create topic %s: no answer from the broker", t)
			case r.Err == nil:
				a.log.Info("created topic", "topic", t, "partitions", ct.partitions)
			case errors.Is(r.Err, kerr.TopicAlreadyExists):
			default:
				return fmt.Errorf("eddy: create topic %s: %w", t, r.Err)
			}
		}
	}
	return nil
}
