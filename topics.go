package eddy

import (
	"context"
	"fmt"

	"github.com/eddystreams/eddy/internal/topics"
)

// prepareTopics checks the external topics, lays the topology out over
// their partition counts and creates or checks the internal topics
// (internal/topics.Prepare).
func (a *App) prepareTopics(ctx context.Context) error {
	if err := a.createTopics(ctx); err != nil { // topics_create.go
		return err
	}
	var dlqs []string
	for _, h := range []ErrorHandler{a.cfg.OnDeserialize, a.cfg.OnProcessing, a.cfg.OnProduction} {
		if h.DeadLetterTopic != "" {
			dlqs = append(dlqs, h.DeadLetterTopic)
		}
	}
	p, err := topics.Prepare(ctx, topics.PrepareConfig{
		Admin: a.admin, Topology: a.topo, AppID: a.cfg.AppID, Replication: a.cfg.replication,
		InternalConfig: a.cfg.internalConfig, Extra: dlqs, Log: a.log,
	})
	if err != nil {
		return fmt.Errorf("eddy: %w", err)
	}
	a.layout, a.repartition = p.Layout, p.Repartition
	return nil
}

// startPurger starts the purge of the repartition topics' committed records
// (WithRepartitionPurgeInterval), unless it is off or there are none.
func (a *App) startPurger() error {
	if a.cfg.purgeInterval == 0 || len(a.repartition) == 0 {
		return nil
	}
	parts := map[string][]int32{}
	for _, name := range a.repartition {
		if _, ok := parts[name]; ok {
			continue
		}
		n, _ := a.layout.Partitions(name)
		for p := int32(0); p < n; p++ {
			parts[name] = append(parts[name], p)
		}
	}
	p, err := topics.NewPurger(topics.PurgerConfig{Client: a.adminCl, Group: a.cfg.AppID, Partitions: parts, Interval: a.cfg.purgeInterval, Logger: a.log})
	if err != nil {
		return fmt.Errorf("eddy: %w", err)
	}
	a.purger = p
	p.Start()
	return nil
}
