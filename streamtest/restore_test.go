package streamtest_test

import (
	"bytes"
	"errors"
	"github.com/eddystreams/eddy"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/eddystreams/eddy/streamtest"
	"github.com/eddystreams/eddy/topology"
)

// counter counts records per key into the store "counts".
func counter(b *topology.Builder) {
	s := topology.Stream(b, "in", topology.String(), topology.String())
	s.GroupByKey().Count(topology.Named("counts")).ToStream().To("out")
}

func expectCounts(t *testing.T, d *streamtest.Driver, want map[string]int64) {
	t.Helper()
	got, err := streamtest.StoreToMap(streamtest.ReadStore(d, "counts", topology.String(), topology.Int64()))
	must(t, err)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("store counts = %v, want %v", got, want)
	}
}

// debugLog returns a logger writing the tasks' debug logs (among them
// "restored" with the changelog offsets read) to the buffer.
func debugLog() (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), &buf
}

func pipeKeys(t *testing.T, d *streamtest.Driver, keys ...string) {
	t.Helper()
	in := streamtest.CreateInputTopic(d, "in", topology.String(), topology.String())
	for _, k := range keys {
		must(t, in.Pipe(k, "x"))
	}
}

func TestRestartRestoresMemoryStoreFromChangelog(t *testing.T) {
	d := newDriver(t, build(t, counter))
	out := streamtest.CreateOutputTopic(d, "out", topology.String(), topology.Int64())
	pipeKeys(t, d, "a", "b", "a")
	expectPairs(t, out, kv("a", int64(1)), kv("b", int64(1)), kv("a", int64(2)))

	must(t, d.Restart())
	// A memory store comes back empty: only restoration can refill it.
	expectCounts(t, d, map[string]int64{"a": 2, "b": 1})
	pipeKeys(t, d, "a")
	expectPairs(t, out, kv("a", int64(3)))
}

func TestRestartWithWipedRocksDBStateRestores(t *testing.T) {
	log, buf := debugLog()
	d := newDriver(t, build(t, counter), eddy.WithDefaultStoreEngine(topology.EngineRocksDB), eddy.WithLogger(log))
	pipeKeys(t, d, "a", "b", "a")
	must(t, d.Commit())
	// The checkpoint file is written on a clean close only: while a task
	// runs its local store is ahead of the last commit.
	ckp := filepath.Join(d.StateDir(), "streamtest", "0_0", ".checkpoint")
	if _, err := os.Stat(ckp); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("checkpoint while running: %v", err)
	}

	buf.Reset()
	must(t, d.Restart(streamtest.Unclean(), streamtest.WipeState()))
	if _, err := os.Stat(ckp); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("checkpoint survived WipeState: %v", err)
	}
	// The whole changelog was read: three updates.
	if !strings.Contains(buf.String(), "msg=restored task=0_0 store=counts from=0 to=3") {
		t.Fatalf("no restore from offset 0 in the logs:\n%s", buf)
	}
	expectCounts(t, d, map[string]int64{"a": 2, "b": 1})

	out := streamtest.CreateOutputTopic(d, "out", topology.String(), topology.Int64())
	readAll(t, out)
	pipeKeys(t, d, "b", "a")
	expectPairs(t, out, kv("b", int64(2)), kv("a", int64(3)))
}

func TestRestartKeepsRocksDBStateAtCheckpoint(t *testing.T) {
	needRocksDB(t)
	log, buf := debugLog()
	d := newDriver(t, build(t, counter), eddy.WithDefaultStoreEngine(topology.EngineRocksDB), eddy.WithLogger(log))
	pipeKeys(t, d, "a", "b", "a")

	buf.Reset()
	must(t, d.Restart()) // clean: commit, checkpoint, close
	// The local store was complete at its checkpoint (changelog offset 3):
	// nothing was read from the changelog.
	if strings.Contains(buf.String(), "msg=restored") {
		t.Fatalf("restored although the checkpoint was at the end:\n%s", buf)
	}
	expectCounts(t, d, map[string]int64{"a": 2, "b": 1})
	pipeKeys(t, d, "a")
	expectCounts(t, d, map[string]int64{"a": 3, "b": 1})
}

func TestUncleanRestartAfterCommitLosesNothing(t *testing.T) {
	d := newDriver(t, build(t, counter))
	pipeKeys(t, d, "a", "a")
	must(t, d.Commit())
	must(t, d.Restart(streamtest.Unclean()))
	expectCounts(t, d, map[string]int64{"a": 2})
	pipeKeys(t, d, "a")
	expectCounts(t, d, map[string]int64{"a": 3})
}

func TestUncleanRestartReprocessesUncommittedInput(t *testing.T) {
	// At-least-once: the second "a" was processed and its count logged, but
	// its offset not committed. After a crash the store is rolled back to
	// the commit (a=1) and the record is processed again: a=2 is sent twice,
	// and the count stays exact.
	d := newDriver(t, build(t, counter))
	out := streamtest.CreateOutputTopic(d, "out", topology.String(), topology.Int64())
	pipeKeys(t, d, "a")
	must(t, d.Commit())
	pipeKeys(t, d, "a")
	must(t, d.Restart(streamtest.Unclean()))
	expectPairs(t, out, kv("a", int64(1)), kv("a", int64(2)), kv("a", int64(2)))
	expectCounts(t, d, map[string]int64{"a": 2})
	if o, _ := d.Committed("in", 0); o != 1 {
		t.Fatalf("committed offset %d, want 1", o)
	}
}

func TestUncleanRestartOfRocksDBRollsBackToTheCommit(t *testing.T) {
	log, buf := debugLog()
	d := newDriver(t, build(t, counter), eddy.WithDefaultStoreEngine(topology.EngineRocksDB), eddy.WithLogger(log))
	pipeKeys(t, d, "a")
	must(t, d.Commit()) // the commit records changelog position 1
	pipeKeys(t, d, "a", "a")

	buf.Reset()
	must(t, d.Restart(streamtest.Unclean()))
	// The local store is wiped and restored up to the commit's position;
	// the key written after it is written back with its committed value;
	// then the two uncommitted records are processed again: 1 + 2.
	if !strings.Contains(buf.String(), "store=counts from=0 to=1") {
		t.Fatalf("no restore up to the commit in the logs:\n%s", buf)
	}
	if !strings.Contains(buf.String(), "rolled back uncommitted changelog records") {
		t.Fatalf("no roll-back in the logs:\n%s", buf)
	}
	expectCounts(t, d, map[string]int64{"a": 3})
	// A second crash restores the rolled-back state plus the redone work.
	must(t, d.Restart(streamtest.Unclean()))
	expectCounts(t, d, map[string]int64{"a": 3})
}

func TestUncleanRestartReprocessesThroughRepartition(t *testing.T) {
	d := newDriver(t, build(t, wordCount), streamtest.WithPartitions(3))
	lines := streamtest.CreateInputTopic(d, "lines", topology.String(), topology.String())
	must(t, lines.Pipe("", "a b"))
	must(t, d.Commit())
	must(t, lines.Pipe("", "a"))
	// Uncommitted: the line "a" and the repartitioned word "a" (already
	// counted, a=2). After the crash the count is rolled back to a=1 and
	// both are processed again, in the order they were written: the line
	// first, which repartitions a new "a"; then the old repartitioned "a"
	// (a=2) and the new one (a=3). The repartition topic holds "a" twice:
	// at-least-once repeats across sub-topologies.
	must(t, d.Restart(streamtest.Unclean()))
	got, err := streamtest.StoreToMap(streamtest.ReadStore(d, "counts", topology.String(), topology.Int64()))
	must(t, err)
	if want := map[string]int64{"a": 3, "b": 1}; !reflect.DeepEqual(got, want) {
		t.Fatalf("counts %v, want %v", got, want)
	}
}

func TestRestartCleanAcrossPartitions(t *testing.T) {
	d := newDriver(t, build(t, wordCount), streamtest.WithPartitions(4), eddy.WithDefaultStoreEngine(topology.EngineRocksDB))
	lines := streamtest.CreateInputTopic(d, "lines", topology.String(), topology.String())
	must(t, lines.PipeKeyValues(kv("1", "the quick fox"), kv("2", "the lazy dog"), kv("3", "the end")))
	must(t, d.Restart(streamtest.WipeState()))
	must(t, lines.Pipe("4", "quick quick"))
	got, err := streamtest.StoreToMap(streamtest.ReadStore(d, "counts", topology.String(), topology.Int64()))
	must(t, err)
	want := map[string]int64{"the": 3, "quick": 3, "fox": 1, "lazy": 1, "dog": 1, "end": 1}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("counts %v, want %v", got, want)
	}
}

func TestUnloggedRocksDBStoreSurvivesCleanRestart(t *testing.T) {
	needRocksDB(t)
	// topology.WithLogging says a store without a changelog "starts empty
	// whenever its task moves or its state directory is lost", so a clean
	// restart on the same state directory should keep it. partition.Task
	// wipes the RocksDB directory of every unlogged store when it opens it
	// (openStore: "if !haveCkp || !spec.Logging"), so the counts are lost.
	d := newDriver(t, build(t, func(b *topology.Builder) {
		s := topology.Stream(b, "in", topology.String(), topology.String())
		s.GroupByKey().Count(topology.Named("counts"), topology.WithLogging(false), topology.WithEngine(topology.EngineRocksDB))
	}))
	pipeKeys(t, d, "a", "a")
	must(t, d.Restart())
	expectCounts(t, d, map[string]int64{"a": 2})
}
