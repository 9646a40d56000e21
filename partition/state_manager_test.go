package partition_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/state"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

// These tests drive a StateManager alone, with no Task, no processors and
// no producer: a standby or global task uses it that way. The changelogs
// are an lcBroker, and the ChangelogWriter appends to it directly.

// smWriter is a ChangelogWriter over an lcBroker's partitions, acknowledging
// each record at once.
type smWriter struct {
	b       *lcBroker
	sent    []string // "<key>=<value>@<ts>", per send
	tracked map[state.TopicPartition]int64
}

func newSMWriter(b *lcBroker) *smWriter {
	return &smWriter{b: b, tracked: map[state.TopicPartition]int64{}}
}

func (w *smWriter) SendChangelog(tp state.TopicPartition, key, value []byte, ts int64) error {
	v := string(value)
	if value == nil {
		v = "<nil>"
	}
	w.sent = append(w.sent, string(key)+"="+v+"@"+time.UnixMilli(ts).UTC().Format("15:04:05.000"))
	w.b.Produce(context.Background(), &kgo.Record{Topic: tp.Topic, Partition: tp.Partition, Key: key, Value: value, Timestamp: time.UnixMilli(ts)},
		func(r *kgo.Record, err error) {
			if err == nil {
				w.Track(tp, r.Offset+1)
			}
		})
	return nil
}

func (w *smWriter) Track(tp state.TopicPartition, next int64) {
	if next > w.tracked[tp] {
		w.tracked[tp] = next
	}
}

func (w *smWriter) Tracked() map[state.TopicPartition]int64 {
	m := make(map[state.TopicPartition]int64, len(w.tracked))
	for tp, o := range w.tracked {
		m[tp] = o
	}
	return m
}

// smRecord is the record context of change-logged writes.
type smRecord struct{ cur topology.RecordMeta }

func (r *smRecord) Record() topology.RecordMeta     { return r.cur }
func (r *smRecord) SetRecord(m topology.RecordMeta) { r.cur = m }

var smChangelog = state.TopicPartition{Topic: topology.ChangelogTopicName(lcApp, "kv")}

func smConfig(dir string, b *lcBroker, w partition.ChangelogWriter, specs ...topology.StoreSpec) partition.StateConfig {
	return partition.StateConfig{
		ApplicationID: lcApp,
		Stores:        specs,
		Dir:           dir,
		DefaultEngine: topology.EngineRocksDB,
		Changelogs:    b,
		Changelog:     w,
	}
}

func logged(name string) topology.StoreSpec {
	return topology.StoreSpec{Name: name, Kind: topology.KindKeyValue, Logging: true}
}

// smOpen reads the checkpoint and restores to cp, as a task's start does.
func smOpen(t *testing.T, cfg partition.StateConfig, cp partition.CommitPoint, streamTime int64) (*partition.StateManager, *state.Checkpoint) {
	t.Helper()
	sm := partition.NewStateManager(cfg)
	ckp, err := sm.ReadCheckpoint()
	if err != nil {
		t.Fatal(err)
	}
	if err := sm.Restore(context.Background(), cp, streamTime); err != nil {
		sm.Close()
		t.Fatal(err)
	}
	return sm, ckp
}

func smGet(t *testing.T, sm *partition.StateManager, store, key string) string {
	t.Helper()
	s, ok := sm.Store(store).(topology.KeyValueStore)
	if !ok {
		t.Fatalf("no key-value store %s: %T", store, sm.Store(store))
	}
	v, err := s.Get([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	if v == nil {
		return "<nil>"
	}
	return string(v)
}

func smPut(t *testing.T, sm *partition.StateManager, store, key, value string) {
	t.Helper()
	if err := sm.Store(store).(topology.KeyValueStore).Put([]byte(key), []byte(value)); err != nil {
		t.Fatal(err)
	}
}

// A store restores from its changelog, its writes go to the changelog with
// the record context's timestamp, and a checkpoint after them lets the next
// start restore only what came after it.
func TestStateManagerRestoresWritesAndCheckpoints(t *testing.T) {
	needRocksDB(t)
	dir, b := t.TempDir(), newLCBroker()
	b.logs[smChangelog] = []*kgo.Record{rec(smChangelog.Topic, 0, 1, "a", "1"), rec(smChangelog.Topic, 1, 2, "b", "2")}
	w := newSMWriter(b)
	rc := &smRecord{}
	cfg := smConfig(dir, b, w, logged("kv"))
	cfg.Record = rc
	cfg.ExactlyOnce = true // restore to the end: nothing to roll back

	sm, ckp := smOpen(t, cfg, partition.CommitPoint{}, state.UnknownStreamTime)
	if len(ckp.Offsets) != 0 {
		t.Fatalf("checkpoint of an empty directory: %v", ckp.Offsets)
	}
	if got := smGet(t, sm, "kv", "b"); got != "2" {
		t.Fatalf("b after restore = %s, want 2", got)
	}
	rc.cur = topology.RecordMeta{Timestamp: 3_000}
	smPut(t, sm, "kv", "c", "3")
	if want := []string{"c=3@00:00:03.000"}; strings.Join(w.sent, ",") != strings.Join(want, ",") {
		t.Fatalf("changelog writes %v, want %v (the record context's timestamp)", w.sent, want)
	}
	if err := sm.Checkpoint(3_000, nil); err != nil {
		t.Fatal(err)
	}
	if err := sm.Close(); err != nil {
		t.Fatal(err)
	}

	b.logs[smChangelog] = append(b.logs[smChangelog], rec(smChangelog.Topic, 3, 4, "d", "4")) // written after the checkpoint
	b.restores = nil
	// A commit without changelog positions: restoration goes to the end
	// (with nothing committed, d would be an uncommitted write to roll back).
	sm, ckp = smOpen(t, smConfig(dir, b, newSMWriter(b), logged("kv")), partition.CommitPoint{Committed: true}, state.UnknownStreamTime)
	defer sm.Close()
	if ckp.StreamTime != 3_000 || ckp.Offsets[smChangelog] != 3 {
		t.Fatalf("checkpoint read back: stream time %d, offsets %v; want 3000 and %s at 3", ckp.StreamTime, ckp.Offsets, smChangelog)
	}
	if want := smChangelog.String() + " from 3"; len(b.restores) != 1 || b.restores[0] != want {
		t.Fatalf("restores %v, want [%s]: only what follows the checkpoint", b.restores, want)
	}
	for k, want := range map[string]string{"a": "1", "b": "2", "c": "3", "d": "4"} {
		if got := smGet(t, sm, "kv", k); got != want {
			t.Errorf("%s = %s, want %s", k, got, want)
		}
	}
}

// Under at-least-once, after an unclean stop (no checkpoint), a store
// restores up to the position of the last commit and rolls back what the
// changelog holds after it: each key written since is written again with its
// value at the commit (decision 0002), stamped with the commit's stream
// time, and the tracked position moves past the roll back.
func TestStateManagerRollsBackUncommittedTail(t *testing.T) {
	dir, b := t.TempDir(), newLCBroker()
	b.logs[smChangelog] = []*kgo.Record{
		rec(smChangelog.Topic, 0, 1, "a", "1"), // committed
		rec(smChangelog.Topic, 1, 2, "a", "2"), // not committed
		rec(smChangelog.Topic, 2, 3, "b", "3"), // not committed
	}
	w := newSMWriter(b)
	cp := partition.CommitPoint{Committed: true, Positions: map[state.TopicPartition]int64{smChangelog: 1}}
	sm, _ := smOpen(t, smConfig(dir, b, w, logged("kv")), cp, 10_000)
	defer sm.Close()

	if a, bv := smGet(t, sm, "kv", "a"), smGet(t, sm, "kv", "b"); a != "1" || bv != "<nil>" {
		t.Fatalf("after restore a=%s b=%s, want the committed a=1 and no b", a, bv)
	}
	if want := "a=1@00:00:10.000,b=<nil>@00:00:10.000"; strings.Join(w.sent, ",") != want {
		t.Fatalf("roll-back records %v, want %s", w.sent, want)
	}
	if pos, fp := sm.StorePositions(); pos[0] != 5 || fp == 0 {
		t.Fatalf("store positions %v (fingerprint %d), want store 0 at 5: past the two roll-back records", pos, fp)
	}
}

// A checkpoint past the changelog's end (the topic was made again) makes
// the store start over from the changelog there now.
func TestStateManagerCheckpointBeyondChangelogEnd(t *testing.T) {
	dir, b := t.TempDir(), newLCBroker()
	b.logs[smChangelog] = []*kgo.Record{rec(smChangelog.Topic, 0, 1, "a", "1"), rec(smChangelog.Topic, 1, 2, "b", "2")}
	cfg := smConfig(dir, b, newSMWriter(b), logged("kv"))
	cfg.ExactlyOnce = true
	sm, _ := smOpen(t, cfg, partition.CommitPoint{}, state.UnknownStreamTime)
	if err := sm.Checkpoint(2, nil); err != nil {
		t.Fatal(err)
	}
	if err := sm.Close(); err != nil {
		t.Fatal(err)
	}

	b.logs[smChangelog] = []*kgo.Record{rec(smChangelog.Topic, 0, 5, "c", "3")}
	sm, _ = smOpen(t, cfg, partition.CommitPoint{}, state.UnknownStreamTime)
	defer sm.Close()
	for k, want := range map[string]string{"a": "<nil>", "b": "<nil>", "c": "3"} {
		if got := smGet(t, sm, "kv", k); got != want {
			t.Errorf("%s = %s, want %s (the changelog now holds only c)", k, got, want)
		}
	}
}

// An unlogged store keeps its files across an unclean stop under
// at-least-once, and is wiped under exactly-once, where the files may hold
// writes never committed.
func TestStateManagerUnloggedStoreAfterUncleanStop(t *testing.T) {
	needRocksDB(t)
	for _, eos := range []bool{false, true} {
		dir, b := t.TempDir(), newLCBroker()
		cfg := smConfig(dir, b, nil, topology.StoreSpec{Name: "local", Kind: topology.KindKeyValue})
		cfg.ExactlyOnce = eos
		sm, _ := smOpen(t, cfg, partition.CommitPoint{}, state.UnknownStreamTime)
		smPut(t, sm, "local", "k", "v")
		if err := sm.Store("local").Flush(); err != nil {
			t.Fatal(err)
		}
		if err := sm.Close(); err != nil { // no checkpoint: unclean
			t.Fatal(err)
		}
		sm, _ = smOpen(t, cfg, partition.CommitPoint{}, state.UnknownStreamTime)
		got := smGet(t, sm, "local", "k")
		sm.Close()
		if want := map[bool]string{false: "v", true: "<nil>"}[eos]; got != want {
			t.Errorf("exactly-once %v: k = %s after an unclean stop, want %s", eos, got, want)
		}
	}
}

// A source table's store restores from its source topic up to the
// committed input offset, and its checkpoint holds the offset processing
// reached beyond that.
func TestStateManagerSourceTable(t *testing.T) {
	dir, b := t.TempDir(), newLCBroker()
	src := state.TopicPartition{Topic: "tbl"}
	b.logs[src] = []*kgo.Record{rec("tbl", 0, 1, "a", "1"), rec("tbl", 1, 2, "b", "2"), rec("tbl", 2, 3, "c", "3")}
	spec := topology.StoreSpec{Name: "tbl-store", Kind: topology.KindKeyValue, SourceTopic: "tbl"}
	cfg := smConfig(dir, b, nil, spec)
	cp := partition.CommitPoint{Committed: true, Offsets: map[state.TopicPartition]int64{src: 2}}
	sm, _ := smOpen(t, cfg, cp, state.UnknownStreamTime)
	for k, want := range map[string]string{"a": "1", "b": "2", "c": "<nil>"} {
		if got := smGet(t, sm, "tbl-store", k); got != want {
			t.Errorf("%s = %s, want %s (restored up to the committed offset 2)", k, got, want)
		}
	}
	if err := sm.Checkpoint(3, map[state.TopicPartition]int64{src: 3}); err != nil {
		t.Fatal(err)
	}
	if err := sm.Close(); err != nil {
		t.Fatal(err)
	}
	sm = partition.NewStateManager(cfg)
	ckp, err := sm.ReadCheckpoint()
	if err != nil {
		t.Fatal(err)
	}
	if ckp.Offsets[src] != 3 {
		t.Fatalf("checkpoint offsets %v, want %s at 3 (what processing consumed)", ckp.Offsets, src)
	}
}

// Without a ChangelogWriter a logged store's writes are refused: a state
// manager that only restores (a standby) cannot write to a changelog by
// mistake.
func TestStateManagerWithoutWriterRefusesRollBack(t *testing.T) {
	b := newLCBroker()
	b.logs[smChangelog] = []*kgo.Record{rec(smChangelog.Topic, 0, 1, "a", "1")}
	sm := partition.NewStateManager(smConfig(t.TempDir(), b, nil, logged("kv")))
	defer sm.Close()
	if _, err := sm.ReadCheckpoint(); err != nil {
		t.Fatal(err)
	}
	err := sm.Restore(context.Background(), partition.CommitPoint{}, 0) // at-least-once, nothing committed: roll back a
	if err == nil || !strings.Contains(err.Error(), "no ChangelogWriter") {
		t.Fatalf("roll back without a writer: %v", err)
	}
	var rec *partition.RecoverableError
	if errors.As(err, &rec) {
		t.Fatalf("a missing writer is not recoverable: %v", err)
	}
}

// A restore logs at Info how many changelog records it applied to the
// task's stores: all of them from scratch, only the tail after a
// checkpoint.
func TestStateManagerLogsRestoreTotals(t *testing.T) {
	needRocksDB(t)
	dir, b := t.TempDir(), newLCBroker()
	b.logs[smChangelog] = []*kgo.Record{rec(smChangelog.Topic, 0, 1, "a", "1"), rec(smChangelog.Topic, 1, 2, "b", "2")}
	restored := func(cfg partition.StateConfig) string {
		t.Helper()
		var out strings.Builder
		cfg.ExactlyOnce = true
		cfg.Logger = slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelInfo}))
		sm, _ := smOpen(t, cfg, partition.CommitPoint{}, state.UnknownStreamTime)
		if err := sm.Checkpoint(2_000, nil); err != nil {
			t.Fatal(err)
		}
		if err := sm.Close(); err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(out.String(), "\n") {
			if strings.Contains(l, `msg="restored state"`) {
				return l
			}
		}
		t.Fatalf("no restored state line in %q", out.String())
		return ""
	}
	if l := restored(smConfig(dir, b, newSMWriter(b), logged("kv"))); !strings.Contains(l, "stores=1 records=2 took=") {
		t.Errorf("first restore logged %q, want stores=1 records=2 took=...", l)
	}
	b.logs[smChangelog] = append(b.logs[smChangelog], rec(smChangelog.Topic, 2, 3, "c", "3"))
	if l := restored(smConfig(dir, b, newSMWriter(b), logged("kv"))); !strings.Contains(l, "stores=1 records=1 took=") {
		t.Errorf("restore after a checkpoint logged %q, want stores=1 records=1 took=...", l)
	}
}
