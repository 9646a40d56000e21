package topics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/eddystreams/eddy/internal/kretry"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// PurgerConfig configures a Purger.
type PurgerConfig struct {
	// Client talks to the cluster; the Purger does not close it.
	Client *kgo.Client
	// Group is the application's consumer group (its application id).
	Group string
	// Partitions are the repartition topics' partitions, by topic.
	Partitions map[string][]int32
	// Interval is the time between purges; it must be positive.
	Interval time.Duration
	// Logger gets failed purges, at warning level. Default: slog.Default().
	Logger *slog.Logger
}

// Purger deletes the records of repartition topics that the application has
// processed and committed (Kafka Streams' KIP-220 purge): every Interval it
// reads the group's committed offsets of those partitions from the broker
// and deletes the records below them (DeleteRecords).
//
// Committed offsets on the broker are the truth under both guarantees, so
// the Purger needs nothing from the tasks: whichever task commits, and
// however, records before a committed offset will never be read again. The
// offsets are fetched stable (require_stable): a transactional commit still
// pending is not counted, and a partition whose offset is unstable is left
// for the next round. Partitions whose committed offset has not moved since
// the last purge are skipped.
//
// A failed purge is logged and tried again at the next interval: purging
// only frees disk space, and processing never waits for it.
type Purger struct {
	cfg    PurgerConfig
	adm    *kadm.Client
	purged map[string]map[int32]int64 // the offset each partition was purged to

	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex // one round at a time (the loop, PurgeNow)
}

// NewPurger checks cfg and returns a Purger that has not started.
func NewPurger(cfg PurgerConfig) (*Purger, error) {
	if cfg.Client == nil {
		return nil, errors.New("purger: no Kafka client")
	}
	if cfg.Group == "" {
		return nil, errors.New("purger: no consumer group")
	}
	if cfg.Interval <= 0 {
		return nil, fmt.Errorf("purger: interval %v must be positive", cfg.Interval)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Purger{cfg: cfg, adm: kadm.NewClient(cfg.Client), purged: map[string]map[int32]int64{}}, nil
}

// Start runs purges every Interval until Close. Call it once.
func (p *Purger) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel, p.done = cancel, make(chan struct{})
	go p.loop(ctx)
}

// Close stops the purges and waits for a running one to end. It is safe to
// call without Start and more than once.
func (p *Purger) Close() {
	if p.cancel == nil {
		return
	}
	p.cancel()
	<-p.done
}

func (p *Purger) loop(ctx context.Context) {
	defer close(p.done)
	tick := time.NewTicker(p.cfg.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if err := p.PurgeNow(ctx); err != nil && ctx.Err() == nil {
			p.cfg.Logger.Warn("purge of repartition topics failed; trying again at the next interval", "error", err, "interval", p.cfg.Interval)
		}
	}
}

// PurgeNow runs one purge round: it deletes, in every partition whose
// stable committed offset moved since the last round, the records below that
// offset.
func (p *Purger) PurgeNow(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	committed, err := p.committed(ctx)
	if err != nil {
		return err
	}
	del := kadm.Offsets{}
	for topic, parts := range committed {
		for part, at := range parts {
			if at > p.purged[topic][part] {
				del.Add(kadm.Offset{Topic: topic, Partition: part, At: at, LeaderEpoch: -1})
			}
		}
	}
	if len(del) == 0 {
		return nil
	}
	resp, err := p.adm.DeleteRecords(ctx, del)
	if err != nil {
		return fmt.Errorf("delete records of repartition topics: %w", err)
	}
	var errs []error
	for _, r := range resp.Sorted() {
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("delete records of %s-%d: %w", r.Topic, r.Partition, r.Err))
			continue
		}
		o, _ := del.Lookup(r.Topic, r.Partition)
		if p.purged[r.Topic] == nil {
			p.purged[r.Topic] = map[int32]int64{}
		}
		p.purged[r.Topic][r.Partition] = o.At
	}
	return errors.Join(errs...)
}

// committed fetches the group's stable committed offsets of the partitions,
// leaving out those with none and those whose commit is still pending.
func (p *Purger) committed(ctx context.Context) (map[string]map[int32]int64, error) {
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = p.cfg.Group
	req.RequireStable = true
	topics := make([]string, 0, len(p.cfg.Partitions))
	for t := range p.cfg.Partitions {
		topics = append(topics, t)
	}
	sort.Strings(topics)
	for _, t := range topics {
		rt := kmsg.NewOffsetFetchRequestTopic()
		rt.Topic, rt.Partitions = t, p.cfg.Partitions[t]
		req.Topics = append(req.Topics, rt)
	}
	out := map[string]map[int32]int64{}
	var unstable []string
	err := kretry.Do(ctx, func() error {
		clear(out)
		unstable = unstable[:0]
		resp, err := req.RequestWith(ctx, p.cfg.Client)
		if err != nil {
			return err
		}
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			return err
		}
		for _, t := range resp.Topics {
			for _, pr := range t.Partitions {
				err := kerr.ErrorForCode(pr.ErrorCode)
				switch {
				case errors.Is(err, kerr.UnstableOffsetCommit):
					// A transaction holding a commit is still open: the
					// offset before it would be safe too, but it is not
					// known here; the next round sees the outcome.
					unstable = append(unstable, fmt.Sprintf("%s-%d", t.Topic, pr.Partition))
				case err != nil:
					return fmt.Errorf("committed offset of %s-%d: %w", t.Topic, pr.Partition, err)
				case pr.Offset >= 0:
					if out[t.Topic] == nil {
						out[t.Topic] = map[int32]int64{}
					}
					out[t.Topic][pr.Partition] = pr.Offset
				}
			}
		}
		return nil
	})
	if errors.Is(err, kerr.GroupIDNotFound) {
		return nil, nil // nothing committed yet
	}
	if err != nil {
		return nil, fmt.Errorf("fetch committed offsets of group %s: %w", p.cfg.Group, err)
	}
	if len(unstable) > 0 {
		p.cfg.Logger.Debug("repartition partitions skipped in this purge: their committed offset is pending in a transaction", "partitions", unstable)
	}
	return out, nil
}
