package eddy_test

import (
	"context"
	"testing"
	"time"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/examples/wordcount"
	"github.com/eddystreams/eddy/internal/kafkatest"
	"github.com/eddystreams/eddy/topology"
)

// TestRecordCacheInApp counts words with a cached store under both
// guarantees: WaitIdle's commits flush the cache, the final counts are
// exact, each word's outputs still rise, and the merged updates mean far
// fewer output and changelog records (the same number of each) than words.
func TestRecordCacheInApp(t *testing.T) {
	for _, g := range []eddy.Guarantee{eddy.AtLeastOnce, eddy.ExactlyOnce} {
		t.Run(g.String(), func(t *testing.T) {
			e := newWCEnv(t, kafkatest.Embedded(t))
			text := randomText(7, 5000)
			e.produce(t, text)
			b := topology.NewBuilder()
			lines := topology.Stream(b, e.input, topology.String(), topology.String())
			words := topology.FlatMapValues(lines, func(_ string, l string) []string { return wordcount.Words(l) })
			topology.GroupBy(words, func(_ string, w string) string { return w }).
				Count(topology.Named("counts"), topology.WithCaching(true)).ToStream().To(e.output)
			topo, err := b.Build()
			if err != nil {
				t.Fatal(err)
			}
			app, err := eddy.New(topo, eddy.WithBrokers(e.brokers...), eddy.WithApplicationID(e.appID),
				eddy.WithStateDir(t.TempDir()), eddy.WithProcessingGuarantee(g), eddy.WithCommitInterval(time.Hour))
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
			if err := app.Close(); err != nil {
				t.Fatal(err)
			}
			want := independentCount(text)
			outs := countSequences(t, e.brokers, e.output)
			logged := countSequences(t, e.brokers, e.appID+"-counts-changelog")
			last := map[string]int64{}
			var nOut, nLogged, nWords int
			for w, seq := range outs {
				for i := 1; i < len(seq); i++ {
					if seq[i] <= seq[i-1] {
						t.Fatalf("%q: counts %v do not rise", w, seq)
					}
				}
				last[w] = seq[len(seq)-1]
				nOut += len(seq)
				nLogged += len(logged[w])
			}
			for _, n := range want {
				nWords += int(n)
			}
			assertCounts(t, last, want)
			t.Logf("%d words: %d outputs, %d changelog records", nWords, nOut, nLogged)
			if nOut != nLogged || nOut > nWords/4 {
				t.Fatalf("%d words: %d outputs and %d changelog records; want as many of each, and far fewer than words", nWords, nOut, nLogged)
			}
		})
	}
}
