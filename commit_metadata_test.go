package eddy_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/internal/kafkatest"
	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// manyStores counts the records of in per key into n logged stores whose
// changelog topic names are 249 bytes long, Kafka's limit.
func manyStores(t *testing.T, appID, in string, n int) (*topology.Topology, []string) {
	t.Helper()
	b := topology.NewBuilder()
	g := topology.Stream(b, in, topology.String(), topology.String()).GroupByKey()
	long := topology.MaxTopicNameLength - len(appID) - len("--changelog") - len("-000")
	var names []string
	for i := range n {
		name := fmt.Sprintf("%s-%03d", strings.Repeat("s", long), i)
		names = append(names, name)
		g.Count(topology.Named(name))
	}
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	if got := len(topology.ChangelogTopicName(appID, names[0])); got != topology.MaxTopicNameLength {
		t.Fatalf("changelog names are %d bytes", got)
	}
	return topo, names
}

// A task with a hundred logged stores of long names commits under
// at-least-once on real Kafka, whose commits take at most 4096 bytes of
// metadata per partition (the text format of the changelog positions took
// about 26 KB and every commit failed), and a restart after a crash rolls
// every store back to the commit: the positions read back map to the right
// changelogs.
func TestCommitMetadataOfManyStoresOnKafka(t *testing.T) {
	brokers := kafkatest.RealBrokers(t)
	name := kafkatest.UniqueName(t, "md")
	in := name + "-in"
	ensureTopics(t, brokers, 1, in)
	topo, stores := manyStores(t, name, in, 100)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cl := newClient(t, brokers)
	adm := kadm.NewClient(cl)
	t.Cleanup(func() {
		topics := []string{in}
		for _, s := range stores {
			topics = append(topics, topology.ChangelogTopicName(name, s))
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		adm.DeleteTopics(ctx, topics...)
	})

	want := map[string]int64{}
	var recs []*kgo.Record
	for i := range 60 {
		k := fmt.Sprintf("k%d", i%7)
		want[k]++
		recs = append(recs, &kgo.Record{Topic: in, Key: []byte(k), Value: []byte("x")})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	run := func() *eddy.App {
		app, err := eddy.New(topo, eddy.WithBrokers(brokers...), eddy.WithApplicationID(name), eddy.WithStateDir(dir),
			eddy.WithCommitInterval(100*time.Millisecond), eddy.WithDefaultStoreEngine(topology.EngineRocksDB))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { app.Close() })
		if err := app.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if err := app.WaitIdle(ctx); err != nil {
			t.Fatalf("records not committed: %v (app error: %v)", err, app.Err())
		}
		return app
	}
	app := run()
	if err := app.Close(); err != nil {
		t.Fatal(err)
	}
	offs, err := adm.FetchOffsets(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	o, ok := offs.Lookup(in, 0)
	if !ok || o.At != 60 || !strings.HasPrefix(o.Metadata, "eddy/2;") || len(o.Metadata) > partition.MaxCommitMetadataBytes {
		t.Fatalf("committed %+v", o)
	}
	t.Logf("commit metadata of %d stores: %d bytes", len(stores), len(o.Metadata))

	// A crash after changelog writes that were never committed: a record
	// past the commit in three changelogs (the first store, one inside, the
	// last), and no checkpoint (a crashed task leaves none).
	var tail []*kgo.Record
	for _, i := range []int{0, 57, 99} {
		tail = append(tail, &kgo.Record{Topic: topology.ChangelogTopicName(name, stores[i]), Partition: 0, Key: []byte("k0")}) // a delete
	}
	pcl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer pcl.Close()
	if err := pcl.ProduceSync(ctx, tail...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	ckps, _ := filepath.Glob(filepath.Join(dir, name, "*", ".checkpoint"))
	if len(ckps) != 1 {
		t.Fatalf("checkpoints after a clean close: %v", ckps)
	}
	if err := os.Remove(ckps[0]); err != nil {
		t.Fatal(err)
	}

	app = run()
	for _, s := range stores {
		r, err := eddy.Store[string, int64](app, s)
		if err != nil {
			t.Fatal(err)
		}
		all, err := r.All(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int64{}
		for _, p := range all {
			got[p.Key] = p.Value
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("store %s…: %v, want %v", s[len(s)-8:], got, want)
		}
	}
}
