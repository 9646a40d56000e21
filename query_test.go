package eddy_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/examples/wordcount"
	"github.com/eddystreams/eddy/internal/kafkatest"
)

func TestLocalQueries(t *testing.T) {
	e := newWCEnv(t, kafkatest.Embedded(t))
	first := randomText(21, 3000)
	e.produce(t, first)
	topo, err := wordcount.Topology(e.input, e.output)
	if err != nil {
		t.Fatal(err)
	}
	app, err := eddy.New(topo, eddy.WithBrokers(e.brokers...), eddy.WithApplicationID(e.appID), eddy.WithStateDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	counts, err := eddy.Store[string, int64](app, wordcount.StoreName)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := counts.Get(ctx, "x"); err == nil || !strings.Contains(err.Error(), "before Start") {
		t.Fatalf("query before Start: %v", err)
	}
	if err := app.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := app.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	want := independentCount(first)
	for w, n := range want {
		got, ok, err := counts.Get(ctx, w)
		if err != nil || !ok || got != n {
			t.Fatalf("Get(%q) = %d, %v, %v; want %d", w, got, ok, err, n)
		}
	}
	if _, ok, err := counts.Get(ctx, "no-such-word"); ok || err != nil {
		t.Fatalf("Get of an absent key: %v, %v", ok, err)
	}
	all, err := counts.All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for i, p := range all {
		if i > 0 && all[i-1].Key >= p.Key {
			t.Fatalf("All is not ordered by key: %q then %q", all[i-1].Key, p.Key)
		}
		got[p.Key] = p.Value
	}
	assertCounts(t, got, want)
	rng, err := counts.Range(ctx, "go", "kafka")
	if err != nil {
		t.Fatal(err)
	}
	var wantRange []string
	for w := range want {
		if w >= "go" && w <= "kafka" {
			wantRange = append(wantRange, w)
		}
	}
	if len(rng) != len(wantRange) || len(rng) == 0 || rng[0].Key != "go" {
		t.Fatalf("Range(go, kafka) gave %d entries starting %v, want %d (both ends included)", len(rng), rng[:min(1, len(rng))], len(wantRange))
	}
	pre, err := counts.PrefixScan(ctx, []byte("st"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pre {
		if !strings.HasPrefix(p.Key, "st") {
			t.Fatalf("prefix scan gave %q", p.Key)
		}
	}
	if len(pre) == 0 || pre[0].Value != want[pre[0].Key] {
		t.Fatalf("prefix scan st: %v", pre)
	}

	// Queries while the tasks keep processing new input: each answer is a
	// count the word really had (never more than the final count).
	second := randomText(22, 3000)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			n, _, err := counts.Get(ctx, "kafka")
			if err != nil {
				t.Error(err)
				return
			}
			if n < want["kafka"] {
				t.Errorf("count went back: %d < %d", n, want["kafka"])
				return
			}
		}
	}()
	e.produce(t, second)
	if err := app.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	final := independentCount(first + second)
	if n, _, _ := counts.Get(ctx, "kafka"); n != final["kafka"] {
		t.Fatalf("kafka: %d, want %d", n, final["kafka"])
	}

	// Bad queries get clear errors.
	if _, err := eddy.Store[string, int64](app, "nope"); err == nil || !strings.Contains(err.Error(), `no store named "nope"`) {
		t.Fatalf("unknown store: %v", err)
	}
	if _, err := eddy.Store[int64, int64](app, wordcount.StoreName); err == nil || !strings.Contains(err.Error(), "keys are not of type int64") {
		t.Fatalf("wrong key type: %v", err)
	}
}
