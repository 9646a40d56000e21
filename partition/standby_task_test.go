package partition_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/state"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

// countingReader counts the records a restore hands to its store.
type countingReader struct {
	*lcBroker
	restored atomic.Int64
}

func (c *countingReader) Restore(ctx context.Context, tp state.TopicPartition, from, until int64, apply func([]*kgo.Record) error) (int64, error) {
	return c.lcBroker.Restore(ctx, tp, from, until, func(recs []*kgo.Record) error {
		c.restored.Add(int64(len(recs)))
		return apply(recs)
	})
}

func standbyConfig(dir string, r partition.ChangelogReader) partition.StandbyConfig {
	return partition.StandbyConfig{
		ApplicationID: lcApp,
		Subtopology:   &topology.Subtopology{Stores: []topology.StoreSpec{logged("kv")}},
		Inputs:        []state.TopicPartition{{Topic: "in"}},
		Dir:           dir,
		DefaultEngine: topology.EngineRocksDB,
		Changelogs:    r,
	}
}

func committedAt(pos int64) partition.CommitPoint {
	return partition.CommitPoint{Committed: true, Positions: map[state.TopicPartition]int64{smChangelog: pos}, StreamTime: state.UnknownStreamTime}
}

func standbyGet(t *testing.T, s *partition.StandbyTask, key string) string {
	t.Helper()
	v, err := s.Store("kv").(topology.KeyValueStore).Get([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	if v == nil {
		return "<nil>"
	}
	return string(v)
}

func clRecs(from int64, kvs ...string) []*kgo.Record {
	var out []*kgo.Record
	for i := 0; i < len(kvs); i += 2 {
		out = append(out, rec(smChangelog.Topic, from+int64(i/2), 1, kvs[i], kvs[i+1]))
	}
	return out
}

// Under at-least-once a standby restores up to the last commit's changelog
// position, holds back the records fetched past it (they may be rolled
// back, decision 0002), applies them once a commit covers them, and reports
// its lag behind the commit's position.
func TestStandbyTaskStopsAtCommitPositions(t *testing.T) {
	b := newLCBroker()
	b.logs[smChangelog] = clRecs(0, "a", "1", "b", "2", "c", "3") // c is past the commit
	s := partition.NewStandbyTask(standbyConfig(t.TempDir(), b))
	if err := s.Initialize(context.Background(), committedAt(2)); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if a, c := standbyGet(t, s, "a"), standbyGet(t, s, "c"); a != "1" || c != "<nil>" {
		t.Fatalf("after restore a=%s c=%s, want a=1 and no c (past the commit)", a, c)
	}
	if got := s.Changelogs()[smChangelog]; got != 2 {
		t.Fatalf("next offset to fetch %d, want 2", got)
	}
	// The node fetches from there: c, then d, both past the commit.
	if err := s.Apply(smChangelog, clRecs(2, "c", "3", "d", "4")); err != nil {
		t.Fatal(err)
	}
	if c := standbyGet(t, s, "c"); c != "<nil>" {
		t.Fatalf("c=%s applied past the commit position 2", c)
	}
	if lag := s.Lag(); lag != 0 {
		t.Fatalf("lag %d at the commit's position, want 0", lag)
	}
	if err := s.UpdateCommitted(committedAt(3)); err != nil {
		t.Fatal(err)
	}
	if c, d := standbyGet(t, s, "c"), standbyGet(t, s, "d"); c != "3" || d != "<nil>" {
		t.Fatalf("after a commit at 3: c=%s d=%s, want c=3 and d still held back", c, d)
	}
	if err := s.UpdateCommitted(committedAt(6)); err != nil {
		t.Fatal(err)
	}
	if d := standbyGet(t, s, "d"); d != "4" {
		t.Fatalf("after a commit at 6: d=%s, want 4", d)
	}
	if lag, lags := s.Lag(), s.Lags(); lag != 2 || lags[smChangelog] != 2 {
		t.Fatalf("lag %d (%v) at offset 4 with the commit at 6, want 2", lag, lags)
	}
	if s.Applied() != 2 {
		t.Fatalf("applied %d records, want 2 (c, d)", s.Applied())
	}
}

// Under exactly-once a standby applies everything it is handed (the
// changelog is read read_committed), control records move its position
// on, and its lag is behind the changelog's end.
func TestStandbyTaskExactlyOnceFollowsToTheEnd(t *testing.T) {
	b := newLCBroker()
	b.logs[smChangelog] = clRecs(0, "a", "1")
	cfg := standbyConfig(t.TempDir(), b)
	cfg.ExactlyOnce = true
	s := partition.NewStandbyTask(cfg)
	if err := s.Initialize(context.Background(), partition.CommitPoint{StreamTime: state.UnknownStreamTime}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if lag := s.Lag(); lag != -1 {
		t.Fatalf("lag %d before the end is known, want -1", lag)
	}
	s.UpdateEnd(smChangelog, 5)
	if lag := s.Lag(); lag != 4 {
		t.Fatalf("lag %d at 1 of 5, want 4", lag)
	}
	recs := clRecs(1, "b", "2", "c", "3")
	marker := &kgo.Record{Topic: smChangelog.Topic, Offset: 3, Attrs: kgo.NewRecordAttrs(kgo.RecordAttrsOpts{Transactional: true, Control: true})}
	recs = append(recs, marker)
	if err := s.Apply(smChangelog, recs); err != nil {
		t.Fatal(err)
	}
	if c := standbyGet(t, s, "c"); c != "3" {
		t.Fatalf("c=%s, want 3", c)
	}
	if lag := s.Lag(); lag != 1 {
		t.Fatalf("lag %d at 4 of 5 (the commit marker counted), want 1", lag)
	}
	if s.Applied() != 2 {
		t.Fatalf("applied %d, want 2: the marker is no record", s.Applied())
	}
}

// A standby checkpoints as it goes: a standby started again in the same
// directory restores only what follows its checkpoint.
func TestStandbyTaskCheckpointSurvivesRestart(t *testing.T) {
	needRocksDB(t)
	dir := t.TempDir()
	b := &countingReader{lcBroker: newLCBroker()}
	b.logs[smChangelog] = clRecs(0, "a", "1", "b", "2", "c", "3", "d", "4")
	s := partition.NewStandbyTask(standbyConfig(dir, b))
	if err := s.Initialize(context.Background(), committedAt(2)); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateCommitted(committedAt(3)); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(smChangelog, clRecs(2, "c", "3")); err != nil {
		t.Fatal(err)
	}
	if err := s.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	// A crash after the checkpoint: the stores are closed without one.
	ckp, err := state.ReadCheckpointFile(dir + "/.checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	if ckp.Offsets[smChangelog] != 3 {
		t.Fatalf("checkpoint %v, want %s at 3", ckp.Offsets, smChangelog)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	b.restored.Store(0)
	b.restores = nil
	s = partition.NewStandbyTask(standbyConfig(dir, b))
	if err := s.Initialize(context.Background(), committedAt(4)); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if want := smChangelog.String() + " from 3"; len(b.restores) != 1 || b.restores[0] != want {
		t.Fatalf("restores %v, want [%s]", b.restores, want)
	}
	if n := b.restored.Load(); n != 1 {
		t.Fatalf("restored %d records, want 1 (d, from the checkpoint to the commit)", n)
	}
	if d := standbyGet(t, s, "d"); d != "4" {
		t.Fatalf("d=%s, want 4", d)
	}
}

// Promotion under at-least-once: the active that starts in a standby's
// directory restores only from the standby's checkpoint, and only up to the
// last commit; what a crashed owner wrote past the commit is rolled back,
// not applied (decision 0002), although a checkpoint was there.
func TestActiveAfterStandbyRestoresTailAndRollsBack(t *testing.T) {
	needRocksDB(t)
	dir := t.TempDir()
	b := &countingReader{lcBroker: newLCBroker()}
	b.logs[smChangelog] = clRecs(0, "a", "1", "b", "2")
	s := partition.NewStandbyTask(standbyConfig(dir, b))
	if err := s.Initialize(context.Background(), committedAt(2)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// The active elsewhere commits at 3, writes a=9 and crashes.
	b.logs[smChangelog] = append(b.logs[smChangelog], clRecs(2, "c", "3", "a", "9")...)
	b.restored.Store(0)
	b.restores = nil
	w := newSMWriter(b.lcBroker)
	cfg := smConfig(dir, b.lcBroker, w, logged("kv"))
	cfg.Changelogs = b
	sm, _ := smOpen(t, cfg, committedAt(3), 10_000)
	defer sm.Close()
	// Two reads: the restore from the standby's checkpoint (2) to the
	// commit (3), and the tail past the commit, read to roll it back.
	if want := smChangelog.String() + " from 2," + smChangelog.String() + " from 3"; strings.Join(b.restores, ",") != want {
		t.Fatalf("restores %v, want %s", b.restores, want)
	}
	if n := b.restored.Load(); n != 2 {
		t.Fatalf("read %d records, want 2 (c restored, a=9 read to roll it back)", n)
	}
	if a, c := smGet(t, sm, "kv", "a"), smGet(t, sm, "kv", "c"); a != "1" || c != "3" {
		t.Fatalf("a=%s c=%s, want a=1 (its uncommitted 9 rolled back) and c=3", a, c)
	}
	if got := strings.Join(w.sent, ","); got != "a=1@00:00:10.000" {
		t.Fatalf("roll-back writes %s, want a=1 again", got)
	}
}
