package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// LiveNodes reads application app's members topic from outside the
// cluster (tools such as "eddy reset") and returns the nodes whose record
// was written within the last within, with the time each was written:
// nodes that are running, as nodes rewrite their record every
// RefreshInterval and remove it when they leave. A members topic that does
// not exist means no node has run in cluster mode: none, no error.
func LiveNodes(ctx context.Context, opts []kgo.Opt, app string, within time.Duration) (map[NodeID]time.Time, error) {
	d, err := newDiscovery(opts, app, -1, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	defer d.close()
	details, err := kadm.NewClient(d.client).ListTopics(ctx, d.topic)
	if err != nil {
		return nil, fmt.Errorf("members topic %s: %w", d.topic, err)
	}
	if !details.Has(d.topic) {
		return nil, nil
	}
	recs, err := d.readAll(ctx)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	out := map[NodeID]time.Time{}
	for id, r := range recs {
		if now.Sub(r.Written) <= within {
			out[id] = r.Written
		}
	}
	return out, nil
}
