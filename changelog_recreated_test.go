package eddy_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/internal/kafkatest"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A changelog topic deleted between two runs (and made again by the second
// run) leaves a checkpoint past its end: the second run must wipe the local
// store and take what the new changelog holds (nothing), not keep counting
// on the old local state.
func TestChangelogRecreatedBetweenRuns(t *testing.T) {
	for _, real := range []bool{false, true} {
		for _, g := range []eddy.Guarantee{eddy.AtLeastOnce, eddy.ExactlyOnce} {
			t.Run(map[bool]string{false: "embedded", true: "kafka"}[real]+"/"+g.String(), func(t *testing.T) {
				brokers := brokersFor(t, real)
				name := kafkatest.UniqueName(t, "recreate")
				in := name + "-in"
				ensureTopics(t, brokers, 1, in)
				b := topology.NewBuilder()
				topology.Stream(b, in, topology.String(), topology.String()).GroupByKey().Count(topology.Named("counts"))
				topo, err := b.Build()
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
				defer cancel()
				cl := newClient(t, brokers)
				adm := kadm.NewClient(cl)
				changelog := topology.ChangelogTopicName(name, "counts")
				t.Cleanup(func() { adm.DeleteTopics(context.Background(), in, changelog) })
				produce := func(keys ...string) {
					t.Helper()
					var recs []*kgo.Record
					for _, k := range keys {
						recs = append(recs, &kgo.Record{Topic: in, Key: []byte(k), Value: []byte("x")})
					}
					if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
						t.Fatal(err)
					}
				}
				dir := t.TempDir()
				run := func() map[string]int64 {
					t.Helper()
					app, err := eddy.New(topo, eddy.WithBrokers(brokers...), eddy.WithApplicationID(name), eddy.WithStateDir(dir),
						eddy.WithProcessingGuarantee(g), eddy.WithDefaultStoreEngine(topology.EngineRocksDB))
					if err != nil {
						t.Fatal(err)
					}
					defer app.Close()
					if err := app.Start(ctx); err != nil {
						t.Fatal(err)
					}
					if err := app.WaitIdle(ctx); err != nil {
						t.Fatal(err)
					}
					r, err := eddy.Store[string, int64](app, "counts")
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
					if err := app.Close(); err != nil { // clean: a checkpoint
						t.Fatal(err)
					}
					return got
				}
				produce("a", "a", "b")
				if got := run(); fmt.Sprint(got) != fmt.Sprint(map[string]int64{"a": 2, "b": 1}) {
					t.Fatalf("first run: %v", got)
				}
				if _, err := adm.DeleteTopic(ctx, changelog); err != nil {
					t.Fatal(err)
				}
				waitFor(t, time.Minute, "the changelog to be deleted", func() bool {
					td, err := adm.ListTopics(ctx, changelog)
					return err == nil && !td.Has(changelog)
				})
				produce("a")
				if got := run(); fmt.Sprint(got) != fmt.Sprint(map[string]int64{"a": 1}) {
					t.Fatalf("after the changelog was made again: %v, want a=1 (the new changelog held nothing)", got)
				}
			})
		}
	}
}
