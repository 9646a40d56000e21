package partition_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/state"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

// windowWriter puts each record in the window store "win" under the window
// starting at the record's timestamp.
type windowWriter struct {
	store topology.KeyValueStore
}

func (w *windowWriter) Init(ctx topology.ProcessorContext[string, string]) (err error) {
	w.store, err = ctx.KeyValueStore("win")
	return err
}

func (w *windowWriter) Process(r topology.Record[string, string]) error {
	return w.store.Put(topology.WindowKey([]byte(r.Key), r.Timestamp, 0), []byte(r.Value))
}

func (w *windowWriter) Close() error { return nil }

func windowTopology(t *testing.T) *topology.Topology {
	t.Helper()
	b := topology.NewBuilder()
	b.AddStore(topology.StoreSpec{
		Name:            "win",
		Kind:            topology.KindWindow,
		Retention:       100 * time.Millisecond,
		SegmentInterval: 50 * time.Millisecond,
		Logging:         true,
	})
	in := topology.Stream(b, "in", topology.String(), topology.String())
	topology.Process(in, func() topology.Processor[string, string, string, string] { return &windowWriter{} }, "win")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// windows lists a window store's content as "key@start=value".
func windows(t *testing.T, task *partition.Task) []string {
	t.Helper()
	it, err := task.Store("win").(topology.KeyValueStore).Range(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var out []string
	for it.Next() {
		k, start, _, err := topology.SplitWindowKey(it.Key())
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s@%d=%s", k, start, it.Value()))
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// A window store is segmented under its changelog: the changelog carries
// logical window keys, retention drops old windows, and a task restores
// the store from the changelog, dropping what has expired, on either
// engine, or reopens its RocksDB files after a clean stop.
func TestTaskRestoresWindowStoreFromChangelog(t *testing.T) {
	for _, engine := range []topology.Engine{topology.EngineRocksDB, topology.EngineMemory} {
		t.Run(engine.String(), func(t *testing.T) {
			ctx := context.Background()
			br := newLCBroker()
			dir := t.TempDir()
			task := lcTask(t, windowTopology(t), br, dir, engine)
			if err := task.Initialize(ctx, partition.CommitPoint{}); err != nil {
				t.Fatal(err)
			}
			in := state.TopicPartition{Topic: "in"}
			task.AddRecords(in, []*kgo.Record{
				rec("in", 0, 10, "a", "a10"),
				rec("in", 1, 20, "b", "b20"),
				rec("in", 2, 70, "a", "a70"),
				rec("in", 3, 160, "a", "a160"),
				rec("in", 4, 170, "b", "b170"),
				rec("in", 5, 130, "c", "c130"), // late: its segment is live, the window expired
				rec("in", 6, 230, "a", "a230"),
				rec("in", 7, 40, "d", "d40"), // its segment is gone: dropped
			})
			if _, err := task.Process(100); err != nil {
				t.Fatal(err)
			}
			// Observed stream time 230, retention 100: windows up to 130
			// have expired; segments 0 and 1 (up to 99) are gone.
			want := []string{"a@160=a160", "a@230=a230", "b@170=b170"}
			if got := windows(t, task); !equalStrings(got, want) {
				t.Fatalf("store %v, want %v", got, want)
			}
			changelog := state.TopicPartition{Topic: "app-win-changelog"}
			log := br.logs[changelog]
			if len(log) != 8 {
				t.Fatalf("%d changelog records, want 8 (every write is logged)", len(log))
			}
			if !bytes.Equal(log[0].Key, topology.WindowKey([]byte("a"), 10, 0)) {
				t.Fatalf("changelog key %x is not the logical window key", log[0].Key)
			}
			if err := task.Close(true); err != nil {
				t.Fatal(err)
			}

			// Restart on the same directory: RocksDB reopens its files
			// (nothing to restore past the checkpoint), memory restores.
			again := lcTask(t, windowTopology(t), br, dir, engine)
			if err := again.Initialize(ctx, partition.CommitPoint{}); err != nil {
				t.Fatal(err)
			}
			if got := windows(t, again); !equalStrings(got, want) {
				t.Fatalf("after restart: store %v, want %v", got, want)
			}
			// Retention goes on from the observed stream time of before
			// the restart: a window at 99 is refused, one at 131 kept.
			again.AddRecords(in, []*kgo.Record{rec("in", 8, 99, "e", "e99"), rec("in", 9, 131, "e", "e131")})
			if _, err := again.Process(100); err != nil {
				t.Fatal(err)
			}
			want = []string{"a@160=a160", "a@230=a230", "b@170=b170", "e@131=e131"}
			if got := windows(t, again); !equalStrings(got, want) {
				t.Fatalf("after restart and more records: store %v, want %v", got, want)
			}
			if err := again.Close(false); err != nil {
				t.Fatal(err)
			}

			// A new instance with no local state restores everything the
			// changelog holds, up to the committed position.
			fresh := lcTask(t, windowTopology(t), br, t.TempDir(), engine)
			// The commit carries the stream time of what it covers (230).
			cp := partition.CommitPoint{Committed: true, Positions: map[state.TopicPartition]int64{changelog: int64(len(br.logs[changelog]))}, StreamTime: 230}
			if err := fresh.Initialize(ctx, cp); err != nil {
				t.Fatal(err)
			}
			defer fresh.Close(false)
			if got := windows(t, fresh); !equalStrings(got, want) {
				t.Fatalf("restored from the changelog: store %v, want %v", got, want)
			}
		})
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
