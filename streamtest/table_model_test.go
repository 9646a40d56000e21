package streamtest_test

import (
	"fmt"
	"github.com/eddystreams/eddy"
	"math/rand"
	"reflect"
	"strings"
	"testing"

	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/streamtest"
	"github.com/eddystreams/eddy/topology"
)

// regionModel is the plain in-memory model of regionTopology: the users
// table, and per region the count of users and the sum of their scores.
// A region, once seen, keeps its entry at 0.
type regionModel struct {
	users  map[string]string
	counts map[string]int64
	scores map[string]int64
}

func newRegionModel() *regionModel {
	return &regionModel{users: map[string]string{}, counts: map[string]int64{}, scores: map[string]int64{}}
}

func (m *regionModel) set(user, v string) {
	m.del(user)
	m.users[user] = v
	m.counts[regionOf(v)]++
	m.scores[regionOf(v)] += scoreOf(v)
}

func (m *regionModel) del(user string) {
	if old, ok := m.users[user]; ok {
		delete(m.users, user)
		m.counts[regionOf(old)]--
		m.scores[regionOf(old)] -= scoreOf(old)
	}
}

// randomOp makes one random table update: an insert or update (most often)
// or a delete, on a small set of users and regions so that moves, updates
// within a region, deletes of absent users and regions dropping to 0 are all
// frequent.
func randomOp(rng *rand.Rand) (user, v string, del bool) {
	user = fmt.Sprintf("u%02d", rng.Intn(20))
	if rng.Intn(4) == 0 {
		return user, "", true
	}
	return user, fmt.Sprintf("r%d:%d", rng.Intn(5), rng.Intn(100)-30), false
}

// checkRegions compares the driver's stores and the last update per key of
// the outputs with the model.
func checkRegions(t *testing.T, d *streamtest.Driver, m *regionModel, counts, scores map[string]int64, step int) {
	t.Helper()
	users, err := streamtest.StoreToMap(streamtest.ReadStore(d, "users", topology.String(), topology.String()))
	must(t, err)
	gotCounts, err := streamtest.StoreToMap(streamtest.ReadStore(d, "counts", topology.String(), topology.Int64()))
	must(t, err)
	gotScores, err := streamtest.StoreToMap(streamtest.ReadStore(d, "scores", topology.String(), topology.Int64()))
	must(t, err)
	for what, pair := range map[string][2]any{
		"users store":   {users, m.users},
		"counts store":  {gotCounts, m.counts},
		"scores store":  {gotScores, m.scores},
		"counts output": {counts, m.counts},
		"scores output": {scores, m.scores},
	} {
		if !reflect.DeepEqual(pair[0], pair[1]) {
			t.Fatalf("step %d: %s:\n got  %v\n want %v", step, what, pair[0], pair[1])
		}
	}
}

// drain folds the unread records of o into last (latest value per key).
func drain(t *testing.T, o *streamtest.TestOutputTopic[string, int64], last map[string]int64) {
	t.Helper()
	for _, r := range readAllRecords(t, o) {
		if r.NullValue {
			t.Fatalf("aggregate deleted %s", r.Key)
		}
		last[r.Key] = r.Value
	}
}

func readAllRecords[K, V any](t *testing.T, o *streamtest.TestOutputTopic[K, V]) []topology.Record[K, V] {
	t.Helper()
	rs, err := o.ReadAll()
	must(t, err)
	return rs
}

// TestTableAggregateMatchesModel applies random inserts, updates and deletes
// to a table of user -> "region:score", groups it by region, and counts and
// sums per region; after every step the stores and the outputs must equal a
// plain in-memory model. It runs with several partitions (so regrouping
// crosses tasks) and restarts now and then (clean, unclean, with the state
// directory wiped), which must change nothing.
func TestTableAggregateMatchesModel(t *testing.T) {
	for _, tc := range []struct {
		name   string
		seed   int64
		parts  int32
		engine topology.Engine
		steps  int
		odds   int // a restart every odds/5 steps on average
	}{
		{"memory-1", 1, 1, topology.EngineMemory, 600, 60},
		{"memory-3", 2, 3, topology.EngineMemory, 600, 60},
		{"rocksdb-2", 3, 2, topology.EngineRocksDB, 250, 125}, // opening RocksDB is slow
	} {
		t.Run(tc.name, func(t *testing.T) {
			if testing.Short() && tc.engine == topology.EngineRocksDB {
				t.Skip("slow: RocksDB stores are opened at every restart")
			}
			rng := rand.New(rand.NewSource(tc.seed))
			d := newDriver(t, build(t, regionTopology), streamtest.WithPartitions(tc.parts), eddy.WithDefaultStoreEngine(tc.engine))
			in := streamtest.CreateInputTopic(d, "users", topology.String(), topology.String())
			countsOut := streamtest.CreateOutputTopic(d, "counts", topology.String(), topology.Int64())
			scoresOut := streamtest.CreateOutputTopic(d, "scores", topology.String(), topology.Int64())
			m := newRegionModel()
			counts, scores := map[string]int64{}, map[string]int64{}
			for step := 0; step < tc.steps; step++ {
				user, v, del := randomOp(rng)
				if del {
					must(t, in.PipeTombstoneAt(user, int64(step)))
					m.del(user)
				} else {
					must(t, in.PipeAt(user, v, int64(step)))
					m.set(user, v)
				}
				drain(t, countsOut, counts)
				drain(t, scoresOut, scores)
				checkRegions(t, d, m, counts, scores, step)
				switch rng.Intn(tc.odds) {
				case 0:
					must(t, d.Commit())
				case 1:
					must(t, d.Restart())
				case 2:
					must(t, d.Restart(streamtest.WipeState()))
				case 3:
					// A crash right after a commit. (A crash with uncommitted
					// work is exact under exactly-once only: at-least-once
					// processes again what the repartition topic already
					// holds.)
					must(t, d.Commit())
					must(t, d.Restart(streamtest.Unclean()))
				case 4:
					must(t, d.Commit())
					must(t, d.Restart(streamtest.Unclean(), streamtest.WipeState()))
				default:
					continue
				}
				drain(t, countsOut, counts)
				drain(t, scoresOut, scores)
				checkRegions(t, d, m, counts, scores, step)
			}
		})
	}
}

func TestSourceTableRestoresToTheCommittedOffset(t *testing.T) {
	needRocksDB(t)
	log, buf := debugLog()
	d := newDriver(t, build(t, regionTopology), eddy.WithDefaultStoreEngine(topology.EngineRocksDB), eddy.WithLogger(log))
	in := streamtest.CreateInputTopic(d, "users", topology.String(), topology.String())
	rep := streamtest.CreateOutputTopic(d, "streamtest-counts-repartition", topology.Bytes(), topology.Bytes())
	must(t, in.PipeKeyValues(kv("u1", "eu:1"), kv("u2", "eu:2"), kv("u3", "us:3")))
	must(t, in.PipeTombstone("u2"))
	must(t, d.Commit())
	readAll(t, rep)
	must(t, in.Pipe("u1", "us:5")) // not committed
	first := readAll(t, rep)       // subtract eu:1 from eu, add us:5 to us
	if len(first) != 2 {
		t.Fatalf("a move made %d repartition records, want 2", len(first))
	}
	buf.Reset()
	must(t, d.Restart(streamtest.Unclean(), streamtest.WipeState()))
	// The users store is restored from its source topic up to the
	// committed offset 4 (not to the end: u1 is eu:1 again), then offset 4
	// is processed again and makes the same two records: the old value it
	// subtracts is the one restored.
	if !strings.Contains(buf.String(), "msg=restored task=0_0 store=users from=0 to=4") {
		t.Fatalf("no restore of users from 0 to 4:\n%s", buf)
	}
	if again := readAll(t, rep); !reflect.DeepEqual(again, first) {
		t.Fatalf("after the restart the move made\n %v\nnot again\n %v", again, first)
	}
	want := map[string]string{"u1": "us:5", "u3": "us:3"}
	expectStore(t, d, "users", topology.String(), want)

	// A clean restart keeps the local stores at their checkpoint: nothing
	// is read from the source topic.
	buf.Reset()
	must(t, d.Restart())
	if strings.Contains(buf.String(), "store=users") {
		t.Fatalf("users restored although its checkpoint was at the end:\n%s", buf)
	}
	expectStore(t, d, "users", topology.String(), want)
	// So does a clean restart with the state wiped, from the source topic.
	must(t, d.Restart(streamtest.WipeState()))
	expectStore(t, d, "users", topology.String(), want)
	expectEmpty(t, rep)
}

func TestSourceTableRestoreSkipsUndecodableRecords(t *testing.T) {
	d := newDriver(t, build(t, func(b *topology.Builder) {
		topology.Table(b, "t", topology.String(), topology.Int64(), topology.Named("t")).ToStream().To("out")
	}), eddy.WithDeserializationErrorHandler(partition.ErrorHandler{Action: partition.ActionContinue}))
	must(t, d.PipeInput("t", []byte("a"), []byte{0, 0, 0, 0, 0, 0, 0, 1}, 0))
	must(t, d.PipeInput("t", []byte("b"), []byte("bad"), 0)) // skipped by the handler
	must(t, d.PipeInput("t", nil, []byte{0, 0, 0, 0, 0, 0, 0, 2}, 0))
	must(t, d.Restart(streamtest.WipeState()))
	expectStore(t, d, "t", topology.Int64(), map[string]int64{"a": 1})
}
