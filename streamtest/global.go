package streamtest

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/topology"
)

// startGlobal makes the global task, if the topology has global tables, and
// restores its stores from their source topics as the application does:
// from the checkpoint to the end. Records piped into a global table's topic
// afterwards are applied as they arrive. d.mu must be held.
func (d *Driver) startGlobal(ctx context.Context) error {
	st := d.topo.GlobalSubtopology()
	if st == nil {
		return nil
	}
	g, err := partition.NewGlobalTask(partition.GlobalConfig{
		ApplicationID:          d.cfg.AppID,
		Subtopology:            st,
		Dir:                    filepath.Join(d.appDir(), "global"),
		DefaultEngine:          d.cfg.Engine,
		Partitions:             func(topic string) (int32, error) { return d.layout.partitions(topic), nil },
		Changelogs:             d.broker,
		OnDeserializationError: d.cfg.OnDeserialize,
		Logger:                 d.cfg.Logger,
	})
	if err != nil {
		return fmt.Errorf("global task: %w", err)
	}
	if err := g.Initialize(ctx); err != nil {
		return errors.Join(fmt.Errorf("start global task: %w", err), g.Close(false))
	}
	d.global = g
	return nil
}

// globalStores are the global stores handed to every task. d.mu must be held.
func (d *Driver) globalStores() map[string]topology.StateStore {
	if d.global == nil {
		return nil
	}
	return d.global.Stores()
}

// globalStore returns a global table's store as the only "partition" of
// it: every node holds all of it. d.mu must be held.
func (d *Driver) globalStore(name string) ([]topology.KeyValueStore, error) {
	if d.global == nil {
		return nil, fmt.Errorf("streamtest: global store %q is not open", name)
	}
	kv, ok := d.global.Stores()[name].(topology.KeyValueStore)
	if !ok {
		return nil, fmt.Errorf("streamtest: global store %q is not a key-value store", name)
	}
	return []topology.KeyValueStore{kv}, nil
}
