package eddy_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/examples/regioncount"
	"github.com/eddystreams/eddy/examples/wordcount"
	"github.com/eddystreams/eddy/internal/kafkatest"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Tables and global tables against a broker: the embedded one always, a
// real Kafka when EDDY_KAFKA_BROKERS is set (make test).

func ensureTopics(t *testing.T, brokers []string, partitions int32, topics ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := wordcount.EnsureTopics(ctx, kadm.NewClient(newClient(t, brokers)), partitions, topics...); err != nil {
		t.Fatal(err)
	}
	// A real broker shows a new topic in its metadata a little later; ask
	// with fresh clients (a client caches what it saw) until all are there.
	waitFor(t, time.Minute, fmt.Sprintf("topics %v in the metadata", topics), func() bool {
		cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		td, err := kadm.NewClient(cl).ListTopics(ctx, topics...)
		if err != nil {
			return false
		}
		for _, topic := range topics {
			d, ok := td[topic]
			if !ok || d.Err != nil || len(d.Partitions) != int(partitions) {
				return false
			}
			for _, p := range d.Partitions {
				if p.Leader < 0 || p.Err != nil {
					return false
				}
			}
		}
		return true
	})
}

// tableUpdate is one record of a table topic: a nil value deletes.
type tableUpdate struct {
	key   string
	value []byte
}

func produceUpdates(t *testing.T, brokers []string, topic string, ups []tableUpdate) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	recs := make([]*kgo.Record, len(ups))
	for i, u := range ups {
		recs[i] = &kgo.Record{Topic: topic, Key: []byte(u.key), Value: u.value}
	}
	if err := newClient(t, brokers).ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// userModel is the independent model of regioncount's topology.
type userModel struct {
	users  map[string]string
	counts map[string]int64
}

func (m *userModel) apply(u tableUpdate) {
	if old, ok := m.users[u.key]; ok {
		m.counts[old]--
		delete(m.users, u.key)
	}
	if u.value != nil {
		m.users[u.key] = string(u.value)
		m.counts[string(u.value)]++
	}
}

func randomUpdates(rng *rand.Rand, n int) []tableUpdate {
	ups := make([]tableUpdate, n)
	for i := range ups {
		ups[i].key = fmt.Sprintf("user-%d", rng.Intn(50))
		if rng.Intn(5) > 0 {
			ups[i].value = []byte(fmt.Sprintf("region-%d", rng.Intn(6)))
		}
	}
	return ups
}

// runRegions processes what is in the input with a fresh App on dir, checks
// the stores (users, counts) through queries, closes, and checks the last
// count per region in the output topic.
func runRegions(t *testing.T, brokers []string, appID, in, out, dir string, g eddy.Guarantee, m *userModel) {
	t.Helper()
	topo, err := regioncount.Topology(in, out)
	if err != nil {
		t.Fatal(err)
	}
	app, err := eddy.New(topo, eddy.WithBrokers(brokers...), eddy.WithApplicationID(appID), eddy.WithStateDir(dir),
		eddy.WithProcessingGuarantee(g), eddy.WithCommitInterval(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := app.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := app.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	users, err := eddy.Store[string, string](app, regioncount.UsersStore)
	if err != nil {
		t.Fatal(err)
	}
	gotUsers := map[string]string{}
	all, err := users.All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range all {
		gotUsers[p.Key] = p.Value
	}
	if !reflect.DeepEqual(gotUsers, m.users) {
		t.Fatalf("users store:\n got  %v\n want %v", gotUsers, m.users)
	}
	counts, err := eddy.Store[string, int64](app, regioncount.CountsStore)
	if err != nil {
		t.Fatal(err)
	}
	for r, n := range m.counts {
		got, ok, err := counts.Get(ctx, r)
		if err != nil || !ok || got != n {
			t.Fatalf("counts store %s = %d, %v, %v; want %d", r, got, ok, err, n)
		}
	}
	if err := app.Close(); err != nil {
		t.Fatal(err)
	}
	cs, err := regioncount.ReadCounts(ctx, brokers, out)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, c := range cs {
		got[c.Region] = c.Users
	}
	if !reflect.DeepEqual(got, m.counts) {
		t.Fatalf("region counts output:\n got  %v\n want %v", got, m.counts)
	}
}

// TestTableGroupByCount runs a table of user -> region, grouped by region
// and counted, three times on the same input topic: first from scratch, then
// on the kept state directory (from checkpoints), then with the state
// directory wiped (the users store restored from its source topic, the
// counts from their changelog). After each run the stores and the output
// must match a plain model of all updates so far.
func TestTableGroupByCount(t *testing.T) {
	for _, real := range []bool{false, true} {
		for _, g := range []eddy.Guarantee{eddy.AtLeastOnce, eddy.ExactlyOnce} {
			t.Run(map[bool]string{false: "embedded", true: "kafka"}[real]+"/"+g.String(), func(t *testing.T) {
				brokers := brokersFor(t, real)
				name := kafkatest.UniqueName(t, "tbl")
				in, out := name+"-users", name+"-counts"
				ensureTopics(t, brokers, 3, in, out)
				rng := rand.New(rand.NewSource(11))
				m := &userModel{users: map[string]string{}, counts: map[string]int64{}}
				dir := t.TempDir()
				for run := 0; run < 3; run++ {
					ups := randomUpdates(rng, 400)
					for _, u := range ups {
						m.apply(u)
					}
					produceUpdates(t, brokers, in, ups)
					if run == 2 {
						if err := os.RemoveAll(dir); err != nil {
							t.Fatal(err)
						}
					}
					runRegions(t, brokers, name, in, out, dir, g, m)
				}
				if _, err := os.Stat(filepath.Join(dir, name, "0_0", ".checkpoint")); err != nil {
					t.Fatalf("no checkpoint after a clean close: %v", err)
				}
			})
		}
	}
}

// globalEnv is a global table of region code -> name and a stream of
// orders (key order id, value region code) enriched by a processor that
// looks the region up: "<code>:<name>", "<code>:?" when unknown.
type globalEnv struct {
	brokers              []string
	appID                string
	regions, orders, out string
}

func newGlobalEnv(t *testing.T, brokers []string) globalEnv {
	name := kafkatest.UniqueName(t, "glob")
	e := globalEnv{brokers: brokers, appID: name, regions: name + "-regions", orders: name + "-orders", out: name + "-enriched"}
	ensureTopics(t, brokers, 3, e.regions)
	ensureTopics(t, brokers, 2, e.orders, e.out)
	return e
}

type lookup struct {
	ctx topology.ProcessorContext[string, string]
	tbl *topology.TypedKeyValueStore[string, string]
	g   *topology.GlobalKTable[string, string]
}

func (l *lookup) Init(ctx topology.ProcessorContext[string, string]) error {
	kv, err := ctx.KeyValueStore(l.g.StoreName())
	if err != nil {
		return err
	}
	l.ctx = ctx
	l.tbl, err = l.g.Reader(kv)
	return err
}

func (l *lookup) Process(r topology.Record[string, string]) error {
	name, ok, err := l.tbl.Get(r.Value)
	if err != nil {
		return err
	}
	if !ok {
		name = "?"
	}
	r.Value += ":" + name
	return l.ctx.Forward(r)
}

func (l *lookup) Close() error { return nil }

func (e globalEnv) app(t *testing.T, dir string, g eddy.Guarantee) *eddy.App {
	t.Helper()
	b := topology.NewBuilder()
	regions := topology.GlobalTable(b, e.regions, topology.String(), topology.String(), topology.Named("regions"))
	orders := topology.Stream(b, e.orders, topology.String(), topology.String())
	topology.Process(orders, func() topology.Processor[string, string, string, string] { return &lookup{g: regions} }, regions.StoreName()).To(e.out)
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	app, err := eddy.New(topo, eddy.WithBrokers(e.brokers...), eddy.WithApplicationID(e.appID), eddy.WithStateDir(dir),
		eddy.WithProcessingGuarantee(g), eddy.WithCommitInterval(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	return app
}

// checkTypedGlobal reads the global store through eddy.Store, as any
// store: every key by Get, and All in key order, equal want.
func checkTypedGlobal(t *testing.T, ctx context.Context, app *eddy.App, want map[string]string) {
	t.Helper()
	r, err := eddy.Store[string, string](app, "regions")
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range want {
		if got, ok, err := r.Get(ctx, k); err != nil || !ok || got != v {
			t.Fatalf("global store Get(%q) = %q, %v, %v; want %q", k, got, ok, err, v)
		}
	}
	if _, ok, err := r.Get(ctx, "no-such-region"); err != nil || ok {
		t.Fatalf("global store Get of a missing key: %v %v", ok, err)
	}
	all, err := r.All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	keys := slices.Sorted(maps.Keys(want))
	if len(all) != len(keys) {
		t.Fatalf("global store All: %d entries, want %d", len(all), len(keys))
	}
	for i, p := range all {
		if p.Key != keys[i] || p.Value != want[keys[i]] {
			t.Fatalf("global store All entry %d: %s=%s, want %s=%s", i, p.Key, p.Value, keys[i], want[keys[i]])
		}
	}
}

// globalContents reads the whole global store of app.
func globalContents(t *testing.T, app *eddy.App) map[string]string {
	t.Helper()
	kv, err := app.GlobalStore("regions")
	if err != nil {
		t.Fatal(err)
	}
	it, err := kv.Range(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	m := map[string]string{}
	for it.Next() {
		m[string(it.Key())] = string(it.Value())
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return m
}

// readStrings reads topic to its current end (read_committed): the last
// value per key.
func readStrings(t *testing.T, brokers []string, topic string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListCommittedOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[o.Partition] = o.Offset
		}
	})
	m := map[string]string{}
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if end, ok := want[r.Partition]; ok && r.Offset+1 >= end {
				delete(want, r.Partition)
			}
			if !r.Attrs.IsControl() {
				m[string(r.Key)] = string(r.Value)
			}
		})
	}
	return m
}

// TestGlobalTable checks that Start returns with the global store caught up
// with its topic (all partitions), that tasks' lookups see it, that it
// follows later updates and deletes (and, under exactly-once, never shows
// aborted ones), and that a restart restores it, from its checkpoint or,
// with the state directory wiped, from the topic.
func TestGlobalTable(t *testing.T) {
	for _, real := range []bool{false, true} {
		for _, g := range []eddy.Guarantee{eddy.AtLeastOnce, eddy.ExactlyOnce} {
			t.Run(map[bool]string{false: "embedded", true: "kafka"}[real]+"/"+g.String(), func(t *testing.T) {
				e := newGlobalEnv(t, brokersFor(t, real))
				want := map[string]string{}
				var ups []tableUpdate
				for i := 0; i < 300; i++ {
					k := fmt.Sprintf("r%03d", i%120)
					v := []byte(fmt.Sprintf("name-%d", i))
					if i%7 == 0 {
						v = nil
					}
					ups = append(ups, tableUpdate{k, v})
					if v == nil {
						delete(want, k)
					} else {
						want[k] = string(v)
					}
				}
				produceUpdates(t, e.brokers, e.regions, ups)

				dir := t.TempDir()
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
				defer cancel()
				app := e.app(t, dir, g)
				if _, err := app.GlobalStore("regions"); err == nil {
					t.Fatal("GlobalStore before Start succeeded")
				}
				if err := app.Start(ctx); err != nil {
					t.Fatal(err)
				}
				// Caught up when Start returns: no waiting here.
				if got := globalContents(t, app); !reflect.DeepEqual(got, want) {
					t.Fatalf("global store after Start: %d keys, want %d", len(got), len(want))
				}
				checkTypedGlobal(t, ctx, app, want)
				kv, _ := app.GlobalStore("regions")
				if err := kv.Put([]byte("x"), []byte("y")); err == nil {
					t.Fatal("a write to the global store succeeded")
				}

				produceUpdates(t, e.brokers, e.orders, []tableUpdate{{"o1", []byte("r001")}, {"o2", []byte("r007")}, {"o3", []byte("zzz")}})
				if err := app.WaitIdle(ctx); err != nil {
					t.Fatal(err)
				}

				// Later updates reach the store; under exactly-once an
				// aborted transaction never does.
				if g == eddy.ExactlyOnce {
					produceTxn(t, e.brokers, e.regions, false, tableUpdate{"r001", []byte("aborted")}, tableUpdate{"aborted", []byte("x")})
					produceTxn(t, e.brokers, e.regions, true, tableUpdate{"r001", []byte("committed")}, tableUpdate{"r002", nil})
				} else {
					produceUpdates(t, e.brokers, e.regions, []tableUpdate{{"r001", []byte("committed")}, {"r002", nil}})
				}
				want["r001"] = "committed"
				delete(want, "r002")
				waitFor(t, time.Minute, "the global store to see the updates", func() bool {
					return reflect.DeepEqual(globalContents(t, app), want)
				})
				if err := app.Close(); err != nil {
					t.Fatal(err)
				}
				got := readStrings(t, e.brokers, e.out)
				wantOut := map[string]string{"o1": "r001:" + nameOf(ups, "r001"), "o2": "r007:" + nameOf(ups, "r007"), "o3": "zzz:?"}
				if !reflect.DeepEqual(got, wantOut) {
					t.Fatalf("enriched %v, want %v", got, wantOut)
				}

				for _, wipe := range []bool{false, true} {
					if wipe {
						if err := os.RemoveAll(dir); err != nil {
							t.Fatal(err)
						}
					} else if _, err := os.Stat(filepath.Join(dir, e.appID, "global", ".checkpoint")); err != nil {
						t.Fatalf("no global checkpoint after Close: %v", err)
					}
					app := e.app(t, dir, g)
					if err := app.Start(ctx); err != nil {
						t.Fatal(err)
					}
					if got := globalContents(t, app); !reflect.DeepEqual(got, want) {
						t.Fatalf("global store after a restart (wiped %v):\n got  %v\n want %v", wipe, got, want)
					}
					if err := app.Close(); err != nil {
						t.Fatal(err)
					}
				}
			})
		}
	}
}

// nameOf is the last value ups gives key ("" when deleted or absent).
func nameOf(ups []tableUpdate, key string) string {
	v := ""
	for _, u := range ups {
		if u.key == key {
			v = string(u.value)
		}
	}
	return v
}

// produceTxn writes ups in one transaction, committed or aborted.
func produceTxn(t *testing.T, brokers []string, topic string, commit bool, ups ...tableUpdate) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID(kafkatest.UniqueName(t, "txn")))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for _, u := range ups {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte(u.key), Value: u.value}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	end := kgo.TryAbort
	if commit {
		end = kgo.TryCommit
	}
	if err := cl.EndTransaction(ctx, end); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}
