package topics

import (
	"context"
	"errors"
	"fmt"
	"github.com/eddystreams/eddy/internal/authz"
	"log/slog"
	"sort"
	"time"

	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// PrepareConfig is what Prepare needs.
type PrepareConfig struct {
	Admin    *kadm.Client
	Topology *topology.Topology
	AppID    string
	// Replication is the replication factor of created topics (-1: the
	// broker's default).
	Replication int16
	// InternalConfig are configs for every internal topic (Kafka Streams'
	// "topic."-prefixed configs); repartition topics keep their forced
	// settings and changelogs stay compacted whatever it says.
	InternalConfig map[string]string
	// Extra are topics that must exist besides the topology's own
	// (dead-letter topics).
	Extra []string
	// MissingWait is how long a missing external topic is looked for
	// again before Prepare gives up: a topic created a moment ago may not
	// be in the metadata every broker answers with yet. Default 5s.
	MissingWait time.Duration
	Log         *slog.Logger
}

// Prepared is the outcome of Prepare.
type Prepared struct {
	Layout *topology.Layout
	// Repartition lists the repartition topics, for the purge.
	Repartition []string
}

// Prepare looks up the external topics (they must exist: Eddy creates only
// its internal topics), lays the topology out over their partition counts,
// creates missing internal topics and checks existing ones: an internal
// topic with another partition count is an error; one created meanwhile by
// another instance of the application, with the right count, is fine.
func Prepare(ctx context.Context, c PrepareConfig) (Prepared, error) {
	if c.MissingWait <= 0 {
		c.MissingWait = 5 * time.Second
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	external := append(topology.ExternalTopics(c.Topology), c.Extra...)
	counts, err := partitionCounts(ctx, c.Admin, external, c.MissingWait)
	if err != nil {
		return Prepared{}, err
	}
	layout, err := topology.NewLayout(c.Topology, c.AppID, counts)
	if err != nil {
		return Prepared{}, err
	}
	internal := layout.InternalTopics()
	names := make([]string, len(internal))
	for i, it := range internal {
		names[i] = it.Name
	}
	existing, err := c.Admin.ListTopics(ctx, names...)
	if err != nil {
		return Prepared{}, fmt.Errorf("list internal topics: %w", err)
	}
	var (
		errs                []error
		out                 = Prepared{Layout: layout}
		existingRepartition []string
	)
	for _, it := range internal {
		if it.Kind == topology.TopicRepartition {
			out.Repartition = append(out.Repartition, it.Name)
		}
		if d, ok := existing[it.Name]; ok && d.Err == nil {
			if err := checkPartitions(it, int32(len(d.Partitions))); err != nil {
				errs = append(errs, err)
			}
			if it.Kind == topology.TopicRepartition {
				existingRepartition = append(existingRepartition, it.Name)
			}
			continue
		}
		err := create(ctx, c, it)
		if errors.Is(err, kerr.TopicAlreadyExists) {
			// Another instance created it since the listing: fine if it
			// has the partitions this topology needs.
			err = nil
			if td, lerr := c.Admin.ListTopics(ctx, it.Name); lerr != nil {
				err = fmt.Errorf("internal topic %s was created meanwhile; list it: %w", it.Name, lerr)
			} else if d, ok := td[it.Name]; ok && d.Err == nil {
				err = checkPartitions(it, int32(len(d.Partitions)))
			}
		}
		if err != nil {
			errs = append(errs, authz.Wrap(fmt.Errorf("create internal topic %s: %w", it.Name, err), authz.Topic, it.Name, "Create"))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Prepared{}, err
	}
	// Repartition topics made before Eddy set their retention (or by hand)
	// keep it: say what to fix rather than change a topic's configuration
	// behind its owner's back.
	problems, err := CheckRepartitionRetention(ctx, c.Admin, existingRepartition)
	if err != nil {
		return Prepared{}, err
	}
	for _, p := range problems {
		c.Log.Warn("repartition topic may lose records: " + p)
	}
	return out, nil
}

func checkPartitions(it topology.InternalTopic, got int32) error {
	if got != it.Partitions {
		return fmt.Errorf("internal topic %s has %d partitions, but the topology needs %d (delete it, or use another application id)", it.Name, got, it.Partitions)
	}
	return nil
}

// create creates internal topic it with its configs: a repartition topic's
// (RepartitionConfig), or a changelog's: compacted, the internal configs,
// then its store's own.
func create(ctx context.Context, c PrepareConfig, it topology.InternalTopic) error {
	var configs map[string]*string
	if it.Kind == topology.TopicRepartition {
		configs = RepartitionConfig(c.InternalConfig)
	} else {
		configs = map[string]*string{}
		for k, v := range c.InternalConfig {
			if k != "cleanup.policy" { // a changelog is compacted, whatever else
				configs[k] = &v
			}
		}
		for k, v := range it.Configs {
			configs[k] = &v
		}
	}
	resp, err := c.Admin.CreateTopic(ctx, it.Partitions, c.Replication, configs, it.Name)
	if err == nil {
		err = resp.Err
	}
	return err
}

// partitionCounts lists the partition counts of topics, which must all
// exist; missing ones are looked for again, with backoff, for up to wait.
func partitionCounts(ctx context.Context, adm *kadm.Client, topics []string, wait time.Duration) (map[string]int32, error) {
	counts := map[string]int32{}
	deadline := time.Now().Add(wait)
	backoff := 50 * time.Millisecond
	for {
		listed, err := adm.ListTopics(ctx, topics...)
		if authz.Is(err) {
			return nil, deniedTopic(ctx, adm, topics, err)
		}
		if err != nil {
			return nil, fmt.Errorf("list topics: %w", err)
		}
		var missing []string
		for _, t := range topics {
			d, ok := listed[t]
			if ok && authz.Is(d.Err) {
				// Not a topic to wait for: no ACL lets this user see it.
				return nil, authz.Wrap(fmt.Errorf("describe topic %s: %w", t, d.Err), authz.Topic, t, "Describe")
			}
			if !ok || d.Err != nil || len(d.Partitions) == 0 {
				missing = append(missing, t)
				continue
			}
			counts[t] = int32(len(d.Partitions))
		}
		if len(missing) == 0 {
			return counts, nil
		}
		if time.Now().After(deadline) {
			sort.Strings(missing)
			return nil, fmt.Errorf("topics %v do not exist; create them first (Eddy creates only its internal topics)", dedupe(missing))
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}

func dedupe(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// deniedTopic names the first of topics this user may not describe, with
// err, the refusal of the request for them all.
func deniedTopic(ctx context.Context, adm *kadm.Client, topics []string, err error) error {
	for _, t := range topics {
		if _, terr := adm.ListTopics(ctx, t); authz.Is(terr) {
			return authz.Wrap(fmt.Errorf("describe topic %s: %w", t, terr), authz.Topic, t, "Describe")
		}
	}
	return fmt.Errorf("list topics: %w", err)
}
