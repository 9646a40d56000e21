package streamtest_test

import (
	"fmt"
	"github.com/eddystreams/eddy"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/eddystreams/eddy/streamtest"
	"github.com/eddystreams/eddy/topology"
)

// A seeded random run of a task with a logged and an unlogged RocksDB store
// through commits, clean restarts and crashes (unclean stops after a random
// number of uncommitted records), compared after every restart with a model
// of what was committed.
//
// It guards the removal of the checkpoint file when a task starts: a task
// that restarted cleanly and then crashed must not find the checkpoint of
// the clean stop, or it would trust a local store written past it (and past
// the last commit) and count the records processed again twice.
//
// The model, under at-least-once: the logged store holds the exact count of
// every record piped (after a crash the store is rolled back to the commit
// and the records after it are processed again). The unlogged store has no
// changelog to roll back with: it keeps what the crashed task wrote (the
// driver's crash still closes RocksDB, which flushes), so every record
// processed again after a crash counts once more.
func TestCheckpointRemovalAtStartAgainstModel(t *testing.T) {
	needRocksDB(t)
	for seed := uint64(1); seed <= 8; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 0xc4ec))
			d := newDriver(t, build(t, func(b *topology.Builder) {
				s := topology.Stream(b, "in", topology.String(), topology.String())
				s.GroupByKey().Count(topology.Named("counts"))
				s.GroupByKey().Count(topology.Named("local"), topology.WithLogging(false))
			}), eddy.WithDefaultStoreEngine(topology.EngineRocksDB))
			in := streamtest.CreateInputTopic(d, "in", topology.String(), topology.String())
			logged, unlogged := map[string]int64{}, map[string]int64{}
			var uncommitted []string
			var trace []string
			check := func(after string) {
				t.Helper()
				for name, want := range map[string]map[string]int64{"counts": logged, "local": unlogged} {
					got, err := streamtest.StoreToMap(streamtest.ReadStore(d, name, topology.String(), topology.Int64()))
					must(t, err)
					if len(want) == 0 {
						want = map[string]int64{}
					}
					if !reflect.DeepEqual(got, want) {
						t.Fatalf("store %s after %s: %v, want %v\nsteps: %s", name, after, got, want, strings.Join(trace, " "))
					}
				}
			}
			for step := range 60 {
				switch op := rng.IntN(10); {
				case op < 5: // a few records
					for range 1 + rng.IntN(4) {
						k := fmt.Sprintf("k%d", rng.IntN(4))
						must(t, in.Pipe(k, "x"))
						logged[k]++
						unlogged[k]++
						uncommitted = append(uncommitted, k)
					}
					trace = append(trace, "pipe")
				case op < 7:
					must(t, d.Commit())
					uncommitted = nil
					trace = append(trace, "commit")
				case op < 8:
					must(t, d.Restart()) // commits, checkpoints, closes
					uncommitted = nil
					trace = append(trace, "clean")
					check(fmt.Sprintf("clean restart %d", step))
				default:
					must(t, d.Restart(streamtest.Unclean()))
					for _, k := range uncommitted { // processed again
						unlogged[k]++
					}
					trace = append(trace, fmt.Sprintf("crash(%d)", len(uncommitted)))
					check(fmt.Sprintf("crash %d", step))
				}
			}
		})
	}
}
