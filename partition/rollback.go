package partition

import (
	"context"
	"errors"
	"fmt"

	"github.com/eddystreams/eddy/state"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

// rollBack writes again, with its restored value, every key that the
// changelog holds after position until: those writes came from processing
// that was never committed and will be redone (at-least-once; decision
// 0002). The writes go to the changelog only (the engine already holds the
// restored values), stamped with the stream time of the commit.
func (m *StateManager) rollBack(ctx context.Context, kv topology.KeyValueStore, tp state.TopicPartition, until int64) error {
	seen := map[string]bool{}
	var keys [][]byte
	next, err := m.cfg.Changelogs.Restore(ctx, tp, until, -1, func(recs []*kgo.Record) error {
		for _, r := range recs {
			if !seen[string(r.Key)] {
				seen[string(r.Key)] = true
				keys = append(keys, r.Key)
			}
		}
		return nil
	})
	var behind *ChangelogBehindError
	if errors.As(err, &behind) {
		// The commit's position is past the changelog's end: the topic
		// was made again since, and holds nothing to roll back.
		m.log.Warn("commit position beyond the changelog's end (was it deleted and made again?); nothing to roll back",
			"changelog", tp.String(), "position", until, "changelog_end", behind.End)
		m.cfg.Changelog.Track(tp, behind.End)
		return nil
	}
	if err != nil {
		return &RecoverableError{Err: fmt.Errorf("read uncommitted tail of %s-%d: %w", tp.Topic, tp.Partition, err)}
	}
	for _, k := range keys {
		v, err := kv.Get(k)
		if err != nil {
			return err
		}
		if err := m.cfg.Changelog.SendChangelog(tp, k, v, m.streamTime); err != nil {
			return err
		}
	}
	if len(keys) > 0 {
		m.log.Info("rolled back uncommitted changelog records", "changelog", tp.String(), "from", until, "to", next, "keys", len(keys))
	}
	m.cfg.Changelog.Track(tp, next)
	return nil
}

// changeLogger sends a store's writes to its changelog partition, stamped
// with the timestamp of the record being processed.
type changeLogger struct {
	m  *StateManager
	tp state.TopicPartition
}

func (c changeLogger) LogChange(key, value []byte) {
	// The store owns key and value after the call returns; the record
	// stays buffered until acknowledged, so it gets copies.
	k := append([]byte(nil), key...)
	var v []byte
	if value != nil {
		v = append(make([]byte, 0, len(value)), value...) // empty stays empty, not nil (a tombstone)
	}
	// A failed send is sticky in the collector and fails the next commit.
	_ = c.m.cfg.Changelog.SendChangelog(c.tp, k, v, c.m.cfg.Record.Record().Timestamp)
}
