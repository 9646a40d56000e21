package eddy_test

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/examples/windowcount"
	"github.com/eddystreams/eddy/internal/kafkatest"
	"github.com/twmb/franz-go/pkg/kadm"
)

// TestWindowStoreQueries reads a windowed count's store by key and time
// range and compares it with counts made here, from the events.
func TestWindowStoreQueries(t *testing.T) {
	brokers := kafkatest.Embedded(t)
	input, output := fmt.Sprintf("wq-in-%d", rand.Int()), fmt.Sprintf("wq-out-%d", rand.Int())
	const size = 10 * time.Second
	topo, err := windowcount.Topology(input, output, size, time.Hour) // no record is late
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl := newClient(t, brokers)
	if _, err := kadm.NewClient(cl).CreateTopics(ctx, 2, 1, nil, input, output); err != nil {
		t.Fatal(err)
	}
	base := time.Now().Add(-time.Hour).UnixMilli() / 10000 * 10000
	rng := rand.New(rand.NewSource(3))
	want := map[string]map[int64]int64{} // key -> window start -> count
	var events []windowcount.Event
	for i := 0; i < 2000; i++ {
		k := fmt.Sprintf("k%d", rng.Intn(20))
		ts := base + rng.Int63n(120_000)
		events = append(events, windowcount.Event{Key: k, Timestamp: ts})
		if want[k] == nil {
			want[k] = map[int64]int64{}
		}
		want[k][ts-ts%10000]++
	}
	if err := windowcount.ProduceEvents(ctx, cl, input, events); err != nil {
		t.Fatal(err)
	}
	app, err := eddy.New(topo, eddy.WithBrokers(brokers...), eddy.WithApplicationID(fmt.Sprintf("wq-%d", rand.Int())), eddy.WithStateDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	if _, err := eddy.WindowStore[string, string](app, windowcount.StoreName, size.Milliseconds()); err == nil {
		t.Fatal("a reader with the wrong value type must fail")
	}
	// A key-value reader of a window store is refused when asked for, not
	// on its first read.
	if _, err := eddy.Store[string, int64](app, windowcount.StoreName); err == nil || !strings.Contains(err.Error(), "WindowStore") {
		t.Fatalf("eddy.Store of a window store: %v, want an error pointing at eddy.WindowStore", err)
	}
	// The window size comes from the topology; a size given (the older
	// form) must be the topology's.
	if _, err := eddy.WindowStore[string, int64](app, windowcount.StoreName, size.Milliseconds()); err != nil {
		t.Fatalf("WindowStore with the topology's size: %v", err)
	}
	if _, err := eddy.WindowStore[string, int64](app, windowcount.StoreName, size.Milliseconds()+1); err == nil || !strings.Contains(err.Error(), "10000ms") {
		t.Fatalf("WindowStore with another size: %v, want an error naming the topology's 10000ms", err)
	}
	ws, err := eddy.WindowStore[string, int64](app, windowcount.StoreName)
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := app.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	from, to := base+30_000, base+70_000 // windows starting at 30s..70s, both included
	for k, byStart := range want {
		got, err := ws.Fetch(ctx, k, from, to)
		if err != nil {
			t.Fatal(err)
		}
		var exp []string
		for s := from; s <= to; s += 10_000 {
			if n := byStart[s]; n > 0 {
				exp = append(exp, fmt.Sprintf("%d-%d:%d", s, s+10_000, n))
			}
		}
		var have []string
		for _, w := range got {
			if w.Key.Key != k {
				t.Fatalf("Fetch(%s) returned key %s", k, w.Key.Key)
			}
			have = append(have, fmt.Sprintf("%d-%d:%d", w.Key.Window.Start, w.Key.Window.End, w.Value))
		}
		if fmt.Sprint(have) != fmt.Sprint(exp) {
			t.Fatalf("Fetch(%s, %d, %d) = %v, want %v", k, from, to, have, exp)
		}
	}
	if got, err := ws.Fetch(ctx, "no-such-key", 0, time.Now().UnixMilli()); err != nil || len(got) != 0 {
		t.Fatalf("Fetch of an absent key: %v, %v", got, err)
	}
}
